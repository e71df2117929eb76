"""Joining a session's room: the provider from configuration, the join window, the room made once.

The window opens ``JOIN_OPENS`` before the start and closes ``VIDEO_GRACE_MINUTES`` after the end.
The room is created on the first join (providers create idempotently on our room id, so two first
joins at once make one room; the session row lock decides which answer is stored). Link rooms send
no webhooks, so with them a join through here is the attendance record.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from peerloop.accounts.models import User
from peerloop.db import for_update, parse_uuid
from peerloop.errors import Forbidden, NotFound, ProviderUnavailable, RuleViolation
from peerloop.extensions import db
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.urls import external_url
from peerloop.video.interfaces import CreateRoomOptions, Participant, ParticipantRole, Room, VideoError, VideoProvider
from peerloop.video.links import LinkRooms
from peerloop.video.models import Attendance, AttendanceSource

JOIN_OPENS = timedelta(minutes=15)
REJOIN_WITHIN = timedelta(minutes=5)  # a second click on Join is not a second stay
UNAVAILABLE = "Video service unavailable. Try again."
NOT_PARTICIPANT = "You're not part of this session."

# Adapters other than link rooms, by VIDEO_PROVIDER: module, class, and how config feeds them.
ADAPTERS = {
    "bbb": (
        "peerloop.video.bbb",
        "BigBlueButton",
        {"api_url": "BBB_API_URL", "secret": "BBB_SECRET", "checksum": "BBB_CHECKSUM"},
    ),
    "plugnmeet": (
        "peerloop.video.plugnmeet",
        "PlugNmeet",
        {"server_url": "PLUGNMEET_URL", "api_key": "PLUGNMEET_API_KEY", "api_secret": "PLUGNMEET_API_SECRET"},
    ),
    "daily": ("peerloop.video.daily", "Daily", {"api_key": "DAILY_API_KEY", "webhook_secret": "DAILY_WEBHOOK_SECRET"}),
}


def provider() -> VideoProvider:
    """The configured provider (link rooms by default)."""
    config = current_app.config
    name = config.get("VIDEO_PROVIDER", "link")
    if name == "link":
        return LinkRooms(base_url=config["VIDEO_LINK_BASE_URL"], secret=config["SECRET_KEY"])
    module, cls, settings = ADAPTERS[name]
    adapter = getattr(importlib.import_module(module), cls)
    return adapter(**{arg: config[key] for arg, key in settings.items()})


def grace() -> timedelta:
    return timedelta(minutes=current_app.config.get("VIDEO_GRACE_MINUTES", 15))


def join_window(session: TutoringSession) -> tuple[datetime, datetime]:
    return session.scheduled_start - JOIN_OPENS, session.scheduled_end + grace()


def session_for_participant(user: User, session_id) -> TutoringSession:
    """The booked session, for one of its two people. :raise NotFound, Forbidden (``not_participant``)."""
    uid = parse_uuid(session_id)
    session = db.session.get(TutoringSession, uid) if uid else None
    if session is None or session.status in (SessionStatus.held, SessionStatus.lapsed):
        raise NotFound("No such session.")
    if user.id not in (session.teacher_id, session.student_id):
        raise Forbidden(NOT_PARTICIPANT, code="not_participant")
    return session


def _check_window(session: TutoringSession, now: datetime) -> None:
    if session.status not in (SessionStatus.scheduled, SessionStatus.in_progress):
        raise RuleViolation(
            f"This session is {session.status.value.replace('_', ' ')}: its room is closed.", code="closed"
        )
    opens, closes = join_window(session)
    if now < opens:
        raise RuleViolation(
            "The room opens 15 minutes before the start.", code="not_open_yet", fields={"opens_at": opens.isoformat()}
        )
    if now > closes:
        raise RuleViolation("This session's room has closed.", code="closed")


def join(user: User, session_id, *, now: datetime) -> str:
    """The address that puts ``user`` in the session's room (the teacher as moderator). Commits.

    :raise NotFound: no such session. :raise Forbidden: ``not_participant``.
    :raise RuleViolation: ``not_open_yet``, ``closed``. :raise ProviderUnavailable: ``video_unavailable``.
    """
    session = session_for_participant(user, session_id)
    _check_window(session, now)
    video = provider()
    options = CreateRoomOptions(
        room_id=f"peerloop-{session.id}",
        title=session.course.title,
        starts_at=session.scheduled_start,
        ends_at=session.scheduled_end + grace(),
        # Teachers may record (nothing starts by itself); the provider tells us when a file is ready.
        record=video.sends_webhooks,
        callback_url=external_url("webhooks.video", provider_name=video.name) if video.sends_webhooks else None,
    )
    try:
        # Outside the lock: it may be HTTP. BigBlueButton forgets a meeting once it ends, so it is
        # created (idempotently) before every join; the others keep their room.
        stored = None if getattr(video, "create_before_each_join", False) else _stored_room(session, video)
        room = stored or video.create_room(options)
        is_teacher = user.id == session.teacher_id
        url = video.join_url(
            room,
            Participant(
                user_id=str(user.id),
                name=user.name,
                role=ParticipantRole.moderator if is_teacher else ParticipantRole.participant,
                expires_at=options.ends_at,
            ),
        )
    except VideoError as error:
        db.session.rollback()
        raise ProviderUnavailable(UNAVAILABLE, code="video_unavailable") from error
    locked = db.session.scalar(
        for_update(sa.select(TutoringSession).where(TutoringSession.id == session.id)).execution_options(
            populate_existing=True
        )
    )
    _check_window(locked, now)  # cancelled while we asked the provider
    if locked.video_room_id is None:
        locked.video_provider = video.name
        locked.video_room_id = room.provider_room_id
        locked.video_room_url = room.url
    if not video.sends_webhooks:
        _record_join(locked, user, now)
    if locked.status == SessionStatus.scheduled:
        locked.status = SessionStatus.in_progress
        locked.started_at = now
    locked.updated_at = now
    db.session.commit()
    return url


def _stored_room(session: TutoringSession, video: VideoProvider) -> Room | None:
    if session.video_room_id is None or session.video_provider != video.name:
        return None
    return Room(room_id=f"peerloop-{session.id}", provider_room_id=session.video_room_id, url=session.video_room_url)


def _record_join(session: TutoringSession, user: User, now: datetime) -> None:
    recent = db.session.scalar(
        sa.select(Attendance.id).where(
            Attendance.session_id == session.id,
            Attendance.user_id == user.id,
            Attendance.left_at.is_(None),
            Attendance.joined_at > now - REJOIN_WITHIN,
        )
    )
    if recent is None:
        db.session.add(
            Attendance(
                session_id=session.id, user_id=user.id, joined_at=now, source=AttendanceSource.join, created_at=now
            )
        )
