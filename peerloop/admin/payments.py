"""Brian's Payments menu at /admin: transactions, the refund tool, payout batches, payouts.

Every change of money goes through ``peerloop.payments.services``; these views
parse the form, call the service, and render. Amounts are shown in currency
units (``templating.money``), times in the viewer's zone (the console's formatters).
"""

from __future__ import annotations

import secrets
import uuid

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from peerloop import clock
from peerloop.accounts.models import User
from peerloop.admin.base import EnumEqualFilter, RoleGate, SecureModelView
from peerloop.db import parse_uuid
from peerloop.enrollment.models import Enrollment
from peerloop.errors import DomainError, NotFound, ValidationError
from peerloop.extensions import db
from peerloop.payments import services
from peerloop.payments.models import (
    LedgerAccount,
    LedgerEntry,
    Payout,
    PayoutBatch,
    PayoutBatchStatus,
    PayoutStatus,
    Refund,
    Transaction,
    TransactionStatus,
)
from peerloop.templating import money

# --- small formatters -------------------------------------------------------------


def _amount(field: str = "amount_cents"):
    """A list/details formatter: the model's ``field`` cents in its currency."""
    return lambda view, context, model, name: money(getattr(model, field), model.currency)


def _person(user: User | None) -> str:
    if user is None:
        return "PeerLoop"
    return f"{user.name} <{user.email}>"


def _person_formatter(attr: str):
    return lambda view, context, model, name: _person(getattr(model, attr))


def _status(view, context, model, name) -> str:
    value = getattr(model, name)
    return value.value.replace("_", " ") if value is not None else ""


def _user_names(ids) -> dict[uuid.UUID, User]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def _recipient(account: LedgerAccount, person: User | None, transaction: Transaction) -> str:
    """Who a ledger row's money belongs to: a person, the student (a refund row), or PeerLoop."""
    if person is not None:
        return _person(person)
    if account == LedgerAccount.refund:
        return f"{_person(transaction.student)} (the student)"
    return "PeerLoop"


# --- transactions -------------------------------------------------------------------


class TransactionView(SecureModelView):
    """Payments received, read-only; the details page shows the ledger rows and the refunds."""

    can_create = False
    can_edit = False
    can_delete = False
    details_template = "admin/payments/transaction_details.html"
    column_list = ["paid_at", "student", "course", "amount_cents", "status", "stripe_payment_id"]
    column_labels = {
        "paid_at": "Paid",
        "student": "Student",
        "student.email": "Student email",
        "course": "Course",
        "course.title": "Course",
        "amount_cents": "Amount",
        "fee_cents": "Provider fee",
        "status": "Status",
        "stripe_payment_id": "Payment id",
        "stripe_charge_id": "Charge id",
        "transfer_group": "Transfer group",
    }
    column_formatters = {
        "student": _person_formatter("student"),
        "course": lambda v, c, m, n: m.course.title,
        "amount_cents": _amount(),
        "fee_cents": lambda v, c, m, n: money(m.fee_cents, m.currency) if m.fee_cents is not None else "not known",
        "status": _status,
    }
    column_formatters_detail = column_formatters
    column_details_list = [
        "paid_at",
        "student",
        "course",
        "amount_cents",
        "fee_cents",
        "status",
        "stripe_payment_id",
        "stripe_charge_id",
        "transfer_group",
    ]
    column_searchable_list = ["student.email"]
    column_filters = [EnumEqualFilter(Transaction.status, "Status", TransactionStatus), "course.title"]
    column_default_sort = ("paid_at", True)
    column_sortable_list = ["paid_at", "amount_cents", "status"]

    def search_placeholder(self):
        return "Student email"

    # used by the details template
    def ledger_rows(self, transaction: Transaction) -> list[dict]:
        rows = db.session.scalars(
            sa.select(LedgerEntry)
            .where(LedgerEntry.transaction_id == transaction.id)
            .order_by(LedgerEntry.created_at, LedgerEntry.id)
        ).all()
        people = _user_names(r.recipient_id for r in rows)
        return [
            {
                "account": r.account.value,
                "kind": r.kind.value.replace("_", " "),
                "recipient": _recipient(r.account, people.get(r.recipient_id), transaction),
                "amount": money(r.amount_cents, r.currency),
                "negative": r.amount_cents < 0,
                "memo": r.memo or "",
                "created_at": r.created_at,
            }
            for r in rows
        ]

    def ledger_total(self, transaction: Transaction) -> str:
        total = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0)).where(
                LedgerEntry.transaction_id == transaction.id
            )
        )
        return money(int(total), transaction.currency)

    def refunds(self, transaction: Transaction) -> list[Refund]:
        return list(
            db.session.scalars(
                sa.select(Refund).where(Refund.transaction_id == transaction.id).order_by(Refund.created_at)
            )
        )


# --- the refund tool ------------------------------------------------------------------


class RefundForm(FlaskForm):
    mode = RadioField(
        "Refund",
        choices=[("full", "Full refund (all that is left)"), ("custom", "Custom amount")],
        default="full",
    )
    amount = StringField("Amount", validators=[Optional(), Length(max=20)])
    ends_enrollment = BooleanField("End the enrollment", default=True)
    clawback = BooleanField("Claw back a royalty already paid out by a transfer reversal", default=False)
    note = TextAreaField("Note (kept with the refund, for PeerLoop only)", validators=[Optional(), Length(max=2000)])
    token = HiddenField()

    def amount_cents(self) -> int | None:
        """None for a full refund; the typed amount in cents; raises ValidationError when unreadable."""
        if self.mode.data != "custom":
            return None
        cents = services.parse_amount(self.amount.data or "")
        if cents is None:
            raise ValidationError(
                "Type the amount in currency units, like 120.50.",
                fields={"amount": "Type the amount in currency units, like 120.50."},
            )
        return cents


def _field_errors(form: RefundForm, error: DomainError) -> None:
    for name, message in (error.fields or {}).items():
        field = getattr(form, name, None) or form.amount
        field.errors = [*field.errors, message]


class RefundToolView(RoleGate, BaseView):
    """/admin/refunds/<enrollment id>: preview what a refund moves, then make it (once per preview)."""

    def is_visible(self) -> bool:
        return False  # reached from a transaction's details page

    @expose("/")
    def index(self):
        return redirect(url_for("console_transactions.index_view"))

    def _target(self, enrollment_id: str):
        uid = parse_uuid(enrollment_id)
        enrollment = db.session.get(Enrollment, uid) if uid else None
        if enrollment is None:
            abort(404)
        return enrollment, services.transaction_of(enrollment.id)

    def _page(self, form, enrollment, transaction, *, plan=None, error=None, status=200):
        rows = []
        if plan is not None:
            people = _user_names(r.recipient_id for r in plan.rows)
            rows = [
                {
                    "account": r.account.value,
                    "kind": r.kind.value.replace("_", " "),
                    "recipient": _recipient(r.account, people.get(r.recipient_id), transaction),
                    "amount": money(r.amount_cents, transaction.currency),
                    "negative": r.amount_cents < 0,
                    "memo": r.memo,
                }
                for r in plan.rows
            ]
        student = db.session.get(User, enrollment.student_id)
        return (
            self.render(
                "admin/payments/refund_tool.html",
                form=form,
                enrollment=enrollment,
                transaction=transaction,
                student=student,
                plan=plan,
                rows=rows,
                error=error,
                money=money,
            ),
            status,
        )

    @expose("/<enrollment_id>/", methods=["GET", "POST"])
    def refund(self, enrollment_id: str):
        enrollment, transaction = self._target(enrollment_id)
        form = RefundForm()
        if request.method == "GET" or transaction is None:
            error = None if transaction else "This enrollment has no payment to refund."
            return self._page(form, enrollment, transaction, error=error)
        if not form.validate_on_submit():
            return self._page(form, enrollment, transaction, error="Check the fields below.", status=400)
        step = request.form.get("step", "preview")
        try:
            cents = form.amount_cents()
            if step == "confirm":
                if not form.token.data:
                    raise ValidationError("Preview the refund first.")
                expected = request.form.get("expected_cents", "")
                refund = services.refund_enrollment(
                    current_user,
                    enrollment.id,
                    amount_cents=cents,
                    expected_refund_cents=int(expected) if expected.isascii() and expected.isdigit() else None,
                    ends_enrollment=form.ends_enrollment.data,
                    clawback=form.clawback.data,
                    note=form.note.data,
                    idempotency_key=form.token.data,
                    now=clock.now(),
                )
                flash(f"Refunded {money(refund.amount_cents, refund.currency)}.", "success")
                return redirect(url_for("console_transactions.details_view", id=refund.transaction_id))
            plan = services.preview_refund(
                enrollment.id,
                amount_cents=cents,
                clawback=form.clawback.data,
                ends_enrollment=form.ends_enrollment.data,
            )
        except NotFound:
            abort(404)
        except DomainError as error:  # ValidationError, Conflict, RuleViolation, ProviderUnavailable
            db.session.rollback()
            _field_errors(form, error)
            transaction = services.transaction_of(enrollment.id)
            return self._page(form, enrollment, transaction, error=error.message, status=400)
        form.token.data = secrets.token_urlsafe(16)
        return self._page(form, enrollment, transaction, plan=plan)


# --- payout batches ----------------------------------------------------------------------


def _totals(payouts) -> str:
    per: dict[str, int] = {}
    for p in payouts:
        per[p.currency] = per.get(p.currency, 0) + p.amount_cents
    return ", ".join(money(cents, currency) for currency, cents in sorted(per.items())) or "nothing"


class NewBatchForm(FlaskForm):
    include_available = BooleanField(
        "Also include every available balance at or above the minimum of connected recipients", default=True
    )


class ApproveForm(FlaskForm):
    pass


class PayoutBatchView(SecureModelView):
    """A week's payouts: gather them (New batch), review the batch, approve and pay."""

    can_create = False
    can_edit = False
    can_delete = False
    list_template = "admin/payments/batch_list.html"
    details_template = "admin/payments/batch_details.html"
    column_list = ["created_at", "status", "payout_count", "total", "approved_by", "approved_at"]
    column_details_list = ["created_at", "status", "payout_count", "total", "created_by", "approved_by", "approved_at"]
    column_labels = {
        "created_at": "Created",
        "status": "Status",
        "payout_count": "Payouts",
        "total": "Total",
        "created_by": "Created by",
        "approved_by": "Approved by",
        "approved_at": "Approved",
        "processed_at": "Processed",
    }
    column_formatters = {
        "status": _status,
        "payout_count": lambda v, c, m, n: len(m.payouts),
        "total": lambda v, c, m, n: _totals(m.payouts),
        "created_by": lambda v, c, m, n: m.created_by.name,
        "approved_by": lambda v, c, m, n: m.approved_by.name if m.approved_by else "",
    }
    column_formatters_detail = column_formatters
    column_filters = [EnumEqualFilter(PayoutBatch.status, "Status", PayoutBatchStatus)]
    column_default_sort = ("created_at", True)
    column_sortable_list = ["created_at", "status", "approved_at"]

    def new_batch_form(self) -> NewBatchForm:
        return NewBatchForm(formdata=None)

    def approve_form(self) -> ApproveForm:
        return ApproveForm(formdata=None)

    def batch_payouts(self, batch: PayoutBatch) -> list[Payout]:
        return list(
            db.session.scalars(
                sa.select(Payout).where(Payout.batch_id == batch.id).order_by(Payout.created_at, Payout.id)
            )
        )

    @expose("/create/", methods=["POST"])
    def create_batch(self):
        form = NewBatchForm()
        if not form.validate_on_submit():
            flash("The form expired. Try again.", "error")
            return redirect(self.get_url(".index_view"))
        try:
            batch = services.create_batch(current_user, include_available=form.include_available.data, now=clock.now())
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(self.get_url(".index_view"))
        flash(f"Batch created with {len(batch.payouts)} payout(s). Review it, then approve.", "success")
        return redirect(self.get_url(".details_view", id=batch.id))

    @expose("/approve/", methods=["POST"])
    def approve(self):
        form = ApproveForm()
        batch_id = request.form.get("id", "")
        back = self.get_url(".details_view", id=batch_id) if parse_uuid(batch_id) else self.get_url(".index_view")
        if not form.validate_on_submit():
            flash("The form expired. Try again.", "error")
            return redirect(back)
        try:
            batch = services.approve_batch(current_user, batch_id, now=clock.now())
        except NotFound:
            abort(404)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(back)
        db.session.expire_all()
        batch = db.session.get(PayoutBatch, batch.id)
        paid = sum(1 for p in batch.payouts if p.status == PayoutStatus.paid)
        if paid == len(batch.payouts):
            flash(f"Batch approved and paid: {paid} payout(s).", "success")
        else:
            flash(f"Batch approved: {paid} of {len(batch.payouts)} payout(s) paid so far; the rest follow.", "success")
        return redirect(back)


# --- payouts -------------------------------------------------------------------------------


class PayoutView(SecureModelView):
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["created_at", "recipient", "amount_cents", "currency", "status", "paid_cents", "paid_at", "batch"]
    column_details_list = [
        "created_at",
        "recipient",
        "amount_cents",
        "currency",
        "status",
        "paid_cents",
        "paid_at",
        "approved_at",
        "failure_message",
        "batch",
    ]
    column_labels = {
        "created_at": "Requested",
        "recipient": "Recipient",
        "recipient.email": "Recipient email",
        "amount_cents": "Amount",
        "currency": "Currency",
        "status": "Status",
        "paid_cents": "Paid",
        "paid_at": "Paid at",
        "approved_at": "Approved",
        "failure_message": "Problem",
        "batch": "Batch",
    }
    column_formatters = {
        "recipient": _person_formatter("recipient"),
        "amount_cents": _amount(),
        "paid_cents": _amount("paid_cents"),
        "status": _status,
        "batch": lambda v, c, m, n: (
            Markup('<a href="{}">Batch</a>').format(url_for("console_payout_batches.details_view", id=m.batch_id))
            if m.batch_id
            else ""
        ),
        "failure_message": lambda v, c, m, n: escape(m.failure_message or ""),
    }
    column_formatters_detail = column_formatters
    column_filters = [EnumEqualFilter(Payout.status, "Status", PayoutStatus)]
    column_searchable_list = ["recipient.email"]
    column_default_sort = ("created_at", True)
    column_sortable_list = ["created_at", "amount_cents", "status", "paid_at"]
