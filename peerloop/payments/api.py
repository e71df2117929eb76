"""The payments JSON API: checkout, enrollments, refunds, Connect, earnings, payouts (API.md)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.accounts.serializers import iso
from peerloop.api import json_body, page_args, paginated
from peerloop.errors import Forbidden, ValidationError
from peerloop.payments import services

bp = Blueprint("payments_api", __name__)


def _optional_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number of cents.", fields={name: "A whole number of cents."})
    return value


def _optional_str(data: dict, name: str, limit: int = 2000) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(f"{name} must be text of at most {limit} characters.", fields={name: "Invalid."})
    return value


def _earner():
    if not services.earns_here(current_user):
        raise Forbidden("Only Student-Teachers and creators earn and get paid.")


@bp.post("/checkout/session")
@login_required
def checkout_session():
    data = json_body()
    course_id = _optional_str(data, "course_id", 64)
    if not course_id:
        raise ValidationError("Say which course to buy.", fields={"course_id": "Required."})
    checkout = services.start_checkout(
        current_user,
        course_id,
        student_teacher_id=_optional_str(data, "student_teacher_id", 64),
        schedule_later=not data.get("student_teacher_id"),
        start=_optional_str(data, "start", 40),
        idempotency_key=request.headers.get("Idempotency-Key"),
        now=clock.now(),
    )
    return jsonify(checkout_url=checkout.checkout_url, id=checkout.gateway_session_id), 201


def enrollment_json(row: services.DashboardRow) -> dict:
    e = row.enrollment
    return {
        "id": str(e.id),
        "course": {"id": str(row.course.id), "slug": row.course.slug, "title": row.course.title},
        "status": e.status.value,
        "student_teacher_id": str(e.student_teacher_id) if e.student_teacher_id else None,
        "price_cents": e.price_cents,
        "currency": e.currency,
        "session_count": e.session_count,
        "sessions_used": row.sessions_used,
        "modules_done": row.modules_done,
        "modules_total": row.modules_total,
        "enrolled_at": iso(e.enrolled_at),
        "deferred": e.deferred_at is not None,
        "next_step": row.next_step,
    }


@bp.get("/enrollments")
@login_required
def enrollments():
    page, per_page = page_args(request.args)
    rows = services.dashboard_rows(current_user.id, page=page, per_page=per_page)
    return paginated(
        [{**enrollment_json(row), "progress": row.progress.as_json()} for row in rows],
        page=page,
        per_page=per_page,
        total=services.enrollment_count(current_user.id),
    )


@bp.post("/enrollments/<enrollment_id>/deferred")
@login_required
def deferred(enrollment_id: str):
    enrollment = services.mark_deferred(current_user, enrollment_id, now=clock.now())
    return jsonify(id=str(enrollment.id), deferred_at=iso(enrollment.deferred_at))


@bp.get("/enrollments/<enrollment_id>/refund-quote")
@login_required
def refund_quote(enrollment_id: str):
    quote = services.cancel_quote(current_user, enrollment_id)
    return jsonify(
        refund_cents=quote.quote.total_cents,
        currency=quote.enrollment.currency,
        delivered_sessions=quote.delivered_sessions,
        session_count=quote.enrollment.session_count,
    )


@bp.post("/enrollments/<enrollment_id>/cancel")
@login_required
def cancel(enrollment_id: str):
    data = json_body() if request.data else {}
    refund = services.cancel_enrollment(
        current_user,
        enrollment_id,
        reason=_optional_str(data, "reason"),
        expected_refund_cents=_optional_int(data, "expected_refund_cents"),
        now=clock.now(),
    )
    return jsonify(refund_cents=refund.amount_cents if refund else 0, currency=refund.currency if refund else None)


@bp.post("/payments/connect/onboard")
@login_required
def connect_onboard():
    _earner()
    return jsonify(url=services.start_onboarding(current_user, now=clock.now()))


@bp.get("/payments/connect/status")
@login_required
def connect_status():
    _earner()
    return jsonify(services.connect_status(current_user))


def _balance_json(balance: services.Balance) -> dict:
    return {
        "currency": balance.currency,
        "held_cents": balance.held_cents,
        "available_cents": balance.available_cents,
        "paid_cents": balance.paid_cents,
        "in_payout_cents": balance.in_payout_cents,
    }


@bp.get("/me/earnings")
@login_required
def earnings():
    _earner()
    balances = services.balances(current_user.id)
    body = _balance_json(balances[0])
    if len(balances) > 1:
        body["by_currency"] = [_balance_json(b) for b in balances]
    body["lines"] = [{**line, "at": iso(line["at"])} for line in services.earning_lines(current_user.id, limit=100)]
    return jsonify(body)


@bp.post("/payouts/request")
@login_required
def payout_request():
    _earner()
    data = json_body() if request.data else {}
    payout = services.request_payout(
        current_user,
        amount_cents=_optional_int(data, "amount_cents"),
        currency=_optional_str(data, "currency", 3),
        now=clock.now(),
    )
    return jsonify(
        id=str(payout.id), amount_cents=payout.amount_cents, currency=payout.currency, status=payout.status.value
    ), 201
