"""Connect onboarding through the sandbox, earnings, payout requests, and payout batches: one transfer
per source charge, refused and partly refused transfers, and approving or processing twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from peerloop.accounts.models import StripeAccountStatus
from peerloop.errors import Conflict, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.payments import sandbox, services
from peerloop.payments.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    Payout,
    PayoutBatchStatus,
    PayoutStatus,
    PayoutTransfer,
    SandboxObject,
    TransferStatus,
)
from tests.conftest import run_jobs
from tests.payments.conftest import paid, transaction_for

ROYALTY = 5985  # 15% of $399


pytestmark = pytest.mark.usefixtures("business_time")


def link_id(url: str) -> str:
    return url.rstrip("/").split("/")[-1]


def connect(app, user, now, *, payouts=True):
    """Onboard through the sandbox: its Submit sends a signed account.updated through the webhook path."""
    url = services.start_onboarding(user, now=now)
    sandbox.finish_onboarding(link_id(url), payouts=payouts, now=now)
    run_jobs(app)
    db.session.expire_all()


def sandbox_objects(kind: str) -> list[SandboxObject]:
    return db.session.scalars(sa.select(SandboxObject).where(SandboxObject.kind == kind)).all()


def set_sandbox(object_id: str, **changes) -> None:
    row = db.session.get(SandboxObject, object_id)
    row.data = {**row.data, **changes}
    db.session.commit()


def approve(app, make, batch, now):
    services.approve_batch(make.admin(), batch.id, now=now)
    run_jobs(app)  # approve_batch enqueues process_batch_job: inline on SQLite, a worker on Redis
    db.session.expire_all()


@pytest.fixture
def seller(app, make, now):
    """A connected creator with two $399 courses sold: two royalties of 5985, two source charges."""
    creator = make.creator()
    courses = [make.course(price_cents=39_900, session_count=2, creator=creator) for _ in range(2)]
    enrollments = [paid(app, make.user(), course, now=now) for course in courses]
    connect(app, creator, now)
    return creator, [transaction_for(e) for e in enrollments]


# --- Connect onboarding --------------------------------------------------------------------------------


def test_onboarding_through_the_sandbox_turns_payouts_on(app, make, now):
    user = make.creator()
    url = services.start_onboarding(user, now=now)
    db.session.expire_all()
    assert user.stripe_account_id.startswith("acct_sandbox_")
    assert user.stripe_account_status == StripeAccountStatus.pending
    assert not user.stripe_payouts_enabled
    assert url.startswith("http://peerloop.test/")
    link = db.session.get(SandboxObject, link_id(url))
    assert link.kind == "account_link" and link.data["account"] == user.stripe_account_id

    sandbox.finish_onboarding(link_id(url), payouts=True, now=now)
    run_jobs(app)
    db.session.expire_all()
    assert user.stripe_account_status == StripeAccountStatus.active
    assert user.stripe_payouts_enabled is True

    # A second onboarding reuses the account, with a fresh link.
    account = user.stripe_account_id
    again = services.start_onboarding(user, now=now)
    assert link_id(again) != link_id(url)
    db.session.expire_all()
    assert user.stripe_account_id == account
    assert len(sandbox_objects("account")) == 1


def test_onboarding_without_payouts_is_connected_payouts_off(app, make, now):
    user = make.creator()
    connect(app, user, now, payouts=False)
    assert user.stripe_account_status == StripeAccountStatus.active
    assert user.stripe_payouts_enabled is False
    assert services.connect_status(user) == {"status": "active", "payouts_enabled": False}


def test_the_connect_status_api(app, client, api_token, make, now):
    user = make.creator()
    headers = api_token(user)

    def status():
        response = client.get("/api/payments/connect/status", headers=headers)
        assert response.status_code == 200
        return response.get_json()

    assert status() == {"status": "not_connected", "payouts_enabled": False}
    url = services.start_onboarding(user, now=now)
    assert status() == {"status": "pending", "payouts_enabled": False}
    sandbox.finish_onboarding(link_id(url), payouts=True, now=now)
    run_jobs(app)
    assert status() == {"status": "active", "payouts_enabled": True}

    learner = api_token(make.user())
    assert client.get("/api/payments/connect/status", headers=learner).status_code == 403


# --- payout requests -------------------------------------------------------------------------------------


def test_payout_request_api(app, client, api_token, make, now):
    creator = make.creator()
    course = make.course(price_cents=39_900, session_count=2, creator=creator)
    paid(app, make.user(), course, now=now)
    headers = api_token(creator)

    def request_payout(body):
        return client.post("/api/payouts/request", json=body, headers=headers)

    response = request_payout({})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "not_connected"

    connect(app, creator, now, payouts=False)  # connected, payouts off: still not payable
    assert request_payout({}).get_json()["error"]["code"] == "not_connected"

    connect(app, creator, now)
    below = request_payout({"amount_cents": 4999})
    assert below.status_code == 400
    assert below.get_json()["error"]["code"] == "below_minimum"
    too_much = request_payout({"amount_cents": ROYALTY + 1})
    assert too_much.status_code == 400
    assert too_much.get_json()["error"]["code"] == "insufficient_balance"
    assert db.session.scalar(sa.select(sa.func.count(Payout.id)).where(Payout.recipient_id == creator.id)) == 0

    response = request_payout({})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["amount_cents"], body["currency"], body["status"]) == (ROYALTY, "USD", "requested")
    db.session.expire_all()
    (balance,) = services.balances(creator.id)
    assert (balance.available_cents, balance.in_payout_cents, balance.paid_cents) == (0, ROYALTY, 0)
    # Nothing left: a second request is refused.
    assert request_payout({}).status_code == 400


def test_a_balance_below_the_minimum_cannot_be_paid_out(app, make, now):
    creator = make.creator()
    course = make.course(price_cents=20_000, session_count=2, creator=creator)  # a royalty of 3000
    paid(app, make.user(), course, now=now)
    connect(app, creator, now)
    with pytest.raises(ValidationError) as error:
        services.request_payout(creator, now=now)
    assert error.value.code == "below_minimum"
    assert services.available_balance(creator.id, "USD") == 3000


def test_the_minimum_is_configurable(app, make, now, monkeypatch):
    monkeypatch.setitem(app.config, "PAYOUT_MINIMUM_CENTS", 2000)
    creator = make.creator()
    course = make.course(price_cents=20_000, session_count=2, creator=creator)
    paid(app, make.user(), course, now=now)
    connect(app, creator, now)
    payout = services.request_payout(creator, now=now)
    assert payout.amount_cents == 3000


# --- earnings ----------------------------------------------------------------------------------------------


def test_the_earnings_api(app, client, api_token, make, now):
    creator = make.creator()
    course = make.course(price_cents=39_900, session_count=2, creator=creator)
    teacher = make.user()
    make.student_teacher(teacher, course)
    paid(app, make.user(), course, now=now, teacher=teacher)

    body = client.get("/api/me/earnings", headers=api_token(creator)).get_json()
    assert (body["currency"], body["held_cents"], body["available_cents"], body["paid_cents"]) == (
        "USD",
        0,
        ROYALTY,
        0,
    )
    assert "by_currency" not in body
    assert [(line["kind"], line["amount_cents"], line["currency"]) for line in body["lines"]] == [
        ("creator_royalty", ROYALTY, "USD")
    ]
    assert body["lines"][0]["course"]["slug"] == course.slug

    st_body = client.get("/api/me/earnings", headers=api_token(teacher)).get_json()
    assert (st_body["held_cents"], st_body["available_cents"], st_body["lines"]) == (27_930, 0, [])

    # A EUR course too: two currencies, the main one (most earned) first.
    euro = make.course(price_cents=10_000, currency="EUR", session_count=1, creator=creator)
    paid(app, make.user(), euro, now=now)
    body = client.get("/api/me/earnings", headers=api_token(creator)).get_json()
    assert (body["currency"], body["available_cents"]) == ("USD", ROYALTY)
    assert [(b["currency"], b["available_cents"]) for b in body["by_currency"]] == [("USD", ROYALTY), ("EUR", 1500)]
    assert sorted((line["currency"], line["amount_cents"]) for line in body["lines"]) == [
        ("EUR", 1500),
        ("USD", ROYALTY),
    ]

    assert client.get("/api/me/earnings", headers=api_token(make.user())).status_code == 403


# --- batches -------------------------------------------------------------------------------------------------


def test_a_batch_pays_one_transfer_per_source_charge(app, make, now, seller):
    creator, transactions = seller
    payout = services.request_payout(creator, now=now)
    assert payout.amount_cents == 2 * ROYALTY
    batch = services.create_batch(make.admin(), include_available=False, now=now)
    assert [p.id for p in batch.payouts] == [payout.id]
    assert batch.status == PayoutBatchStatus.open

    approve(app, make, batch, now)
    assert payout.status == PayoutStatus.paid
    assert payout.paid_cents == 2 * ROYALTY
    assert payout.paid_at == now
    assert payout.failure_message is None
    assert batch.status == PayoutBatchStatus.processed
    transfers = payout.transfers
    assert len(transfers) == 2
    assert {t.transaction_id for t in transfers} == {t.id for t in transactions}
    charges = {t.id: t.stripe_charge_id for t in transactions}
    for transfer in transfers:
        assert transfer.status == TransferStatus.created
        stored = db.session.get(SandboxObject, transfer.stripe_transfer_id)
        assert stored.kind == "transfer"
        assert stored.data["source_transaction"] == charges[transfer.transaction_id]
        assert stored.data["amount"] == transfer.amount_cents == ROYALTY
        assert stored.data["destination"] == creator.stripe_account_id
        assert (
            stored.data["transfer_group"]
            == db.session.get(type(transactions[0]), transfer.transaction_id).transfer_group
        )
        assert db.session.get(SandboxObject, charges[transfer.transaction_id]).data["transferred"] == ROYALTY
    (balance,) = services.balances(creator.id)
    assert (balance.available_cents, balance.in_payout_cents, balance.paid_cents) == (0, 0, 2 * ROYALTY)


def test_a_batch_can_gather_every_available_balance_at_or_above_the_minimum(app, make, now, seller):
    creator, _ = seller
    small = make.creator()
    paid(app, make.user(), make.course(price_cents=20_000, session_count=2, creator=small), now=now)  # 3000
    connect(app, small, now)
    unconnected = make.creator()
    paid(app, make.user(), make.course(price_cents=39_900, session_count=2, creator=unconnected), now=now)

    batch = services.create_batch(make.admin(), include_available=True, now=now)
    assert [(p.recipient_id, p.amount_cents) for p in batch.payouts] == [(creator.id, 2 * ROYALTY)]
    assert services.available_balance(small.id, "USD") == 3000
    assert services.available_balance(unconnected.id, "USD") == ROYALTY


def test_nothing_to_batch(make, now):
    with pytest.raises(RuleViolation) as error:
        services.create_batch(make.admin(), include_available=True, now=now)
    assert error.value.code == "nothing_to_pay"


def test_a_refused_transfer_returns_the_money_to_available(app, make, now):
    creator = make.creator()
    course = make.course(price_cents=39_900, session_count=2, creator=creator)
    paid(app, make.user(), course, now=now)
    connect(app, creator, now)
    payout = services.request_payout(creator, now=now)
    set_sandbox(creator.stripe_account_id, payouts_enabled=False)  # the gateway now refuses transfers

    batch = services.create_batch(make.admin(), include_available=False, now=now)
    approve(app, make, batch, now)
    assert payout.status == PayoutStatus.failed
    assert payout.paid_cents == 0
    assert "cannot receive transfers" in payout.failure_message
    assert "back in the available balance" in payout.failure_message
    (transfer,) = payout.transfers
    assert transfer.status == TransferStatus.failed
    assert transfer.stripe_transfer_id is None
    assert sandbox_objects("transfer") == []
    returned = db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.payout_id == payout.id, LedgerEntry.kind == LedgerKind.payout_returned)
    ).all()
    assert sorted((r.account, r.amount_cents) for r in returned) == [
        (LedgerAccount.earnings, ROYALTY),
        (LedgerAccount.payout, -ROYALTY),
    ]
    (balance,) = services.balances(creator.id)
    assert (balance.available_cents, balance.in_payout_cents, balance.paid_cents) == (ROYALTY, 0, 0)
    assert batch.status == PayoutBatchStatus.processed
    # The money can be requested again.
    set_sandbox(creator.stripe_account_id, payouts_enabled=True)
    assert services.request_payout(creator, now=now).amount_cents == ROYALTY


def test_a_failed_payout_message_reads_cleanly(app, make, now):
    """The gateway's message ends with a full stop: the payout's message must not add a second one."""
    creator = make.creator()
    paid(app, make.user(), make.course(price_cents=39_900, session_count=2, creator=creator), now=now)
    connect(app, creator, now)
    payout = services.request_payout(creator, now=now)
    set_sandbox(creator.stripe_account_id, payouts_enabled=False)
    approve(app, make, services.create_batch(make.admin(), include_available=False, now=now), now)
    assert payout.status == PayoutStatus.failed
    assert ".." not in payout.failure_message


def test_a_partly_refused_payout_is_paid_for_what_was_transferred_and_says_so(app, make, now, seller):
    creator, (first, second) = seller
    payout = services.request_payout(creator, now=now)
    charge = db.session.get(SandboxObject, second.stripe_charge_id)
    set_sandbox(second.stripe_charge_id, transferred=charge.data["amount"])  # nothing left to transfer from it

    batch = services.create_batch(make.admin(), include_available=False, now=now)
    approve(app, make, batch, now)
    assert payout.status == PayoutStatus.paid
    assert payout.paid_cents == ROYALTY
    assert payout.failure_message.startswith("Paid $59.85 of $119.70")
    assert "Insufficient funds in the source transaction" in payout.failure_message
    by_txn = {t.transaction_id: t for t in payout.transfers}
    assert by_txn[first.id].status == TransferStatus.created
    assert by_txn[second.id].status == TransferStatus.failed
    (made,) = sandbox_objects("transfer")
    assert made.id == by_txn[first.id].stripe_transfer_id
    assert made.data["source_transaction"] == first.stripe_charge_id
    (balance,) = services.balances(creator.id)
    assert (balance.available_cents, balance.in_payout_cents, balance.paid_cents) == (ROYALTY, 0, ROYALTY)


def test_approving_twice_is_a_conflict_and_processing_twice_transfers_once(app, make, now, seller):
    creator, _ = seller
    payout = services.request_payout(creator, now=now)
    batch = services.create_batch(make.admin(), include_available=False, now=now)
    approve(app, make, batch, now)
    assert len(sandbox_objects("transfer")) == 2

    with pytest.raises(Conflict) as error:
        services.approve_batch(make.admin(), batch.id, now=now)
    assert error.value.code == "already_approved"
    assert services.process_batch(batch.id, now=now) == 0
    run_jobs(app)
    db.session.expire_all()
    assert len(sandbox_objects("transfer")) == 2
    assert (
        db.session.scalar(sa.select(sa.func.count(PayoutTransfer.id)).where(PayoutTransfer.payout_id == payout.id)) == 2
    )
    assert payout.paid_cents == 2 * ROYALTY
    assert services.balances(creator.id)[0].paid_cents == 2 * ROYALTY


def test_processing_an_approved_batch_twice_makes_each_transfer_once(app, make, now, seller, monkeypatch):
    """approve_batch's job is held back, then process_batch runs twice (a retry after a crash)."""
    creator, _ = seller
    payout = services.request_payout(creator, now=now)
    batch = services.create_batch(make.admin(), include_available=False, now=now)
    monkeypatch.setattr(services.jobs, "enqueue", lambda *args, **kwargs: None)
    services.approve_batch(make.admin(), batch.id, now=now)
    db.session.expire_all()
    assert payout.status == PayoutStatus.approved
    assert sandbox_objects("transfer") == []

    assert services.process_batch(batch.id, now=now) == 1
    assert services.process_batch(batch.id, now=now) == 0
    db.session.expire_all()
    assert payout.status == PayoutStatus.paid
    assert len(sandbox_objects("transfer")) == 2
    assert sum(t.data["amount"] for t in sandbox_objects("transfer")) == 2 * ROYALTY
    assert batch.status == PayoutBatchStatus.processed


def test_a_transfer_that_times_out_waits_for_the_sweep_and_is_never_sent_twice(app, make, now, seller, monkeypatch):
    """A time-out may have gone through: the payout stays processing (a refund then counts it as sent),
    and the sweep's rerun sends the same idempotency key, so the gateway answers the first transfer."""
    from peerloop.cli import run_sweep
    from peerloop.payments.interfaces import GatewayError

    creator, transactions = seller
    payout = services.request_payout(creator, now=now)
    batch = services.create_batch(make.admin(), include_available=False, now=now)
    real = sandbox.SandboxGateway.create_transfer
    calls = []

    def flaky(self, request):
        calls.append(request.idempotency_key)
        made = real(self, request)  # it went through at the gateway...
        if len(calls) == 2:
            raise GatewayError("The payment provider could not be reached.", retryable=True)  # ...unheard
        return made

    monkeypatch.setattr(sandbox.SandboxGateway, "create_transfer", flaky)
    approve(app, make, batch, now)
    assert payout.status == PayoutStatus.processing
    assert sorted(t.status for t in payout.transfers) == [TransferStatus.created, TransferStatus.pending]
    assert batch.status == PayoutBatchStatus.approved

    run_sweep(now)
    db.session.expire_all()
    assert payout.status == PayoutStatus.paid and payout.paid_cents == 2 * ROYALTY
    assert batch.status == PayoutBatchStatus.processed
    assert calls[1] == calls[2]  # the rerun used the same key
    assert len(sandbox_objects("transfer")) == 2  # and the gateway made it once
