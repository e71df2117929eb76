"""The email sender protocol; config picks an implementation by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: str  # text content (an .ics file is text)


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str
    sender: str
    idempotency_key: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


class EmailDeliveryError(Exception):
    """The provider refused or could not be reached; the job records it and may retry."""


class EmailSender(Protocol):
    name: str

    def send(self, message: EmailMessage) -> str | None:
        """Deliver the message; return the provider's message id if it gives one.

        :raise EmailDeliveryError: the provider could not take the message.
        """
