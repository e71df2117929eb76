"""Money as rows: checkouts, transactions, the ledger (payment_splits), refunds, disputes, payouts.

The ledger is append-only. Each row moves signed cents into one *account* of one
transaction; for every transaction the rows sum exactly to the amount paid:

- ``platform``: the platform's share (and, negative, what it absorbs or pays Stripe);
- ``pool``: the teaching pool held until sessions are delivered;
- ``earnings``: a person's available money (royalty, released teaching shares), per recipient;
- ``payout``: money sent (or being sent) to a person's connected account;
- ``refund``: money returned to the student;
- ``fees``: Stripe's fee, when known (the platform's cost).

Balances are sums of these rows, never a counter: a person's available balance
is the sum of their ``earnings`` rows, what they were paid the sum of their
``payout`` rows of paid payouts.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.db import CreatedAt, Timestamps, UTCDateTime, UUIDPrimaryKey, business_now, enum_column
from peerloop.enrollment.models import Enrollment
from peerloop.extensions import db


def transfer_group_for(checkout_id) -> str:
    """The Stripe transfer_group of a checkout's charge, which its payouts' transfers carry."""
    return f"checkout_{checkout_id}"


class CheckoutStatus(enum.StrEnum):
    open = "open"
    completed = "completed"
    expired = "expired"


class Checkout(UUIDPrimaryKey, Timestamps, db.Model):
    """A pending purchase: one gateway Checkout Session. The Enrollment exists only once it is paid."""

    __tablename__ = "checkouts"
    __table_args__ = (
        # One open checkout per student and course: a second Enroll reuses it.
        sa.Index(
            "uq_checkouts_student_course_open",
            "student_id",
            "course_id",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.UniqueConstraint("student_id", "idempotency_key"),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.CheckConstraint("session_count >= 1", name="session_count_positive"),
    )

    gateway: Mapped[str] = mapped_column(sa.String(20))  # stripe | sandbox
    gateway_session_id: Mapped[str] = mapped_column(sa.String(255), unique=True)  # cs_…
    checkout_url: Mapped[str] = mapped_column(sa.String(2000))
    student_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    student_teacher_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    schedule_later: Mapped[bool] = mapped_column(default=False)
    # The snapshot the enrollment will take: later course edits change nothing sold.
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    session_count: Mapped[int]
    status: Mapped[CheckoutStatus] = mapped_column(
        enum_column(CheckoutStatus, "checkout_status"), default=CheckoutStatus.open, index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enrollments.id"))

    student: Mapped[User] = relationship(foreign_keys=[student_id])
    student_teacher: Mapped[User | None] = relationship(foreign_keys=[student_teacher_id])
    course: Mapped[Course] = relationship()
    enrollment: Mapped[Enrollment | None] = relationship()

    @property
    def transfer_group(self) -> str:
        return transfer_group_for(self.id)


class TransactionStatus(enum.StrEnum):
    completed = "completed"
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    disputed = "disputed"  # a chargeback is open
    charged_back = "charged_back"  # the dispute was lost


class Transaction(UUIDPrimaryKey, Timestamps, db.Model):
    """A payment received: one paid checkout."""

    __tablename__ = "transactions"
    __table_args__ = (sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),)

    checkout_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("checkouts.id"), unique=True)
    # None for a duplicate purchase (a second tab) that was refunded at once.
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    stripe_payment_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)  # pi_…
    stripe_charge_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)  # ch_…
    transfer_group: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    fee_cents: Mapped[int | None]
    status: Mapped[TransactionStatus] = mapped_column(
        enum_column(TransactionStatus, "transaction_status"), default=TransactionStatus.completed, index=True
    )
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=business_now)

    checkout: Mapped[Checkout] = relationship()
    enrollment: Mapped[Enrollment | None] = relationship()
    student: Mapped[User] = relationship(foreign_keys=[student_id])
    course: Mapped[Course] = relationship()


class LedgerAccount(enum.StrEnum):
    platform = "platform"
    pool = "pool"
    earnings = "earnings"
    payout = "payout"
    refund = "refund"
    fees = "fees"


class LedgerKind(enum.StrEnum):
    """Why a row moved money (the seed's recipient_type, made explicit)."""

    platform_share = "platform_share"
    creator_royalty = "creator_royalty"
    teaching_pool = "teaching_pool"
    teaching_release = "teaching_release"  # pool → the session's teacher (S-T, or the creator: 85%)
    refund = "refund"
    absorbed = "absorbed"  # a refunded part already paid out that the person's balance could not cover
    clawback = "clawback"  # taken back from a connected account by a transfer reversal
    stripe_fee = "stripe_fee"
    payout = "payout"
    payout_returned = "payout_returned"  # a failed or reversed transfer: back to available
    chargeback = "chargeback"
    forfeited = "forfeited"  # an ended enrollment's unused pool that a partial refund did not return


class LedgerEntry(UUIDPrimaryKey, CreatedAt, db.Model):
    """One movement of money. Append-only: corrections are new rows."""

    __tablename__ = "payment_splits"
    __table_args__ = (
        # A delivered session releases its teaching share once.
        sa.Index(
            "uq_payment_splits_release_session",
            "session_id",
            unique=True,
            sqlite_where=sa.text("kind = 'teaching_release' AND account = 'earnings'"),
            postgresql_where=sa.text("kind = 'teaching_release' AND account = 'earnings'"),
        ),
        sa.Index("ix_payment_splits_recipient_account", "recipient_id", "account", "currency"),
    )

    transaction_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("transactions.id"), index=True)
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    account: Mapped[LedgerAccount] = mapped_column(enum_column(LedgerAccount, "ledger_account"))
    kind: Mapped[LedgerKind] = mapped_column(enum_column(LedgerKind, "ledger_kind"))
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))  # None: the platform
    amount_cents: Mapped[int]  # signed
    currency: Mapped[str] = mapped_column(sa.String(3))
    percentage: Mapped[int | None]  # 15, 15, 70 (or 85) on the split rows
    session_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sessions.id"), index=True)
    refund_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("refunds.id"), index=True)
    payout_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("payouts.id"), index=True)
    memo: Mapped[str | None] = mapped_column(sa.String(300))

    transaction: Mapped[Transaction] = relationship()
    recipient: Mapped[User | None] = relationship()


class InstructorFollower(UUIDPrimaryKey, CreatedAt, db.Model):
    """Someone who bought a course from this creator: it opens the instructor's feed to them."""

    __tablename__ = "instructor_followers"
    __table_args__ = (sa.UniqueConstraint("instructor_id", "follower_id"),)

    instructor_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    follower_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    first_enrollment_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RefundReason(enum.StrEnum):
    student_cancel = "student_cancel"
    admin = "admin"
    duplicate = "duplicate"  # a second paid checkout for a course already held
    external = "external"  # made outside PeerLoop (the Stripe dashboard), seen in charge.refunded
    chargeback = "chargeback"  # a lost dispute: no refund call, the bank took it


class RefundStatus(enum.StrEnum):
    succeeded = "succeeded"
    pending = "pending"
    failed = "failed"


class Refund(UUIDPrimaryKey, CreatedAt, db.Model):
    """Money returned to a student, part by part: each part is exactly what its ledger rows reverse."""

    __tablename__ = "refunds"
    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)

    transaction_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("transactions.id"), index=True)
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    pool_cents: Mapped[int] = mapped_column(default=0)
    platform_cents: Mapped[int] = mapped_column(default=0)
    creator_cents: Mapped[int] = mapped_column(default=0)
    absorbed_cents: Mapped[int] = mapped_column(default=0)  # paid-out royalty the platform covered
    clawed_back_cents: Mapped[int] = mapped_column(default=0)  # taken back by transfer reversals
    reason: Mapped[RefundReason] = mapped_column(enum_column(RefundReason, "refund_reason"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    ends_enrollment: Mapped[bool] = mapped_column(default=True)
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus, "refund_status"), default=RefundStatus.succeeded
    )
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    # The gateway call's key: a repeated submit finds this row instead of refunding twice.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    transaction: Mapped[Transaction] = relationship()
    enrollment: Mapped[Enrollment | None] = relationship()
    requested_by: Mapped[User | None] = relationship()


class DisputeStatus(enum.StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


class Dispute(UUIDPrimaryKey, Timestamps, db.Model):
    """A chargeback: the enrollment is frozen while it is open."""

    __tablename__ = "disputes"

    transaction_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("transactions.id"), index=True)
    stripe_dispute_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    amount_cents: Mapped[int]
    reason: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[DisputeStatus] = mapped_column(enum_column(DisputeStatus, "dispute_status"))
    # What the enrollment was before it froze, to put back when the dispute is won.
    enrollment_status_before: Mapped[str | None] = mapped_column(sa.String(32))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    transaction: Mapped[Transaction] = relationship()


class PayoutBatchStatus(enum.StrEnum):
    open = "open"  # gathered, waiting for Brian's review
    approved = "approved"
    processed = "processed"


class PayoutBatch(UUIDPrimaryKey, CreatedAt, db.Model):
    """A week's payouts, reviewed and approved together."""

    __tablename__ = "payout_batches"

    status: Mapped[PayoutBatchStatus] = mapped_column(
        enum_column(PayoutBatchStatus, "payout_batch_status"), default=PayoutBatchStatus.open
    )
    created_by_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    payouts: Mapped[list[Payout]] = relationship(back_populates="batch", order_by="Payout.created_at")


class PayoutStatus(enum.StrEnum):
    requested = "requested"
    approved = "approved"
    processing = "processing"
    paid = "paid"
    failed = "failed"


class Payout(UUIDPrimaryKey, Timestamps, db.Model):
    """Money sent to one person's connected account: one transfer per source charge."""

    __tablename__ = "payouts"
    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)

    recipient_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    amount_cents: Mapped[int]
    paid_cents: Mapped[int] = mapped_column(default=0)  # what the transfers actually moved
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[PayoutStatus] = mapped_column(
        enum_column(PayoutStatus, "payout_status"), default=PayoutStatus.requested, index=True
    )
    batch_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("payout_batches.id"), index=True)
    requested_by_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_message: Mapped[str | None] = mapped_column(sa.Text)

    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id])
    batch: Mapped[PayoutBatch | None] = relationship(back_populates="payouts")
    transfers: Mapped[list[PayoutTransfer]] = relationship(
        back_populates="payout", order_by="PayoutTransfer.created_at"
    )


class TransferStatus(enum.StrEnum):
    pending = "pending"
    created = "created"
    failed = "failed"
    reversed = "reversed"


class PayoutTransfer(UUIDPrimaryKey, Timestamps, db.Model):
    """One gateway transfer of a payout, drawing on one source charge (``source_transaction``)."""

    __tablename__ = "payout_transfers"
    __table_args__ = (sa.UniqueConstraint("payout_id", "transaction_id"),)

    payout_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("payouts.id"), index=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("transactions.id"), index=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[TransferStatus] = mapped_column(
        enum_column(TransferStatus, "payout_transfer_status"), default=TransferStatus.pending
    )
    stripe_transfer_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    reversed_cents: Mapped[int] = mapped_column(default=0)
    failure_message: Mapped[str | None] = mapped_column(sa.Text)

    payout: Mapped[Payout] = relationship(back_populates="transfers")
    transaction: Mapped[Transaction] = relationship()


class SandboxObject(db.Model):
    """The sandbox gateway's own records (checkout sessions, payments, accounts, transfers):
    what Stripe's database holds in production. Never read by the domain code."""

    __tablename__ = "sandbox_objects"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)  # cs_sandbox_…, acct_sandbox_…
    kind: Mapped[str] = mapped_column(sa.String(40))
    data: Mapped[dict] = mapped_column(sa.JSON)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=business_now)
