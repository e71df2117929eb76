"""Refunds through the services, the API and the sandbox: the student's quote and cancel, Brian's full and
custom refunds, a royalty already paid out (absorbed or clawed back), and delivered sessions never refunded."""

from __future__ import annotations

from uuid import uuid4

import pytest
import sqlalchemy as sa

from peerloop.enrollment.models import EnrollmentStatus
from peerloop.errors import Conflict, NotFound, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.payments import sandbox, services
from peerloop.payments.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    PayoutStatus,
    PayoutTransfer,
    Refund,
    RefundReason,
    SandboxObject,
    TransactionStatus,
)
from tests.conftest import run_jobs
from tests.payments.conftest import FakeSession, account_sum, ledger_sum, paid, transaction_for

PRICE = 39_900


pytestmark = pytest.mark.usefixtures("business_time")


def release(enrollment, teacher, now):
    return services.release_teaching_share(FakeSession(uuid4(), enrollment.id, teacher.id), now=now)


def count(model, *where) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)))


def sandbox_objects(kind: str) -> list[SandboxObject]:
    return db.session.scalars(sa.select(SandboxObject).where(SandboxObject.kind == kind)).all()


def snapshot(txn_id):
    """What a refund would change: the transaction's ledger rows, its refunds, the sandbox's refunds."""
    db.session.expire_all()
    return (
        count(LedgerEntry, LedgerEntry.transaction_id == txn_id),
        ledger_sum(txn_id),
        account_sum(txn_id, LedgerAccount.pool),
        count(Refund, Refund.transaction_id == txn_id),
        count(SandboxObject, SandboxObject.kind == "refund"),
    )


def reversed_by(refund, account, recipient_id=None) -> int:
    where = [LedgerEntry.refund_id == refund.id, LedgerEntry.account == account, LedgerEntry.kind == LedgerKind.refund]
    if recipient_id is not None:
        where.append(LedgerEntry.recipient_id == recipient_id)
    total = sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0)
    return int(db.session.scalar(sa.select(total).where(*where)))


@pytest.fixture
def setup(app, make, now):
    """A $399 course of n sessions with a Student-Teacher, bought by a student."""

    def _setup(session_count=4, price=PRICE):
        course = make.course(price_cents=price, session_count=session_count)
        teacher = make.user()
        make.student_teacher(teacher, course)
        student = make.user()
        enrollment = paid(app, student, course, now=now, teacher=teacher)
        return course, teacher, student, enrollment, transaction_for(enrollment)

    return _setup


# --- the student's quote and cancel, for 0..n delivered sessions ------------------------------------

# $399 over 4 sessions: 5985 / 5985 / 27930, releases 6982, 6982, 6982, 6984.
# Quote after d: the unreleased pool + 2 × ⌈5985 × (4 − d) ÷ 4⌉.
QUOTES = {0: 39_900, 1: 20_948 + 2 * 4489, 2: 13_966 + 2 * 2993, 3: 6_984 + 2 * 1497, 4: 0}


@pytest.mark.parametrize("delivered", sorted(QUOTES))
def test_the_quote_and_the_cancel_for_each_number_of_delivered_sessions(setup, now, delivered):
    course, teacher, student, enrollment, txn = setup(session_count=4)
    released = sum(release(enrollment, teacher, now).amount_cents for _ in range(delivered))

    quote = services.cancel_quote(student, enrollment.id)
    assert quote.delivered_sessions == delivered
    assert quote.quote.total_cents == QUOTES[delivered]
    undelivered = 4 - delivered
    assert quote.quote.total_cents * 4 >= PRICE * undelivered  # never less than price × u ÷ n
    assert quote.quote.total_cents <= PRICE - released
    assert quote.quote.pool_cents == 27_930 - released

    refund = services.cancel_enrollment(
        student, enrollment.id, reason="Moving on", expected_refund_cents=QUOTES[delivered], now=now
    )
    db.session.expire_all()
    assert enrollment.status == EnrollmentStatus.cancelled
    assert ledger_sum(txn.id) == PRICE
    assert account_sum(txn.id, LedgerAccount.pool) == 0
    assert account_sum(txn.id, LedgerAccount.earnings, teacher.id) == released  # the teacher keeps it
    if delivered == 4:
        assert refund is None
        assert count(Refund, Refund.transaction_id == txn.id) == 0
        assert txn.status == TransactionStatus.completed
        return
    assert refund.amount_cents == QUOTES[delivered]
    assert refund.reason == RefundReason.student_cancel
    assert (refund.pool_cents, refund.platform_cents, refund.creator_cents) == (
        quote.quote.pool_cents,
        quote.quote.platform_cents,
        quote.quote.creator_cents,
    )
    assert account_sum(txn.id, LedgerAccount.refund) == refund.amount_cents
    assert reversed_by(refund, LedgerAccount.pool) == -refund.pool_cents
    assert reversed_by(refund, LedgerAccount.platform) == -refund.platform_cents
    assert reversed_by(refund, LedgerAccount.earnings, course.creator_id) == -refund.creator_cents
    assert txn.status == (TransactionStatus.refunded if delivered == 0 else TransactionStatus.partially_refunded)


def test_a_changed_quote_refunds_nothing(setup, now):
    course, teacher, student, enrollment, txn = setup(session_count=4)
    release(enrollment, teacher, now)
    before = snapshot(txn.id)
    with pytest.raises(Conflict) as error:
        services.cancel_enrollment(student, enrollment.id, reason=None, expected_refund_cents=PRICE, now=now)
    assert error.value.code == "quote_changed"
    assert snapshot(txn.id) == before
    assert enrollment.status == EnrollmentStatus.enrolled


def test_cancelling_twice_is_a_conflict_and_refunds_once(setup, now):
    course, teacher, student, enrollment, txn = setup(session_count=4)
    services.cancel_enrollment(student, enrollment.id, reason=None, now=now)
    before = snapshot(txn.id)
    with pytest.raises(Conflict) as error:
        services.cancel_enrollment(student, enrollment.id, reason=None, now=now)
    assert error.value.code == "already_cancelled"
    with pytest.raises(Conflict):
        services.cancel_quote(student, enrollment.id)
    assert snapshot(txn.id) == before
    assert account_sum(txn.id, LedgerAccount.refund) == PRICE


def test_someone_elses_enrollment_is_not_found(setup, make, now):
    course, teacher, student, enrollment, txn = setup(session_count=4)
    other = make.user()
    with pytest.raises(NotFound):
        services.cancel_quote(other, enrollment.id)
    with pytest.raises(NotFound):
        services.cancel_enrollment(other, enrollment.id, reason=None, now=now)
    with pytest.raises(NotFound):
        services.cancel_quote(student, "not-a-uuid")
    db.session.expire_all()
    assert enrollment.status == EnrollmentStatus.enrolled
    assert count(Refund, Refund.transaction_id == txn.id) == 0


def test_the_cancel_makes_a_refund_at_the_gateway(setup, now):
    course, teacher, student, enrollment, txn = setup(session_count=4)
    release(enrollment, teacher, now)
    refund = services.cancel_enrollment(student, enrollment.id, reason=None, now=now)
    (gateway_refund,) = sandbox_objects("refund")
    assert refund.stripe_refund_id == gateway_refund.id
    assert gateway_refund.data["amount"] == refund.amount_cents == QUOTES[1]
    assert gateway_refund.data["payment_intent"] == txn.stripe_payment_id
    intent = db.session.get(SandboxObject, txn.stripe_payment_id)
    assert intent.data["amount_refunded"] == QUOTES[1]


# --- the API ----------------------------------------------------------------------------------------


def test_the_refund_quote_and_cancel_api(setup, client, api_token, make, now):
    course, teacher, student, enrollment, txn = setup(session_count=4)
    release(enrollment, teacher, now)
    release(enrollment, teacher, now)
    headers = api_token(student)

    response = client.get(f"/api/enrollments/{enrollment.id}/refund-quote", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {
        "refund_cents": QUOTES[2],
        "currency": "USD",
        "delivered_sessions": 2,
        "session_count": 4,
    }

    stale = client.post(
        f"/api/enrollments/{enrollment.id}/cancel", json={"expected_refund_cents": QUOTES[1]}, headers=headers
    )
    assert stale.status_code == 409
    assert stale.get_json()["error"]["code"] == "quote_changed"

    response = client.post(
        f"/api/enrollments/{enrollment.id}/cancel", json={"expected_refund_cents": QUOTES[2]}, headers=headers
    )
    assert response.status_code == 200
    assert response.get_json()["refund_cents"] == QUOTES[2]

    again = client.post(f"/api/enrollments/{enrollment.id}/cancel", json={}, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_cancelled"
    assert client.get(f"/api/enrollments/{enrollment.id}/refund-quote", headers=headers).status_code == 409

    other = api_token(make.user())
    assert client.get(f"/api/enrollments/{enrollment.id}/refund-quote", headers=other).status_code == 404
    db.session.expire_all()
    assert account_sum(txn.id, LedgerAccount.refund) == QUOTES[2]
    assert ledger_sum(txn.id) == PRICE


# --- Brian's refunds --------------------------------------------------------------------------------


def test_the_preview_writes_nothing(setup, now):
    course, teacher, student, enrollment, txn = setup(session_count=2)
    release(enrollment, teacher, now)
    before = snapshot(txn.id)
    plan = services.preview_refund(enrollment.id, amount_cents=None)
    assert plan.quote.total_cents == PRICE - 13_965
    assert (plan.quote.pool_cents, plan.quote.platform_cents, plan.quote.creator_cents) == (13_965, 5985, 5985)
    assert plan.left_cents == PRICE - 13_965
    assert sorted((r.account, r.amount_cents) for r in plan.rows) == [
        (LedgerAccount.earnings, -5985),
        (LedgerAccount.platform, -5985),
        (LedgerAccount.pool, -13_965),
        (LedgerAccount.refund, 25_935),
    ]
    custom = services.preview_refund(enrollment.id, amount_cents=15_000)
    assert (custom.quote.pool_cents, custom.quote.platform_cents, custom.quote.creator_cents) == (13_965, 1035, 0)
    assert snapshot(txn.id) == before
    db.session.expire_all()
    assert enrollment.status == EnrollmentStatus.enrolled


def test_a_full_admin_refund_never_returns_a_delivered_session(setup, make, now):
    course, teacher, student, enrollment, txn = setup(session_count=2)
    release(enrollment, teacher, now)
    refund = services.refund_enrollment(make.admin(), enrollment.id, amount_cents=None, idempotency_key="k1", now=now)
    db.session.expire_all()
    assert refund.amount_cents == PRICE - 13_965
    assert (refund.pool_cents, refund.platform_cents, refund.creator_cents) == (13_965, 5985, 5985)
    assert refund.reason == RefundReason.admin
    assert enrollment.status == EnrollmentStatus.cancelled
    assert account_sum(txn.id, LedgerAccount.earnings, teacher.id) == 13_965
    assert account_sum(txn.id, LedgerAccount.earnings, course.creator_id) == 0
    assert account_sum(txn.id, LedgerAccount.pool) == 0
    assert ledger_sum(txn.id) == PRICE
    assert txn.status == TransactionStatus.partially_refunded
    with pytest.raises(Conflict) as error:
        services.refund_enrollment(make.admin(), enrollment.id, amount_cents=1, idempotency_key="k2", now=now)
    assert error.value.code == "nothing_to_refund"


@pytest.mark.parametrize(
    ("amount", "parts"),
    [
        (10_000, (10_000, 0, 0)),
        (30_000, (27_930, 2070, 0)),
        (35_000, (27_930, 5985, 1085)),
        (PRICE, (27_930, 5985, 5985)),
    ],
)
def test_a_custom_refund_comes_from_the_pool_then_the_platform_then_the_creator(setup, make, now, amount, parts):
    course, teacher, student, enrollment, txn = setup(session_count=2)
    refund = services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=amount, ends_enrollment=False, idempotency_key="custom", now=now
    )
    db.session.expire_all()
    assert (refund.pool_cents, refund.platform_cents, refund.creator_cents) == parts
    assert refund.amount_cents == amount
    assert reversed_by(refund, LedgerAccount.pool) == -parts[0]
    assert reversed_by(refund, LedgerAccount.platform) == -parts[1]
    assert reversed_by(refund, LedgerAccount.earnings, course.creator_id) == -parts[2]
    assert account_sum(txn.id, LedgerAccount.refund) == amount
    assert ledger_sum(txn.id) == PRICE
    assert enrollment.status == EnrollmentStatus.enrolled  # Brian chose not to end it
    assert txn.status == (TransactionStatus.refunded if amount == PRICE else TransactionStatus.partially_refunded)


def test_a_custom_refund_above_what_is_left_is_refused(setup, make, now):
    course, teacher, student, enrollment, txn = setup(session_count=2)
    release(enrollment, teacher, now)
    before = snapshot(txn.id)
    for amount in (PRICE - 13_965 + 1, PRICE, 0, -5):
        with pytest.raises(ValidationError):
            services.refund_enrollment(make.admin(), enrollment.id, amount_cents=amount, idempotency_key="x", now=now)
    assert snapshot(txn.id) == before
    # Exactly what is left is fine.
    refund = services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=PRICE - 13_965, idempotency_key="y", now=now
    )
    assert refund.amount_cents == 25_935


def test_the_same_idempotency_key_refunds_once(setup, make, now):
    course, teacher, student, enrollment, txn = setup(session_count=2)
    admin = make.admin()
    first = services.refund_enrollment(
        admin, enrollment.id, amount_cents=5000, ends_enrollment=False, idempotency_key="double-click", now=now
    )
    second = services.refund_enrollment(
        admin, enrollment.id, amount_cents=5000, ends_enrollment=False, idempotency_key="double-click", now=now
    )
    db.session.expire_all()
    assert second.id == first.id
    assert count(Refund, Refund.transaction_id == txn.id) == 1
    assert len(sandbox_objects("refund")) == 1
    assert account_sum(txn.id, LedgerAccount.refund) == 5000
    assert ledger_sum(txn.id) == PRICE


@pytest.mark.parametrize(
    ("custom", "second"),
    [
        (10_000, PRICE - 10_000),  # capped by nothing: the rest of the full price
        (35_000, 4900),  # capped: only 4900 of the creator's royalty is left
    ],
)
def test_a_partial_custom_refund_then_a_student_cancel(setup, make, now, custom, second):
    course, teacher, student, enrollment, txn = setup(session_count=2)
    services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=custom, ends_enrollment=False, idempotency_key="part", now=now
    )
    quote = services.cancel_quote(student, enrollment.id)
    assert quote.quote.total_cents == second
    refund = services.cancel_enrollment(student, enrollment.id, reason=None, expected_refund_cents=second, now=now)
    db.session.expire_all()
    assert refund.amount_cents == second
    assert account_sum(txn.id, LedgerAccount.refund) == PRICE
    assert account_sum(txn.id, LedgerAccount.pool) == 0
    assert account_sum(txn.id, LedgerAccount.earnings, course.creator_id) == 0
    assert ledger_sum(txn.id) == PRICE
    assert txn.status == TransactionStatus.refunded
    assert sum(r.data["amount"] for r in sandbox_objects("refund")) == PRICE


# --- a royalty already paid out -----------------------------------------------------------------------


def connect(app, user, now):
    url = services.start_onboarding(user, now=now)
    sandbox.finish_onboarding(url.rstrip("/").split("/")[-1], payouts=True, now=now)
    run_jobs(app)
    db.session.expire_all()


def pay_out(app, make, user, now):
    payout = services.request_payout(user, now=now)
    batch = services.create_batch(make.admin(), include_available=False, now=now)
    services.approve_batch(make.admin(), batch.id, now=now)
    run_jobs(app)
    db.session.expire_all()
    assert payout.status == PayoutStatus.paid
    return payout


@pytest.fixture
def paid_out(app, make, now, setup):
    """A sale whose creator's royalty (5985) was paid out the same day."""
    course, teacher, student, enrollment, txn = setup(session_count=2)
    creator = course.creator
    connect(app, creator, now)
    payout = pay_out(app, make, creator, now)
    assert payout.paid_cents == 5985
    assert services.available_balance(creator.id, "USD") == 0
    return course, creator, enrollment, txn, payout


def test_a_paid_out_royalty_is_absorbed_by_the_platform(paid_out, make, now):
    course, creator, enrollment, txn, payout = paid_out
    refund = services.refund_enrollment(make.admin(), enrollment.id, amount_cents=None, idempotency_key="a", now=now)
    db.session.expire_all()
    assert refund.amount_cents == PRICE
    assert refund.creator_cents == 5985
    assert (refund.absorbed_cents, refund.clawed_back_cents) == (5985, 0)
    absorbed = db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.refund_id == refund.id, LedgerEntry.kind == LedgerKind.absorbed)
    ).all()
    assert sorted((r.account, r.amount_cents, r.recipient_id) for r in absorbed) == [
        (LedgerAccount.earnings, 5985, creator.id),
        (LedgerAccount.platform, -5985, None),
    ]
    assert services.available_balance(creator.id, "USD") == 0  # never negative
    assert services.balances(creator.id)[0].paid_cents == 5985
    assert ledger_sum(txn.id) == PRICE
    assert sandbox_objects("transfer_reversal") == []


def test_a_paid_out_royalty_is_clawed_back_by_a_transfer_reversal(paid_out, make, now):
    course, creator, enrollment, txn, payout = paid_out
    refund = services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=None, clawback=True, idempotency_key="c", now=now
    )
    db.session.expire_all()
    assert (refund.absorbed_cents, refund.clawed_back_cents) == (0, 5985)
    (transfer,) = db.session.scalars(sa.select(PayoutTransfer).where(PayoutTransfer.payout_id == payout.id)).all()
    assert transfer.reversed_cents == 5985
    (reversal,) = sandbox_objects("transfer_reversal")
    assert reversal.data == {"amount": 5985, "transfer": transfer.stripe_transfer_id}
    assert db.session.get(SandboxObject, transfer.stripe_transfer_id).data["amount_reversed"] == 5985
    clawback = db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.refund_id == refund.id, LedgerEntry.kind == LedgerKind.clawback)
    ).all()
    assert sorted((r.account, r.amount_cents) for r in clawback) == [
        (LedgerAccount.earnings, 5985),
        (LedgerAccount.payout, -5985),
    ]
    assert services.available_balance(creator.id, "USD") == 0
    assert account_sum(txn.id, LedgerAccount.payout, creator.id) == 0  # the payout's money came back
    assert ledger_sum(txn.id) == PRICE
    assert count(LedgerEntry, LedgerEntry.refund_id == refund.id, LedgerEntry.kind == LedgerKind.absorbed) == 0


def test_a_clawback_lowers_the_paid_balance(paid_out, make, now):
    """The clawback's payout-account rows carry their payout, so what the creator was paid goes down."""
    course, creator, enrollment, txn, payout = paid_out
    services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=None, clawback=True, idempotency_key="c", now=now
    )
    db.session.expire_all()
    assert account_sum(txn.id, LedgerAccount.payout, creator.id) == 0
    assert services.balances(creator.id)[0].paid_cents == 0


def test_a_paid_out_royalty_is_taken_from_available_first_then_absorbed(app, paid_out, make, now):
    course, creator, enrollment, txn, payout = paid_out
    # A later, smaller sale of the creator's: 3000 of royalty available.
    cheaper = make.course(price_cents=20_000, session_count=2, creator=creator)
    paid(app, make.user(), cheaper, now=now)
    assert services.available_balance(creator.id, "USD") == 3000

    refund = services.cancel_enrollment(
        db.session.get(type(creator), enrollment.student_id), enrollment.id, reason=None, now=now
    )
    db.session.expire_all()
    assert refund.amount_cents == PRICE
    assert (refund.creator_cents, refund.absorbed_cents, refund.clawed_back_cents) == (5985, 2985, 0)
    assert services.available_balance(creator.id, "USD") == 0
    assert ledger_sum(txn.id) == PRICE
    assert account_sum(txn.id, LedgerAccount.platform) == 5985 - 1187 - 5985 - 2985


def test_a_royalty_only_requested_for_payout_is_not_absorbed(app, make, now, setup):
    course, teacher, student, enrollment, txn = setup(session_count=2)
    creator = course.creator
    connect(app, creator, now)
    payout = services.request_payout(creator, now=now)  # requested, not yet approved
    refund = services.cancel_enrollment(student, enrollment.id, reason=None, now=now)
    db.session.expire_all()
    assert refund.amount_cents == PRICE
    assert ledger_sum(txn.id) == PRICE
    # The royalty was never sent: the payout gives it back instead of the platform absorbing it.
    assert refund.absorbed_cents == 0
    assert payout.status == PayoutStatus.failed
    assert payout.failure_message.startswith("Cancelled before it was sent")
    assert payout.transfers[0].amount_cents == 0
    assert services.available_balance(creator.id, "USD") == 0
    assert account_sum(txn.id, LedgerAccount.payout, creator.id) == 0
    # Nothing is left for a batch to send.
    with pytest.raises(RuleViolation):
        services.create_batch(make.admin(), include_available=False, now=now)
    transfers = sa.select(sa.func.count()).select_from(SandboxObject).where(SandboxObject.kind == "transfer")
    assert db.session.scalar(transfers) == 0


# --- a session delivered before the refund, released after it -----------------------------------------


def test_a_release_after_the_refund_still_pays_a_session_delivered_before(setup, now, monkeypatch):
    course, teacher, student, enrollment, txn = setup(session_count=4)
    release(enrollment, teacher, now)  # session 1, released
    # Session 2 was delivered too, but its release has not run yet (the booking work's seam).
    monkeypatch.setattr(services, "delivered_sessions", lambda e: 2)

    refund = services.cancel_enrollment(student, enrollment.id, reason=None, expected_refund_cents=QUOTES[2], now=now)
    db.session.expire_all()
    assert refund.amount_cents == QUOTES[2]
    assert enrollment.status == EnrollmentStatus.cancelled
    assert account_sum(txn.id, LedgerAccount.pool) == 6982  # kept for session 2

    late = release(enrollment, teacher, now)
    assert late is not None and late.amount_cents == 6982
    assert account_sum(txn.id, LedgerAccount.pool) == 0
    assert account_sum(txn.id, LedgerAccount.earnings, teacher.id) == 2 * 6982
    assert ledger_sum(txn.id) == PRICE
    assert release(enrollment, teacher, now) is None  # session 3 was never delivered: nothing left
    assert account_sum(txn.id, LedgerAccount.earnings, teacher.id) == 2 * 6982


# --- an ended enrollment's unused pool ------------------------------------------------------------------


@pytest.mark.parametrize("ends", [True, False])
def test_a_partial_admin_refund_that_ends_the_enrollment_leaves_no_pool_held(setup, make, now, ends):
    course, teacher, student, enrollment, txn = setup(session_count=4)
    release(enrollment, teacher, now)  # one session delivered: 6982 released, 20948 still held
    plan = services.preview_refund(enrollment.id, amount_cents=10_000, ends_enrollment=ends)
    assert plan.forfeited_cents == (10_948 if ends else 0)
    services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=10_000, ends_enrollment=ends, idempotency_key=f"k-{ends}", now=now
    )
    db.session.expire_all()
    assert ledger_sum(txn.id) == PRICE
    held = services.balances(teacher.id)[0].held_cents
    if ends:
        # Nobody will teach the rest: it is the platform's, not the Student-Teacher's "held" forever.
        assert account_sum(txn.id, LedgerAccount.pool) == 0 and held == 0
        forfeited = count(LedgerEntry, LedgerEntry.transaction_id == txn.id, LedgerEntry.kind == LedgerKind.forfeited)
        assert forfeited == 2
    else:
        assert account_sum(txn.id, LedgerAccount.pool) == 10_948 == held


def test_an_admin_refund_form_used_for_another_enrollment_refunds_nothing_there(setup, make, now):
    _, _, _, first, _ = setup(session_count=2)
    _, _, _, second, second_txn = setup(session_count=2)
    admin = make.admin()
    services.refund_enrollment(admin, first.id, amount_cents=100, idempotency_key="same-form", now=now)
    with pytest.raises(Conflict):
        services.refund_enrollment(admin, second.id, amount_cents=100, idempotency_key="same-form", now=now)
    assert count(Refund, Refund.transaction_id == second_txn.id) == 0


def test_a_clawback_the_gateway_refuses_is_absorbed_and_the_refund_still_recorded(paid_out, make, now, monkeypatch):
    from peerloop.payments.interfaces import GatewayError

    course, creator, enrollment, txn, payout = paid_out

    def refuse(self, **kwargs):
        raise GatewayError("The connected account's balance is too low to reverse.")

    monkeypatch.setattr(sandbox.SandboxGateway, "reverse_transfer", refuse)
    refund = services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=None, clawback=True, idempotency_key="c", now=now
    )
    db.session.expire_all()
    # The student's money went back at the gateway: the refund and its rows exist, the royalty is absorbed.
    assert (refund.amount_cents, refund.absorbed_cents, refund.clawed_back_cents) == (PRICE, 5985, 0)
    assert count(LedgerEntry, LedgerEntry.refund_id == refund.id, LedgerEntry.kind == LedgerKind.clawback) == 0
    assert len(sandbox_objects("refund")) == 1
    assert services.balances(creator.id)[0].paid_cents == 5985
    assert services.available_balance(creator.id, "USD") == 0
    assert ledger_sum(txn.id) == PRICE


def test_a_session_delivered_after_a_custom_refund_emptied_the_pool_still_counts(setup, make, now):
    """The pool is gone (Brian refunded 30000 of 39900, the enrollment goes on): a delivered session
    pays nothing but is recorded, so the student's cancel does not refund it again."""
    course, teacher, student, enrollment, txn = setup(session_count=4)
    services.refund_enrollment(
        make.admin(), enrollment.id, amount_cents=30_000, ends_enrollment=False, idempotency_key="big", now=now
    )
    delivered = [release(enrollment, teacher, now) for _ in range(4)]
    assert [r.amount_cents for r in delivered] == [0, 0, 0, 0]  # the refund took the pool's 27930 first
    assert services.delivered_sessions(enrollment) == 4
    quote = services.cancel_quote(student, enrollment.id)
    assert quote.quote.total_cents == 0
    assert ledger_sum(txn.id) == PRICE
