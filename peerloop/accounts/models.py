"""People: users, their public profile details, and their credentials."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peerloop.db import CreatedAt, Timestamps, UTCDateTime, UUIDPrimaryKey, enum_column
from peerloop.extensions import db


class PrimaryRole(enum.StrEnum):
    """What the person signed up as; shown on the profile. Permissions use the flags."""

    student = "student"
    student_teacher = "student_teacher"
    creator = "creator"
    admin = "admin"
    moderator = "moderator"


class EmailStatus(enum.StrEnum):
    valid = "valid"
    bounced = "bounced"


class StripeAccountStatus(enum.StrEnum):
    pending = "pending"
    active = "active"
    restricted = "restricted"


class User(UserMixin, UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "users"

    # Stored normalised (trimmed, lower case) under plain unique constraints.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(100))
    handle: Mapped[str] = mapped_column(sa.String(30), unique=True)
    title: Mapped[str | None] = mapped_column(sa.String(120))
    avatar_url: Mapped[str | None] = mapped_column(sa.String(500))
    bio: Mapped[str | None] = mapped_column(sa.Text)
    bio_short: Mapped[str | None] = mapped_column(sa.String(160))
    teaching_philosophy: Mapped[str | None] = mapped_column(sa.Text)
    website: Mapped[str | None] = mapped_column(sa.String(500))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    role: Mapped[PrimaryRole] = mapped_column(enum_column(PrimaryRole, "user_role"), default=PrimaryRole.student)
    is_creator: Mapped[bool] = mapped_column(default=False)
    # The "Available as Student-Teacher" toggle of seed 000. Whether someone may
    # teach a course is decided by their active StudentTeacher rows, not this.
    is_student_teacher: Mapped[bool] = mapped_column(default=False)
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_moderator: Mapped[bool] = mapped_column(default=False)
    privacy_public: Mapped[bool] = mapped_column(default=False)
    email_verified: Mapped[bool] = mapped_column(default=False)
    email_status: Mapped[EmailStatus | None] = mapped_column(
        enum_column(EmailStatus, "user_email_status"), default=EmailStatus.valid
    )
    marketing_opt_out: Mapped[bool | None] = mapped_column(default=False)
    stripe_account_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    stripe_account_status: Mapped[StripeAccountStatus | None] = mapped_column(
        enum_column(StripeAccountStatus, "user_stripe_account_status")
    )
    stripe_payouts_enabled: Mapped[bool | None] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    qualifications: Mapped[list[UserQualification]] = relationship(
        back_populates="user", order_by="UserQualification.display_order", cascade="all, delete-orphan"
    )
    expertise: Mapped[list[UserExpertise]] = relationship(
        back_populates="user", order_by="UserExpertise.tag", cascade="all, delete-orphan"
    )
    interests: Mapped[list[UserInterest]] = relationship(
        back_populates="user", order_by="UserInterest.tag", cascade="all, delete-orphan"
    )

    # The LoginSession this request runs under (set at login and by the user loader).
    login_session_id = None  # a plain attribute, not a column

    def get_id(self) -> str:
        # Flask-Login stores this in the session cookie and the remember-me cookie: both name
        # one server-side LoginSession, so ending that row ends both cookies.
        if self.login_session_id is None:
            raise RuntimeError("log in through accounts.services.start_login_session")
        return f"{self.id}:{self.login_session_id}"

    @property
    def is_active(self) -> bool:  # Flask-Login: deleted accounts cannot log in
        return self.deleted_at is None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def __repr__(self) -> str:
        return f"<User @{self.handle}>"


class UserQualification(UUIDPrimaryKey, CreatedAt, db.Model):
    __tablename__ = "user_qualifications"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sentence: Mapped[str] = mapped_column(sa.Text)
    display_order: Mapped[int] = mapped_column(default=0)

    user: Mapped[User] = relationship(back_populates="qualifications")


class UserExpertise(UUIDPrimaryKey, db.Model):
    __tablename__ = "user_expertise"
    __table_args__ = (sa.UniqueConstraint("user_id", "tag"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(sa.String(50))

    user: Mapped[User] = relationship(back_populates="expertise")


class UserInterest(UUIDPrimaryKey, db.Model):
    __tablename__ = "user_interests"
    __table_args__ = (sa.UniqueConstraint("user_id", "tag"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(sa.String(50))

    user: Mapped[User] = relationship(back_populates="interests")


class LoginSession(UUIDPrimaryKey, CreatedAt, db.Model):
    """One browser login. Its id is in the session and remember-me cookies; logout,
    a password change or reset, and account deletion end it, so a replayed
    cookie stops working."""

    __tablename__ = "login_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(UUIDPrimaryKey, CreatedAt, db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class AccountTokenPurpose(enum.StrEnum):
    verify_email = "verify_email"  # confirms the address the account has
    change_email = "change_email"  # confirms a new address, and switches to it
    reset_password = "reset_password"


class AccountToken(UUIDPrimaryKey, CreatedAt, db.Model):
    """A single-use, expiring link sent by email. Only its SHA-256 is stored.

    ``email`` records the address the link was sent to. A verify link for an
    address the account no longer has does nothing; only a change_email link
    switches the address, and using any link of a kind ends the others.
    """

    __tablename__ = "account_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[AccountTokenPurpose] = mapped_column(enum_column(AccountTokenPurpose, "account_token_purpose"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
