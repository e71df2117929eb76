"""Two payout requests, two approvals, two batch runs at the same moment: the same cents are never paid
twice (PostgreSQL row locks, real threads, real commits, cleaned up afterwards)."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from peerloop import jobs as peerloop_jobs
from peerloop.accounts.models import User
from peerloop.catalog.models import Category, Course
from peerloop.enrollment.models import Enrollment
from peerloop.errors import DomainError
from peerloop.extensions import db
from peerloop.jobs import FailedJob
from peerloop.notifications.models import Notification, OutboundEmail
from peerloop.payments import sandbox, services
from peerloop.payments.models import (
    Checkout,
    InstructorFollower,
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    Payout,
    PayoutBatch,
    PayoutBatchStatus,
    PayoutStatus,
    PayoutTransfer,
    Refund,
    SandboxObject,
    Transaction,
    TransferStatus,
)
from peerloop.webhooks.models import WebhookEvent
from tests import factories
from tests.conftest import ON_POSTGRES, run_jobs

pytestmark = [
    pytest.mark.committed,
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks are a PostgreSQL matter: set TEST_DATABASE_URL"),
]

ROYALTY = 5985  # 15% of $399


def _counts() -> dict[str, int]:
    return {
        table.name: int(db.session.scalar(sa.select(sa.func.count()).select_from(table)))
        for table in db.metadata.sorted_tables
    }


def _cleanup(user_ids: list, stamp: datetime) -> None:
    users = sa.select(User.id).where(User.id.in_(user_ids)).scalar_subquery()
    transactions = sa.select(Transaction.id).where(Transaction.student_id.in_(user_ids)).scalar_subquery()
    payouts = sa.select(Payout.id).where(Payout.recipient_id.in_(user_ids)).scalar_subquery()
    courses = sa.select(Course.id).where(Course.creator_id.in_(user_ids))
    categories = list(db.session.scalars(sa.select(Course.category_id).where(Course.creator_id.in_(user_ids))))
    course_ids = list(db.session.scalars(courses))
    for statement in (
        sa.delete(PayoutTransfer).where(PayoutTransfer.payout_id.in_(payouts)),
        sa.delete(LedgerEntry).where(LedgerEntry.transaction_id.in_(transactions)),
        sa.delete(Refund).where(Refund.transaction_id.in_(transactions)),
        sa.delete(Payout).where(Payout.recipient_id.in_(user_ids)),
        sa.delete(PayoutBatch).where(PayoutBatch.created_by_id.in_(user_ids)),
        sa.delete(Transaction).where(Transaction.student_id.in_(user_ids)),
        sa.delete(Checkout).where(Checkout.student_id.in_(user_ids)),
        sa.delete(InstructorFollower).where(
            sa.or_(InstructorFollower.follower_id.in_(users), InstructorFollower.instructor_id.in_(users))
        ),
        sa.delete(Enrollment).where(Enrollment.student_id.in_(user_ids)),
        sa.delete(Notification).where(Notification.user_id.in_(user_ids)),
        sa.delete(OutboundEmail).where(OutboundEmail.user_id.in_(user_ids)),
        sa.delete(WebhookEvent).where(WebhookEvent.received_at == stamp),
        sa.delete(SandboxObject).where(SandboxObject.created_at == stamp),
        sa.delete(FailedJob).where(FailedJob.created_at == stamp),
        sa.delete(Course).where(Course.id.in_(course_ids)),
        sa.delete(Category).where(Category.id.in_(categories)),
        sa.delete(User).where(User.id.in_(user_ids)),
    ):
        db.session.execute(statement)
    db.session.commit()


@pytest.fixture
def stamp(monkeypatch):
    """A business time of its own, so this test's sandbox objects and webhook events can be found
    (their timestamps default to business time) and deleted afterwards."""
    at = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC) + timedelta(microseconds=random.randrange(1, 999_999))
    monkeypatch.setattr("peerloop.clock.now", lambda: at)
    return at


@pytest.fixture
def world(app, stamp):
    """A connected creator with two $399 courses sold (two royalties of 5985, two source charges)
    and an admin, all committed; every row deleted afterwards."""
    user_ids: list = []
    with app.app_context():
        db.session.rollback()
        before = _counts()
    try:
        with app.app_context():
            creator = factories.creator()
            admin = factories.admin()
            user_ids += [creator.id, admin.id]
            for _ in range(2):
                course = factories.course(price_cents=39_900, session_count=2, creator=creator)
                student = factories.user()
                user_ids.append(student.id)
                checkout = services.start_checkout(student, course.id, now=stamp)
                sandbox.pay(checkout.gateway_session_id, now=stamp)
                run_jobs(app)
            url = services.start_onboarding(creator, now=stamp)
            sandbox.finish_onboarding(url.rstrip("/").split("/")[-1], payouts=True, now=stamp)
            run_jobs(app)
            db.session.expire_all()
            assert creator.stripe_payouts_enabled is True
            assert services.available_balance(creator.id, "USD") == 2 * ROYALTY
            ids = {"creator": creator.id, "admin": admin.id}
            db.session.remove()
        yield ids
    finally:
        with app.app_context():
            db.session.rollback()
            run_jobs(app)  # nothing left queued that points at the rows deleted next
            _cleanup(user_ids, stamp)
            assert _counts() == before
            db.session.remove()


def race(app, work, n: int = 2) -> list:
    """Run ``work()`` in ``n`` threads released together; each has its own app context and session.
    Returns each thread's outcome: ("ok", result) or (error code, None)."""
    barrier = threading.Barrier(n)
    outcomes: list = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                outcomes.append(("ok", work()))
            except DomainError as error:
                outcomes.append((error.code, None))
            except Exception as error:  # reported by the assertion on outcomes
                outcomes.append(("error", repr(error)))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (a deadlock?)"
    return outcomes


def _sum(*where) -> int:
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0)).where(*where)))


def _batch(app, world, stamp):
    with app.app_context():
        payout = services.request_payout(db.session.get(User, world["creator"]), now=stamp)
        batch = services.create_batch(db.session.get(User, world["admin"]), include_available=False, now=stamp)
        ids = payout.id, batch.id
        db.session.remove()
    return ids


def test_two_payout_requests_at_once_pay_the_balance_once(app, world, stamp):
    creator_id = world["creator"]

    def request():
        return services.request_payout(db.session.get(User, creator_id), now=stamp).id

    outcomes = race(app, request)
    assert sorted(code for code, _ in outcomes) == ["below_minimum", "ok"], outcomes  # nothing left to pay out
    with app.app_context():
        payouts = db.session.scalars(sa.select(Payout).where(Payout.recipient_id == creator_id)).all()
        assert len(payouts) == 1
        (payout,) = payouts
        assert payout.amount_cents == 2 * ROYALTY
        assert services.available_balance(creator_id, "USD") == 0
        assert _sum(LedgerEntry.recipient_id == creator_id, LedgerEntry.account == LedgerAccount.payout) == (
            2 * ROYALTY
        )
        assert _sum(
            LedgerEntry.recipient_id == creator_id,
            LedgerEntry.account == LedgerAccount.earnings,
            LedgerEntry.kind == LedgerKind.payout,
        ) == -(2 * ROYALTY)
        assert (
            db.session.scalar(sa.select(sa.func.count(PayoutTransfer.id)).where(PayoutTransfer.payout_id == payout.id))
            == 2
        )
        db.session.remove()


def test_two_approvals_at_once_approve_and_transfer_once(app, world, stamp):
    payout_id, batch_id = _batch(app, world, stamp)
    admin_id = world["admin"]

    def approve():
        return services.approve_batch(db.session.get(User, admin_id), batch_id, now=stamp).id

    outcomes = race(app, approve)
    assert sorted(code for code, _ in outcomes) == ["already_approved", "ok"], outcomes
    with app.app_context():
        run_jobs(app)  # on Redis the winner's process_batch_job waits in the queue
        payout = db.session.get(Payout, payout_id)
        assert payout.status == PayoutStatus.paid
        assert payout.paid_cents == 2 * ROYALTY
        assert db.session.get(PayoutBatch, batch_id).status == PayoutBatchStatus.processed
        transfers = db.session.scalars(sa.select(SandboxObject).where(SandboxObject.kind == "transfer")).all()
        mine = [t for t in transfers if t.data["metadata"].get("payout_id") == str(payout_id)]
        assert len(mine) == 2
        assert sum(t.data["amount"] for t in mine) == 2 * ROYALTY
        assert services.balances(world["creator"])[0].paid_cents == 2 * ROYALTY
        db.session.remove()


def test_two_batch_runs_at_once_make_each_transfer_once(app, world, stamp, monkeypatch):
    payout_id, batch_id = _batch(app, world, stamp)
    monkeypatch.setattr(peerloop_jobs, "enqueue", lambda *args, **kwargs: None)  # the runs below are the job
    with app.app_context():
        services.approve_batch(db.session.get(User, world["admin"]), batch_id, now=stamp)
        assert db.session.get(Payout, payout_id).status == PayoutStatus.approved
        db.session.remove()
    monkeypatch.undo()
    monkeypatch.setattr("peerloop.clock.now", lambda: stamp)

    outcomes = race(app, lambda: services.process_batch(batch_id, now=stamp))
    assert sorted(outcomes) == [("ok", 0), ("ok", 1)], outcomes
    with app.app_context():
        transfers = db.session.scalars(sa.select(PayoutTransfer).where(PayoutTransfer.payout_id == payout_id)).all()
        assert len(transfers) == 2
        assert all(t.status == TransferStatus.created and t.stripe_transfer_id for t in transfers)
        made = db.session.scalars(sa.select(SandboxObject).where(SandboxObject.kind == "transfer")).all()
        mine = [t for t in made if t.data["metadata"].get("payout_id") == str(payout_id)]
        assert sorted(t.id for t in mine) == sorted(t.stripe_transfer_id for t in transfers)
        payout = db.session.get(Payout, payout_id)
        assert (payout.status, payout.paid_cents) == (PayoutStatus.paid, 2 * ROYALTY)
        assert services.balances(world["creator"])[0].paid_cents == 2 * ROYALTY
        db.session.remove()


def test_a_refund_and_a_payout_request_at_once_never_spend_the_same_cents(app, world, stamp, monkeypatch):
    """One royalty paid out, one available: a student cancels the paid-out sale (its royalty comes from the
    available one) while the creator asks for the available one. Either may win; never both."""
    creator_id = world["creator"]
    with app.app_context():
        payout = services.request_payout(db.session.get(User, creator_id), amount_cents=ROYALTY, now=stamp)
        (transfer,) = payout.transfers
        paid_out = db.session.get(Transaction, transfer.transaction_id)
        student_id, enrollment_id = paid_out.student_id, paid_out.enrollment_id
        batch = services.create_batch(db.session.get(User, world["admin"]), include_available=False, now=stamp)
        services.approve_batch(db.session.get(User, world["admin"]), batch.id, now=stamp)
        run_jobs(app)
        db.session.expire_all()
        assert db.session.get(Payout, payout.id).status == PayoutStatus.paid
        assert services.available_balance(creator_id, "USD") == ROYALTY
        transaction_ids = list(
            db.session.scalars(
                sa.select(Transaction.id)
                .join(Course, Course.id == Transaction.course_id)
                .where(Course.creator_id == creator_id)
            )
        )
        assert len(transaction_ids) == 2
        db.session.remove()

    # Widen the window between reading the available balance and writing against it: only the creator's
    # row lock (taken before the read) keeps the two apart.
    read_balance = services.available_balance

    def slow_balance(*args, **kwargs):
        value = read_balance(*args, **kwargs)
        time.sleep(0.3)
        return value

    monkeypatch.setattr(services, "available_balance", slow_balance)

    barrier = threading.Barrier(2)
    outcomes: dict = {}

    def run(name, work) -> None:
        with app.app_context():
            try:
                barrier.wait()
                outcomes[name] = ("ok", work())
            except DomainError as error:
                outcomes[name] = (error.code, None)
            except Exception as error:
                outcomes[name] = ("error", repr(error))
            finally:
                db.session.remove()

    def cancel():
        refund = services.cancel_enrollment(db.session.get(User, student_id), enrollment_id, reason=None, now=stamp)
        return refund.absorbed_cents

    def request():
        return services.request_payout(db.session.get(User, creator_id), now=stamp).amount_cents

    threads = [threading.Thread(target=run, args=args) for args in (("cancel", cancel), ("request", request))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert outcomes["cancel"][0] == "ok", outcomes
    with app.app_context():
        assert services.available_balance(creator_id, "USD") == 0  # never negative
        if outcomes["request"][0] == "ok":
            # The payout took the available royalty first: the refund's creator part was absorbed.
            assert outcomes["request"][1] == ROYALTY
            assert outcomes["cancel"][1] == ROYALTY
        else:
            # The refund took the available royalty first: nothing was left to pay out.
            assert outcomes["request"][0] in ("invalid_input", "insufficient_balance"), outcomes
            assert outcomes["cancel"][1] == 0
        for transaction_id in transaction_ids:
            assert _sum(LedgerEntry.transaction_id == transaction_id) == 39_900
        db.session.remove()
