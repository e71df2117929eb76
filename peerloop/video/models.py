"""Who was in the room, how it went, and what it left behind.

The room itself is recorded on the session (``TutoringSession.video_*``): one per session, made on
the first join under the session's row lock.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peerloop.accounts.models import User
from peerloop.db import CreatedAt, UTCDateTime, UUIDPrimaryKey, enum_column
from peerloop.extensions import db
from peerloop.scheduling.models import TutoringSession


class AttendanceSource(enum.StrEnum):
    join = "join"  # a join through our endpoint (link rooms send no webhooks)
    webhook = "webhook"  # the provider's participant-joined event


class Attendance(UUIDPrimaryKey, CreatedAt, db.Model):
    """One stay in the room: a rejoin is a new row."""

    __tablename__ = "session_attendance"
    __table_args__ = (
        sa.Index("ix_session_attendance_session_user", "session_id", "user_id"),
        sa.CheckConstraint("left_at IS NULL OR left_at >= joined_at", name="left_after_joined"),
        sa.CheckConstraint("duration_seconds IS NULL OR duration_seconds >= 0", name="duration_not_negative"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int | None]
    source: Mapped[AttendanceSource] = mapped_column(enum_column(AttendanceSource, "attendance_source"))

    session: Mapped[TutoringSession] = relationship()
    user: Mapped[User] = relationship()


class Assessment(UUIDPrimaryKey, CreatedAt, db.Model):
    """A rating after a session, in either direction; one per person per session."""

    __tablename__ = "session_assessments"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "assessor_id"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_one_to_five"),
        sa.CheckConstraint("assessor_id != assessee_id", name="not_self"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    assessor_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    assessee_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(sa.Text)

    session: Mapped[TutoringSession] = relationship()
    assessor: Mapped[User] = relationship(foreign_keys=[assessor_id])
    assessee: Mapped[User] = relationship(foreign_keys=[assessee_id])


class ResourceType(enum.StrEnum):
    recording = "recording"
    slide = "slide"
    document = "document"
    other = "other"


class SessionResource(UUIDPrimaryKey, CreatedAt, db.Model):
    """A file of a session or a course (a recording copied from the provider, slides …)."""

    __tablename__ = "session_resources"
    __table_args__ = (
        sa.UniqueConstraint("provider_recording_id"),
        sa.CheckConstraint("size_bytes IS NULL OR size_bytes >= 0", name="size_not_negative"),
    )

    session_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))  # None: the provider
    type: Mapped[ResourceType] = mapped_column(enum_column(ResourceType, "resource_type"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    storage_key: Mapped[str | None] = mapped_column(sa.String(500))  # None until the copy is stored
    source_url: Mapped[str | None] = mapped_column(sa.String(2000))  # where the provider serves it
    provider_recording_id: Mapped[str | None] = mapped_column(sa.String(255))
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    mime_type: Mapped[str | None] = mapped_column(sa.String(100))
    duration_seconds: Mapped[int | None]
    is_public: Mapped[bool] = mapped_column(default=False)
    # Copying a provider's recording to our storage (peerloop.video.recordings): tries so far, when
    # the sweep tries again (None once stored or given up), and the last failure.
    copy_attempts: Mapped[int] = mapped_column(default=0)
    next_copy_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    copy_error: Mapped[str | None] = mapped_column(sa.Text)

    session: Mapped[TutoringSession | None] = relationship()
