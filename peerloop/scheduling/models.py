"""When teachers can teach, and the sessions booked with them.

Availability is wall-clock time in the teacher's own zone (``AvailabilitySettings.timezone``);
``slots.free_slots`` expands it into UTC instants. Sessions are stored in UTC.

Days of the week are stored as the API and the seeds number them: 0 Sunday … 6 Saturday
(``slots`` counts from Monday, as Python does; ``services`` converts).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.db import CreatedAt, Timestamps, UTCDateTime, UUIDPrimaryKey, enum_column
from peerloop.enrollment.models import Enrollment
from peerloop.extensions import db

DEFAULT_SESSION_MINUTES = 60
DEFAULT_BUFFER_MINUTES = 15
DEFAULT_NOTICE_HOURS = 4
DEFAULT_WINDOW_DAYS = 14


class AvailabilitySettings(Timestamps, db.Model):
    """A teacher's booking rules. No row: the defaults, and no hours."""

    __tablename__ = "availability_settings"
    __table_args__ = (
        sa.CheckConstraint("session_minutes IN (30, 45, 60)", name="session_minutes_allowed"),
        sa.CheckConstraint("buffer_minutes BETWEEN 0 AND 120", name="buffer_in_range"),
        sa.CheckConstraint("min_notice_hours BETWEEN 0 AND 336", name="notice_in_range"),
        sa.CheckConstraint("max_window_days BETWEEN 1 AND 90", name="window_in_range"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    timezone: Mapped[str] = mapped_column(sa.String(64))
    session_minutes: Mapped[int] = mapped_column(default=DEFAULT_SESSION_MINUTES)
    buffer_minutes: Mapped[int] = mapped_column(default=DEFAULT_BUFFER_MINUTES)
    min_notice_hours: Mapped[int] = mapped_column(default=DEFAULT_NOTICE_HOURS)
    max_window_days: Mapped[int] = mapped_column(default=DEFAULT_WINDOW_DAYS)
    is_paused: Mapped[bool] = mapped_column(default=False)  # the holiday switch

    user: Mapped[User] = relationship()


def _minute_checks() -> tuple:
    return (
        sa.CheckConstraint("start_minute >= 0 AND start_minute < 1440", name="start_in_day"),
        sa.CheckConstraint("end_minute > start_minute AND end_minute <= 1440", name="end_after_start"),
    )


class WeeklyWindow(UUIDPrimaryKey, db.Model):
    """Every week on ``day_of_week`` (0 Sunday), from ``start_minute`` to ``end_minute`` (1440 = 24:00),
    local time."""

    __tablename__ = "availability"
    __table_args__ = (
        *_minute_checks(),
        sa.CheckConstraint("day_of_week BETWEEN 0 AND 6", name="day_of_week_in_week"),
        sa.Index("ix_availability_user_day", "user_id", "day_of_week"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    day_of_week: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]


class BlockedDate(UUIDPrimaryKey, db.Model):
    """A local date with no hours at all (a day off)."""

    __tablename__ = "availability_blocked_dates"
    __table_args__ = (sa.UniqueConstraint("user_id", "day"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(sa.Date)


class DateOverride(UUIDPrimaryKey, db.Model):
    """Extra hours on one local date."""

    __tablename__ = "availability_date_overrides"
    __table_args__ = (*_minute_checks(), sa.Index("ix_availability_date_overrides_user_day", "user_id", "day"))

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(sa.Date)
    start_minute: Mapped[int]
    end_minute: Mapped[int]


class SessionStatus(enum.StrEnum):
    held = "held"  # a time kept for a visitor's open checkout
    scheduled = "scheduled"
    in_progress = "in_progress"
    completed = "completed"
    no_show = "no_show"
    cancelled = "cancelled"
    lapsed = "lapsed"  # a hold whose checkout ended unpaid


# The statuses that occupy the teacher's and the student's time.
BUSY_STATUSES = (SessionStatus.held, SessionStatus.scheduled, SessionStatus.in_progress)
_BUSY_SQL = "status IN ('held', 'scheduled', 'in_progress')"


class SessionKind(enum.StrEnum):
    regular = "regular"  # one of the enrollment's paid sessions
    # The Certification Assessment (peerloop.certification): booked with the student's S-T once every
    # module is done; outside the delivered and used counts, it releases no teaching share.
    certification_assessment = "certification_assessment"


class NoShowBy(enum.StrEnum):
    student = "student"
    teacher = "teacher"


class TutoringSession(UUIDPrimaryKey, Timestamps, db.Model):
    """A booked 1-on-1 (or a held time waiting for its checkout). Never called ``Session``."""

    __tablename__ = "sessions"
    __table_args__ = (
        sa.CheckConstraint("scheduled_end > scheduled_start", name="ends_after_start"),
        sa.CheckConstraint("teacher_id != student_id", name="not_own_teacher"),
        sa.CheckConstraint("status IN ('held', 'lapsed') OR enrollment_id IS NOT NULL", name="booked_has_enrollment"),
        sa.Index("ix_sessions_teacher_start", "teacher_id", "scheduled_start"),
        sa.Index("ix_sessions_student_start", "student_id", "scheduled_start"),
        sa.UniqueConstraint("student_id", "idempotency_key"),
    )

    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("checkouts.id"), index=True)
    number: Mapped[int | None]  # "Session 1 of 2": its place among the enrollment's counted sessions
    scheduled_start: Mapped[datetime] = mapped_column(UTCDateTime())
    scheduled_end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[SessionStatus] = mapped_column(
        enum_column(SessionStatus, "session_status"), default=SessionStatus.scheduled, index=True
    )
    kind: Mapped[SessionKind] = mapped_column(
        enum_column(SessionKind, "session_kind"), default=SessionKind.regular, server_default="regular"
    )
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agenda: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    late_cancellation: Mapped[bool] = mapped_column(default=False)
    no_show_by: Mapped[NoShowBy | None] = mapped_column(enum_column(NoShowBy, "no_show_by"))
    sequence: Mapped[int] = mapped_column(default=0)  # the .ics SEQUENCE: bumped on every change
    # When its current time was set (booked, a hold confirmed, moved): a reminder whose moment had
    # already passed then is skipped.
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How it ended (peerloop.video.outcomes): by the room's webhook, the sweep, the teacher's hand or Brian.
    outcome_source: Mapped[str | None] = mapped_column(sa.String(20))
    # A hand-marked outcome that pays the teacher: the share is released at this moment unless the
    # student contests it first (then Brian decides). None once released, or for outcomes that do not wait.
    release_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    contested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contest_reason: Mapped[str | None] = mapped_column(sa.Text)
    contest_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contest_resolution: Mapped[str | None] = mapped_column(sa.String(20))  # "teacher_paid" or "returned"
    # The sweep's progress marks (peerloop.video), so each pass picks only sessions with something due:
    # when the teacher was asked to settle a session nobody was recorded in, the reminders sent for the
    # current time (0 none, 1 the day before, 2 the half hour before; a move resets it) and the
    # feedback prompts sent (0, 1, 2). Who was told is kept by the notifications' dedupe keys.
    settle_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminder_stage: Mapped[int] = mapped_column(default=0, server_default="0")
    prompt_stage: Mapped[int] = mapped_column(default=0, server_default="0")
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))  # a repeat returns the first booking
    # The video room, made once on the first join (peerloop.video): which provider, its room id, its address.
    video_provider: Mapped[str | None] = mapped_column(sa.String(20))
    video_room_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    video_room_url: Mapped[str | None] = mapped_column(sa.String(1000))

    enrollment: Mapped[Enrollment | None] = relationship()
    course: Mapped[Course] = relationship()
    teacher: Mapped[User] = relationship(foreign_keys=[teacher_id])
    student: Mapped[User] = relationship(foreign_keys=[student_id])
    canceller: Mapped[User | None] = relationship(foreign_keys=[cancelled_by])

    @property
    def is_busy(self) -> bool:
        return self.status in BUSY_STATUSES


# PostgreSQL's backstop against double booking: no two busy sessions of one teacher, or of one
# student, overlap in time. The services' locks decide first (and keep the buffer); this turns a
# bug into an IntegrityError the API maps to 409 slot_unavailable. SQLite has no such constraint.
EXCLUSION_CONSTRAINTS = {
    "ex_sessions_teacher_overlap": "teacher_id",
    "ex_sessions_student_overlap": "student_id",
}


def exclusion_ddl() -> list[str]:
    statements = ["CREATE EXTENSION IF NOT EXISTS btree_gist"]
    for name, column in EXCLUSION_CONSTRAINTS.items():
        statements.append(
            f"ALTER TABLE sessions ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({column} WITH =, tstzrange(scheduled_start, scheduled_end) WITH &&) WHERE ({_BUSY_SQL})"
        )
    return statements


@sa.event.listens_for(TutoringSession.__table__, "after_create")
def _add_exclusion_constraints(table, connection, **kw) -> None:
    if connection.dialect.name == "postgresql":
        for statement in exclusion_ddl():
            connection.exec_driver_sql(statement)


class RequestStatus(enum.StrEnum):
    pending = "pending"  # waiting for the teacher
    countered = "countered"  # the teacher proposed another time; waiting for the student
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"  # the student took it back


OPEN_REQUEST_STATUSES = (RequestStatus.pending, RequestStatus.countered)


class SessionRequest(UUIDPrimaryKey, Timestamps, db.Model):
    """A student asking a teacher for a time outside the published slots (seed 004 §9.2-9.3)."""

    __tablename__ = "session_requests"
    __table_args__ = (sa.Index("ix_session_requests_teacher_status", "teacher_id", "status"),)

    enrollment_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    proposed_start: Mapped[datetime] = mapped_column(UTCDateTime())
    counter_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message: Mapped[str | None] = mapped_column(sa.Text)
    response_message: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[RequestStatus] = mapped_column(
        enum_column(RequestStatus, "session_request_status"), default=RequestStatus.pending, index=True
    )
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    session_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sessions.id"))

    enrollment: Mapped[Enrollment] = relationship()
    course: Mapped[Course] = relationship()
    student: Mapped[User] = relationship(foreign_keys=[student_id])
    teacher: Mapped[User] = relationship(foreign_keys=[teacher_id])
    session: Mapped[TutoringSession | None] = relationship()

    @property
    def current_start(self) -> datetime:
        """The time on the table: the teacher's counter, else the student's proposal."""
        return self.counter_start or self.proposed_start


class CalendarFeed(UUIDPrimaryKey, CreatedAt, db.Model):
    """A private calendar-feed address (webcal) of a person's sessions. Only the token's hash is kept."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
