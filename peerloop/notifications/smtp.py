"""Delivery over SMTP, configured by SMTP_URL (smtp://user:pass@host:587, smtps://…)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlparse

from peerloop.notifications.interfaces import EmailDeliveryError, EmailMessage


class SmtpSender:
    name = "smtp"

    def __init__(self, url: str, timeout: float = 15.0):
        parsed = urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"}:
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        self.host = parsed.hostname or "localhost"
        self.port = parsed.port or (465 if parsed.scheme == "smtps" else 587)
        self.use_ssl = parsed.scheme == "smtps"
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.timeout = timeout

    def build(self, message: EmailMessage) -> MimeMessage:
        mime = MimeMessage()
        mime["From"] = message.sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Message-ID"] = make_msgid(idstring=message.idempotency_key[:60].replace(":", "."))
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        for attachment in message.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            mime.add_attachment(
                attachment.content.encode(), maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        return mime

    def send(self, message: EmailMessage) -> str | None:
        mime = self.build(message)
        try:
            smtp_cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
            with smtp_cls(self.host, self.port, timeout=self.timeout) as client:
                if not self.use_ssl:
                    client.ehlo()
                    if client.has_extn("starttls"):
                        client.starttls()
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(mime)
        except (OSError, smtplib.SMTPException) as exc:
            raise EmailDeliveryError(f"SMTP delivery failed: {exc}") from exc
        return mime["Message-ID"]
