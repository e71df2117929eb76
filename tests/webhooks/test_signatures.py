"""POST /webhooks/stripe and /webhooks/stripe-connect: only a recent signature by our secret is stored."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import stripe

from config import DEV_STRIPE_WEBHOOK_SECRET
from peerloop.extensions import db
from peerloop.webhooks import stripe_signature
from peerloop.webhooks.models import WebhookEvent, WebhookStatus
from tests.webhooks.conftest import signature, stripe_event


def stored() -> list[WebhookEvent]:
    return list(db.session.scalars(sa.select(WebhookEvent)))


def test_a_valid_signature_is_stored_and_answered_at_once(deliver):
    response = deliver(stripe_event("evt_ok"))

    assert response.status_code == 200
    assert response.get_json() == {"received": True}
    [event] = stored()
    assert (event.provider, event.event_id, event.event_type) == ("stripe", "evt_ok", "test.thing.happened")
    assert event.payload["data"]["object"]["id"] == "cs_test_1"


def test_the_sdks_own_signature_header_is_accepted(client):
    body = json.dumps(stripe_event("evt_sdk"))
    header = stripe.WebhookSignature.generate_signature_header(body, DEV_STRIPE_WEBHOOK_SECRET)

    response = client.post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": header}, content_type="application/json"
    )

    assert response.status_code == 200
    assert [e.event_id for e in stored()] == ["evt_sdk"]


def test_sign_helper_makes_a_header_the_endpoint_accepts(client):
    """The sandbox gateway signs its events with stripe_signature.sign."""
    body = json.dumps(stripe_event("evt_sandbox")).encode()
    header = stripe_signature.sign(body, DEV_STRIPE_WEBHOOK_SECRET)

    assert client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header}).status_code == 200


BAD = {
    "wrong secret": {"secret": "whsec_someone_else"},
    "stale timestamp": {"timestamp": int(time.time()) - 301},
    "missing header": {"header": None},
    "empty header": {"header": ""},
    "garbled header": {"header": "t=abc,v1="},
    "no v1 signature": {"header": f"t={int(time.time())},v0=deadbeef"},
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_signature_is_a_400_and_nothing_is_stored(deliver, case):
    kwargs = dict(BAD[case])
    if "timestamp" in kwargs:  # computed at call time so a slow run cannot make it fresh
        kwargs["timestamp"] = int(time.time()) - 301
    response = deliver(stripe_event("evt_bad"), **kwargs)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert stored() == []


def test_a_tampered_body_is_refused(client):
    body = json.dumps(stripe_event("evt_tamper", amount_total=39900))
    header = signature(body)
    tampered = body.replace("39900", "100")

    response = client.post(
        "/webhooks/stripe", data=tampered, headers={"Stripe-Signature": header}, content_type="application/json"
    )

    assert response.status_code == 400
    assert stored() == []


def test_a_signature_inside_the_tolerance_is_accepted(deliver):
    assert deliver(stripe_event("evt_recent"), timestamp=int(time.time()) - 240).status_code == 200


def test_the_tolerance_follows_the_wall_clock_not_business_time(deliver, monkeypatch):
    """A frozen test clock a year back neither rejects a fresh signature nor admits a stale one;
    the stored event carries business time."""
    frozen = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
    monkeypatch.setattr("peerloop.clock.now", lambda: frozen)

    assert deliver(stripe_event("evt_fresh")).status_code == 200
    assert deliver(stripe_event("evt_stale"), timestamp=int(time.time()) - 301).status_code == 400
    [event] = stored()
    assert event.event_id == "evt_fresh" and event.received_at == frozen


@pytest.mark.parametrize(
    "body",
    ["not json at all", "[1, 2, 3]", '"just a string"', json.dumps({"object": "event"}), json.dumps({"id": "e"})],
    ids=["not json", "a list", "a string", "no id or type", "no type"],
)
def test_a_signed_body_that_is_not_an_event_is_a_400(client, body):
    response = client.post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": signature(body)}, content_type="text/plain"
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in {"invalid_payload", "invalid_json"}
    assert stored() == []


def test_invalid_json_sent_as_json_is_a_400(client):
    body = '{"id": "evt_x", '
    response = client.post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": signature(body)}, content_type="application/json"
    )
    assert response.status_code == 400
    assert stored() == []


def test_webhooks_need_no_csrf_token_nor_login(app, deliver):
    assert app.config["WTF_CSRF_ENABLED"]
    assert deliver(stripe_event("evt_csrf")).status_code == 200


def test_connect_events_use_their_own_secret_and_provider(app, deliver, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "whsec_platform")
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", "whsec_connect")
    event = stripe_event("evt_acct")  # a type with no handler: only routing and secrets matter here

    assert deliver(event, path="/webhooks/stripe-connect", secret="whsec_platform").status_code == 400
    assert deliver(event, path="/webhooks/stripe", secret="whsec_connect").status_code == 400
    assert deliver(event, path="/webhooks/stripe-connect", secret="whsec_connect").status_code == 200
    assert deliver(event, path="/webhooks/stripe", secret="whsec_platform").status_code == 200

    events = sorted((e.provider, e.event_id) for e in stored())
    assert events == [("stripe", "evt_acct"), ("stripe_connect", "evt_acct")]  # unique per provider
    assert all(e.status == WebhookStatus.ignored or e.status == WebhookStatus.received for e in stored())


def test_an_unconfigured_webhook_is_a_404(app, deliver, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", None)
    response = deliver(stripe_event(), path="/webhooks/stripe-connect")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert stored() == []


def test_only_post_is_allowed(client):
    response = client.get("/webhooks/stripe")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_a_signed_event_with_text_the_site_refuses_elsewhere_is_still_stored(deliver):
    """NUL, a lone surrogate or deep nesting are 400s from people; a provider's signed event is kept as sent."""
    deep = 1
    for _ in range(40):  # deeper than the 32 levels people may send
        deep = [deep]
    response = deliver(stripe_event("evt_odd_text", note="a\u0000b \ud800", deep=deep))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [event.event_id for event in stored()] == ["evt_odd_text"]
