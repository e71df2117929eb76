"""The embedded default: the email stays in the outbox table and is logged."""

from __future__ import annotations

import logging

from peerloop.notifications.interfaces import EmailMessage

log = logging.getLogger(__name__)


class OutboxSender:
    """Delivers nowhere: the row in outbound_emails is the email. Brian reads them in /admin."""

    name = "outbox"

    def send(self, message: EmailMessage) -> str | None:
        log.info("outbox email to %s: %s\n%s", message.to, message.subject, message.text)
        return None
