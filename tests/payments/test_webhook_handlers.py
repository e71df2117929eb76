"""The Stripe events PeerLoop acts on, delivered through /webhooks/stripe and /webhooks/stripe-connect
with real signatures: disputes, refunds made at Stripe, Connect accounts, bank payouts, and order."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import sqlalchemy as sa
from flask import current_app

from config import DEV_STRIPE_WEBHOOK_SECRET
from peerloop.accounts.models import StripeAccountStatus
from peerloop.enrollment.models import EnrollmentStatus
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.payments import services
from peerloop.payments.models import (
    Dispute,
    DisputeStatus,
    Refund,
    RefundReason,
    Transaction,
    TransactionStatus,
)
from peerloop.webhooks.models import WebhookEvent, WebhookStatus
from tests.conftest import run_jobs
from tests.payments.conftest import ledger_sum, pay, transaction_for

_seq = iter(range(1, 10_000))


def signed(body: str, secret: str = DEV_STRIPE_WEBHOOK_SECRET) -> str:
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@pytest.fixture
def send(client):
    def _send(event_type: str, obj: dict, *, connect: bool = False, account: str | None = None, event_id=None):
        event = {
            "id": event_id or f"evt_test_{next(_seq)}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
        if account:
            event["account"] = account
        body = json.dumps(event)
        response = client.post(
            "/webhooks/stripe-connect" if connect else "/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": signed(body)},
            content_type="application/json",
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        run_jobs(current_app)
        stored = db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.event_id == event["id"]))
        db.session.expire_all()
        return stored

    return _send


@pytest.fixture
def paid(make, purchase):
    course = make.course()
    student = make.user()
    enrollment = purchase(student, course)
    return enrollment, transaction_for(enrollment)


def test_a_dispute_freezes_the_enrollment_and_a_won_one_thaws_it(send, paid):
    enrollment, txn = paid
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "charge": txn.stripe_charge_id,
        "amount": 39900,
        "reason": "fraudulent",
    }
    assert send("charge.dispute.created", dispute).status == WebhookStatus.processed
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.frozen
    assert db.session.get(Transaction, txn.id).status == TransactionStatus.disputed
    send("charge.dispute.created", dispute)  # a second delivery under a new event id changes nothing
    assert db.session.scalar(sa.select(sa.func.count(Dispute.id))) == 1
    send("charge.dispute.closed", {**dispute, "status": "won"})
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.enrolled
    assert db.session.get(Transaction, txn.id).status == TransactionStatus.completed
    assert db.session.scalar(sa.select(Dispute)).status == DisputeStatus.won


def test_a_frozen_enrollment_cannot_be_cancelled(send, paid, make):
    enrollment, txn = paid
    send("charge.dispute.created", {"id": "dp_2", "charge": txn.stripe_charge_id, "amount": 39900})
    from peerloop.errors import Conflict

    with pytest.raises(Conflict) as caught:
        services.cancel_quote(db.session.get(type(enrollment), enrollment.id).student, enrollment.id)
    assert caught.value.code == "enrollment_frozen"


def test_a_lost_dispute_ends_the_enrollment_and_reverses_the_ledger(send, paid):
    enrollment, txn = paid
    send("charge.dispute.created", {"id": "dp_3", "charge": txn.stripe_charge_id, "amount": 39900})
    send("charge.dispute.closed", {"id": "dp_3", "charge": txn.stripe_charge_id, "amount": 39900, "status": "lost"})
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.cancelled
    txn = db.session.get(Transaction, txn.id)
    assert txn.status == TransactionStatus.charged_back
    refund = db.session.scalar(sa.select(Refund))
    assert (refund.reason, refund.amount_cents, refund.stripe_refund_id) == (RefundReason.chargeback, 39900, None)
    assert ledger_sum(txn.id) == 39900
    # Nothing is left to refund, and a later release pays nothing.
    assert services.refundable(txn, enrollment).total_cents == 0


def test_closed_before_we_saw_it_open_still_settles(send, paid):
    enrollment, txn = paid
    send("charge.dispute.closed", {"id": "dp_4", "charge": txn.stripe_charge_id, "amount": 39900, "status": "lost"})
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.cancelled
    assert db.session.scalar(sa.select(Dispute)).status == DisputeStatus.lost


def test_a_refund_made_at_stripe_is_recorded_part_by_part(send, paid):
    enrollment, txn = paid
    charge = {"id": txn.stripe_charge_id, "object": "charge", "payment_intent": txn.stripe_payment_id}
    send("charge.refunded", {**charge, "amount_refunded": 10000})
    refund = db.session.scalar(sa.select(Refund))
    assert (refund.reason, refund.amount_cents, refund.pool_cents) == (RefundReason.external, 10000, 10000)
    assert db.session.get(Transaction, txn.id).status == TransactionStatus.partially_refunded
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.enrolled
    # Stripe sends the charge's running total: only the difference is new.
    send("charge.refunded", {**charge, "amount_refunded": 10000})
    assert db.session.scalar(sa.select(sa.func.count(Refund.id))) == 1
    send("charge.refunded", {**charge, "amount_refunded": 39900})
    assert db.session.scalar(sa.select(sa.func.sum(Refund.amount_cents))) == 39900
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.cancelled
    assert ledger_sum(txn.id) == 39900


def test_our_own_refund_echoed_by_stripe_is_not_counted_twice(send, paid, now):
    enrollment, txn = paid
    refund = services.cancel_enrollment(enrollment.student, enrollment.id, reason=None, now=now)
    charge = {
        "id": txn.stripe_charge_id,
        "payment_intent": txn.stripe_payment_id,
        "amount_refunded": refund.amount_cents,
    }
    send("charge.refunded", charge)
    assert db.session.scalar(sa.select(sa.func.count(Refund.id))) == 1


def test_checkout_expired_marks_the_open_checkout(send, make, now):
    from peerloop.payments.models import Checkout, CheckoutStatus

    checkout = services.start_checkout(make.user(), make.course().id, now=now)
    send("checkout.session.expired", {"id": checkout.gateway_session_id, "object": "checkout.session"})
    assert db.session.get(Checkout, checkout.id).status == CheckoutStatus.expired


def test_a_completed_event_for_a_session_we_never_made_is_harmless(send):
    event = send("checkout.session.completed", {"id": "cs_unknown", "payment_status": "paid", "amount_total": 100})
    assert event.status == WebhookStatus.processed


def test_a_completed_event_that_carries_only_the_session_object_enrolls(send, make, now):
    """Stripe's event has the session, no extras: completion is keyed on the session id alone."""
    from peerloop.payments import sandbox

    checkout = services.start_checkout(make.user(), make.course().id, now=now)
    sandbox_row = sandbox._get(checkout.gateway_session_id, "checkout_session")
    # Make the sandbox's payment exist, without its own event (as if paid at Stripe).
    sandbox_pay_without_event = sandbox._deliver
    try:
        sandbox._deliver = lambda *a, **k: db.session.commit()
        pay(checkout.gateway_session_id, now=now)
    finally:
        sandbox._deliver = sandbox_pay_without_event
    intent = sandbox._get(checkout.gateway_session_id, "checkout_session").data["payment_intent"]
    assert sandbox_row is not None
    send(
        "checkout.session.completed",
        {
            "id": checkout.gateway_session_id,
            "object": "checkout.session",
            "payment_status": "paid",
            "amount_total": 39900,
            "currency": "usd",
            "payment_intent": intent,
        },
    )
    assert db.session.get(type(checkout), checkout.id).enrollment_id is not None


# --- Connect -------------------------------------------------------------------


def account(acct: str, *, details=True, charges=True, payouts=True, disabled=None) -> dict:
    return {
        "id": acct,
        "object": "account",
        "details_submitted": details,
        "charges_enabled": charges,
        "payouts_enabled": payouts,
        "requirements": {"disabled_reason": disabled},
    }


@pytest.mark.parametrize(
    ("state", "status", "payouts"),
    [
        ({"details": False, "charges": False, "payouts": False}, StripeAccountStatus.pending, False),
        ({"details": True, "charges": True, "payouts": False}, StripeAccountStatus.active, False),
        ({"details": True, "charges": True, "payouts": True}, StripeAccountStatus.active, True),
        (
            {"details": True, "charges": False, "payouts": False, "disabled": "rejected.fraud"},
            StripeAccountStatus.restricted,
            False,
        ),
    ],
)
def test_account_updated_sets_the_four_states(send, make, state, status, payouts, client, api_token):
    teacher = make.user(
        is_creator=True, stripe_account_id="acct_test_1", stripe_account_status=StripeAccountStatus.pending
    )
    send("account.updated", account("acct_test_1", **state), connect=True, account="acct_test_1")
    teacher = db.session.get(type(teacher), teacher.id)
    assert (teacher.stripe_account_status, teacher.stripe_payouts_enabled) == (status, payouts)
    body = client.get("/api/payments/connect/status", headers=api_token(teacher)).get_json()
    assert body == {"status": status.value, "payouts_enabled": payouts}


def test_account_events_on_the_platform_endpoint_are_not_connect_events(send, make):
    teacher = make.user(
        is_creator=True, stripe_account_id="acct_test_2", stripe_account_status=StripeAccountStatus.pending
    )
    assert send("account.updated", account("acct_test_2")).status == WebhookStatus.ignored
    assert db.session.get(type(teacher), teacher.id).stripe_account_status == StripeAccountStatus.pending


def test_deauthorized_disconnects_and_tells_the_person(send, make):
    teacher = make.user(
        is_creator=True,
        stripe_account_id="acct_test_3",
        stripe_account_status=StripeAccountStatus.active,
        stripe_payouts_enabled=True,
    )
    send(
        "account.application.deauthorized", {"id": "ca_1", "object": "application"}, connect=True, account="acct_test_3"
    )
    teacher = db.session.get(type(teacher), teacher.id)
    assert (teacher.stripe_account_id, teacher.stripe_payouts_enabled) == (None, False)
    assert services.connect_status(teacher) == {"status": "not_connected", "payouts_enabled": False}
    assert (
        db.session.scalar(sa.select(Notification.type).where(Notification.user_id == teacher.id))
        == "payouts_disconnected"
    )


def test_bank_payouts_of_a_connected_account_are_shown_to_its_owner(send, make):
    teacher = make.user(
        is_creator=True, stripe_account_id="acct_test_4", stripe_account_status=StripeAccountStatus.active
    )
    payout = {"id": "po_1", "object": "payout", "amount": 12050, "currency": "usd"}
    send("payout.paid", payout, connect=True, account="acct_test_4")
    send("payout.failed", {**payout, "failure_message": "account closed"}, connect=True, account="acct_test_4")
    titles = db.session.scalars(sa.select(Notification.title).where(Notification.user_id == teacher.id)).all()
    assert sorted(titles) == ["$120.50 could not be sent to your bank", "$120.50 reached your bank"]


def test_expired_arriving_after_completed_changes_nothing(send, paid):
    from peerloop.payments.models import Checkout, CheckoutStatus

    enrollment, txn = paid
    checkout = db.session.get(Checkout, txn.checkout_id)
    send("checkout.session.expired", {"id": checkout.gateway_session_id, "object": "checkout.session"})
    assert db.session.get(Checkout, checkout.id).status == CheckoutStatus.completed
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.enrolled


def test_dispute_created_arriving_after_closed_won_does_not_freeze_again(send, paid):
    enrollment, txn = paid
    dispute = {"id": "dp_5", "charge": txn.stripe_charge_id, "amount": 39900}
    send("charge.dispute.closed", {**dispute, "status": "won"})
    send("charge.dispute.created", dispute)
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.enrolled
    assert db.session.scalar(sa.select(Dispute)).status == DisputeStatus.won


def test_a_lost_dispute_after_a_released_session_records_the_platforms_loss(send, paid, make, now):
    from uuid import uuid4

    from peerloop.payments.models import LedgerAccount
    from tests.payments.conftest import FakeSession, account_sum

    enrollment, txn = paid
    teacher = make.user()
    released = services.release_teaching_share(FakeSession(uuid4(), enrollment.id, teacher.id), now=now)
    dispute = {"id": "dp_6", "charge": txn.stripe_charge_id, "amount": 39900}
    send("charge.dispute.created", dispute)
    send("charge.dispute.closed", {**dispute, "status": "lost"})
    refund = db.session.scalar(sa.select(Refund))
    # The bank took the whole charge; the teacher keeps the share they earned; the platform bears it.
    assert (refund.amount_cents, refund.absorbed_cents) == (39900, released.amount_cents)
    assert account_sum(txn.id, LedgerAccount.refund) == 39900
    assert account_sum(txn.id, LedgerAccount.earnings, teacher.id) == released.amount_cents
    assert ledger_sum(txn.id) == 39900


def test_a_full_refund_at_stripe_after_a_released_session_records_the_platforms_loss(send, paid, make, now):
    from uuid import uuid4

    from peerloop.payments.models import LedgerAccount
    from tests.payments.conftest import FakeSession, account_sum

    enrollment, txn = paid
    teacher = make.user()
    released = services.release_teaching_share(FakeSession(uuid4(), enrollment.id, teacher.id), now=now)
    charge = {"id": txn.stripe_charge_id, "payment_intent": txn.stripe_payment_id, "amount_refunded": 39900}
    send("charge.refunded", charge)
    send("charge.refunded", charge)  # a repeat changes nothing
    refunds = db.session.scalars(sa.select(Refund)).all()
    assert len(refunds) == 1
    assert (refunds[0].amount_cents, refunds[0].absorbed_cents) == (39900, released.amount_cents)
    assert account_sum(txn.id, LedgerAccount.refund) == 39900
    assert account_sum(txn.id, LedgerAccount.earnings, teacher.id) == released.amount_cents  # they keep it
    assert ledger_sum(txn.id) == 39900
    assert db.session.get(Transaction, txn.id).status == TransactionStatus.refunded
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.cancelled


def test_an_older_account_update_arriving_late_does_not_turn_payouts_off(send, make, now):
    """The handler reads the account as the gateway has it now, not the late event's copy."""
    from urllib.parse import urlsplit

    from peerloop.payments import sandbox

    teacher = make.user(is_creator=True)
    url = services.start_onboarding(teacher, now=now)
    sandbox.finish_onboarding(urlsplit(url).path.rsplit("/", 1)[1], payouts=True, now=now)
    db.session.refresh(teacher)
    assert teacher.stripe_payouts_enabled is True
    stale = account(teacher.stripe_account_id, payouts=False)  # sent before payouts were on
    send("account.updated", stale, connect=True, account=teacher.stripe_account_id)
    db.session.refresh(teacher)
    assert teacher.stripe_payouts_enabled is True


def test_reconnecting_after_a_disconnect_gets_a_new_account(send, make, now):
    teacher = make.user(is_creator=True)
    services.start_onboarding(teacher, now=now)
    db.session.refresh(teacher)
    first = teacher.stripe_account_id
    send("account.application.deauthorized", {"id": "ca_2"}, connect=True, account=first)
    db.session.refresh(teacher)
    services.start_onboarding(teacher, now=now)
    db.session.refresh(teacher)
    assert teacher.stripe_account_id not in (None, first)


def test_a_full_dispute_after_a_partial_refund_records_what_the_bank_took_twice(send, paid, make, now):
    from peerloop.payments.models import LedgerAccount
    from tests.payments.conftest import account_sum

    enrollment, txn = paid
    services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=10_000, ends_enrollment=False, idempotency_key="part", now=now
    )
    dispute = {"id": "dp_7", "charge": txn.stripe_charge_id, "amount": 39900}
    send("charge.dispute.created", dispute)
    send("charge.dispute.closed", {**dispute, "status": "lost"})
    # 10000 refunded by us, then the bank took the whole 39900: 49900 went back in all.
    assert account_sum(txn.id, LedgerAccount.refund) == 49900
    assert account_sum(txn.id, LedgerAccount.pool) == 0  # nothing left held on an ended enrollment
    assert ledger_sum(txn.id) == 39900
    assert db.session.get(type(enrollment), enrollment.id).status == EnrollmentStatus.cancelled
