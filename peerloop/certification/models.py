"""The right to teach a course, and certificates."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.db import CreatedAt, UTCDateTime, UUIDPrimaryKey, business_now, enum_column
from peerloop.extensions import db


class StudentTeacher(UUIDPrimaryKey, CreatedAt, db.Model):
    """A user certified to teach one course. Active rows make someone an S-T."""

    __tablename__ = "student_teachers"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "course_id"),
        sa.CheckConstraint("students_taught >= 0", name="students_taught_not_negative"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    certified_date: Mapped[date] = mapped_column(sa.Date)
    students_taught: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    approved_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    course: Mapped[Course] = relationship()
    approver: Mapped[User] = relationship(foreign_keys=[approved_by])


class CertificateType(enum.StrEnum):
    completion = "completion"
    mastery = "mastery"
    teaching = "teaching"


class Certificate(UUIDPrimaryKey, db.Model):
    __tablename__ = "certificates"
    __table_args__ = (sa.UniqueConstraint("user_id", "course_id", "type"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    type: Mapped[CertificateType] = mapped_column(enum_column(CertificateType, "certificate_type"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=business_now)
    issued_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    recommended_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    certificate_url: Mapped[str | None] = mapped_column(sa.String(500))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(sa.Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    course: Mapped[Course] = relationship()
    issuer: Mapped[User] = relationship(foreign_keys=[issued_by])
    recommender: Mapped[User | None] = relationship(foreign_keys=[recommended_by])


class DecisionStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class CertificationRequest(UUIDPrimaryKey, CreatedAt, db.Model):
    """A Student-Teacher's (or the creator's) recommendation that a student be certified: the
    creator of the course decides (seed 000: "Creator, NOT Brian")."""

    __tablename__ = "certification_requests"
    __table_args__ = (sa.Index("ix_certification_requests_course_status", "course_id", "status"),)

    enrollment_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"))
    recommended_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[DecisionStatus] = mapped_column(
        enum_column(DecisionStatus, "certification_request_status"), default=DecisionStatus.pending
    )
    decided_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    certificate_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("certificates.id"))

    student: Mapped[User] = relationship(foreign_keys=[student_id])
    recommender: Mapped[User] = relationship(foreign_keys=[recommended_by])
    course: Mapped[Course] = relationship()
    certificate: Mapped[Certificate | None] = relationship()


class TeachApplication(UUIDPrimaryKey, CreatedAt, db.Model):
    """A certified student asks the course's creator for the right to teach it."""

    __tablename__ = "teach_applications"
    __table_args__ = (sa.Index("ix_teach_applications_course_status", "course_id", "status"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"))
    message: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[DecisionStatus] = mapped_column(
        enum_column(DecisionStatus, "teach_application_status"), default=DecisionStatus.pending
    )
    decided_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(sa.Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    course: Mapped[Course] = relationship()


class TeacherChangeStatus(enum.StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"  # no answer before the first of the sessions it covers


class TeacherChange(UUIDPrimaryKey, CreatedAt, db.Model):
    """A deactivated S-T's student is offered another teacher for their upcoming sessions: the
    sessions move only with the student's consent; declined or unanswered, they are cancelled."""

    __tablename__ = "teacher_changes"
    __table_args__ = (sa.Index("ix_teacher_changes_status_expires", "status", "expires_at"),)

    enrollment_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    from_teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    to_teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    proposed_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[TeacherChangeStatus] = mapped_column(
        enum_column(TeacherChangeStatus, "teacher_change_status"), default=TeacherChangeStatus.pending
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    student: Mapped[User] = relationship(foreign_keys=[student_id])
    from_teacher: Mapped[User] = relationship(foreign_keys=[from_teacher_id])
    to_teacher: Mapped[User] = relationship(foreign_keys=[to_teacher_id])
    course: Mapped[Course] = relationship()
