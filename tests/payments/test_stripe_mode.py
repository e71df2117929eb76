"""The whole purchase, refund and payout path with PAYMENT_GATEWAY=stripe, Stripe faked at the HTTP
boundary (``responses``): what our services send to api.stripe.com, and that a Stripe error leaves
nothing half-written."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import sqlalchemy as sa
from flask import current_app

from peerloop.accounts.models import StripeAccountStatus
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.extensions import db
from peerloop.payments import services
from peerloop.payments.models import Checkout, Payout, PayoutStatus, PayoutTransfer, Refund, Transaction
from tests import factories
from tests.conftest import run_jobs
from tests.payments.conftest import ledger_sum

API = "https://api.stripe.com"
SECRET = "whsec_stripe_mode_test"


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body, keep_blank_values=True).items()}


@pytest.fixture
def stripe_mode(app, monkeypatch):
    for key, value in {
        "PAYMENT_GATEWAY": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_peerloop",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_CONNECT_WEBHOOK_SECRET": SECRET,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def session_body(checkout_id: str, *, paid: bool) -> dict:
    return {
        "id": "cs_test_1",
        "object": "checkout.session",
        "amount_total": 39900,
        "currency": "usd",
        "client_reference_id": checkout_id,
        "metadata": {"checkout_id": checkout_id},
        "payment_intent": "pi_1" if paid else None,
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete" if paid else "open",
        "url": None if paid else "https://checkout.stripe.com/c/pay/cs_test_1",
    }


def deliver(client, event: dict, path: str = "/webhooks/stripe"):
    body = json.dumps(event)
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return client.post(
        path, data=body, headers={"Stripe-Signature": f"t={t},v1={mac}"}, content_type="application/json"
    )


def buy_at_stripe(client, stripe_mode, student, course, now):
    stripe_mode.post(f"{API}/v1/checkout/sessions", json=session_body("placeholder", paid=False))
    checkout = services.start_checkout(student, course.id, now=now)
    stripe_mode.get(
        f"{API}/v1/payment_intents/pi_1",
        json={
            "id": "pi_1",
            "object": "payment_intent",
            "latest_charge": {"id": "ch_1", "object": "charge", "balance_transaction": {"id": "txn_1", "fee": 1187}},
        },
    )
    event = {
        "id": "evt_paid_1",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": session_body(str(checkout.id), paid=True)},
    }
    assert deliver(client, event).status_code == 200
    run_jobs(current_app)
    db.session.expire_all()
    return db.session.get(Checkout, checkout.id)


def test_checkout_sends_transfer_group_metadata_and_an_idempotency_key(client, make, stripe_mode, now):
    course = make.course()
    student = make.user(email="s@example.com")
    checkout = buy_at_stripe(client, stripe_mode, student, course, now)
    create = next(c for c in stripe_mode.calls if c.request.url == f"{API}/v1/checkout/sessions")
    sent = form(create)
    assert create.request.headers["Idempotency-Key"] == f"checkout-{checkout.id}"
    assert sent["payment_intent_data[transfer_group]"] == f"checkout_{checkout.id}"
    assert sent["metadata[checkout_id]"] == str(checkout.id) == sent["client_reference_id"]
    assert sent["line_items[0][price_data][unit_amount]"] == "39900"
    assert sent["line_items[0][price_data][currency]"] == "usd"
    assert sent["success_url"] == "http://peerloop.test/checkout/return?session_id={CHECKOUT_SESSION_ID}"
    assert sent["customer_email"] == "s@example.com"
    # The event carried just the session: completion keyed on its id, then asked Stripe for the charge.
    assert checkout.gateway_session_id == "cs_test_1"
    txn = db.session.scalar(sa.select(Transaction))
    assert (txn.stripe_payment_id, txn.stripe_charge_id, txn.fee_cents) == ("pi_1", "ch_1", 1187)
    assert ledger_sum(txn.id) == 39900
    assert db.session.get(Enrollment, checkout.enrollment_id).status == EnrollmentStatus.enrolled


def test_a_refund_goes_to_stripe_with_an_idempotency_key(client, make, stripe_mode, now):
    course = make.course()
    student = make.user()
    checkout = buy_at_stripe(client, stripe_mode, student, course, now)
    stripe_mode.post(
        f"{API}/v1/refunds", json={"id": "re_1", "object": "refund", "amount": 39900, "status": "succeeded"}
    )
    refund = services.cancel_enrollment(student, checkout.enrollment_id, reason="changed my mind", now=now)
    call = next(c for c in stripe_mode.calls if c.request.url == f"{API}/v1/refunds")
    assert call.request.headers["Idempotency-Key"] == f"cancel-{checkout.enrollment_id}"
    assert form(call)["payment_intent"] == "pi_1" and form(call)["amount"] == "39900"
    assert refund.stripe_refund_id == "re_1"


def test_a_stripe_error_on_refund_leaves_nothing_half_written(client, make, stripe_mode, now):
    course = make.course()
    student = make.user()
    checkout = buy_at_stripe(client, stripe_mode, student, course, now)
    stripe_mode.post(
        f"{API}/v1/refunds",
        status=400,
        json={"error": {"type": "invalid_request_error", "code": "charge_disputed", "message": "Charge is disputed."}},
    )
    response = client.post(
        f"/api/enrollments/{checkout.enrollment_id}/cancel",
        json={},
        headers={"Authorization": f"Bearer {_token(client, student)}"},
    )
    assert response.status_code == 422
    assert "refused" in response.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count(Refund.id))) == 0
    assert db.session.get(Enrollment, checkout.enrollment_id).status == EnrollmentStatus.enrolled
    assert ledger_sum(db.session.scalar(sa.select(Transaction.id))) == 39900


def test_stripe_down_at_checkout_is_a_503_and_writes_nothing(client, make, stripe_mode):
    import requests

    course = make.course()
    student = make.user()
    stripe_mode.post(f"{API}/v1/checkout/sessions", body=requests.ConnectionError("no route"))
    response = client.post(
        "/api/checkout/session",
        json={"course_id": str(course.id)},
        headers={"Authorization": f"Bearer {_token(client, student)}"},
    )
    assert response.status_code == 503
    assert db.session.scalar(sa.select(sa.func.count(Checkout.id))) == 0


def test_connect_onboarding_creates_an_express_account_and_a_fresh_link(client, make, stripe_mode, now):
    teacher = make.user(is_creator=True, email="t@example.com")
    stripe_mode.post(
        f"{API}/v1/accounts",
        json={
            "id": "acct_1",
            "object": "account",
            "details_submitted": False,
            "charges_enabled": False,
            "payouts_enabled": False,
        },
    )
    stripe_mode.post(
        f"{API}/v1/account_links", json={"object": "account_link", "url": "https://connect.stripe.com/setup/e/acct_1/x"}
    )
    response = client.post(
        "/api/payments/connect/onboard", headers={"Authorization": f"Bearer {_token(client, teacher)}"}
    )
    assert response.get_json() == {"url": "https://connect.stripe.com/setup/e/acct_1/x"}
    create = next(c for c in stripe_mode.calls if c.request.url == f"{API}/v1/accounts")
    assert form(create)["type"] == "express" and create.request.headers["Idempotency-Key"] == f"connect-{teacher.id}-0"
    link = form(next(c for c in stripe_mode.calls if c.request.url == f"{API}/v1/account_links"))
    assert link == {
        "account": "acct_1",
        "refresh_url": "http://peerloop.test/settings/payouts/connect/refresh",
        "return_url": "http://peerloop.test/settings/payouts/connect/return",
        "type": "account_onboarding",
    }
    db.session.refresh(teacher)
    assert (teacher.stripe_account_id, teacher.stripe_account_status) == ("acct_1", StripeAccountStatus.pending)
    # The return URL does not decide the state: the webhook does.
    assert client.get(
        "/api/payments/connect/status", headers={"Authorization": f"Bearer {_token(client, teacher)}"}
    ).get_json() == {
        "status": "pending",
        "payouts_enabled": False,
    }


def test_an_approved_payout_transfers_with_source_transaction_and_a_key(
    client, make, stripe_mode, now, monkeypatch, app
):
    monkeypatch.setitem(app.config, "PAYOUT_MINIMUM_CENTS", 100)
    creator = make.user(
        is_creator=True,
        stripe_account_id="acct_creator",
        stripe_account_status=StripeAccountStatus.active,
        stripe_payouts_enabled=True,
    )
    course = make.course(creator=creator)
    buy_at_stripe(client, stripe_mode, make.user(), course, now)
    payout = services.request_payout(creator, now=now)
    assert payout.amount_cents == 5985
    batch = services.create_batch(make.user(is_admin=True), include_available=False, now=now)
    stripe_mode.post(
        f"{API}/v1/transfers", json={"id": "tr_1", "object": "transfer", "amount": 5985, "amount_reversed": 0}
    )
    services.approve_batch(make.user(is_admin=True), batch.id, now=now)
    run_jobs(current_app)
    call = next(c for c in stripe_mode.calls if c.request.url == f"{API}/v1/transfers")
    sent = form(call)
    txn = db.session.scalar(sa.select(Transaction))
    assert sent["source_transaction"] == "ch_1" and sent["destination"] == "acct_creator"
    assert sent["transfer_group"] == txn.transfer_group and sent["amount"] == "5985"
    transfer = db.session.scalar(sa.select(PayoutTransfer))
    assert call.request.headers["Idempotency-Key"] == f"payout-transfer-{transfer.id}"
    assert transfer.stripe_transfer_id == "tr_1"
    assert db.session.get(Payout, payout.id).status == PayoutStatus.paid


def _token(client, user) -> str:
    response = client.post("/api/auth/login", json={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def test_the_return_page_asks_stripe_when_the_webhook_is_late(client, make, stripe_mode, now, login_as):
    course = make.course()
    student = login_as(make.user())
    stripe_mode.post(f"{API}/v1/checkout/sessions", json=session_body("placeholder", paid=False))
    checkout = services.start_checkout(student, course.id, now=now)
    stripe_mode.get(f"{API}/v1/checkout/sessions/cs_test_1", json=session_body(str(checkout.id), paid=True))
    stripe_mode.get(
        f"{API}/v1/payment_intents/pi_1", json={"id": "pi_1", "object": "payment_intent", "latest_charge": "ch_1"}
    )
    response = client.get("/checkout/return?session_id=cs_test_1")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 1
    assert urlsplit(stripe_mode.calls[-1].request.url).path == "/v1/payment_intents/pi_1"
