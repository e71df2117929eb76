"""Helpers for the webhook tests: signed deliveries and a recording handler."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from config import DEV_STRIPE_WEBHOOK_SECRET
from peerloop.webhooks import services

TEST_TYPE = "test.thing.happened"


def stripe_event(event_id: str = "evt_test_1", event_type: str = TEST_TYPE, **obj) -> dict:
    """An event shaped as Stripe sends it."""
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "api_version": "2026-01-28",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "cs_test_1", "object": "checkout.session", **obj}},
    }


def signature(body: str, secret: str = DEV_STRIPE_WEBHOOK_SECRET, *, timestamp: int | None = None) -> str:
    """``t=…,v1=HMAC-SHA256(secret, "t.body")``, computed here, not by the SDK under test."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@pytest.fixture
def deliver(client):
    """POST a signed event the way Stripe does; ``header=None`` sends no signature."""

    def _deliver(event, *, path="/webhooks/stripe", secret=DEV_STRIPE_WEBHOOK_SECRET, header="sign", **sign_kw):
        body = event if isinstance(event, str) else json.dumps(event)
        headers = {}
        if header == "sign":
            headers["Stripe-Signature"] = signature(body, secret, **sign_kw)
        elif header is not None:
            headers["Stripe-Signature"] = header
        return client.post(path, data=body, headers=headers, content_type="application/json")

    return _deliver


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.fail_with: Exception | None = None
        self.on_call = None

    def __call__(self, event, *, now):
        self.calls.append((event.event_id, event.data_object.get("id")))
        if self.on_call is not None:
            self.on_call(event, now)
        if self.fail_with is not None:
            raise self.fail_with


@pytest.fixture
def handler():
    """A handler registered for ("stripe", TEST_TYPE) for the length of one test."""
    recorder = Recorder()
    services.register("stripe", TEST_TYPE, recorder)
    try:
        yield recorder
    finally:
        services.unregister("stripe", TEST_TYPE)
