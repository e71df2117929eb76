"""An inbound provider event, stored before it is processed."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from peerloop.db import UTCDateTime, UUIDPrimaryKey, business_now, enum_column
from peerloop.extensions import db


class WebhookStatus(enum.StrEnum):
    received = "received"  # stored, not yet processed (or its job was lost: the sweep picks it up)
    processed = "processed"  # its handler ran and committed; never processed again
    ignored = "ignored"  # no handler for its type
    failed = "failed"  # its handler raised; retried by the sweep, replayable from the console


class WebhookEvent(UUIDPrimaryKey, db.Model):
    """One delivery of a provider event, unique on (provider, event_id): a duplicate changes nothing."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.UniqueConstraint("provider", "event_id"),
        sa.Index("ix_webhook_events_status_next_attempt_at", "status", "next_attempt_at"),
    )

    provider: Mapped[str] = mapped_column(sa.String(32))  # "stripe", "stripe_connect", later video providers
    event_id: Mapped[str] = mapped_column(sa.String(255))  # the provider's id, e.g. evt_…
    event_type: Mapped[str] = mapped_column(sa.String(100))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[WebhookStatus] = mapped_column(
        enum_column(WebhookStatus, "webhook_event_status"), default=WebhookStatus.received
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=business_now)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # processed or ignored
    # When the sweep should (re)enqueue it if it is still received or failed; None once
    # done or out of attempts.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def data_object(self) -> dict:
        """The object the event is about (Stripe's ``data.object``), or {}."""
        data = self.payload.get("data") if isinstance(self.payload, dict) else None
        obj = data.get("object") if isinstance(data, dict) else None
        return obj if isinstance(obj, dict) else {}

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.provider}:{self.event_id} {self.event_type} {self.status}>"
