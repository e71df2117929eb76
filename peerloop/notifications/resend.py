"""Delivery through Resend's HTTP API (RESEND_API_KEY)."""

from __future__ import annotations

import requests

from peerloop.notifications.interfaces import EmailDeliveryError, EmailMessage

RESEND_API_URL = "https://api.resend.com/emails"


class ResendSender:
    name = "resend"

    def __init__(self, api_key: str, timeout: float = 10.0):
        self.api_key = api_key
        self.timeout = timeout

    def send(self, message: EmailMessage) -> str | None:
        payload = {
            "from": message.sender,
            "to": [message.to],
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
        }
        if message.attachments:
            payload["attachments"] = [
                {"filename": a.filename, "content": a.content, "content_type": a.content_type}
                for a in message.attachments
            ]
        try:
            response = requests.post(
                RESEND_API_URL,
                json=payload,
                headers={
                    "Authorization": f"Bearer {self.api_key}",
                    # Resend keeps the key for 24 hours: a retried job sends once.
                    "Idempotency-Key": message.idempotency_key[:256],
                },
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise EmailDeliveryError(f"Resend unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise EmailDeliveryError(f"Resend answered {response.status_code}: {response.text[:300]}")
        return response.json().get("id")
