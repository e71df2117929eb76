"""Stripe's ``Stripe-Signature`` check on the raw body, with the official SDK.

The tolerance is measured on the wall clock (the SDK reads ``time.time()``):
signatures are made in real time, so a frozen test clock must not stretch or
shrink it. Business time plays no part here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import stripe

from peerloop.errors import ValidationError

TOLERANCE_SECONDS = 300  # Stripe's own default: older signatures are replays


@dataclass(frozen=True)
class VerifiedEvent:
    event_id: str
    event_type: str
    payload: dict


def verify(payload: bytes | str, sig_header: str | None, secret: str) -> VerifiedEvent:
    """The event in ``payload``, once its signature is proven to be ``secret``'s and recent.

    :raise ValidationError: ``invalid_signature`` (missing, malformed, wrong secret,
        tampered body, older than 300 s) or ``invalid_payload`` (not a JSON event object).
    """
    try:
        stripe.Webhook.construct_event(payload, sig_header, secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise ValidationError("The webhook signature could not be verified.", code="invalid_signature") from exc
    except (ValueError, TypeError, AttributeError) as exc:  # not UTF-8, not JSON, not an object
        raise ValidationError("The webhook body is not a JSON event.", code="invalid_payload") from exc
    # Store what Stripe sent, as plain JSON (an SDK Event is not a dict).
    data = json.loads(payload)
    event_id, event_type = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise ValidationError("The webhook event has no id or type.", code="invalid_payload")
    return VerifiedEvent(event_id=event_id, event_type=event_type, payload=data)


def sign(payload: bytes | str, secret: str, *, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (the sandbox gateway and tests sign their events)."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
