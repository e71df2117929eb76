"""Business time: the one clock that views, the API, the consoles, the CLI, jobs,
the sweep and model timestamp defaults read.

In production it is the wall clock. Outside production, with ``TEST_CLOCK=1``,
it can be set, advanced and reset (``flask clock …``, ``/api/test-clock``), as
Stripe's test clocks let a test jump to "15 minutes before the session". The
set time lives in the database, so the web processes, the worker and the sweep
all see the same instant; a set clock stays frozen until it is advanced or
reset. With ``TEST_CLOCK`` off the stored value is ignored and reading the time
costs no query.

What must follow real time reads ``wall_now()`` instead: signature tolerances
and provider timestamps, API token and email-link expiry, rate limits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Mapped, mapped_column

from peerloop.db import UTCDateTime, for_update, utcnow
from peerloop.extensions import db

wall_now = utcnow


class TestClock(db.Model):
    """The single row holding the frozen business time (absent: real time)."""

    __tablename__ = "test_clock"
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime())


ROW_ID = 1


def enabled() -> bool:
    return has_app_context() and bool(current_app.config.get("TEST_CLOCK"))


def now() -> datetime:
    """The current business time, UTC-aware."""
    if not enabled():
        return wall_now()
    # No autoflush: model defaults call this during a flush.
    with db.session.no_autoflush:
        frozen = stored()
    return frozen if frozen is not None else wall_now()


def _refuse_in_production() -> None:
    if current_app.config.get("PEERLOOP_ENV") == "production":
        raise RuntimeError("the test clock is refused in production")


def set_to(instant: datetime) -> datetime:
    """Freeze business time at ``instant`` (UTC-aware). Commits."""
    _refuse_in_production()
    if instant.tzinfo is None:
        raise ValueError("the test clock needs a time with an offset")
    instant = instant.astimezone(UTC)
    row = db.session.scalar(for_update(sa.select(TestClock).where(TestClock.id == ROW_ID)))
    if row is None:
        db.session.add(TestClock(id=ROW_ID, frozen_at=instant))
    else:
        row.frozen_at = instant
    db.session.commit()
    return instant


def advance(delta: timedelta) -> datetime:
    """Move business time on by ``delta`` from where it stands (frozen or real), and freeze it there."""
    _refuse_in_production()
    row = db.session.scalar(for_update(sa.select(TestClock).where(TestClock.id == ROW_ID)))
    start = row.frozen_at if row is not None else wall_now()
    return set_to(start + delta)


def reset() -> datetime:
    """Back to real time."""
    _refuse_in_production()
    db.session.execute(sa.delete(TestClock))
    db.session.commit()
    return wall_now()


def stored() -> datetime | None:
    """The frozen time in the database, whether or not this process honours it."""
    return db.session.execute(sa.select(TestClock.frozen_at).where(TestClock.id == ROW_ID)).scalar()
