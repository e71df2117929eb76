"""The private calendar feed: a secret address (webcal) that serves a person's sessions.

The address carries a random token; only its SHA-256 is stored, so a database leak reveals no
working address. A person has at most one live feed: making a new one revokes the old, and a
revoked or unknown token finds nobody. Calendar apps poll the feed (hourly, as it asks, or as
they please), so a fetch writes ``last_fetched_at`` at most once per ``FETCH_MARK_EVERY``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from peerloop.accounts.models import User
from peerloop.extensions import db
from peerloop.scheduling.models import CalendarFeed, SessionStatus, TutoringSession

FETCH_MARK_EVERY = timedelta(minutes=10)
FEED_PAST = timedelta(days=30)  # sessions (and cancellations) this far back stay in the feed
FEED_AHEAD = timedelta(days=90)
FEED_LIMIT = 500
FEED_STATUSES = (SessionStatus.scheduled, SessionStatus.in_progress)


def token_hash(token: str) -> str:
    """The stored form of a feed token. Any string hashes (a lone surrogate too): no input raises."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_feed(user: User, *, now: datetime) -> str:
    """Revoke ``user``'s live feeds and make a new one. Returns the raw token (shown once, never stored)."""
    _revoke(user, now)
    token = secrets.token_urlsafe(32)
    db.session.add(CalendarFeed(user_id=user.id, token_hash=token_hash(token), created_at=now))
    db.session.commit()
    return token


def revoke_feeds(user: User, *, now: datetime) -> int:
    """Revoke ``user``'s live feeds; returns how many there were (0 when none)."""
    count = _revoke(user, now)
    db.session.commit()
    return count


def _revoke(user: User, now: datetime) -> int:
    result = db.session.execute(
        sa.update(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def live_feed(user: User) -> CalendarFeed | None:
    """``user``'s feed that works, if any (the newest, should a race have left two)."""
    return db.session.scalar(
        sa.select(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.created_at.desc(), CalendarFeed.id)
        .limit(1)
    )


def feed_owner(token: str, *, now: datetime) -> User | None:
    """Whose feed ``token`` opens: None for an unknown, revoked or malformed token, or a deleted account.

    The same work for every string (one hash, one lookup by the hash on a unique index), so the
    answer's timing says nothing about how close a guess was. Marks the fetch (and commits) at
    most once per ``FETCH_MARK_EVERY``.
    """
    if not isinstance(token, str):
        return None
    digest = token_hash(token)
    row = db.session.execute(
        sa.select(CalendarFeed, User)
        .join(User, User.id == CalendarFeed.user_id)
        .where(CalendarFeed.token_hash == digest)
    ).first()
    if row is None:
        return None
    feed, user = row
    if not hmac.compare_digest(feed.token_hash, digest) or feed.revoked_at is not None or user.is_deleted:
        return None
    if feed.last_fetched_at is None or now - feed.last_fetched_at >= FETCH_MARK_EVERY:
        # Conditional, so two polls at once write once.
        db.session.execute(
            sa.update(CalendarFeed)
            .where(
                CalendarFeed.id == feed.id,
                sa.or_(CalendarFeed.last_fetched_at.is_(None), CalendarFeed.last_fetched_at <= now - FETCH_MARK_EVERY),
            )
            .values(last_fetched_at=now)
            .execution_options(synchronize_session="fetch")
        )
        db.session.commit()
    return user


def feed_sessions(user: User, *, now: datetime) -> list[TutoringSession]:
    """What ``user``'s feed lists: their sessions as student or teacher, from ``FEED_PAST`` ago to
    ``FEED_AHEAD`` ahead, scheduled or in progress, and those cancelled in the last ``FEED_PAST``
    (so subscribed calendars learn of the cancellation), ordered by start, at most ``FEED_LIMIT``.

    Course, teacher, student and enrollment come loaded (the events name them).
    """
    return list(
        db.session.scalars(
            sa.select(TutoringSession)
            .where(
                sa.or_(TutoringSession.student_id == user.id, TutoringSession.teacher_id == user.id),
                TutoringSession.scheduled_end >= now - FEED_PAST,
                TutoringSession.scheduled_start <= now + FEED_AHEAD,
                sa.or_(
                    TutoringSession.status.in_(FEED_STATUSES),
                    sa.and_(
                        TutoringSession.status == SessionStatus.cancelled,
                        TutoringSession.cancelled_at >= now - FEED_PAST,
                    ),
                ),
            )
            .options(
                selectinload(TutoringSession.course),
                selectinload(TutoringSession.teacher),
                selectinload(TutoringSession.student),
                selectinload(TutoringSession.enrollment),
            )
            .order_by(TutoringSession.scheduled_start, TutoringSession.id)
            .limit(FEED_LIMIT)
        )
    )
