"""Payments: checkout, completion, the ledger, refunds, disputes, Connect and payouts.

Each public function is one use case that owns its transaction (it commits),
except ``release_teaching_share`` (it may join the caller's) and the webhook
handlers (they do). Rows are locked with ``for_update`` in one fixed order, so
two use cases never wait on each other in a circle: the enrollment, then people
(the buyer before their checkout; a refunded course's creator), then a payout
batch, then its payouts and their transfers.

The ledger rules (issue 6, item 4) as built:

- at payment the platform's share and the creator's royalty are earned and the
  teaching pool is held (``money.split_payment`` on the checkout's snapshot);
- each delivered session releases pool ÷ session_count (the rest on the last)
  to that session's teacher (``release_teaching_share``);
- a refund reverses exactly its parts (pool, platform, creator) and records the
  amount returned; a royalty already paid out comes from the creator's available
  balance, and what that cannot cover is absorbed by the platform, or clawed back
  by a transfer reversal when Brian chooses so;
- for every transaction the ledger rows sum exactly to the amount paid.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from peerloop import jobs
from peerloop.accounts.models import StripeAccountStatus, User
from peerloop.catalog.management import publish_problem
from peerloop.catalog.models import Course
from peerloop.certification.models import StudentTeacher
from peerloop.db import for_update, parse_uuid
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.enrollment.progress import NO_PROGRESS, Progress, progress_of
from peerloop.errors import Conflict, NotFound, ProviderUnavailable, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.notifications.services import notify
from peerloop.payments import money
from peerloop.payments.interfaces import (
    CheckoutRequest,
    ConnectAccount,
    GatewayCheckout,
    GatewayError,
    PaymentGateway,
    TransferRequest,
)
from peerloop.payments.models import (
    Checkout,
    CheckoutStatus,
    Dispute,
    DisputeStatus,
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
    RefundReason,
    RefundStatus,
    Transaction,
    TransactionStatus,
    TransferStatus,
    transfer_group_for,
)
from peerloop.templating import money as format_money
from peerloop.urls import external_url, site_path

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX = 255
LIVE = (EnrollmentStatus.enrolled, EnrollmentStatus.in_progress, EnrollmentStatus.completed, EnrollmentStatus.frozen)


# --- the gateway -------------------------------------------------------------


def gateway() -> PaymentGateway:
    """The configured gateway (``PAYMENT_GATEWAY``): Stripe, or the local sandbox."""
    name = current_app.config["PAYMENT_GATEWAY"]
    if name == "stripe":
        from peerloop.payments.stripe_gateway import StripeGateway

        return StripeGateway(
            current_app.config["STRIPE_SECRET_KEY"],
            api_base=current_app.config.get("STRIPE_API_BASE"),
            max_network_retries=current_app.config.get("STRIPE_MAX_NETWORK_RETRIES", 2),
        )
    if name == "sandbox":
        from peerloop.payments.sandbox import SandboxGateway

        return SandboxGateway()
    raise ValueError(f"unknown PAYMENT_GATEWAY {name!r}")


def _provider_down(error: GatewayError) -> ProviderUnavailable:
    return ProviderUnavailable(error.message or "The payment provider is unavailable. Try again in a minute.")


def _gateway_refused(error: GatewayError):
    """A gateway error as the caller should see it: 503 when worth a retry, 422 when refused."""
    if error.retryable:
        return _provider_down(error)
    return RuleViolation(error.message or "The payment provider refused this.", code="payment_provider_refused")


# --- enrollment-end seam -----------------------------------------------------

_enrollment_ended_hooks: list[Callable[[Enrollment, datetime], None]] = []


def on_enrollment_ended(hook: Callable[[Enrollment, datetime], None]) -> Callable:
    """Register ``hook(enrollment, now)``, run inside the transaction that ends an enrollment
    (a refund that ends it, a lost dispute). The booking work cancels future sessions here."""
    if hook not in _enrollment_ended_hooks:
        _enrollment_ended_hooks.append(hook)
    return hook


def _end_enrollment(enrollment: Enrollment, *, reason: str, now: datetime) -> None:
    enrollment.status = EnrollmentStatus.cancelled
    enrollment.cancelled_at = now
    enrollment.cancel_reason = reason[:2000]
    for hook in _enrollment_ended_hooks:
        hook(enrollment, now)


# --- reads -------------------------------------------------------------------


def live_enrollment(student_id: uuid.UUID, course_id: uuid.UUID) -> Enrollment | None:
    return db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.student_id == student_id,
            Enrollment.course_id == course_id,
            Enrollment.status != EnrollmentStatus.cancelled,
        )
    )


def transaction_of(enrollment_id: uuid.UUID) -> Transaction | None:
    return db.session.scalar(
        sa.select(Transaction).where(Transaction.enrollment_id == enrollment_id).order_by(Transaction.paid_at.desc())
    )


def _sum(*where) -> int:
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0)).where(*where)))


def delivered_sessions(enrollment: Enrollment) -> int:
    """How many of the enrollment's sessions were delivered (completed, the student's no-shows and
    late cancellations): the booking rules' count, which the refund rules follow."""
    from peerloop.scheduling.services import delivered_count

    return delivered_count(enrollment.id)


def _released_count(enrollment_id: uuid.UUID) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count(LedgerEntry.id)).where(
                LedgerEntry.enrollment_id == enrollment_id,
                LedgerEntry.kind == LedgerKind.teaching_release,
                LedgerEntry.account == LedgerAccount.earnings,
            )
        )
    )


def original_split(transaction: Transaction) -> money.Split:
    """The split written at payment (so later changes of the configured rates change nothing sold)."""
    parts = dict(
        db.session.execute(
            sa.select(LedgerEntry.kind, sa.func.sum(LedgerEntry.amount_cents))
            .where(
                LedgerEntry.transaction_id == transaction.id,
                LedgerEntry.kind.in_([LedgerKind.platform_share, LedgerKind.creator_royalty, LedgerKind.teaching_pool]),
            )
            .group_by(LedgerEntry.kind)
        ).all()
    )
    return money.Split(
        platform_cents=int(parts.get(LedgerKind.platform_share, 0)),
        creator_cents=int(parts.get(LedgerKind.creator_royalty, 0)),
        teaching_pool_cents=int(parts.get(LedgerKind.teaching_pool, 0)),
    )


@dataclass(frozen=True)
class Refundable:
    """What is left to refund of one transaction, part by part."""

    pool_cents: int  # unreleased pool not owed to delivered sessions
    platform_cents: int
    creator_cents: int
    owed_cents: int  # pool kept for sessions delivered but not yet released

    @property
    def total_cents(self) -> int:
        return self.pool_cents + self.platform_cents + self.creator_cents


def _refunded_parts(transaction_id: uuid.UUID) -> tuple[int, int, int, int]:
    row = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Refund.pool_cents), 0),
            sa.func.coalesce(sa.func.sum(Refund.platform_cents), 0),
            sa.func.coalesce(sa.func.sum(Refund.creator_cents), 0),
            sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0),
        ).where(Refund.transaction_id == transaction_id, Refund.status != RefundStatus.failed)
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def refundable(transaction: Transaction, enrollment: Enrollment | None) -> Refundable:
    split = original_split(transaction)
    pool_refunded, platform_refunded, creator_refunded, _ = _refunded_parts(transaction.id)
    pool_balance = _sum(LedgerEntry.transaction_id == transaction.id, LedgerEntry.account == LedgerAccount.pool)
    owed = 0
    if enrollment is not None and split.teaching_pool_cents:
        n = enrollment.session_count
        delivered = min(delivered_sessions(enrollment), n)
        released = _released_count(enrollment.id)
        owed = money.released_pool(split.teaching_pool_cents, n, delivered) - money.released_pool(
            split.teaching_pool_cents, n, min(released, n)
        )
        owed = max(0, min(owed, pool_balance))
    # An ended enrollment's unused pool went to the platform: still there to refund from.
    forfeited = _sum(
        LedgerEntry.transaction_id == transaction.id,
        LedgerEntry.account == LedgerAccount.platform,
        LedgerEntry.kind == LedgerKind.forfeited,
    )
    return Refundable(
        pool_cents=max(0, pool_balance - owed),
        platform_cents=max(0, split.platform_cents + forfeited - platform_refunded),
        creator_cents=max(0, split.creator_cents - creator_refunded),
        owed_cents=owed,
    )


def available_balance(user_id: uuid.UUID, currency: str) -> int:
    return _sum(
        LedgerEntry.recipient_id == user_id,
        LedgerEntry.account == LedgerAccount.earnings,
        LedgerEntry.currency == currency,
    )


# --- checkout ----------------------------------------------------------------


def _checkout_ttl() -> timedelta:
    return timedelta(minutes=current_app.config.get("CHECKOUT_EXPIRES_MINUTES", 60))


def _teacher_choice(course: Course, teacher_id) -> uuid.UUID | None:
    """The chosen teacher, when it is one of the course's: an active S-T, or the creator."""
    if teacher_id in (None, ""):
        return None
    uid = parse_uuid(teacher_id)
    invalid = ValidationError(
        "Choose one of this course's Student-Teachers, or Schedule Later.",
        fields={"student_teacher_id": "Not a Student-Teacher of this course."},
    )
    if uid is None:
        raise invalid
    if uid == course.creator_id:
        return uid
    teaches = db.session.scalar(
        sa.select(StudentTeacher.id)
        .join(User, User.id == StudentTeacher.user_id)
        .where(
            StudentTeacher.user_id == uid,
            StudentTeacher.course_id == course.id,
            StudentTeacher.is_active.is_(True),
            User.deleted_at.is_(None),
        )
    )
    if teaches is None:
        raise invalid
    return uid


def _check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationError(
            "The Idempotency-Key header must be 1 to 255 characters.",
            fields={"Idempotency-Key": "1 to 255 characters."},
        )
    return key


def start_checkout(
    student: User,
    course_id,
    *,
    student_teacher_id=None,
    schedule_later: bool = False,
    start=None,
    idempotency_key: str | None = None,
    now: datetime,
) -> Checkout:
    """Start (or reuse) the student's checkout for a course: the page they pay on.

    A repeat with the same ``idempotency_key`` returns the first checkout. An open,
    unexpired checkout of the student's for this course is reused (with the new
    teacher choice); otherwise a gateway Checkout Session is created first, and
    only then is the row written, so a gateway failure leaves nothing behind.

    :raise NotFound: no such published course.
    :raise Conflict: ``already_enrolled``.
    :raise RuleViolation: ``not_purchasable`` (no session or below the minimum charge).
    ``start`` (with a teacher) holds that time for the checkout's lifetime: a held session the
    no-double-booking rule counts, booked when the payment completes.

    :raise ValidationError: an unknown teacher, a bad idempotency key, a malformed ``start``.
    :raise Conflict: ``slot_unavailable`` (the time was taken) and the other booking rules.
    :raise ProviderUnavailable: the gateway is down (nothing is written).
    """
    key = _check_idempotency_key(idempotency_key)
    if key is not None:
        earlier = db.session.scalar(
            sa.select(Checkout).where(Checkout.student_id == student.id, Checkout.idempotency_key == key)
        )
        if earlier is not None:
            return earlier
    uid = parse_uuid(course_id)
    course = db.session.get(Course, uid) if uid else None
    if course is None or not course.is_active or course.is_retired:
        raise NotFound("No such course.")
    problem = publish_problem(course)
    if problem:
        raise RuleViolation(f"This course cannot be bought yet: it {problem}.", code="not_purchasable")
    if course.creator_id == student.id:
        raise RuleViolation("This is your own course: you teach it, you don't buy it.", code="own_course")
    teacher_id = _teacher_choice(course, student_teacher_id)
    if teacher_id == student.id:
        raise ValidationError(
            "You cannot be your own Student-Teacher.", fields={"student_teacher_id": "Choose someone else."}
        )
    if live_enrollment(student.id, course.id) is not None:
        raise Conflict("You are already enrolled in this course.", code="already_enrolled")
    hold = None
    if start not in (None, ""):
        from peerloop.scheduling import services as scheduling

        if teacher_id is None:
            raise ValidationError("Pick a Student-Teacher's time.", fields={"start": "Choose a teacher for this time."})
        # Held (and committed) before the gateway is called, so no lock is kept across the call.
        hold = scheduling.hold_time(student, course, teacher_id, start, until=now + _checkout_ttl(), now=now)
    try:
        return _open_checkout(student, course, teacher_id, schedule_later, key, hold, now=now)
    except BaseException:
        if hold is not None:
            db.session.rollback()
            _let_go(hold.id, now)
        raise


def _let_go(hold_id: uuid.UUID, now: datetime) -> None:
    from peerloop.scheduling.models import SessionStatus, TutoringSession

    db.session.execute(
        sa.update(TutoringSession)
        .where(TutoringSession.id == hold_id, TutoringSession.status == SessionStatus.held)
        .values(status=SessionStatus.lapsed, updated_at=now)
    )
    db.session.commit()


def _open_checkout(student, course, teacher_id, schedule_later, key, hold, *, now: datetime) -> Checkout:
    db.session.scalar(for_update(sa.select(User.id).where(User.id == student.id)))  # one checkout at a time
    if live_enrollment(student.id, course.id) is not None:
        raise Conflict("You are already enrolled in this course.", code="already_enrolled")
    open_checkout = db.session.scalar(
        sa.select(Checkout).where(
            Checkout.student_id == student.id,
            Checkout.course_id == course.id,
            Checkout.status == CheckoutStatus.open,
        )
    )
    if open_checkout is not None:
        reusable = (
            open_checkout.expires_at > now + timedelta(minutes=5)
            and open_checkout.price_cents == course.price_cents
            and open_checkout.currency == course.currency
            and open_checkout.gateway == gateway().name
        )
        if reusable:
            open_checkout.student_teacher_id = teacher_id
            open_checkout.schedule_later = schedule_later or teacher_id is None
            if key is not None and open_checkout.idempotency_key is None:
                open_checkout.idempotency_key = key
            _attach_hold(hold, open_checkout)
            db.session.commit()
            return open_checkout
        open_checkout.status = CheckoutStatus.expired  # stale, repriced or another gateway's: a fresh one below
        _release_holds(open_checkout.id, now)
        db.session.flush()

    checkout_id = uuid.uuid4()
    expires_at = now + _checkout_ttl()
    request = CheckoutRequest(
        checkout_id=str(checkout_id),
        amount_cents=course.price_cents,
        currency=course.currency,
        product_name=course.title,
        customer_email=student.email,
        success_url=external_url("payments.checkout_return") + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=external_url("payments.checkout_cancelled", slug=course.slug),
        transfer_group=transfer_group_for(checkout_id),
        expires_at=expires_at,
        idempotency_key=f"checkout-{checkout_id}",
        metadata={"checkout_id": str(checkout_id), "course_id": str(course.id), "student_id": str(student.id)},
    )
    try:
        session = gateway().create_checkout_session(request)
    except GatewayError as error:
        db.session.rollback()
        raise _gateway_refused(error) from error
    checkout = Checkout(
        id=checkout_id,
        gateway=gateway().name,
        gateway_session_id=session.id,
        checkout_url=session.url or "",
        student_id=student.id,
        course_id=course.id,
        student_teacher_id=teacher_id,
        schedule_later=schedule_later or teacher_id is None,
        price_cents=course.price_cents,
        currency=course.currency,
        session_count=course.session_count,
        status=CheckoutStatus.open,
        expires_at=expires_at,
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )
    db.session.add(checkout)
    db.session.flush()
    _attach_hold(hold, checkout)
    db.session.commit()
    return checkout


def _attach_hold(hold, checkout: Checkout) -> None:
    """The held time belongs to this checkout and lasts as long as it; the checkout's other holds
    (an earlier pick, or any when the student now chose Schedule Later) are let go for good."""
    from peerloop.scheduling.services import detach_holds

    detach_holds(checkout.id, keep=hold.id if hold else None, now=checkout.updated_at)
    if hold is None:
        return
    from peerloop.scheduling.models import TutoringSession

    row = db.session.get(TutoringSession, hold.id, populate_existing=True)
    row.checkout_id = checkout.id
    row.hold_expires_at = min(row.hold_expires_at, checkout.expires_at)
    checkout.student_teacher_id = row.teacher_id
    checkout.schedule_later = False


def _release_holds(checkout_id: uuid.UUID, now: datetime) -> None:
    from peerloop.scheduling.services import release_holds

    release_holds(checkout_id, now=now)


def checkout_by_session_id(session_id: str) -> Checkout | None:
    if not isinstance(session_id, str) or not session_id or len(session_id) > 255:
        return None
    return db.session.scalar(sa.select(Checkout).where(Checkout.gateway_session_id == session_id))


def _write_split(transaction: Transaction, enrollment: Enrollment | None, creator_id: uuid.UUID, now: datetime):
    rates = money.rates_from_config(current_app.config)
    split = money.split_payment(transaction.amount_cents, rates=rates)
    common = {
        "transaction_id": transaction.id,
        "enrollment_id": enrollment.id if enrollment else None,
        "currency": transaction.currency,
        "created_at": now,
    }
    db.session.add_all(
        [
            LedgerEntry(
                account=LedgerAccount.platform,
                kind=LedgerKind.platform_share,
                amount_cents=split.platform_cents,
                percentage=rates.platform_pct,
                **common,
            ),
            LedgerEntry(
                account=LedgerAccount.earnings,
                kind=LedgerKind.creator_royalty,
                recipient_id=creator_id,
                amount_cents=split.creator_cents,
                percentage=rates.creator_pct,
                **common,
            ),
            LedgerEntry(
                account=LedgerAccount.pool,
                kind=LedgerKind.teaching_pool,
                amount_cents=split.teaching_pool_cents,
                percentage=rates.teacher_pct,
                **common,
            ),
        ]
    )
    if transaction.fee_cents:
        db.session.add_all(
            [
                LedgerEntry(
                    account=LedgerAccount.platform,
                    kind=LedgerKind.stripe_fee,
                    amount_cents=-transaction.fee_cents,
                    memo="Stripe's fee",
                    **common,
                ),
                LedgerEntry(
                    account=LedgerAccount.fees, kind=LedgerKind.stripe_fee, amount_cents=transaction.fee_cents, **common
                ),
            ]
        )
    return split


def complete_checkout(session: GatewayCheckout, *, now: datetime) -> Enrollment | None:
    """Turn a paid Checkout Session into an enrollment: the webhook and the return page both call this.

    Keyed on the session id; the metadata's checkout id is only a cross-check.
    Idempotent: a completed checkout returns its enrollment. One transaction:
    enrollment, transaction, ledger rows, the instructor follower, the receipt
    email and the bell, or nothing. A paid session whose checkout expired still
    enrolls; a second paid checkout for a course the student already holds is
    refunded in full at once. Does not commit (the caller does).

    Returns the enrollment, or None when the session is not ours or not paid.
    :raise ValueError: the session's amount or metadata contradicts our row.
    :raise GatewayError: the gateway could not be asked about the payment (retry later).
    """
    checkout = checkout_by_session_id(session.id)
    if checkout is None:
        log.warning("checkout session %s is not one of ours", session.id)
        return None
    meta_id = (session.metadata or {}).get("checkout_id") or session.client_reference_id
    if meta_id and meta_id != str(checkout.id):
        raise ValueError(f"session {session.id} names checkout {meta_id}, ours is {checkout.id}")
    if session.payment_status != "paid":
        return None
    if not session.payment_intent:
        raise ValueError(f"session {session.id} is paid but names no payment intent")
    from peerloop.scheduling import services as scheduling

    # The student, and the teacher of a held time, in the booking's fixed order (users by id).
    hold = scheduling.held_session(checkout.id)
    scheduling.lock_users(checkout.student_id, *([hold.teacher_id] if hold else []))
    checkout = db.session.scalar(
        for_update(sa.select(Checkout).where(Checkout.id == checkout.id)).execution_options(populate_existing=True)
    )
    if checkout.status == CheckoutStatus.completed:
        return checkout.enrollment
    if session.amount_total is not None and (
        session.amount_total != checkout.price_cents or (session.currency or checkout.currency) != checkout.currency
    ):
        raise ValueError(
            f"session {session.id} paid {session.amount_total} {session.currency}, "
            f"the checkout asked {checkout.price_cents} {checkout.currency}"
        )
    details = gateway().payment_details(session.payment_intent)
    course = db.session.get(Course, checkout.course_id)
    student = db.session.get(User, checkout.student_id)
    held = live_enrollment(checkout.student_id, checkout.course_id)
    transaction = Transaction(
        checkout_id=checkout.id,
        student_id=checkout.student_id,
        course_id=checkout.course_id,
        amount_cents=checkout.price_cents,
        currency=checkout.currency,
        stripe_payment_id=session.payment_intent,
        stripe_charge_id=details.charge_id,
        fee_cents=details.fee_cents,
        transfer_group=checkout.transfer_group,
        status=TransactionStatus.completed,
        paid_at=now,
        created_at=now,
        updated_at=now,
    )
    checkout.status = CheckoutStatus.completed
    checkout.completed_at = now
    if held is not None:
        # Two tabs, two payments: the second is refunded in full at once.
        db.session.add(transaction)
        db.session.flush()
        _write_split(transaction, None, course.creator_id, now)
        checkout.enrollment_id = held.id
        _release_holds(checkout.id, now)
        db.session.flush()
        refund = _execute_refund(
            transaction,
            None,
            _full_plan(transaction, None),
            reason=RefundReason.duplicate,
            ends_enrollment=False,
            clawback=False,
            actor=None,
            note="A second payment for a course already held",
            idempotency_key=f"duplicate-{checkout.id}",
            call_gateway=True,
            now=now,
        )
        notify(
            student,
            "payment_refunded",
            title=f"Refunded {format_money(refund.amount_cents, refund.currency)}: you already had {course.title}",
            body="We received a second payment for a course you already have and refunded it in full. "
            "It can take 5-10 days to reach your card.",
            dedupe_key=f"duplicate-refund:{checkout.id}",
            now=now,
            action_url=site_path("payments.dashboard"),
            email_template="refund_confirmation",
            email_context={"refund": refund, "course": course},
            commit=False,
        )
        return held
    enrollment = Enrollment(
        student_id=checkout.student_id,
        course_id=checkout.course_id,
        student_teacher_id=checkout.student_teacher_id,
        status=EnrollmentStatus.enrolled,
        price_cents=checkout.price_cents,
        currency=checkout.currency,
        session_count=checkout.session_count,
        enrolled_at=now,
        deferred_at=now if checkout.schedule_later else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(enrollment)
    db.session.flush()
    transaction.enrollment_id = enrollment.id
    checkout.enrollment_id = enrollment.id
    db.session.add(transaction)
    db.session.flush()
    _write_split(transaction, enrollment, course.creator_id, now)
    _follow_instructor(course.creator_id, student.id, now)
    # In SQL, so two purchases at once both count.
    db.session.execute(
        sa.update(Course)
        .where(Course.id == course.id)
        .values(student_count=sa.func.coalesce(Course.student_count, 0) + 1)
        .execution_options(synchronize_session=False)
    )
    scheduling.confirm_hold(checkout, enrollment, now=now)
    teacher = db.session.get(User, checkout.student_teacher_id) if checkout.student_teacher_id else None
    notify(
        student,
        "enrolled",
        title=f"You're enrolled in {course.title}",
        body=(
            f"Paid {format_money(transaction.amount_cents, transaction.currency)}. "
            + (
                f"Your Student-Teacher is {teacher.name}. "
                if teacher
                else "Book your first session when you are ready. "
            )
            + f"You also have access to {course.creator.name}'s community feed."
        ),
        dedupe_key=f"enrolled:{enrollment.id}",
        now=now,
        action_url=site_path("payments.dashboard"),
        email_template="welcome_receipt",
        email_context={"course": course, "transaction": transaction, "enrollment": enrollment, "teacher": teacher},
        commit=False,
    )
    return enrollment


def _follow_instructor(instructor_id: uuid.UUID, follower_id: uuid.UUID, now: datetime) -> None:
    exists = db.session.scalar(
        sa.select(InstructorFollower.id).where(
            InstructorFollower.instructor_id == instructor_id, InstructorFollower.follower_id == follower_id
        )
    )
    if exists is None and instructor_id != follower_id:
        db.session.add(
            InstructorFollower(
                instructor_id=instructor_id, follower_id=follower_id, first_enrollment_at=now, created_at=now
            )
        )


def confirm_return(session_id: str, *, now: datetime) -> Checkout | None:
    """The return page's safety net for a missed webhook: ask the gateway about the session and
    run the same idempotent completion. Returns our checkout (completed when paid), or None.

    :raise ProviderUnavailable: the gateway could not be asked (the webhook will still complete it).
    """
    checkout = checkout_by_session_id(session_id)
    if checkout is None:
        return None
    if checkout.status == CheckoutStatus.completed:
        return checkout
    try:
        session = gateway().retrieve_checkout_session(session_id)
        complete_checkout(session, now=now)
        db.session.commit()
    except GatewayError as error:
        db.session.rollback()
        raise _provider_down(error) from error
    except ValueError:  # the gateway contradicts our checkout: the webhook's event fails, visibly
        db.session.rollback()
        log.exception("checkout session %s could not be completed from the return page", session_id)
    db.session.refresh(checkout)
    return checkout


def expire_stale_checkouts(now: datetime, *, limit: int = 100) -> int:
    """Sweep step: an open checkout past its expiry is asked about once more (a payment is never
    dropped: a paid one completes) and otherwise marked expired. Returns how many were expired."""
    stale = list(
        db.session.scalars(
            sa.select(Checkout)
            .where(Checkout.status == CheckoutStatus.open, Checkout.expires_at < now)
            .order_by(Checkout.expires_at)
            .limit(limit)
        )
    )
    db.session.rollback()
    expired = 0
    for checkout in stale:
        try:
            session = gateway().retrieve_checkout_session(checkout.gateway_session_id)
        except GatewayError:
            continue  # ask again next pass
        try:
            if session.payment_status == "paid":
                complete_checkout(session, now=now)
            else:
                row = db.session.scalar(
                    for_update(sa.select(Checkout).where(Checkout.id == checkout.id)).execution_options(
                        populate_existing=True
                    )
                )
                if row.status == CheckoutStatus.open:
                    row.status = CheckoutStatus.expired
                    _release_holds(row.id, now)
                    expired += 1
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("could not settle stale checkout %s", checkout.id)
    return expired


# --- the ledger: releases ----------------------------------------------------


def release_teaching_share(session, *, now: datetime, commit: bool = True) -> LedgerEntry | None:
    """Pay a delivered session's teacher their share of the pool (pool ÷ session_count, the
    remainder on the last). ``session`` has ``id``, ``enrollment_id`` and ``teacher_id``.

    Idempotent per session. A session delivered while its enrollment was active is paid even if
    the enrollment was refunded or charged back since (the refund kept its share in the pool). A
    delivery on a live enrollment is recorded even when the pool has nothing left for it (a custom
    refund took it): a 0-cent release, so the count of delivered sessions never depends on money.
    Nothing once every share is released, or for an ended enrollment whose pool is empty. Returns
    the earnings row, or None.

    The enrollment is locked first, before anything is read: a caller joining its own transaction
    (``commit=False``) must flush nothing unlocked before calling it.
    """
    enrollment = db.session.scalar(for_update(sa.select(Enrollment).where(Enrollment.id == session.enrollment_id)))
    existing = db.session.scalar(
        sa.select(LedgerEntry).where(
            LedgerEntry.session_id == session.id,
            LedgerEntry.kind == LedgerKind.teaching_release,
            LedgerEntry.account == LedgerAccount.earnings,
        )
    )
    if existing is not None:
        return existing
    transaction = transaction_of(enrollment.id) if enrollment else None
    if transaction is None:
        return None
    split = original_split(transaction)
    released = _released_count(enrollment.id)
    if released >= enrollment.session_count:
        return None
    pool_balance = _sum(LedgerEntry.transaction_id == transaction.id, LedgerEntry.account == LedgerAccount.pool)
    amount = max(
        0,
        min(money.teaching_release(split.teaching_pool_cents, enrollment.session_count, released + 1), pool_balance),
    )
    if amount == 0 and enrollment.status == EnrollmentStatus.cancelled:
        return None  # an ended enrollment's empty pool: nothing was kept for this session
    common = {
        "transaction_id": transaction.id,
        "enrollment_id": enrollment.id,
        "currency": transaction.currency,
        "session_id": session.id,
        "kind": LedgerKind.teaching_release,
        "created_at": now,
    }
    earned = LedgerEntry(account=LedgerAccount.earnings, recipient_id=session.teacher_id, amount_cents=amount, **common)
    try:
        with db.session.begin_nested():  # a concurrent twin may release it first
            db.session.add(LedgerEntry(account=LedgerAccount.pool, amount_cents=-amount, **common))
            db.session.add(earned)
    except sa.exc.IntegrityError:
        return db.session.scalar(
            sa.select(LedgerEntry).where(
                LedgerEntry.session_id == session.id,
                LedgerEntry.kind == LedgerKind.teaching_release,
                LedgerEntry.account == LedgerAccount.earnings,
            )
        )
    if commit:
        db.session.commit()
    return earned


# --- refunds -----------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRow:
    account: LedgerAccount
    kind: LedgerKind
    amount_cents: int
    recipient_id: uuid.UUID | None
    memo: str
    payout_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RefundPlan:
    """A refund before it happens: its parts and the ledger rows it will write."""

    quote: money.RefundQuote
    rows: tuple[PlannedRow, ...]
    absorbed_cents: int
    clawed_back_cents: int
    clawbacks: tuple[tuple[uuid.UUID, int], ...]  # (PayoutTransfer id, cents) to reverse
    left_cents: int  # what was left to refund before this one
    withdrawals: tuple[tuple[uuid.UUID, int], ...] = ()  # (pending PayoutTransfer id, cents) taken back
    forfeited_cents: int = 0  # an ending enrollment's unused pool the refund leaves: the platform's


def _creator_id(transaction: Transaction) -> uuid.UUID:
    return db.session.scalar(sa.select(Course.creator_id).where(Course.id == transaction.course_id))


def _plan(
    transaction: Transaction,
    quote: money.RefundQuote,
    *,
    clawback: bool,
    left_cents: int,
    memo: str,
    lock: bool = True,
) -> RefundPlan:
    creator_id = _creator_id(transaction)
    rows = [PlannedRow(LedgerAccount.refund, LedgerKind.refund, quote.total_cents, None, memo)]
    if quote.pool_cents:
        rows.append(
            PlannedRow(LedgerAccount.pool, LedgerKind.refund, -quote.pool_cents, None, "from the teaching pool")
        )
    if quote.platform_cents:
        rows.append(
            PlannedRow(
                LedgerAccount.platform, LedgerKind.refund, -quote.platform_cents, None, "from the platform's share"
            )
        )
    absorbed = clawed = 0
    clawbacks: list[tuple[uuid.UUID, int]] = []
    withdrawals: list[tuple[uuid.UUID, int]] = []
    if quote.creator_cents:
        rows.append(
            PlannedRow(
                LedgerAccount.earnings,
                LedgerKind.refund,
                -quote.creator_cents,
                creator_id,
                "from the creator's royalty",
            )
        )
        if lock:
            _lock_user(creator_id)  # a payout request at the same time cannot spend what this refund takes
        # A payout requested but not yet sent gives back what it drew from this sale first: the
        # royalty was never paid, and its transfer would draw on a refunded charge.
        rest = quote.creator_cents
        unsent = (
            sa.select(PayoutTransfer)
            .join(Payout, Payout.id == PayoutTransfer.payout_id)
            .where(
                PayoutTransfer.transaction_id == transaction.id,
                PayoutTransfer.status == TransferStatus.pending,
                Payout.recipient_id == creator_id,
                Payout.status.in_([PayoutStatus.requested, PayoutStatus.approved]),
            )
        )
        if lock:  # payouts before their transfers, the order process_payout takes them in
            payout_ids = sorted(set(db.session.scalars(unsent.with_only_columns(PayoutTransfer.payout_id))))
            if payout_ids:
                db.session.scalars(
                    for_update(sa.select(Payout.id).where(Payout.id.in_(payout_ids)).order_by(Payout.id))
                ).all()
            unsent = for_update(unsent).with_for_update(of=PayoutTransfer)
        for transfer in db.session.scalars(
            unsent.order_by(PayoutTransfer.created_at, PayoutTransfer.id).execution_options(populate_existing=True)
        ):
            take = min(rest, transfer.amount_cents)
            if take <= 0:
                break
            rest -= take
            withdrawals.append((transfer.id, take))
            memo = "withdrawn from a payout not yet sent: the sale was refunded"
            rows.append(
                PlannedRow(
                    LedgerAccount.payout, LedgerKind.payout_returned, -take, creator_id, memo, transfer.payout_id
                )
            )
            rows.append(
                PlannedRow(
                    LedgerAccount.earnings, LedgerKind.payout_returned, take, creator_id, memo, transfer.payout_id
                )
            )
        available = available_balance(creator_id, transaction.currency) + (quote.creator_cents - rest)
        uncovered = quote.creator_cents - max(0, min(available, quote.creator_cents))
        if uncovered and clawback:
            sent = (
                sa.select(PayoutTransfer)
                .join(Payout, Payout.id == PayoutTransfer.payout_id)
                .where(
                    PayoutTransfer.transaction_id == transaction.id,
                    PayoutTransfer.status == TransferStatus.created,
                    Payout.recipient_id == creator_id,
                )
                .order_by(PayoutTransfer.created_at, PayoutTransfer.id)
            )
            if lock:  # a transfer.reversed event about the same transfer waits for this refund
                sent = for_update(sent).with_for_update(of=PayoutTransfer)
            for transfer in db.session.scalars(sent.execution_options(populate_existing=True)):
                take = min(uncovered - clawed, transfer.amount_cents - transfer.reversed_cents)
                if take > 0:
                    clawbacks.append((transfer.id, take))
                    clawed += take
                    memo = "taken back by a transfer reversal"
                    # On the payout's rows, so what the person was paid goes down by it.
                    rows.append(
                        PlannedRow(
                            LedgerAccount.payout, LedgerKind.clawback, -take, creator_id, memo, transfer.payout_id
                        )
                    )
                    rows.append(
                        PlannedRow(
                            LedgerAccount.earnings, LedgerKind.clawback, take, creator_id, memo, transfer.payout_id
                        )
                    )
                if clawed == uncovered:
                    break
        absorbed = uncovered - clawed
        if absorbed:
            rows.append(
                PlannedRow(
                    LedgerAccount.platform,
                    LedgerKind.absorbed,
                    -absorbed,
                    None,
                    "royalty already paid out, absorbed by the platform",
                )
            )
            rows.append(
                PlannedRow(
                    LedgerAccount.earnings,
                    LedgerKind.absorbed,
                    absorbed,
                    creator_id,
                    "royalty already paid out, absorbed by the platform",
                )
            )
    return RefundPlan(
        quote=quote,
        rows=tuple(rows),
        absorbed_cents=absorbed,
        clawed_back_cents=clawed,
        clawbacks=tuple(clawbacks),
        withdrawals=tuple(withdrawals),
        left_cents=left_cents,
    )


def _custom_plan(
    transaction: Transaction,
    enrollment: Enrollment | None,
    amount_cents: int | None,
    *,
    clawback: bool,
    lock: bool = True,
    ends_enrollment: bool = False,
):
    left = refundable(transaction, enrollment)
    if left.total_cents == 0:
        raise Conflict("Nothing is left to refund on this payment.", code="nothing_to_refund")
    amount = left.total_cents if amount_cents is None else amount_cents
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ValidationError("Enter an amount of at least 0.01.", fields={"amount": "At least 0.01."})
    if amount > left.total_cents:
        limit = format_money(left.total_cents, transaction.currency)
        raise ValidationError(
            f"At most {limit} is left to refund.", fields={"amount": f"At most {limit} is left to refund."}
        )
    remaining = money.Split(
        platform_cents=left.platform_cents,
        creator_cents=left.creator_cents,
        teaching_pool_cents=left.pool_cents + left.owed_cents,
    )
    quote = money.custom_refund(remaining, left.owed_cents, amount)
    plan = _plan(transaction, quote, clawback=clawback, left_cents=left.total_cents, memo="refund", lock=lock)
    unused_pool = left.pool_cents - quote.pool_cents
    if ends_enrollment and enrollment is not None and unused_pool > 0:
        # No session will be taught from what the student was not refunded: it is the platform's now,
        # and no longer anyone's "held" (what delivered sessions are owed stays in the pool).
        memo = "the ended enrollment's unused teaching pool, kept by the platform"
        plan = dataclasses.replace(
            plan,
            rows=plan.rows
            + (
                PlannedRow(LedgerAccount.pool, LedgerKind.forfeited, -unused_pool, None, memo),
                PlannedRow(LedgerAccount.platform, LedgerKind.forfeited, unused_pool, None, memo),
            ),
            forfeited_cents=unused_pool,
        )
    return plan


def _full_plan(transaction: Transaction, enrollment: Enrollment | None) -> RefundPlan:
    return _custom_plan(transaction, enrollment, None, clawback=False)


def default_quote(enrollment: Enrollment) -> tuple[money.RefundQuote, Transaction]:
    """The default refund (issue 6 item 5): the unreleased pool + ⌈platform × u ÷ n⌉ +
    ⌈creator × u ÷ n⌉, each part capped by what earlier refunds left of it."""
    transaction = transaction_of(enrollment.id)
    if transaction is None:
        raise Conflict("This enrollment has no payment to refund.", code="nothing_to_refund")
    split = original_split(transaction)
    n = enrollment.session_count
    delivered = min(delivered_sessions(enrollment), n)
    base = money.refund_quote(split, n, delivered)
    left = refundable(transaction, enrollment)
    return (
        money.RefundQuote.of(
            pool_cents=min(base.pool_cents, left.pool_cents),
            platform_cents=min(base.platform_cents, left.platform_cents),
            creator_cents=min(base.creator_cents, left.creator_cents),
        ),
        transaction,
    )


def _own_enrollment(student: User, enrollment_id, *, lock: bool) -> Enrollment:
    uid = parse_uuid(enrollment_id)
    query = sa.select(Enrollment).where(Enrollment.id == uid, Enrollment.student_id == student.id)
    enrollment = db.session.scalar(for_update(query) if lock else query) if uid else None
    if enrollment is None:
        raise NotFound("No such enrollment.")
    return enrollment


@dataclass(frozen=True)
class CancelQuote:
    enrollment: Enrollment
    quote: money.RefundQuote
    delivered_sessions: int


def cancel_quote(student: User, enrollment_id) -> CancelQuote:
    """What leaving the course now would refund (the student sees it before confirming).

    :raise NotFound: not the student's enrollment.
    :raise Conflict: already cancelled, or frozen by a dispute.
    """
    enrollment = _own_enrollment(student, enrollment_id, lock=False)
    _check_cancellable(enrollment)
    quote, _ = default_quote(enrollment)
    return CancelQuote(enrollment, quote, min(delivered_sessions(enrollment), enrollment.session_count))


def _check_cancellable(enrollment: Enrollment) -> None:
    if enrollment.status == EnrollmentStatus.cancelled:
        raise Conflict("This enrollment is already cancelled.", code="already_cancelled")
    if enrollment.status == EnrollmentStatus.frozen:
        raise Conflict("This enrollment is on hold while a payment dispute is open.", code="enrollment_frozen")
    if enrollment.status == EnrollmentStatus.completed:
        # Finished and certified: there is nothing to leave (PeerLoop can still refund from the console).
        raise Conflict("You completed this course, so there is nothing to leave.", code="already_completed")


def cancel_enrollment(
    student: User, enrollment_id, *, reason: str | None, expected_refund_cents: int | None = None, now: datetime
) -> Refund | None:
    """The student leaves the course: the default refund, exactly as quoted, and the enrollment ends.

    ``expected_refund_cents`` is the quote the student confirmed: if it no longer
    holds (a session was delivered meanwhile) nothing happens and they are asked
    again. Returns the Refund, or None when nothing was left to refund.

    :raise NotFound, Conflict: as ``cancel_quote``; ``quote_changed``.
    :raise ProviderUnavailable: the refund could not be made (nothing changed).
    """
    reason = (reason or "").strip()[:2000] or "Left the course"
    enrollment = _own_enrollment(student, enrollment_id, lock=True)
    _check_cancellable(enrollment)
    quote, transaction = default_quote(enrollment)
    _, transaction = _lock_sale(transaction.id)  # the enrollment is held already: then its transaction
    if expected_refund_cents is not None and expected_refund_cents != quote.total_cents:
        db.session.rollback()
        raise Conflict(
            f"The refund is now {format_money(quote.total_cents, enrollment.currency)}: check it and confirm again.",
            code="quote_changed",
        )
    refund = None
    if quote.total_cents:
        left = refundable(transaction, enrollment).total_cents
        plan = _plan(transaction, quote, clawback=False, left_cents=left, memo="the student left the course")
        try:
            refund = _execute_refund(
                transaction,
                enrollment,
                plan,
                reason=RefundReason.student_cancel,
                ends_enrollment=True,
                clawback=False,
                actor=student,
                note=reason,
                idempotency_key=f"cancel-{enrollment.id}",
                call_gateway=True,
                now=now,
            )
        except GatewayError as error:
            db.session.rollback()
            raise _gateway_refused(error) from error
    else:
        _end_enrollment(enrollment, reason=reason, now=now)
    _notify_refund(student, enrollment, refund, now=now)
    db.session.commit()
    return refund


def _notify_refund(student: User, enrollment: Enrollment, refund: Refund | None, *, now: datetime) -> None:
    course = db.session.get(Course, enrollment.course_id)
    amount = format_money(refund.amount_cents, refund.currency) if refund else None
    notify(
        student,
        "refund",
        title=f"Refunded {amount} for {course.title}" if refund else f"You left {course.title}",
        body=(
            f"We refunded {amount} to your card; it can take 5-10 days to arrive."
            if refund
            else "Every session was delivered, so nothing was left to refund."
        )
        + (" Your enrollment has ended." if enrollment.status == EnrollmentStatus.cancelled else ""),
        dedupe_key=f"refund:{refund.id}" if refund else f"left:{enrollment.id}",
        now=now,
        action_url=site_path("payments.dashboard"),
        email_template="refund_confirmation",
        email_context={"refund": refund, "course": course},
        commit=False,
    )


def _refresh_status(transaction: Transaction) -> None:
    """completed / partially_refunded / refunded from the refunds so far (a dispute's states stay)."""
    if transaction.status in (TransactionStatus.disputed, TransactionStatus.charged_back):
        return
    _, _, _, refunded = _refunded_parts(transaction.id)
    transaction.status = (
        TransactionStatus.completed
        if refunded == 0
        else TransactionStatus.refunded
        if refunded >= transaction.amount_cents
        else TransactionStatus.partially_refunded
    )


def _execute_refund(
    transaction: Transaction,
    enrollment: Enrollment | None,
    plan: RefundPlan,
    *,
    reason: RefundReason,
    ends_enrollment: bool,
    clawback: bool,
    actor: User | None,
    note: str | None,
    idempotency_key: str,
    call_gateway: bool,
    now: datetime,
) -> Refund:
    """Write a refund and its ledger rows; call the gateway first (when ``call_gateway``), so a
    refusal writes nothing. Does not commit."""
    earlier = db.session.scalar(sa.select(Refund).where(Refund.idempotency_key == idempotency_key))
    if earlier is not None:
        return earlier
    quote = plan.quote
    refund = Refund(
        id=uuid.uuid4(),
        transaction_id=transaction.id,
        enrollment_id=enrollment.id if enrollment else transaction.enrollment_id,
        amount_cents=quote.total_cents,
        currency=transaction.currency,
        pool_cents=quote.pool_cents,
        platform_cents=quote.platform_cents,
        creator_cents=quote.creator_cents,
        absorbed_cents=plan.absorbed_cents,
        clawed_back_cents=plan.clawed_back_cents,
        reason=reason,
        note=note,
        ends_enrollment=ends_enrollment,
        status=RefundStatus.succeeded,
        idempotency_key=idempotency_key,
        requested_by_id=actor.id if actor else None,
        created_at=now,
    )
    if call_gateway:
        if not transaction.stripe_payment_id:
            raise RuleViolation("This payment has no gateway record to refund.", code="payment_provider_refused")
        result = gateway().refund(
            payment_intent_id=transaction.stripe_payment_id,
            amount_cents=quote.total_cents,
            idempotency_key=idempotency_key,
            metadata={"refund_id": str(refund.id), "transaction_id": str(transaction.id)},
        )
        if result.status in ("failed", "canceled"):
            raise GatewayError("The payment provider could not refund this payment.", code=f"refund_{result.status}")
        refund.stripe_refund_id = result.id
        refund.status = RefundStatus.pending if result.status == "pending" else RefundStatus.succeeded
    db.session.add(refund)
    db.session.flush()
    rows = list(plan.rows)
    for transfer_id, cents in plan.clawbacks:
        transfer = db.session.get(PayoutTransfer, transfer_id)
        try:
            gateway().reverse_transfer(
                transfer_id=transfer.stripe_transfer_id,
                amount_cents=cents,
                idempotency_key=f"clawback-{refund.id}-{transfer.id}",
            )
        except GatewayError as error:
            # The student's refund went through already: never leave it without its rows. What could
            # not be taken back is the platform's, as when no clawback is asked for.
            log.warning("clawback of %s on transfer %s failed: %s", cents, transfer.id, error.message)
            rows = _absorb_instead_of_clawback(rows, transfer, cents)
            refund.clawed_back_cents -= cents
            refund.absorbed_cents += cents
            continue
        transfer.reversed_cents += cents
        if transfer.reversed_cents >= transfer.amount_cents:
            transfer.status = TransferStatus.reversed
    for transfer_id, cents in plan.withdrawals:
        _withdraw_from_payout(db.session.get(PayoutTransfer, transfer_id), cents)
    for row in rows:
        db.session.add(
            LedgerEntry(
                transaction_id=transaction.id,
                enrollment_id=refund.enrollment_id,
                account=row.account,
                kind=row.kind,
                recipient_id=row.recipient_id,
                amount_cents=row.amount_cents,
                currency=transaction.currency,
                refund_id=refund.id,
                payout_id=row.payout_id,
                memo=row.memo,
                created_at=now,
            )
        )
    _refresh_status(transaction)
    if ends_enrollment and enrollment is not None and enrollment.status != EnrollmentStatus.cancelled:
        _end_enrollment(enrollment, reason=note or "Refunded", now=now)
    return refund


def _absorb_instead_of_clawback(rows: list[PlannedRow], transfer: PayoutTransfer, cents: int) -> list[PlannedRow]:
    """The planned rows with one failed clawback turned into the platform absorbing that amount."""
    kept = [r for r in rows if not (r.kind == LedgerKind.clawback and r.payout_id == transfer.payout_id)]
    memo = "royalty already paid out, absorbed by the platform (the transfer reversal failed)"
    creator_id = next(r.recipient_id for r in rows if r.kind == LedgerKind.clawback)
    return kept + [
        PlannedRow(LedgerAccount.platform, LedgerKind.absorbed, -cents, None, memo),
        PlannedRow(LedgerAccount.earnings, LedgerKind.absorbed, cents, creator_id, memo),
    ]


def _withdraw_from_payout(transfer: PayoutTransfer, cents: int) -> None:
    """A payout not yet sent gives back ``cents`` of one of its transfers (its sale was refunded)."""
    payout = db.session.get(Payout, transfer.payout_id)
    transfer.amount_cents -= cents
    if transfer.amount_cents <= 0:
        transfer.amount_cents = 0
        transfer.status = TransferStatus.failed
        transfer.failure_message = "Withdrawn: the sale it drew on was refunded."
    left = sum(t.amount_cents for t in payout.transfers if t.status == TransferStatus.pending)
    if left > 0:
        payout.amount_cents = left
    else:  # the amount stays what was requested; nothing is left to send
        payout.status = PayoutStatus.failed
        payout.failure_message = "Cancelled before it was sent: the sales it drew on were refunded."


def _admin_target(enrollment_id, *, lock: bool = True) -> tuple[Enrollment, Transaction]:
    uid = parse_uuid(enrollment_id)
    query = sa.select(Enrollment).where(Enrollment.id == uid)
    enrollment = db.session.scalar(for_update(query) if lock else query) if uid else None
    if enrollment is None:
        raise NotFound("No such enrollment.")
    transaction = transaction_of(enrollment.id)
    if transaction is None:
        raise Conflict("This enrollment has no payment to refund.", code="nothing_to_refund")
    if lock:
        _, transaction = _lock_sale(transaction.id)
    return enrollment, transaction


def preview_refund(
    enrollment_id, *, amount_cents: int | None, clawback: bool = False, ends_enrollment: bool = False
) -> RefundPlan:
    """What Brian's refund would do, row by row, without doing it (``amount_cents`` None: in full).

    :raise NotFound, Conflict, ValidationError: as ``refund_enrollment``.
    """
    enrollment, transaction = _admin_target(enrollment_id, lock=False)  # a preview reads, it locks nothing
    plan = _custom_plan(
        transaction, enrollment, amount_cents, clawback=clawback, lock=False, ends_enrollment=ends_enrollment
    )
    db.session.rollback()
    return plan


def refund_enrollment(
    actor: User,
    enrollment_id,
    *,
    amount_cents: int | None,
    ends_enrollment: bool = True,
    clawback: bool = False,
    note: str | None = None,
    idempotency_key: str,
    expected_refund_cents: int | None = None,
    now: datetime,
) -> Refund:
    """Brian's refund of any enrollment: in full (``amount_cents`` None) or a custom amount, taken
    from the unreleased pool first, then the platform's share, then the creator's royalty.
    ``idempotency_key`` comes from the preview form, so a double submit refunds once, and
    ``expected_refund_cents`` is the previewed total: if the sale moved since, nothing happens.

    :raise NotFound: no such enrollment.
    :raise Conflict: nothing left to refund.
    :raise ValidationError: an amount below 0.01 or above what is left.
    :raise ProviderUnavailable, RuleViolation: the gateway failed or refused (nothing changed).
    """
    key = _check_idempotency_key(idempotency_key)
    if key is None:
        raise ValidationError("Preview the refund first.", fields={"token": "Missing."})
    earlier = db.session.scalar(sa.select(Refund).where(Refund.idempotency_key == f"admin-{key}"))
    if earlier is not None:
        db.session.rollback()
        if str(earlier.enrollment_id) != str(parse_uuid(enrollment_id)):
            raise Conflict("That refund form was already used for another enrollment: preview again.")
        return earlier
    enrollment, transaction = _admin_target(enrollment_id)
    plan = _custom_plan(transaction, enrollment, amount_cents, clawback=clawback, ends_enrollment=ends_enrollment)
    if expected_refund_cents is not None and expected_refund_cents != plan.quote.total_cents:
        db.session.rollback()  # the sale moved since the preview (a release, another refund)
        raise Conflict(
            f"This would now refund {format_money(plan.quote.total_cents, transaction.currency)}, not what the "
            "preview showed: preview again.",
            code="quote_changed",
        )
    try:
        refund = _execute_refund(
            transaction,
            enrollment,
            plan,
            reason=RefundReason.admin,
            ends_enrollment=ends_enrollment,
            clawback=clawback,
            actor=actor,
            note=(note or "").strip()[:2000] or "Refunded by PeerLoop",
            idempotency_key=f"admin-{key}",
            call_gateway=True,
            now=now,
        )
    except GatewayError as error:
        db.session.rollback()
        raise _gateway_refused(error) from error
    _notify_refund(db.session.get(User, enrollment.student_id), enrollment, refund, now=now)
    db.session.commit()
    return refund


# --- webhook handlers: platform ------------------------------------------------


def _session_from_event(obj: dict) -> GatewayCheckout:
    return GatewayCheckout(
        id=str(obj.get("id") or ""),
        url=obj.get("url"),
        status=str(obj.get("status") or ""),
        payment_status=str(obj.get("payment_status") or ""),
        amount_total=obj.get("amount_total") if isinstance(obj.get("amount_total"), int) else None,
        currency=str(obj["currency"]).upper() if obj.get("currency") else None,
        payment_intent=obj.get("payment_intent") if isinstance(obj.get("payment_intent"), str) else None,
        client_reference_id=obj.get("client_reference_id"),
        metadata={str(k): str(v) for k, v in (obj.get("metadata") or {}).items()},
    )


def handle_checkout_completed(event, *, now: datetime) -> None:
    complete_checkout(_session_from_event(event.data_object), now=now)


def handle_checkout_expired(event, *, now: datetime) -> None:
    checkout = checkout_by_session_id(str(event.data_object.get("id") or ""))
    if checkout is None:
        return
    checkout = db.session.scalar(
        for_update(sa.select(Checkout).where(Checkout.id == checkout.id)).execution_options(populate_existing=True)
    )
    if checkout.status == CheckoutStatus.open:
        checkout.status = CheckoutStatus.expired
        _release_holds(checkout.id, now)


def _lock_sale(transaction_id: uuid.UUID) -> tuple[Enrollment | None, Transaction]:
    """Lock a sale in the fixed order: its enrollment, then its transaction (a refund in flight holds the
    enrollment, so an event about the same charge waits for it and then sees it)."""
    enrollment_id = db.session.scalar(sa.select(Transaction.enrollment_id).where(Transaction.id == transaction_id))
    enrollment = None
    if enrollment_id is not None:
        enrollment = db.session.scalar(
            for_update(sa.select(Enrollment).where(Enrollment.id == enrollment_id)).execution_options(
                populate_existing=True
            )
        )
    transaction = db.session.scalar(
        for_update(sa.select(Transaction).where(Transaction.id == transaction_id)).execution_options(
            populate_existing=True
        )
    )
    return enrollment, transaction


def _transaction_for_charge(
    charge: dict | str | None, payment_intent: str | None = None
) -> tuple[Enrollment | None, Transaction | None]:
    """The sale a charge event is about, locked (enrollment, then transaction), or (None, None)."""
    charge_id = charge.get("id") if isinstance(charge, dict) else charge
    clauses = []
    if isinstance(charge_id, str) and charge_id:
        clauses.append(Transaction.stripe_charge_id == charge_id)
    if isinstance(payment_intent, str) and payment_intent:
        clauses.append(Transaction.stripe_payment_id == payment_intent)
    if not clauses:
        return None, None
    transaction_id = db.session.scalar(sa.select(Transaction.id).where(sa.or_(*clauses)))
    if transaction_id is None:
        return None, None
    return _lock_sale(transaction_id)


def handle_charge_refunded(event, *, now: datetime) -> None:
    """A refund made outside PeerLoop (the Stripe dashboard): record the difference, part by part."""
    obj = event.data_object
    enrollment, transaction = _transaction_for_charge(obj.get("id"), obj.get("payment_intent"))
    if transaction is None:
        return
    _, _, _, known = _refunded_parts(transaction.id)
    refunded = obj.get("amount_refunded") if isinstance(obj.get("amount_refunded"), int) else 0
    extra = min(refunded, transaction.amount_cents) - known
    if extra <= 0:
        return
    left = refundable(transaction, enrollment).total_cents
    reversed_cents = min(extra, left)
    refund = None
    if reversed_cents:
        refund = _execute_refund(
            transaction,
            enrollment,
            _custom_plan(transaction, enrollment, reversed_cents, clawback=False),
            reason=RefundReason.external,
            ends_enrollment=reversed_cents >= left,
            clawback=False,
            actor=None,
            note="Refunded at the payment provider",
            idempotency_key=f"external-{event.event_id}",
            call_gateway=False,
            now=now,
        )
    # More than was left (the student got back shares already released to teachers, who keep them):
    # the platform's loss, recorded.
    _record_platform_loss(
        transaction,
        refund,
        extra - reversed_cents,
        reason=RefundReason.external,
        kind=LedgerKind.absorbed,
        note="Refunded at the payment provider",
        idempotency_key=f"external-{event.event_id}",
        memo="refunded at the provider beyond what was left: teaching shares already released",
        now=now,
    )
    if (
        enrollment is not None
        and refunded >= transaction.amount_cents
        and enrollment.status != EnrollmentStatus.cancelled
    ):
        _end_enrollment(enrollment, reason="Refunded at the payment provider", now=now)


def handle_dispute_created(event, *, now: datetime) -> None:
    obj = event.data_object
    enrollment, transaction = _transaction_for_charge(obj.get("charge"), obj.get("payment_intent"))
    if transaction is None:
        return
    dispute_id = str(obj.get("id") or "")
    if db.session.scalar(sa.select(Dispute.id).where(Dispute.stripe_dispute_id == dispute_id)) is not None:
        return
    db.session.add(
        Dispute(
            transaction_id=transaction.id,
            stripe_dispute_id=dispute_id,
            amount_cents=obj.get("amount") if isinstance(obj.get("amount"), int) else transaction.amount_cents,
            reason=str(obj.get("reason") or "")[:100] or None,
            status=DisputeStatus.open,
            enrollment_status_before=enrollment.status.value if enrollment else None,
            created_at=now,
            updated_at=now,
        )
    )
    transaction.status = TransactionStatus.disputed
    if enrollment is not None and enrollment.status != EnrollmentStatus.cancelled:
        enrollment.status = EnrollmentStatus.frozen


def handle_dispute_closed(event, *, now: datetime) -> None:
    """Won: the enrollment thaws. Lost: it ends and the ledger reverses like a full refund."""
    obj = event.data_object
    dispute = db.session.scalar(
        for_update(sa.select(Dispute).where(Dispute.stripe_dispute_id == str(obj.get("id") or "")))
    )
    if dispute is None:
        handle_dispute_created(event, now=now)  # closed before we saw it open
        db.session.flush()
        dispute = db.session.scalar(sa.select(Dispute).where(Dispute.stripe_dispute_id == str(obj.get("id") or "")))
        if dispute is None:
            return
    if dispute.status != DisputeStatus.open:
        return
    enrollment, transaction = _lock_sale(dispute.transaction_id)
    dispute.closed_at = now
    if obj.get("status") == "lost":
        dispute.status = DisputeStatus.lost
        _charge_back(transaction, enrollment, dispute, now=now)
        return
    dispute.status = DisputeStatus.won
    transaction.status = TransactionStatus.completed  # the dispute's hold ends; its refunds decide the rest
    _refresh_status(transaction)
    if enrollment is not None and enrollment.status == EnrollmentStatus.frozen:
        enrollment.status = EnrollmentStatus(dispute.enrollment_status_before or EnrollmentStatus.enrolled)


def _record_platform_loss(
    transaction: Transaction,
    refund: Refund | None,
    loss: int,
    *,
    reason: RefundReason,
    kind: LedgerKind,
    note: str,
    idempotency_key: str,
    memo: str,
    now: datetime,
) -> None:
    """Money the student got back beyond what the sale had left (shares already released to teachers,
    who keep them): ``platform −loss`` / ``refund +loss``, on ``refund`` or a Refund row of its own."""
    if loss <= 0:
        return
    if refund is None:
        refund = Refund(
            id=uuid.uuid4(),
            transaction_id=transaction.id,
            enrollment_id=transaction.enrollment_id,
            amount_cents=loss,
            currency=transaction.currency,
            reason=reason,
            note=note,
            idempotency_key=idempotency_key,
            created_at=now,
        )
        db.session.add(refund)
    else:
        refund.amount_cents += loss
    refund.absorbed_cents += loss
    db.session.flush()
    for account, cents in ((LedgerAccount.platform, -loss), (LedgerAccount.refund, loss)):
        db.session.add(
            LedgerEntry(
                transaction_id=transaction.id,
                enrollment_id=transaction.enrollment_id,
                account=account,
                kind=kind,
                amount_cents=cents,
                currency=transaction.currency,
                refund_id=refund.id,
                memo=memo,
                created_at=now,
            )
        )
    _refresh_status(transaction)


def _charge_back(transaction: Transaction, enrollment: Enrollment | None, dispute: Dispute, *, now: datetime):
    """A lost dispute: the bank took the disputed amount back. What is left of the sale reverses like a
    refund; what had already been released to teachers (their shares stand) is the platform's loss."""
    # The bank takes the disputed amount whatever was refunded before: beyond what the sale has left,
    # it is the platform's loss (released shares, or a refund the cardholder got twice).
    taken = max(0, dispute.amount_cents)
    left = refundable(transaction, enrollment).total_cents
    reversed_cents = min(left, taken)
    key = f"chargeback-{dispute.stripe_dispute_id}"
    refund = None
    if reversed_cents:
        refund = _execute_refund(
            transaction,
            enrollment,
            _custom_plan(transaction, enrollment, reversed_cents, clawback=False, ends_enrollment=True),
            reason=RefundReason.chargeback,
            ends_enrollment=True,
            clawback=False,
            actor=None,
            note="Payment dispute lost",
            idempotency_key=key,
            call_gateway=False,
            now=now,
        )
    _record_platform_loss(
        transaction,
        refund,
        taken - reversed_cents,
        reason=RefundReason.chargeback,
        kind=LedgerKind.chargeback,
        note="Payment dispute lost",
        idempotency_key=key,
        memo="chargeback of teaching shares already released: the platform's loss",
        now=now,
    )
    if enrollment is not None and enrollment.status != EnrollmentStatus.cancelled:
        _end_enrollment(enrollment, reason="Payment dispute lost", now=now)
    transaction.status = TransactionStatus.charged_back


def handle_transfer_event(event, *, now: datetime) -> None:
    """transfer.created / updated / reversed: a reversal made outside PeerLoop returns that money
    to the person's available balance (as a failed transfer does)."""
    obj = event.data_object
    transfer = db.session.scalar(
        for_update(sa.select(PayoutTransfer).where(PayoutTransfer.stripe_transfer_id == str(obj.get("id") or "")))
    )
    if transfer is None:
        return
    reversed_total = obj.get("amount_reversed") if isinstance(obj.get("amount_reversed"), int) else 0
    extra = min(reversed_total, transfer.amount_cents) - transfer.reversed_cents
    if extra <= 0:
        return
    payout = db.session.get(Payout, transfer.payout_id)
    transfer.reversed_cents += extra
    if transfer.reversed_cents >= transfer.amount_cents:
        transfer.status = TransferStatus.reversed
    _return_to_available(transfer, payout, extra, memo="transfer reversed at the payment provider", now=now)


# --- webhook handlers: Connect -------------------------------------------------


def account_status(state: ConnectAccount) -> StripeAccountStatus:
    """Seed 003 §3: onboarding → connected (payouts off) → fully active; restricted when Stripe
    disabled the account."""
    if state.disabled_reason and state.details_submitted:
        return StripeAccountStatus.restricted
    if state.charges_enabled or state.payouts_enabled:
        return StripeAccountStatus.active
    return StripeAccountStatus.pending


def _apply_account_state(user: User, state: ConnectAccount, *, now: datetime) -> None:
    was_active = user.stripe_account_status == StripeAccountStatus.active and bool(user.stripe_payouts_enabled)
    user.stripe_account_status = account_status(state)
    user.stripe_payouts_enabled = bool(state.payouts_enabled)
    if not was_active and user.stripe_account_status == StripeAccountStatus.active and state.payouts_enabled:
        notify(
            user,
            "payouts_enabled",
            title="Payouts are on",
            body="Your payout account is connected and verified. You can request payouts from your earnings.",
            dedupe_key=f"payouts-enabled:{state.id}",
            now=now,
            action_url=site_path("payments.earnings"),
            email_template="notification",
            commit=False,
        )


def handle_account_updated(event, *, now: datetime) -> None:
    from peerloop.payments.stripe_gateway import event_account_state

    state = event_account_state(event.data_object)
    user = db.session.scalar(for_update(sa.select(User).where(User.stripe_account_id == state.id)))
    if user is None:
        return
    try:
        # Deliveries come out of order: apply the account as it is now, not as this event saw it.
        state = gateway().retrieve_connect_account(state.id)
    except GatewayError as error:
        if error.retryable:
            raise  # ask again on the retry
        log.warning("account %s could not be fetched (%s): using the event's copy", state.id, error.message)
    _apply_account_state(user, state, now=now)


def _connected_user(event) -> User | None:
    account = event.payload.get("account") if isinstance(event.payload, dict) else None
    if not isinstance(account, str) or not account:
        return None
    return db.session.scalar(for_update(sa.select(User).where(User.stripe_account_id == account)))


def handle_account_deauthorized(event, *, now: datetime) -> None:
    user = _connected_user(event)
    if user is None:
        return
    user.stripe_account_id = None
    user.stripe_account_status = None
    user.stripe_payouts_enabled = False
    notify(
        user,
        "payouts_disconnected",
        title="Your payout account was disconnected",
        body="Connect a payout account again to receive your earnings.",
        dedupe_key=f"deauthorized:{event.event_id}",
        now=now,
        action_url=site_path("payments.payout_settings"),
        commit=False,
    )


def handle_bank_payout(event, *, now: datetime) -> None:
    """The connected account's own payout to its bank: shown to the recipient, not our Payout."""
    user = _connected_user(event)
    if user is None:
        return
    obj = event.data_object
    amount = obj.get("amount") if isinstance(obj.get("amount"), int) else 0
    currency = str(obj.get("currency") or "usd").upper()
    paid = event.event_type == "payout.paid"
    notify(
        user,
        "bank_payout",
        title=f"{format_money(amount, currency)} {'reached your bank' if paid else 'could not be sent to your bank'}",
        body=(
            "Stripe paid it to your bank account."
            if paid
            else f"Stripe could not pay it to your bank: {obj.get('failure_message') or 'check your bank details'}."
        ),
        dedupe_key=f"bank-payout:{obj.get('id')}:{event.event_type}",
        now=now,
        action_url=site_path("payments.earnings"),
        commit=False,
    )


def register_webhook_handlers() -> None:
    """Called from create_app: the platform's and the connected accounts' Stripe events."""
    from peerloop.webhooks.services import register

    for event_type, handler in (
        ("checkout.session.completed", handle_checkout_completed),
        ("checkout.session.expired", handle_checkout_expired),
        ("charge.refunded", handle_charge_refunded),
        ("charge.dispute.created", handle_dispute_created),
        ("charge.dispute.closed", handle_dispute_closed),
        ("transfer.created", handle_transfer_event),
        ("transfer.updated", handle_transfer_event),
        ("transfer.reversed", handle_transfer_event),
    ):
        register("stripe", event_type, handler)
    for event_type, handler in (
        ("account.updated", handle_account_updated),
        ("account.application.deauthorized", handle_account_deauthorized),
        ("payout.paid", handle_bank_payout),
        ("payout.failed", handle_bank_payout),
    ):
        register("stripe_connect", event_type, handler)


# --- Connect onboarding ----------------------------------------------------------


def start_onboarding(user: User, *, now: datetime) -> str:
    """Create (once) the person's Connect Express account and return a fresh onboarding link.

    :raise ProviderUnavailable, RuleViolation: the gateway failed (nothing is stored).
    """
    try:
        row = _lock_user(user.id)  # also takes SQLite's write lock in a GET (the refresh URL)
        if not row.stripe_account_id:
            # Keyed on the person and their deauthorizations so far: a retry finds the same account,
            # a reconnect after a disconnect gets a new one.
            disconnects = db.session.scalar(
                sa.select(sa.func.count(Notification.id)).where(
                    Notification.user_id == user.id, Notification.type == "payouts_disconnected"
                )
            )
            account = gateway().create_connect_account(
                email=row.email, user_id=str(row.id), idempotency_key=f"connect-{row.id}-{disconnects}"
            )
            row.stripe_account_id = account.id
            row.stripe_account_status = account_status(account)
            row.stripe_payouts_enabled = bool(account.payouts_enabled)
            db.session.commit()
            row = _lock_user(user.id)
        url = gateway().create_account_link(
            account_id=row.stripe_account_id,
            refresh_url=external_url("payments.connect_refresh"),
            return_url=external_url("payments.connect_return"),
            idempotency_key=f"account-link-{uuid.uuid4()}",  # one per click: links are single-use
        )
        db.session.commit()  # the sandbox keeps its link as a row; Stripe's gateway writes nothing
    except GatewayError as error:
        db.session.rollback()
        raise _gateway_refused(error) from error
    return url


def connect_status(user: User) -> dict:
    """``{status: not_connected|pending|active|restricted, payouts_enabled}``: webhook state only."""
    if not user.stripe_account_id:
        return {"status": "not_connected", "payouts_enabled": False}
    return {
        "status": (user.stripe_account_status or StripeAccountStatus.pending).value,
        "payouts_enabled": bool(user.stripe_payouts_enabled),
    }


# --- earnings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    currency: str
    held_cents: int
    available_cents: int
    paid_cents: int
    in_payout_cents: int  # requested, approved or processing


def _currencies(user_id: uuid.UUID) -> list[str]:
    """The person's currencies, the main one (most earned) first."""
    rows = db.session.execute(
        sa.select(LedgerEntry.currency, sa.func.sum(LedgerEntry.amount_cents))
        .where(
            LedgerEntry.recipient_id == user_id,
            LedgerEntry.account == LedgerAccount.earnings,
            LedgerEntry.amount_cents > 0,
        )
        .group_by(LedgerEntry.currency)
        .order_by(sa.func.sum(LedgerEntry.amount_cents).desc(), LedgerEntry.currency)
    ).all()
    held = db.session.scalars(
        sa.select(Enrollment.currency)
        .where(Enrollment.student_teacher_id == user_id, Enrollment.status != EnrollmentStatus.cancelled)
        .distinct()
    ).all()
    ordered = [row[0] for row in rows]
    return ordered + [c for c in held if c not in ordered]


def balances(user_id: uuid.UUID) -> list[Balance]:
    """Per currency, main first: held (unreleased pool of the person's students), available,
    paid, and in a payout on its way. Always at least one (USD) for an empty ledger."""
    currencies = _currencies(user_id) or ["USD"]
    result = []
    for currency in currencies:
        held = int(
            db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0))
                .join(Enrollment, Enrollment.id == LedgerEntry.enrollment_id)
                .where(
                    Enrollment.student_teacher_id == user_id,
                    LedgerEntry.account == LedgerAccount.pool,
                    LedgerEntry.currency == currency,
                )
            )
        )
        by_status = dict(
            db.session.execute(
                sa.select(Payout.status, sa.func.sum(LedgerEntry.amount_cents))
                .join(Payout, Payout.id == LedgerEntry.payout_id)
                .where(
                    LedgerEntry.recipient_id == user_id,
                    LedgerEntry.account == LedgerAccount.payout,
                    LedgerEntry.currency == currency,
                )
                .group_by(Payout.status)
            ).all()
        )
        result.append(
            Balance(
                currency=currency,
                held_cents=held,
                available_cents=available_balance(user_id, currency),
                paid_cents=int(by_status.get(PayoutStatus.paid, 0)),
                in_payout_cents=int(
                    sum(
                        by_status.get(s, 0)
                        for s in (PayoutStatus.requested, PayoutStatus.approved, PayoutStatus.processing)
                    )
                ),
            )
        )
    return result


LINE_LABELS = {
    LedgerKind.creator_royalty: "Creator royalty",
    LedgerKind.teaching_release: "Session taught",
    LedgerKind.refund: "Refund to the student",
    LedgerKind.absorbed: "Refund covered by PeerLoop",
    LedgerKind.clawback: "Taken back from a payout",
    LedgerKind.payout: "Payout",
    LedgerKind.payout_returned: "Payout returned",
}


def earning_lines(user_id: uuid.UUID, *, limit: int | None = 200) -> list[dict]:
    """The person's money movements, newest first: what they earned, what was refunded, what was paid."""
    query = (
        sa.select(LedgerEntry, Course.title, Course.slug)
        .join(Transaction, Transaction.id == LedgerEntry.transaction_id)
        .join(Course, Course.id == Transaction.course_id)
        .where(
            LedgerEntry.recipient_id == user_id,
            LedgerEntry.account == LedgerAccount.earnings,
        )
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id)
    )
    if limit:
        query = query.limit(limit)
    return [
        {
            "id": str(row.id),
            "at": row.created_at,
            "kind": row.kind.value,
            "label": LINE_LABELS.get(row.kind, row.kind.value.replace("_", " ").capitalize()),
            "course": {"title": title, "slug": slug},
            "amount_cents": row.amount_cents,
            "currency": row.currency,
            "session_id": str(row.session_id) if row.session_id else None,
            "payout_id": str(row.payout_id) if row.payout_id else None,
        }
        for row, title, slug in db.session.execute(query).all()
    ]


def monthly_earnings(user_id: uuid.UUID, currency: str, *, tz, months: int, now: datetime) -> list[tuple[str, int]]:
    """Earned per month (royalties and released shares, less refunds), the last ``months`` months
    in the person's zone, oldest first: ``[("2026-11", 12345), …]``."""
    local_now = now.astimezone(tz)
    keys = []
    year, month = local_now.year, local_now.month
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keys.reverse()
    totals: dict[str, int] = defaultdict(int)
    start = datetime(int(keys[0][:4]), int(keys[0][5:]), 1, tzinfo=tz)
    for at, cents in db.session.execute(
        sa.select(LedgerEntry.created_at, LedgerEntry.amount_cents).where(
            LedgerEntry.recipient_id == user_id,
            LedgerEntry.account == LedgerAccount.earnings,
            LedgerEntry.currency == currency,
            LedgerEntry.kind.in_(
                [LedgerKind.creator_royalty, LedgerKind.teaching_release, LedgerKind.refund, LedgerKind.absorbed]
            ),
            LedgerEntry.created_at >= start,
        )
    ):
        local = at.astimezone(tz)
        totals[f"{local.year:04d}-{local.month:02d}"] += cents
    return [(key, totals.get(key, 0)) for key in keys]


# --- payouts -----------------------------------------------------------------------


def payout_minimum_cents() -> int:
    return int(current_app.config.get("PAYOUT_MINIMUM_CENTS", 5000))


def _lock_user(user_id: uuid.UUID) -> User:
    return db.session.scalar(
        for_update(sa.select(User).where(User.id == user_id)).execution_options(populate_existing=True)
    )


def _request_payout(
    recipient: User, *, amount_cents: int | None, currency: str | None, requested_by: User, now: datetime
) -> Payout:
    """A payout request (not committed): the amount leaves the available balance now, allocated
    oldest charge first, one transfer per source charge."""
    recipient = _lock_user(recipient.id)
    if not recipient.stripe_account_id or not recipient.stripe_payouts_enabled:
        raise ValidationError(
            "Connect a payout account first.",
            code="not_connected",
            fields={"account": "Connect a payout account in settings."},
        )
    if currency is None:  # the currency with the most to pay out
        currency = max(balances(recipient.id), key=lambda b: b.available_cents).currency
    currency = currency.upper()
    available = available_balance(recipient.id, currency)
    amount = available if amount_cents is None else amount_cents
    minimum = payout_minimum_cents()
    if amount_cents is None and available < minimum:
        raise ValidationError(
            f"Minimum balance not reached: you have {format_money(max(available, 0), currency)} available, "
            f"payouts start at {format_money(minimum, currency)}.",
            code="below_minimum",
            fields={"amount_cents": f"At least {format_money(minimum, currency)}."},
        )
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ValidationError("Enter an amount of at least 0.01.", fields={"amount_cents": "At least 0.01."})
    if amount > available:
        raise ValidationError(
            f"You have {format_money(max(available, 0), currency)} available.",
            code="insufficient_balance",
            fields={"amount_cents": f"At most {format_money(max(available, 0), currency)}."},
        )
    if amount < minimum:
        raise ValidationError(
            f"Minimum balance not reached: payouts start at {format_money(minimum, currency)}.",
            code="below_minimum",
            fields={"amount_cents": f"At least {format_money(minimum, currency)}."},
        )
    per_transaction = db.session.execute(
        sa.select(
            LedgerEntry.transaction_id, sa.func.sum(LedgerEntry.amount_cents), sa.func.min(LedgerEntry.created_at)
        )
        .where(
            LedgerEntry.recipient_id == recipient.id,
            LedgerEntry.account == LedgerAccount.earnings,
            LedgerEntry.currency == currency,
        )
        .group_by(LedgerEntry.transaction_id)
        .having(sa.func.sum(LedgerEntry.amount_cents) > 0)
        .order_by(sa.func.min(LedgerEntry.created_at), LedgerEntry.transaction_id)
    ).all()
    payout = Payout(
        id=uuid.uuid4(),
        recipient_id=recipient.id,
        amount_cents=amount,
        currency=currency,
        status=PayoutStatus.requested,
        requested_by_id=requested_by.id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(payout)
    db.session.flush()
    rest = amount
    for transaction_id, balance, _ in per_transaction:
        take = min(rest, int(balance))
        if take <= 0:
            break
        rest -= take
        common = {
            "transaction_id": transaction_id,
            "recipient_id": recipient.id,
            "currency": currency,
            "payout_id": payout.id,
            "created_at": now,
        }
        db.session.add(
            LedgerEntry(account=LedgerAccount.earnings, kind=LedgerKind.payout, amount_cents=-take, **common)
        )
        db.session.add(LedgerEntry(account=LedgerAccount.payout, kind=LedgerKind.payout, amount_cents=take, **common))
        db.session.add(
            PayoutTransfer(
                payout_id=payout.id,
                transaction_id=transaction_id,
                amount_cents=take,
                currency=currency,
                status=TransferStatus.pending,
                created_at=now,
                updated_at=now,
            )
        )
    if rest:  # cannot happen while available == the sum of these balances; refuse rather than overpay
        raise RuntimeError(f"payout allocation left {rest} cents unallocated")
    return payout


def request_payout(user: User, *, amount_cents: int | None = None, currency: str | None = None, now: datetime):
    """The person asks to be paid (all their available balance when no amount is given).

    :raise ValidationError: ``not_connected``, ``below_minimum``, ``insufficient_balance``.
    """
    try:
        payout = _request_payout(user, amount_cents=amount_cents, currency=currency, requested_by=user, now=now)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return payout


def create_batch(actor: User, *, include_available: bool, now: datetime) -> PayoutBatch:
    """Gather requested payouts (and, when asked, every connected person's available balance at
    or above the minimum) into a batch for review.

    :raise RuleViolation: nothing to pay.
    """
    if include_available:
        recipients = db.session.scalars(
            sa.select(User)
            .where(User.stripe_account_id.is_not(None), User.stripe_payouts_enabled.is_(True))
            .order_by(User.id)
        ).all()
        for recipient in recipients:
            for balance in balances(recipient.id):
                if balance.available_cents < payout_minimum_cents():
                    continue
                try:
                    _request_payout(
                        recipient, amount_cents=None, currency=balance.currency, requested_by=actor, now=now
                    )
                except ValidationError:
                    continue  # the balance moved since we read it (a request of their own): it waits
    waiting = list(
        db.session.scalars(
            for_update(
                sa.select(Payout)
                .where(Payout.status == PayoutStatus.requested, Payout.batch_id.is_(None))
                .order_by(Payout.id)
            )
        )
    )
    if not waiting:
        db.session.rollback()
        raise RuleViolation("No payouts are waiting: nothing to put in a batch.", code="nothing_to_pay")
    batch = PayoutBatch(id=uuid.uuid4(), status=PayoutBatchStatus.open, created_by_id=actor.id, created_at=now)
    db.session.add(batch)
    db.session.flush()
    for payout in waiting:
        payout.batch_id = batch.id
    db.session.commit()
    return batch


def approve_batch(actor: User, batch_id, *, now: datetime) -> PayoutBatch:
    """Brian approves a batch: its payouts are approved and their transfers made (a job; inline by default).

    :raise NotFound: no such batch.
    :raise Conflict: ``already_approved``.
    """
    uid = parse_uuid(batch_id)
    batch = db.session.scalar(for_update(sa.select(PayoutBatch).where(PayoutBatch.id == uid))) if uid else None
    if batch is None:
        raise NotFound("No such payout batch.")
    if batch.status != PayoutBatchStatus.open:
        db.session.rollback()
        raise Conflict("This batch was already approved.", code="already_approved")
    for payout in db.session.scalars(
        for_update(sa.select(Payout).where(Payout.batch_id == batch.id).order_by(Payout.id))
    ):
        if payout.status == PayoutStatus.requested:
            payout.status = PayoutStatus.approved
            payout.approved_by_id = actor.id
            payout.approved_at = now
    batch.status = PayoutBatchStatus.approved
    batch.approved_by_id = actor.id
    batch.approved_at = now
    db.session.commit()
    jobs.enqueue(process_batch_job, batch.id)
    return batch


def process_batch_job(batch_id: str) -> int:
    from peerloop import clock

    return process_batch(batch_id, now=clock.now())


def process_batch(batch_id, *, now: datetime) -> int:
    """Make the transfers of every approved payout of the batch. Safe to run twice. Returns how many
    payouts it settled."""
    uid = parse_uuid(batch_id)
    payout_ids = db.session.scalars(sa.select(Payout.id).where(Payout.batch_id == uid).order_by(Payout.id)).all()
    db.session.rollback()
    settled = sum(process_payout(payout_id, now=now) for payout_id in payout_ids)
    batch = db.session.scalar(for_update(sa.select(PayoutBatch).where(PayoutBatch.id == uid)))
    if batch is not None and batch.status == PayoutBatchStatus.approved:
        unsettled = db.session.scalar(
            sa.select(sa.func.count(Payout.id)).where(
                Payout.batch_id == uid, Payout.status.in_([PayoutStatus.approved, PayoutStatus.processing])
            )
        )
        if not unsettled:
            batch.status = PayoutBatchStatus.processed
            batch.processed_at = now
    db.session.commit()
    return settled


def _return_to_available(transfer: PayoutTransfer, payout: Payout, cents: int, *, memo: str, now: datetime):
    common = {
        "transaction_id": transfer.transaction_id,
        "recipient_id": payout.recipient_id,
        "currency": transfer.currency,
        "payout_id": payout.id,
        "memo": memo[:300],
        "created_at": now,
    }
    db.session.add(
        LedgerEntry(account=LedgerAccount.payout, kind=LedgerKind.payout_returned, amount_cents=-cents, **common)
    )
    db.session.add(
        LedgerEntry(account=LedgerAccount.earnings, kind=LedgerKind.payout_returned, amount_cents=cents, **common)
    )


def _locked_payout(payout_id) -> Payout | None:
    return db.session.scalar(
        for_update(sa.select(Payout).where(Payout.id == payout_id)).execution_options(populate_existing=True)
    )


def process_payout(payout_id, *, now: datetime) -> bool:
    """Transfer an approved payout, one transfer per source charge. Returns whether it settled it now.

    ``processing`` is committed before any money moves, and each transfer is committed as soon as the
    gateway answers, under the payout's and the transfer's row locks (in that order): a crash midway
    leaves the payout ``processing`` (never taken for unsent by a refund), and a rerun (the sweep's)
    finds the transfers already made by their idempotency keys. A transfer the gateway refuses returns
    its money to available; a time-out leaves it pending for the rerun (it may have gone through). The
    payout is paid for what was transferred (and says so), failed when nothing was.
    """
    payout = _locked_payout(payout_id)
    if payout is None or payout.status not in (PayoutStatus.approved, PayoutStatus.processing):
        db.session.rollback()
        return False
    payout.status = PayoutStatus.processing
    transfer_ids = [t.id for t in sorted(payout.transfers, key=lambda t: t.id) if t.status == TransferStatus.pending]
    db.session.commit()
    for transfer_id in transfer_ids:
        if not _send_transfer(payout_id, transfer_id, now=now):
            return False  # the gateway could not be reached: the sweep tries again
    return _settle_payout(payout_id, now=now)


def _send_transfer(payout_id, transfer_id, *, now: datetime) -> bool:
    """Make one transfer of a processing payout; False when the gateway could not say (retry later)."""
    payout = _locked_payout(payout_id)
    transfer = db.session.scalar(
        for_update(sa.select(PayoutTransfer).where(PayoutTransfer.id == transfer_id)).execution_options(
            populate_existing=True
        )
    )
    if payout is None or payout.status != PayoutStatus.processing or transfer.status != TransferStatus.pending:
        db.session.commit()
        return True
    recipient = db.session.get(User, payout.recipient_id)
    transaction = db.session.get(Transaction, transfer.transaction_id)
    try:
        if not recipient.stripe_account_id or not recipient.stripe_payouts_enabled:
            raise GatewayError("The payout account is not connected any more.")
        made = gateway().create_transfer(
            TransferRequest(
                amount_cents=transfer.amount_cents,
                currency=transfer.currency,
                destination=recipient.stripe_account_id,
                source_transaction=transaction.stripe_charge_id,
                transfer_group=transaction.transfer_group,
                idempotency_key=f"payout-transfer-{transfer.id}",
                metadata={"payout_id": str(payout.id), "transaction_id": str(transaction.id)},
            )
        )
    except GatewayError as error:
        if error.retryable:
            db.session.rollback()
            log.warning("payout %s transfer %s: %s; left for the sweep", payout_id, transfer_id, error.message)
            return False
        transfer.status = TransferStatus.failed
        transfer.failure_message = error.message[:2000]
        _return_to_available(transfer, payout, transfer.amount_cents, memo="transfer failed", now=now)
    else:
        transfer.status = TransferStatus.created
        transfer.stripe_transfer_id = made.id
    db.session.commit()
    return True


def _settle_payout(payout_id, *, now: datetime) -> bool:
    payout = _locked_payout(payout_id)
    if (
        payout is None
        or payout.status != PayoutStatus.processing
        or any(t.status == TransferStatus.pending for t in payout.transfers)
    ):
        db.session.commit()
        return False
    recipient = db.session.get(User, payout.recipient_id)
    failures = [  # a transfer withdrawn because its sale was refunded is no failure
        t.failure_message
        for t in payout.transfers
        if t.status == TransferStatus.failed and t.failure_message and t.amount_cents > 0
    ]
    payout.paid_cents = sum(t.amount_cents for t in payout.transfers if t.status == TransferStatus.created)
    amount = format_money(payout.paid_cents, payout.currency)
    if payout.paid_cents:
        payout.status = PayoutStatus.paid
        payout.paid_at = now
        if failures:
            payout.failure_message = (
                f"Paid {amount} of {format_money(payout.amount_cents, payout.currency)}; the rest is back in the "
                f"available balance: {failures[0].rstrip('.')}."
            )
        notify(
            recipient,
            "payout_sent",
            title=f"Payout sent: {amount}",
            body=(
                f"We sent {amount} to your payout account; your bank usually shows it in 2-7 days."
                + (f" {payout.failure_message}" if failures else "")
            ),
            dedupe_key=f"payout:{payout.id}",
            now=now,
            action_url=site_path("payments.earnings"),
            email_template="payout_sent",
            email_context={"payout": payout},
            commit=False,
        )
    else:
        payout.status = PayoutStatus.failed
        reason = failures[0].rstrip(".") if failures else "no transfers"
        payout.failure_message = f"Unable to process: {reason}. The money is back in the available balance."
        notify(
            recipient,
            "payout_failed",
            title="Your payout could not be sent",
            body=payout.failure_message,
            dedupe_key=f"payout-failed:{payout.id}",
            now=now,
            action_url=site_path("payments.earnings"),
            commit=False,
        )
    db.session.commit()
    return True


def resume_approved_batches(now: datetime) -> int:
    """Sweep step: finish approved batches whose job was lost (Redis down) or whose transfers timed out.
    Safe to run beside the job: every payout and transfer is locked while it moves."""
    ids = db.session.scalars(
        sa.select(PayoutBatch.id).where(PayoutBatch.status == PayoutBatchStatus.approved).order_by(PayoutBatch.id)
    ).all()
    db.session.rollback()
    return sum(process_batch(batch_id, now=now) for batch_id in ids)


# --- dashboard ---------------------------------------------------------------------


def my_enrollments(student_id: uuid.UUID, *, page: int = 1, per_page: int | None = None) -> list[Enrollment]:
    """The student's enrollments, live ones first, newest first (a page of them when ``per_page``)."""
    query = (
        sa.select(Enrollment)
        .where(Enrollment.student_id == student_id)
        .order_by((Enrollment.status == EnrollmentStatus.cancelled).asc(), Enrollment.enrolled_at.desc(), Enrollment.id)
    )
    if per_page:
        query = query.offset((page - 1) * per_page).limit(per_page)
    return list(db.session.scalars(query))


def enrollment_count(student_id: uuid.UUID) -> int:
    return int(db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.student_id == student_id)))


def mark_deferred(student: User, enrollment_id, *, now: datetime) -> Enrollment:
    """Schedule Later: the enrollment waits to book."""
    enrollment = _own_enrollment(student, enrollment_id, lock=True)
    if enrollment.status in (EnrollmentStatus.cancelled, EnrollmentStatus.frozen):
        raise Conflict("This enrollment cannot be scheduled: it has ended or is on hold.", code="not_active")
    if enrollment.deferred_at is None:
        enrollment.deferred_at = now
    db.session.commit()
    return enrollment


@dataclass(frozen=True)
class DashboardRow:
    """One line of My courses: the enrollment, its teacher, progress and the next step."""

    enrollment: Enrollment
    course: Course
    teacher: User | None
    progress: Progress  # enrollment.progress's one rule: "3 of 7 modules done"
    next_step: str
    sessions_used: int = 0
    sessions_upcoming: int = 0

    @property
    def modules_done(self) -> int:
        return self.progress.done

    @property
    def modules_total(self) -> int:
        return self.progress.total

    @property
    def sessions_left(self) -> int:
        return max(0, self.enrollment.session_count - self.sessions_used)

    @property
    def can_book(self) -> bool:
        return (
            # A certified (completed) enrollment keeps its remaining paid sessions.
            self.enrollment.status in _BOOKABLE and self.sessions_left > 0
        )


_BOOKABLE = (EnrollmentStatus.enrolled, EnrollmentStatus.in_progress, EnrollmentStatus.completed)


def _next_step(enrollment: Enrollment, teacher: User | None, counts=None) -> str:
    if enrollment.status == EnrollmentStatus.cancelled:
        return "Ended"
    if enrollment.status == EnrollmentStatus.frozen:
        return "On hold while a payment dispute is open"
    if enrollment.status == EnrollmentStatus.completed:
        left = enrollment.session_count - (counts.used if counts is not None else enrollment.session_count)
        if left > 0:
            return f"You're certified; {left} paid session{'s' if left != 1 else ''} still yours to book"
        return "Nothing: you finished this course"
    if counts is not None and counts.used:
        left = enrollment.session_count - counts.used
        if counts.upcoming:
            return "Your next session is booked" + (f"; {left} more to book" if left > 0 else "")
        if left > 0:
            who = f" with {teacher.name}" if teacher else ""
            return f"Book session {counts.used + 1} of {enrollment.session_count}{who}"
        return "All sessions done: finish the modules for your certificate"
    if teacher is None:
        return "Choose a Student-Teacher and book your first session"
    if enrollment.deferred_at is not None:
        return f"Book your first session with {teacher.name} when you are ready"
    return f"Book your first session with {teacher.name}"


def dashboard_rows(student_id: uuid.UUID, *, page: int = 1, per_page: int | None = None) -> list[DashboardRow]:
    """My courses: live enrollments first, newest first, in five statements whatever their number."""
    enrollments = my_enrollments(student_id, page=page, per_page=per_page)
    if not enrollments:
        return []
    course_ids = {e.course_id for e in enrollments}
    courses = {c.id: c for c in db.session.scalars(sa.select(Course).where(Course.id.in_(course_ids)))}
    teacher_ids = {e.student_teacher_id for e in enrollments if e.student_teacher_id}
    teachers = (
        {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(teacher_ids)))} if teacher_ids else {}
    )
    progress = progress_of([e.id for e in enrollments])
    from peerloop.scheduling.services import session_counts

    counts = session_counts([e.id for e in enrollments])  # the booking rules' count, all at once
    rows = []
    for enrollment in enrollments:
        teacher = teachers.get(enrollment.student_teacher_id)
        rows.append(
            DashboardRow(
                enrollment=enrollment,
                course=courses[enrollment.course_id],
                teacher=teacher,
                progress=progress.get(enrollment.id, NO_PROGRESS),
                next_step=_next_step(enrollment, teacher, counts[enrollment.id]),
                sessions_used=min(counts[enrollment.id].used, enrollment.session_count),
                sessions_upcoming=counts[enrollment.id].upcoming,
            )
        )
    return rows


def earns_here(user: User) -> bool:
    """Whether someone earns here, and so has Earnings and Payouts: a creator, an active
    Student-Teacher of any course, or anyone with money on the ledger (a former S-T keeps the way
    to what they earned)."""
    if user.is_creator:
        return True
    teaches = sa.select(StudentTeacher.id).where(StudentTeacher.user_id == user.id, StudentTeacher.is_active.is_(True))
    earned = sa.select(LedgerEntry.id).where(
        LedgerEntry.recipient_id == user.id, LedgerEntry.account == LedgerAccount.earnings
    )
    return bool(db.session.scalar(sa.select(sa.or_(sa.exists(teaches), sa.exists(earned)))))


def recent_payouts(user_id: uuid.UUID, limit: int = 10) -> list[Payout]:
    return list(
        db.session.scalars(
            sa.select(Payout).where(Payout.recipient_id == user_id).order_by(Payout.created_at.desc()).limit(limit)
        )
    )


def parse_amount(text: str) -> int | None:
    """Currency units as a person types them ("120", "120.5", "1,200.50") → cents, or None."""
    cleaned = text.strip().replace(",", "").lstrip("$€£").strip()
    match = re.fullmatch(r"(\d{1,9})(?:\.(\d{1,2}))?", cleaned)
    if not match:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def payout_overview() -> dict:
    """For Brian's console home: payouts waiting for a batch, and batches waiting for approval."""
    waiting = db.session.execute(
        sa.select(Payout.currency, sa.func.count(Payout.id), sa.func.sum(Payout.amount_cents))
        .where(Payout.status == PayoutStatus.requested, Payout.batch_id.is_(None))
        .group_by(Payout.currency)
        .order_by(Payout.currency)
    ).all()
    open_batches = db.session.scalars(
        sa.select(PayoutBatch).where(PayoutBatch.status == PayoutBatchStatus.open).order_by(PayoutBatch.created_at)
    ).all()
    return {
        "waiting": [(currency, int(count), int(total)) for currency, count, total in waiting],
        "open_batches": list(open_batches),
    }
