"""In-app notifications and the emails we send."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peerloop.accounts.models import User
from peerloop.db import CreatedAt, UTCDateTime, UUIDPrimaryKey, enum_column
from peerloop.extensions import db


class Notification(UUIDPrimaryKey, CreatedAt, db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_unread", "user_id", "is_read", "created_at"),
        # A step that runs twice (a retried job, two sweeps, a replayed webhook) notifies once.
        sa.UniqueConstraint("user_id", "dedupe_key"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The kind of event, e.g. "account.welcome", "session.booked": free text so
    # later features add kinds without a migration.
    type: Mapped[str] = mapped_column(sa.String(50))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    action_url: Mapped[str | None] = mapped_column(sa.String(500))
    # Unique per user; NULL only for direct, one-off user actions (see notify()).
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200))
    is_read: Mapped[bool] = mapped_column(default=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class EmailStatus(enum.StrEnum):
    queued = "queued"
    sent = "sent"
    failed = "failed"


class OutboundEmail(UUIDPrimaryKey, CreatedAt, db.Model):
    """An email we send: written first, then delivered by a job (the outbox)."""

    __tablename__ = "outbound_emails"

    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    # [{"filename", "content_type", "content"}]: .ics invitations and the like.
    attachments: Mapped[list] = mapped_column(sa.JSON, default=list)
    # The same key never sends twice (provider retries, a job run twice).
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    status: Mapped[EmailStatus] = mapped_column(
        enum_column(EmailStatus, "outbound_email_status"), default=EmailStatus.queued, index=True
    )
    backend: Mapped[str | None] = mapped_column(sa.String(20))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bodies holding a single-use link are blanked once a real provider has them,
    # so the console and backups never show a live link. (The outbox backend
    # keeps them: there the row is the only delivery.)
    redact_after_send: Mapped[bool] = mapped_column(default=False)
