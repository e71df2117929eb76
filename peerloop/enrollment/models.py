"""Purchases of courses and progress through their modules."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peerloop.accounts.models import User
from peerloop.catalog.models import Course, Module
from peerloop.db import Timestamps, UTCDateTime, UUIDPrimaryKey, business_now, enum_column
from peerloop.extensions import db


class EnrollmentStatus(enum.StrEnum):
    enrolled = "enrolled"
    in_progress = "in_progress"
    completed = "completed"
    cancelled = "cancelled"
    frozen = "frozen"  # while a payment dispute is open


class Enrollment(UUIDPrimaryKey, Timestamps, db.Model):
    """A student's purchase of a course. It snapshots what was bought."""

    __tablename__ = "enrollments"
    __table_args__ = (
        # One live enrollment per student and course; a cancelled one may be bought again.
        sa.Index(
            "uq_enrollments_student_course_live",
            "student_id",
            "course_id",
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        ),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.CheckConstraint("session_count >= 0", name="session_count_not_negative"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    student_teacher_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_column(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.enrolled, index=True
    )
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    session_count: Mapped[int]
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=business_now)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    deferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # "Schedule Later"

    student: Mapped[User] = relationship(foreign_keys=[student_id])
    student_teacher: Mapped[User | None] = relationship(foreign_keys=[student_teacher_id])
    course: Mapped[Course] = relationship()
    progress: Mapped[list[ModuleProgress]] = relationship(back_populates="enrollment", cascade="all, delete-orphan")


class ModuleProgress(UUIDPrimaryKey, db.Model):
    __tablename__ = "module_progress"
    __table_args__ = (sa.UniqueConstraint("enrollment_id", "module_id"),)

    enrollment_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("course_curriculum.id", ondelete="CASCADE"), index=True)
    is_complete: Mapped[bool] = mapped_column(default=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    enrollment: Mapped[Enrollment] = relationship(back_populates="progress")
    module: Mapped[Module] = relationship()
