"""The booking pages: the day view, the confirm step, the session page (cancel, move, add to
calendar), session requests, and the private calendar feed.

From the course page: Schedule Session → (pick a day) → a time → Confirm: at most four clicks.
A visitor who has not bought the course clicks a time too: it is held through checkout.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.accounts.access import safe_next
from peerloop.catalog import services as catalog
from peerloop.errors import DomainError, ValidationError
from peerloop.payments.services import live_enrollment
from peerloop.scheduling import feeds, requests, services
from peerloop.scheduling.ics import feed_calendar, session_calendar
from peerloop.scheduling.models import SessionStatus
from peerloop.urls import external_url

bp = Blueprint("scheduling", __name__)


def _course_or_404(slug: str):
    course = catalog.get_course(slug, viewer=current_user, with_details=False)
    if course is None or not course.is_active:
        abort(404)
    return course


def _viewer_zone() -> str:
    zone = request.args.get("tz")
    if zone and services.is_valid_timezone(zone):
        return zone
    return current_user.timezone if current_user.is_authenticated else "UTC"


def _start_arg(value: str | None) -> datetime | None:
    try:
        return services.parse_instant(value) if value else None
    except DomainError:
        return None


# --- the day view -----------------------------------------------------------------------


ASSESSMENT = "assessment"  # ``?for=assessment``: the booking pages book the Certification Assessment


def _assessment_teacher(course, enrollment):
    """Whom the student books their assessment with (their S-T, else the creator), or None with a
    flash saying why the assessment cannot be booked yet."""
    from peerloop.enrollment.progress import all_modules_done

    if enrollment is None:
        flash("Enroll in the course first.", "error")
        return None
    if not all_modules_done(enrollment):
        flash("Tick off every module first: the assessment comes after the course.", "error")
        return None
    return enrollment.student_teacher_id or course.creator_id


@bp.get("/courses/<slug>/schedule")
def schedule(slug: str):
    course = _course_or_404(slug)
    zone = _viewer_zone()
    try:
        day = services.parse_day(request.args["date"], field="date") if request.args.get("date") else None
    except DomainError:
        flash("That date is not one we can show: here is the first day with free times.", "error")
        day = None
    enrollment = live_enrollment(current_user.id, course.id) if current_user.is_authenticated else None
    purpose = request.args.get("for")
    only_teacher = None
    if purpose == ASSESSMENT:
        only_teacher = _assessment_teacher(course, enrollment)
        if only_teacher is None:
            return redirect(url_for("scheduling.schedule", slug=course.slug))
    else:
        purpose = None
    view = services.course_day_view(
        course, day=day, timezone=zone, now=clock.now(), viewer=current_user, only_teacher=only_teacher
    )
    counts = services.session_counts([enrollment.id])[enrollment.id] if enrollment else None
    return render_template(
        "scheduling/schedule.html",
        course=course,
        view=view,
        enrollment=enrollment,
        counts=counts,
        calendar=_calendar_days(view, zone),
        reschedule_id=request.args.get("reschedule"),
        purpose=purpose,
    )


def _calendar_days(view: services.DayView, zone: str) -> list[dict]:
    """The strip of days the calendar shows: today to the end of the booking window, each with a dot
    when it has free times."""
    from datetime import timedelta

    today = clock.now().astimezone(services.zone_for(zone)).date()
    last = max([*view.days_with_slots, today + timedelta(days=13)])
    have = set(view.days_with_slots)
    days = []
    day = today
    while day <= last and len(days) < 92:
        days.append({"date": day, "has_slots": day in have, "selected": day == view.day})
        day += timedelta(days=1)
    return days


# --- booking ------------------------------------------------------------------------------


@bp.get("/courses/<slug>/book")
def confirm(slug: str):
    """The confirm step: who, when (in the viewer's zone), the agenda box, the cancellation rule.
    A visitor without the course goes on to enroll with the time held."""
    course = _course_or_404(slug)
    start = _start_arg(request.args.get("start"))
    teacher_id = request.args.get("teacher")
    cards = {str(c.user.id): c for c in catalog.course_teachers(course)}
    card = cards.get(teacher_id or "")
    if start is None or card is None:
        flash("Pick a time first.", "error")
        return redirect(url_for("scheduling.schedule", slug=course.slug))
    enrollment = live_enrollment(current_user.id, course.id) if current_user.is_authenticated else None
    if enrollment is None:
        return redirect(
            url_for("payments.enroll_confirm", slug=course.slug, teacher=teacher_id, start=services.iso_z(start))
        )
    purpose = ASSESSMENT if request.args.get("for") == ASSESSMENT else None
    if purpose and _assessment_teacher(course, enrollment) != card.user.id:
        flash("Book the assessment with your own Student-Teacher.", "error")
        return redirect(url_for("scheduling.schedule", slug=course.slug, **{"for": ASSESSMENT}))
    counts = services.session_counts([enrollment.id])[enrollment.id]
    return render_template(
        "scheduling/confirm.html",
        course=course,
        card=card,
        start=start,
        minutes=services.session_minutes_of(card.user.id),
        enrollment=enrollment,
        number=counts.used + 1,
        day=start.astimezone(services.zone_for(current_user.timezone)).date(),
        purpose=purpose,
    )


@bp.post("/courses/<slug>/book")
@login_required
def book(slug: str):
    course = _course_or_404(slug)
    assessment = request.form.get("for") == ASSESSMENT
    try:
        session = services.book(
            current_user,
            course_id=course.id,
            teacher_id=request.form.get("teacher"),
            start=request.form.get("start"),
            agenda=request.form.get("agenda"),
            kind="certification_assessment" if assessment else "regular",
            now=clock.now(),
        )
    except DomainError as error:
        flash(error.message, "error")
        if error.code == "not_enrolled":
            return redirect(url_for("catalog.course", slug=course.slug), code=303)
        if assessment and error.code in ("modules_incomplete", "assessment_booked", "not_your_teacher"):
            return redirect(url_for("payments.dashboard"), code=303)
        again = {"for": ASSESSMENT} if assessment else {}  # another time, still for the assessment
        return redirect(url_for("scheduling.schedule", slug=course.slug, **again), code=303)
    flash("Booked. It's in your sessions, and an email with the calendar file is on its way.", "success")
    return redirect(url_for("scheduling.session_page", session_id=session.id, booked=1), code=303)


# --- a session's page ------------------------------------------------------------------------


@bp.get("/sessions/<session_id>")
@login_required
def session_page(session_id: str):
    try:
        session = services.participant_session(current_user, session_id, allow_admin=True)
    except DomainError:
        abort(404)
    from peerloop.video.views import after_session, join_open

    now = clock.now()
    return render_template(
        "scheduling/session.html",
        session=session,
        role="teacher" if current_user.id == session.teacher_id else "student",
        other=session.student if current_user.id == session.teacher_id else session.teacher,
        late=services.is_late(session, now),
        upcoming=session.status == SessionStatus.scheduled and session.scheduled_start > now,
        join_opens_at=services.join_opens_at(session),
        can_join=join_open(session, now),
        just_booked=request.args.get("booked") == "1",
        **after_session(session, current_user, now),
    )


@bp.get("/sessions/<session_id>/calendar.ics")
@login_required
def session_ics(session_id: str):
    try:
        session = services.participant_session(current_user, session_id)
    except DomainError:
        abort(404)
    body = session_calendar(
        session,
        viewer=current_user,
        url=external_url("scheduling.session_page", session_id=session.id),
        uid_domain=services.uid_domain(),
    )
    return Response(
        body, mimetype="text/calendar", headers={"Content-Disposition": 'attachment; filename="peerloop-session.ics"'}
    )


@bp.post("/sessions/<session_id>/cancel")
@login_required
def cancel(session_id: str):
    try:
        services.cancel(current_user, session_id, reason=request.form.get("reason"), now=clock.now())
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(error.fields.get("reason") if error.fields and "reason" in error.fields else error.message, "error")
        return redirect(url_for("scheduling.session_page", session_id=session_id), code=303)
    flash("Cancelled. You both have been told.", "success")
    return redirect(url_for("scheduling.session_page", session_id=session_id), code=303)


@bp.get("/sessions/<session_id>/reschedule")
@login_required
def reschedule_form(session_id: str):
    try:
        session = services.participant_session(current_user, session_id)
    except DomainError:
        abort(404)
    now = clock.now()
    zone = _viewer_zone()
    free = services.free_slots_for([session.teacher_id], now=now, student_id=session.student_id).get(
        session.teacher_id, []
    )
    by_day: dict = {}
    for moment in free:
        by_day.setdefault(moment.astimezone(services.zone_for(zone)).date(), []).append(moment)
    return render_template(
        "scheduling/reschedule.html", session=session, by_day=by_day, late=services.is_late(session, now), zone=zone
    )


@bp.post("/sessions/<session_id>/reschedule")
@login_required
def reschedule(session_id: str):
    try:
        services.reschedule(
            current_user,
            session_id,
            start=request.form.get("start"),
            reason=request.form.get("reason"),
            now=clock.now(),
        )
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(error.message, "error")
        return redirect(url_for("scheduling.reschedule_form", session_id=session_id), code=303)
    flash("Moved. You both have an updated calendar file by email.", "success")
    return redirect(url_for("scheduling.session_page", session_id=session_id), code=303)


# --- session requests (the student's side; the teacher answers from Teaching) ---------------------


@bp.get("/courses/<slug>/request")
@login_required
def request_form(slug: str):
    course = _course_or_404(slug)
    return render_template(
        "scheduling/request.html",
        course=course,
        teachers=catalog.course_teachers(course),
        chosen=request.args.get("teacher"),
        enrollment=live_enrollment(current_user.id, course.id),
        form={},
        errors={},
    )


@bp.post("/courses/<slug>/request")
@login_required
def request_submit(slug: str):
    course = _course_or_404(slug)
    local = request.form.get("when", "")
    zone = current_user.timezone or "UTC"
    try:
        start = _local_to_instant(local, zone)
        requests.create_request(
            current_user,
            course_id=course.id,
            teacher_id=request.form.get("teacher"),
            proposed_start=services.iso_z(start) if start else None,
            message=request.form.get("message"),
            now=clock.now(),
        )
    except DomainError as error:
        fields = dict(error.fields or {})
        if "proposed_start" in fields:
            fields["when"] = fields.pop("proposed_start")
        return render_template(
            "scheduling/request.html",
            course=course,
            teachers=catalog.course_teachers(course),
            chosen=request.form.get("teacher"),
            enrollment=live_enrollment(current_user.id, course.id),
            form=request.form,
            errors=fields,
            message=error.message,
        ), 400
    flash("Request sent. You'll hear back in your notifications and on My courses.", "success")
    return redirect(url_for("payments.dashboard"), code=303)


def _local_to_instant(text: str, zone: str) -> datetime | None:
    """A <input type=datetime-local> value ("2026-12-03T15:00") in the person's zone, as UTC."""
    from peerloop.scheduling.slots import to_utc

    if not text:
        return None
    try:
        local = datetime.fromisoformat(text.strip()[:40])
    except ValueError:
        raise ValidationError(fields={"proposed_start": "Pick a date and time."}) from None
    if not 2000 <= local.year <= 2100:
        raise ValidationError(fields={"proposed_start": "Pick a date between the years 2000 and 2100."})
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    instant = to_utc(local.replace(second=0, microsecond=0), services.zone_for(zone))
    if instant is None:
        raise ValidationError(fields={"proposed_start": "That time does not exist here (the clocks skip it)."})
    return instant


REQUEST_DONE = {
    "accept": "Accepted: the session is booked.",
    "accept-counter": "Booked at the suggested time.",
    "decline": "Declined.",
    "counter": "Your suggested time was sent.",
    "decline-counter": "Declined.",
    "withdraw": "Request withdrawn.",
}


@bp.post("/session-requests/<request_id>/<action>")
@login_required
def request_action(request_id: str, action: str):
    now = clock.now()
    try:
        if action in ("accept-counter", "decline-counter", "withdraw"):
            handler = {
                "accept-counter": requests.accept_counter,
                "decline-counter": requests.decline_counter,
                "withdraw": requests.withdraw,
            }[action]
            handler(current_user, request_id, now=now)
            back = url_for("payments.dashboard")
        elif action in ("accept", "decline", "counter"):
            counter = None
            if action == "counter":
                counter = _local_to_instant(request.form.get("when", ""), current_user.timezone or "UTC")
            requests.respond(
                current_user,
                request_id,
                action=action,
                start=services.iso_z(counter) if counter else None,
                message=request.form.get("message"),
                now=now,
            )
            back = url_for("scheduling.teaching")
        else:
            abort(404)
    except DomainError as error:
        if error.status == 404:
            abort(404)
        detail = next(iter((error.fields or {}).values()), None)
        flash(f"{error.message} {detail}" if detail and detail != error.message else error.message, "error")
        back = safe_next(request.form.get("next")) or (
            url_for("scheduling.teaching")
            if action in ("accept", "decline", "counter")
            else url_for("payments.dashboard")
        )
        return redirect(back, code=303)
    flash(REQUEST_DONE[action], "success")
    return redirect(back, code=303)


# --- the private calendar feed ------------------------------------------------------------------


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    """A person's upcoming sessions for their calendar app: private by its unguessable address."""
    now = clock.now()
    owner = feeds.feed_owner(token, now=now)
    if owner is None:
        abort(404)
    body = feed_calendar(
        feeds.feed_sessions(owner, now=now),
        viewer=owner,
        url_for_session=lambda s: external_url("scheduling.session_page", session_id=s.id),
        uid_domain=services.uid_domain(),
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, max-age=900"
    return response


from peerloop.scheduling import teacher_views  # noqa: E402, F401  (its routes join this blueprint)
