"""Pages: enroll and pay, My courses, leaving a course, payout settings, earnings, the sandbox's pages."""

from __future__ import annotations

import contextlib
import csv
import io

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.catalog import services as catalog
from peerloop.errors import Conflict, DomainError, NotFound, ProviderUnavailable, RuleViolation
from peerloop.payments import sandbox, services
from peerloop.payments.interfaces import GatewayError
from peerloop.payments.models import CheckoutStatus
from peerloop.templating import money
from peerloop.timezones import zone_for

bp = Blueprint("payments", __name__)


def _course_or_404(slug: str):
    course = catalog.get_course(slug, viewer=current_user)
    if course is None or not course.is_active:
        abort(404)
    return course


def _teacher_arg(value: str | None) -> tuple[str | None, bool]:
    """The Enroll box's choice: a teacher's id, or "later" (Schedule Later, the default)."""
    if not value or value == "later":
        return None, True
    return value, False


# --- enroll and pay --------------------------------------------------------------


@bp.get("/courses/<slug>/enroll")
def enroll_confirm(slug: str):
    """The step between the course page and paying, for someone who had to sign up or log in first."""
    course = _course_or_404(slug)
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.signup", next=request.full_path.rstrip("?")))
    if services.live_enrollment(current_user.id, course.id) is not None:
        flash(f"You are already enrolled in {course.title}.", "info")
        return redirect(url_for("payments.dashboard"))
    teacher_id, _ = _teacher_arg(request.args.get("teacher"))
    teachers = catalog.course_teachers(course)
    chosen = next((card for card in teachers if str(card.user.id) == teacher_id), None)
    start = _held_start(request.args.get("start")) if chosen else None
    return render_template(
        "payments/enroll.html",
        course=course,
        teachers=teachers,
        chosen=chosen,
        start=start,
        hold_minutes=current_app.config.get("CHECKOUT_EXPIRES_MINUTES", 60),
        problem=services.publish_problem(course),
    )


def _held_start(value: str | None):
    """The time picked on the course page or the day view, when it is one."""
    from peerloop.scheduling.services import parse_instant

    try:
        return parse_instant(value) if value else None
    except DomainError:
        return None


@bp.post("/courses/<slug>/enroll")
@login_required
def enroll(slug: str):
    course = _course_or_404(slug)
    teacher_id, later = _teacher_arg(request.form.get("teacher"))
    start = request.form.get("start") if teacher_id else None
    try:
        checkout = services.start_checkout(
            current_user,
            course.id,
            student_teacher_id=teacher_id,
            schedule_later=later,
            start=start or None,
            now=clock.now(),
        )
    except Conflict as error:
        if error.code == "slot_unavailable":  # taken since it was picked: pick another on the day view
            flash(error.message, "error")
            return redirect(url_for("scheduling.schedule", slug=course.slug), code=303)
        flash(error.message, "info")
        return redirect(url_for("payments.dashboard"))
    except RuleViolation as error:
        if start and error.code in ("too_soon", "too_far", "outside_availability"):
            flash(error.message, "error")
            return redirect(url_for("scheduling.schedule", slug=course.slug), code=303)
        flash(error.message, "error")
        return redirect(url_for("catalog.course", slug=course.slug)), 303
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("catalog.course", slug=course.slug)), 303
    return redirect(checkout.checkout_url, code=303)


@bp.get("/checkout/return")
@login_required
def checkout_return():
    """Where the gateway sends the buyer after paying: complete now if the webhook has not yet."""
    session_id = request.args.get("session_id", "")
    checkout = services.checkout_by_session_id(session_id)
    if checkout is None or checkout.student_id != current_user.id:
        abort(404)
    with contextlib.suppress(ProviderUnavailable):  # the webhook completes it; the waiting page says so
        checkout = services.confirm_return(session_id, now=clock.now())
    if checkout.status == CheckoutStatus.completed:
        from peerloop.scheduling.models import SessionStatus
        from peerloop.scheduling.services import SLOT_TAKEN, held_session

        enrolled = f"You're enrolled in {checkout.course.title}. A receipt is on its way to {current_user.email}."
        hold = held_session(checkout.id)
        if hold is not None and hold.status == SessionStatus.scheduled:
            flash(enrolled + " Your first session is booked.", "success")
            return redirect(url_for("scheduling.session_page", session_id=hold.id, booked=1))
        if hold is not None:  # the held time lapsed and was taken meanwhile: the enrollment stands
            flash(f"{enrolled} {SLOT_TAKEN}", "error")
            return redirect(url_for("scheduling.schedule", slug=checkout.course.slug))
        flash(enrolled, "success")
        return redirect(url_for("payments.dashboard"))
    return render_template("payments/confirming.html", checkout=checkout), 202


@bp.get("/checkout/cancelled/<slug>")
def checkout_cancelled(slug: str):
    flash("Checkout cancelled: you were not charged.", "info")
    return redirect(url_for("catalog.course", slug=slug))


# --- My courses ------------------------------------------------------------------


@bp.get("/dashboard")
@login_required
def dashboard():
    from peerloop.certification.deactivation import pending_changes
    from peerloop.certification.services import flywheel_steps, teaching_courses
    from peerloop.scheduling import requests as session_requests
    from peerloop.scheduling.services import student_sessions

    rows = services.dashboard_rows(current_user.id)
    return render_template(
        "payments/dashboard.html",
        rows=rows,
        teaching_courses=teaching_courses(current_user),
        steps=flywheel_steps([row.enrollment for row in rows], now=clock.now()),
        teacher_changes=pending_changes(current_user),
        sessions=student_sessions(current_user, now=clock.now()),
        requests=session_requests.requests_for(current_user, role="student", limit=20),
    )


@bp.post("/enrollments/<enrollment_id>/deferred")
@login_required
def schedule_later(enrollment_id: str):
    try:
        services.mark_deferred(current_user, enrollment_id, now=clock.now())
    except NotFound:
        abort(404)
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash("Noted: book your first session whenever you are ready.", "success")
    return redirect(url_for("payments.dashboard"))


@bp.route("/enrollments/<enrollment_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(enrollment_id: str):
    try:
        quote = services.cancel_quote(current_user, enrollment_id)
    except NotFound:
        abort(404)
    except Conflict as error:
        flash(error.message, "info")
        return redirect(url_for("payments.dashboard"))
    if request.method == "POST":
        expected = request.form.get("expected_refund_cents", "")
        try:
            refund = services.cancel_enrollment(
                current_user,
                enrollment_id,
                reason=request.form.get("reason"),
                expected_refund_cents=int(expected) if expected.isascii() and expected.isdigit() else -1,
                now=clock.now(),
            )
        except Conflict as error:
            flash(error.message, "error")
            return redirect(url_for("payments.cancel", enrollment_id=enrollment_id))
        except DomainError as error:
            flash(error.message, "error")
            return redirect(url_for("payments.cancel", enrollment_id=enrollment_id))
        if refund:
            flash(
                f"You left the course. {money(refund.amount_cents, refund.currency)} is on its way back to your card.",
                "success",
            )
        else:
            flash("You left the course.", "success")
        return redirect(url_for("payments.dashboard"))
    return render_template("payments/cancel.html", quote=quote, course=quote.enrollment.course)


# --- payout settings (Connect) ---------------------------------------------------


def earns_money() -> bool:
    """Whether the viewer earns here (``services.earns_here``): they get Earnings and Payouts."""
    return bool(current_user.is_authenticated and services.earns_here(current_user))


@bp.app_context_processor
def _payment_globals() -> dict:
    return {"earns_money": earns_money}  # a function: pages that never ask pay no query


def _earner_required():
    if not earns_money():
        abort(403)


@bp.get("/settings/payouts")
@login_required
def payout_settings():
    _earner_required()
    return render_template("payments/payout_settings.html", status=services.connect_status(current_user))


def _to_onboarding():
    """Off to the payment provider's onboarding, with a fresh link (they are single-use and expire)."""
    _earner_required()
    try:
        url = services.start_onboarding(current_user, now=clock.now())
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("payments.payout_settings"))
    return redirect(url, code=303)


@bp.post("/settings/payouts/connect")
@login_required
def connect_start():
    return _to_onboarding()


@bp.get("/settings/payouts/connect/return")
@login_required
def connect_return():
    flash("Thanks: your payout account updates as soon as the payment provider confirms it.", "info")
    return redirect(url_for("payments.payout_settings"))


@bp.get("/settings/payouts/connect/refresh")
@login_required
def connect_refresh():
    """Where Stripe sends someone whose link expired or was used."""
    return _to_onboarding()


# --- earnings --------------------------------------------------------------------


@bp.get("/earnings")
@login_required
def earnings():
    _earner_required()
    now = clock.now()
    balances = services.balances(current_user.id)
    main = balances[0]
    months = services.monthly_earnings(
        current_user.id, main.currency, tz=zone_for(current_user.timezone), months=12, now=now
    )
    return render_template(
        "payments/earnings.html",
        balances=balances,
        main=main,
        months=months,
        peak=max([cents for _, cents in months] + [1]),
        month_names=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        lines=services.earning_lines(current_user.id, limit=50),
        status=services.connect_status(current_user),
        minimum_cents=services.payout_minimum_cents(),
        payouts=services.recent_payouts(current_user.id),
    )


@bp.get("/earnings.csv")
@login_required
def earnings_csv():
    _earner_required()
    tz = zone_for(current_user.timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "what", "course", "amount", "currency"])
    for line in services.earning_lines(current_user.id, limit=None):
        writer.writerow(
            [
                line["at"].astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                line["label"],
                _csv_safe(line["course"]["title"]),
                f"{line['amount_cents'] / 100:.2f}",
                line["currency"],
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="peerloop-earnings.csv"'},
    )


def _csv_safe(text: str) -> str:
    """No spreadsheet formulas from a course title."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.post("/earnings/payout")
@login_required
def payout_request():
    _earner_required()
    raw = (request.form.get("amount") or "").strip()
    amount_cents = None
    if raw:
        amount_cents = services.parse_amount(raw)
        if amount_cents is None:
            flash("Enter an amount such as 120.50.", "error")
            return redirect(url_for("payments.earnings"))
    try:
        payout = services.request_payout(
            current_user, amount_cents=amount_cents, currency=request.form.get("currency") or None, now=clock.now()
        )
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(
            f"Payout of {money(payout.amount_cents, payout.currency)} requested: it goes out with this week's batch.",
            "success",
        )
    return redirect(url_for("payments.earnings"))


# --- the sandbox gateway's own pages ------------------------------------------------


def _sandbox_only():
    if current_app.config["PAYMENT_GATEWAY"] != "sandbox":
        abort(404)


@bp.get("/sandbox/checkout/<session_id>")
def sandbox_checkout(session_id: str):
    _sandbox_only()
    session = sandbox.open_session(session_id)
    if session is None:
        abort(404)
    from peerloop.scheduling.models import SessionStatus
    from peerloop.scheduling.services import held_session

    checkout = services.checkout_by_session_id(session_id)
    hold = held_session(checkout.id) if checkout else None
    held = hold if hold is not None and hold.status == SessionStatus.held else None
    return render_template("payments/sandbox_checkout.html", session=session, held=held)


@bp.post("/sandbox/checkout/<session_id>/pay")
def sandbox_pay(session_id: str):
    _sandbox_only()
    if sandbox.open_session(session_id) is None:
        abort(404)
    try:
        target = sandbox.pay(session_id, now=clock.now())
    except GatewayError as error:
        flash(error.message, "error")
        return redirect(url_for("payments.sandbox_checkout", session_id=session_id))
    return redirect(target, code=303)


@bp.post("/sandbox/checkout/<session_id>/cancel")
def sandbox_cancel(session_id: str):
    _sandbox_only()
    if sandbox.open_session(session_id) is None:
        abort(404)
    return redirect(sandbox.cancel_url(session_id), code=303)


@bp.get("/sandbox/connect/<link_id>")
@login_required
def sandbox_onboarding(link_id: str):
    _sandbox_only()
    link = sandbox.onboarding_link(link_id)
    if link is None or link.get("user_id") != str(current_user.id):
        abort(404)
    return render_template("payments/sandbox_onboarding.html", link=link)


@bp.post("/sandbox/connect/<link_id>")
@login_required
def sandbox_onboarding_submit(link_id: str):
    _sandbox_only()
    link = sandbox.onboarding_link(link_id)
    if link is None or link.get("user_id") != str(current_user.id):
        abort(404)
    target = sandbox.finish_onboarding(link_id, payouts=request.form.get("payouts") != "off", now=clock.now())
    return redirect(target, code=303)
