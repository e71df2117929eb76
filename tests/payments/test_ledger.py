"""The ledger through the services and the database: the 15/15/70 split at purchase, the releases,
the balances, and a property test that a purchase, its releases and a refund always sum to the cent."""

from __future__ import annotations

from uuid import uuid4

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerloop.extensions import db
from peerloop.payments import sandbox, services
from peerloop.payments.models import LedgerAccount, LedgerEntry, LedgerKind, Refund
from tests.payments.conftest import FakeSession, account_sum, ledger_sum, paid, transaction_for

pytestmark = pytest.mark.usefixtures("business_time")


def rows_of(transaction_id):
    return db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.transaction_id == transaction_id).order_by(LedgerEntry.created_at)
    ).all()


def release(enrollment, teacher, now, session_id=None):
    return services.release_teaching_share(FakeSession(session_id or uuid4(), enrollment.id, teacher.id), now=now)


@pytest.fixture
def st_course(make):
    """A $399, two-session course with one Student-Teacher."""
    course = make.course(price_cents=39_900, session_count=2)
    teacher = make.user()
    make.student_teacher(teacher, course)
    return course, teacher


# --- the split at purchase --------------------------------------------------------------------------


def test_a_purchase_writes_the_15_15_70_split_with_percentages_and_the_fee(app, make, now, st_course):
    course, teacher = st_course
    enrollment = paid(app, make.user(), course, now=now, teacher=teacher)
    txn = transaction_for(enrollment)

    by_kind = {}
    for row in rows_of(txn.id):
        by_kind.setdefault(row.kind, []).append(row)
    (platform,) = by_kind[LedgerKind.platform_share]
    (royalty,) = by_kind[LedgerKind.creator_royalty]
    (pool,) = by_kind[LedgerKind.teaching_pool]
    assert (platform.account, platform.amount_cents, platform.percentage, platform.recipient_id) == (
        LedgerAccount.platform,
        5985,
        15,
        None,
    )
    assert (royalty.account, royalty.amount_cents, royalty.percentage, royalty.recipient_id) == (
        LedgerAccount.earnings,
        5985,
        15,
        course.creator_id,
    )
    assert (pool.account, pool.amount_cents, pool.percentage, pool.recipient_id) == (
        LedgerAccount.pool,
        27930,
        70,
        None,
    )
    # The sandbox's fee (2.9% + 30c of $399 = $11.87): the platform pays it to the fees account.
    assert txn.fee_cents == sandbox.sandbox_fee(39_900) == 1187
    fees = sorted((r.account, r.amount_cents) for r in by_kind[LedgerKind.stripe_fee])
    assert fees == [(LedgerAccount.fees, 1187), (LedgerAccount.platform, -1187)]
    assert all(r.enrollment_id == enrollment.id and r.currency == "USD" for r in rows_of(txn.id))
    assert ledger_sum(txn.id) == 39_900
    assert account_sum(txn.id, LedgerAccount.platform) == 5985 - 1187


@pytest.mark.parametrize("price", [50, 51, 99, 100, 333, 39_900, 1_000_000])
def test_every_transaction_sums_exactly_to_its_price(app, make, now, price):
    course = make.course(price_cents=price, session_count=3)
    txn = transaction_for(paid(app, make.user(), course, now=now))
    assert txn.amount_cents == price
    assert ledger_sum(txn.id) == price
    creator = price * 15 // 100
    pool = price * 70 // 100
    assert account_sum(txn.id, LedgerAccount.earnings, course.creator_id) == creator
    assert account_sum(txn.id, LedgerAccount.pool) == pool
    assert account_sum(txn.id, LedgerAccount.platform) == price - creator - pool - sandbox.sandbox_fee(price)


# --- releases ---------------------------------------------------------------------------------------


def test_releases_are_pool_over_n_with_the_remainder_on_the_last(app, make, now):
    course = make.course(price_cents=100, session_count=3)
    teacher = make.user()
    make.student_teacher(teacher, course)
    enrollment = paid(app, make.user(), course, now=now, teacher=teacher)
    txn = transaction_for(enrollment)
    assert account_sum(txn.id, LedgerAccount.pool) == 70

    amounts = []
    for _ in range(3):
        row = release(enrollment, teacher, now)
        assert row.recipient_id == teacher.id and row.account == LedgerAccount.earnings
        assert row.kind == LedgerKind.teaching_release
        amounts.append(row.amount_cents)
    assert amounts == [23, 23, 24]
    assert account_sum(txn.id, LedgerAccount.pool) == 0
    assert account_sum(txn.id, LedgerAccount.earnings, teacher.id) == 70
    assert ledger_sum(txn.id) == 100

    # Every share is released: a fourth session releases nothing and moves nothing.
    assert release(enrollment, teacher, now) is None
    assert account_sum(txn.id, LedgerAccount.pool) == 0
    assert account_sum(txn.id, LedgerAccount.earnings, teacher.id) == 70
    # (Booking never makes that fourth session: no_sessions_left. The count follows the sessions.)
    assert services._released_count(enrollment.id) == 3


def test_a_release_is_idempotent_per_session(app, make, now, st_course):
    course, teacher = st_course
    enrollment = paid(app, make.user(), course, now=now, teacher=teacher)
    txn = transaction_for(enrollment)
    session_id = uuid4()

    first = release(enrollment, teacher, now, session_id)
    again = release(enrollment, teacher, now, session_id)
    assert first.amount_cents == 13965
    assert again.id == first.id
    release_rows = [r for r in rows_of(txn.id) if r.kind == LedgerKind.teaching_release]
    assert sorted((r.account, r.amount_cents) for r in release_rows) == [
        (LedgerAccount.earnings, 13965),
        (LedgerAccount.pool, -13965),
    ]
    assert all(r.session_id == session_id for r in release_rows)
    assert account_sum(txn.id, LedgerAccount.pool) == 13965
    assert services.delivered_sessions(enrollment) == 1


def test_the_creator_teaching_earns_85_percent(app, make, now):
    creator = make.creator()
    course = make.course(price_cents=39_900, session_count=2, creator=creator)
    enrollment = paid(app, make.user(), course, now=now, teacher=creator)
    assert enrollment.student_teacher_id == creator.id
    release(enrollment, creator, now)
    release(enrollment, creator, now)
    txn = transaction_for(enrollment)
    assert account_sum(txn.id, LedgerAccount.earnings, creator.id) == 33915 == 39_900 * 85 // 100
    assert account_sum(txn.id, LedgerAccount.pool) == 0
    (balance,) = services.balances(creator.id)
    assert (balance.held_cents, balance.available_cents, balance.paid_cents) == (0, 33915, 0)


def test_balances_move_from_held_to_available_as_sessions_are_delivered(app, make, now, st_course):
    course, teacher = st_course
    assert services.balances(teacher.id)[0].held_cents == 0
    enrollment = paid(app, make.user(), course, now=now, teacher=teacher)

    (before,) = services.balances(teacher.id)
    assert (before.currency, before.held_cents, before.available_cents, before.paid_cents) == ("USD", 27930, 0, 0)
    (creator_before,) = services.balances(course.creator_id)
    assert (creator_before.held_cents, creator_before.available_cents) == (0, 5985)

    release(enrollment, teacher, now)
    (after_one,) = services.balances(teacher.id)
    assert (after_one.held_cents, after_one.available_cents) == (13965, 13965)

    release(enrollment, teacher, now)
    (after_two,) = services.balances(teacher.id)
    assert (after_two.held_cents, after_two.available_cents, after_two.in_payout_cents) == (0, 27930, 0)
    assert services.balances(course.creator_id)[0].available_cents == 5985  # the royalty is unchanged


def test_releases_and_refunds_use_the_enrollments_snapshot_not_later_edits(app, make, now, st_course, monkeypatch):
    course, teacher = st_course
    student = make.user()
    enrollment = paid(app, student, course, now=now, teacher=teacher)
    txn = transaction_for(enrollment)
    # The course is repriced and re-planned, and the split reconfigured, after the sale.
    course.price_cents, course.session_count = 10_000, 5
    db.session.commit()
    monkeypatch.setitem(app.config, "SPLIT_PLATFORM_PCT", 30)
    monkeypatch.setitem(app.config, "SPLIT_CREATOR_PCT", 10)
    monkeypatch.setitem(app.config, "SPLIT_TEACHER_PCT", 60)

    assert release(enrollment, teacher, now).amount_cents == 13965  # 27930 ÷ 2, as sold
    quote = services.cancel_quote(student, enrollment.id)
    assert (quote.quote.pool_cents, quote.quote.platform_cents, quote.quote.creator_cents) == (13965, 2993, 2993)
    assert quote.enrollment.session_count == 2
    services.cancel_enrollment(student, enrollment.id, reason=None, now=now)
    assert ledger_sum(txn.id) == 39_900
    assert account_sum(txn.id, LedgerAccount.refund) == 19951


# --- the property: buy, release k, cancel -----------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    price=st.integers(min_value=50, max_value=1_000_000),
    session_count=st.integers(min_value=1, max_value=20),
    data=st.data(),
)
def test_buy_release_refund_always_sums_to_the_cent(app, make, now, price, session_count, data):
    course = make.course(price_cents=price, session_count=session_count)
    teacher = make.user()
    make.student_teacher(teacher, course)
    student = make.user()
    enrollment = paid(app, student, course, now=now, teacher=teacher)
    txn = transaction_for(enrollment)
    assert ledger_sum(txn.id) == price

    k = data.draw(st.integers(min_value=0, max_value=session_count), label="delivered")
    released = 0
    for _ in range(k):
        row = release(enrollment, data.draw(st.sampled_from([teacher, course.creator]), label="teacher"), now)
        released += row.amount_cents
        assert account_sum(txn.id, LedgerAccount.pool) >= 0
    assert ledger_sum(txn.id) == price
    pool = price * 70 // 100
    assert released == (pool if k == session_count else pool // session_count * k)

    quote = services.cancel_quote(student, enrollment.id).quote
    refund = services.cancel_enrollment(student, enrollment.id, reason=None, now=now)
    db.session.expire_all()

    assert ledger_sum(txn.id) == price
    assert account_sum(txn.id, LedgerAccount.pool) >= 0
    undelivered = session_count - k
    if refund is None:
        assert k == session_count and quote.total_cents == 0
        assert account_sum(txn.id, LedgerAccount.refund) == 0
        return
    assert refund.amount_cents == quote.total_cents
    assert account_sum(txn.id, LedgerAccount.refund) == refund.amount_cents
    assert refund.amount_cents * session_count >= price * undelivered  # never less than price × u ÷ n
    assert refund.amount_cents <= price - released  # a delivered session's share never comes back
    assert refund.pool_cents == pool - released  # the whole unreleased pool
    assert account_sum(txn.id, LedgerAccount.pool) == 0

    def reversed_by(account, recipient_id=None):
        where = [
            LedgerEntry.refund_id == refund.id,
            LedgerEntry.account == account,
            LedgerEntry.kind == LedgerKind.refund,
        ]
        if recipient_id is not None:
            where.append(LedgerEntry.recipient_id == recipient_id)
        total = sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0)
        return int(db.session.scalar(sa.select(total).where(*where)))

    assert reversed_by(LedgerAccount.pool) == -refund.pool_cents
    assert reversed_by(LedgerAccount.platform) == -refund.platform_cents
    assert reversed_by(LedgerAccount.earnings, course.creator_id) == -refund.creator_cents
    assert refund.pool_cents + refund.platform_cents + refund.creator_cents == refund.amount_cents
    assert db.session.scalar(sa.select(sa.func.count(Refund.id)).where(Refund.transaction_id == txn.id)) == 1
