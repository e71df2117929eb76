"""The scheduling JSON API (API.md "Scheduling and sessions"): availability, free slots, the day view,
sessions, session requests, calendar files."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user, login_required

from peerloop import clock, readcache
from peerloop.accounts.models import User
from peerloop.accounts.serializers import user_card_json
from peerloop.api import json_body, page_args, paginated
from peerloop.catalog import services as catalog
from peerloop.db import parse_uuid
from peerloop.errors import NotFound, ValidationError
from peerloop.extensions import db
from peerloop.scheduling import feeds, requests, services
from peerloop.scheduling.ics import session_calendar
from peerloop.scheduling.models import SessionRequest, SessionStatus, TutoringSession
from peerloop.urls import external_url

bp = Blueprint("scheduling_api", __name__)

MAX_RANGE = timedelta(days=92)


def _text(data: dict, name: str, limit: int = 2000) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(fields={name: f"Text of at most {limit} characters."})
    return value


def session_json(session: TutoringSession, *, viewer: User | None = None) -> dict:
    data = {
        "id": str(session.id),
        "course_id": str(session.course_id),
        "enrollment_id": str(session.enrollment_id) if session.enrollment_id else None,
        "teacher_id": str(session.teacher_id),
        "student_id": str(session.student_id),
        "start": services.iso_z(session.scheduled_start),
        "end": services.iso_z(session.scheduled_end),
        "status": session.status.value,
        "kind": session.kind.value,
        "number": session.number,
        "session_count": session.enrollment.session_count if session.enrollment else None,
        "agenda": session.agenda,
        "join_opens_at": services.iso_z(services.join_opens_at(session)),
        "late_cancellation": session.late_cancellation,
        "cancel_reason": session.cancel_reason,
        "no_show_by": session.no_show_by.value if session.no_show_by else None,
        "ended_at": services.iso_z(session.ended_at) if session.ended_at else None,
        # How it was settled (webhook, sweep, teacher, admin); a hand-marked outcome's share waits
        # until release_after unless the student contests it.
        "outcome_source": session.outcome_source,
        "release_after": services.iso_z(session.release_after) if session.release_after else None,
        "contested": session.contested_at is not None,
        "course": {"id": str(session.course.id), "slug": session.course.slug, "title": session.course.title},
        "teacher": user_card_json(session.teacher),
        "student": user_card_json(session.student),
    }
    if viewer is not None:
        data["role"] = "teacher" if viewer.id == session.teacher_id else "student"
    return data


def request_json(item: SessionRequest) -> dict:
    return {
        "id": str(item.id),
        "status": item.status.value,
        "course_id": str(item.course_id),
        "enrollment_id": str(item.enrollment_id),
        "teacher_id": str(item.teacher_id),
        "student_id": str(item.student_id),
        "proposed_start": services.iso_z(item.proposed_start),
        "counter_start": services.iso_z(item.counter_start) if item.counter_start else None,
        "message": item.message,
        "response_message": item.response_message,
        "session_id": str(item.session_id) if item.session_id else None,
    }


def _range(args, *, now, default_days: int = 14) -> tuple:
    start = services.parse_instant(args["from"], field="from") if args.get("from") else now
    end = services.parse_instant(args["to"], field="to") if args.get("to") else start + timedelta(days=default_days)
    if end <= start:
        raise ValidationError(fields={"to": "Must be after from."})
    if end - start > MAX_RANGE:
        raise ValidationError(fields={"to": "At most 92 days after from."})
    return start, end


def _teacher_or_404(teacher_id) -> User:
    uid = parse_uuid(teacher_id)
    user = db.session.get(User, uid) if uid else None
    if user is None or user.deleted_at is not None:
        raise NotFound("No such teacher.")
    return user


# --- availability -------------------------------------------------------------------


@bp.get("/me/availability")
@login_required
def my_availability():
    return jsonify(services.availability_json(current_user))


@bp.put("/me/availability")
@login_required
def set_my_availability():
    return jsonify(services.set_availability(current_user, json_body(), now=clock.now()))


@bp.get("/sts/<teacher_id>/availability")
@readcache.shared(params=("course_id", "tz", "from", "to"), timed=True)
def teacher_availability(teacher_id: str):
    teacher = _teacher_or_404(teacher_id)
    now = clock.now()
    start, end = _range(request.args, now=now)
    if request.args.get("course_id"):
        course = catalog.get_course(request.args["course_id"], viewer=current_user, with_details=False)
        if course is None or not services.teaches_course(teacher.id, course):
            raise NotFound("This teacher does not teach that course.")
        if not services.takes_new_students(teacher, course):
            raise NotFound("This teacher is not taking new bookings for that course.")
    if request.args.get("tz"):
        services.parse_timezone(request.args["tz"])
    free = services.free_slots_for(
        [teacher.id], now=now, student_id=current_user.id if current_user.is_authenticated else None
    ).get(teacher.id, [])
    length = timedelta(minutes=services.session_minutes_of(teacher.id))
    items = [
        {"start": services.iso_z(moment), "end": services.iso_z(moment + length)}
        for moment in free
        if start <= moment < end
    ]
    return jsonify(items=items, session_minutes=int(length.total_seconds() // 60))


@bp.get("/sts/<teacher_id>/bookings")
def teacher_bookings(teacher_id: str):
    teacher = _teacher_or_404(teacher_id)
    now = clock.now()
    start, end = _range(request.args, now=now)
    busy, _ = services.busy_intervals(teacher_ids=[teacher.id], start=start, end=end, now=now)
    items = [{"start": services.iso_z(s), "end": services.iso_z(e)} for s, e in sorted(busy.get(teacher.id, []))]
    return jsonify(items=items)


# --- the course's teachers and day view ---------------------------------------------------


def _course_or_404(id_or_slug: str):
    course = catalog.get_course(id_or_slug, viewer=current_user, with_details=False)
    if course is None:
        raise NotFound("No such course.")
    return course


def teacher_card_json(card) -> dict:
    from peerloop.catalog.serializers import teacher_json

    return {**teacher_json(card), "slots": [services.iso_z(moment) for moment in card.slots]}


def viewer_zone(args) -> str:
    if args.get("tz"):
        return services.parse_timezone(args["tz"])
    return current_user.timezone if current_user.is_authenticated else "UTC"


def parse_date_arg(args) -> date | None:
    return services.parse_day(args["date"], field="date") if args.get("date") else None


@bp.get("/courses/<id_or_slug>/schedule")
@readcache.shared(params=("tz", "date"), timed=True)
def course_schedule(id_or_slug: str):
    course = _course_or_404(id_or_slug)
    zone = viewer_zone(request.args)
    view = services.course_day_view(
        course, day=parse_date_arg(request.args), timezone=zone, now=clock.now(), viewer=current_user
    )
    return jsonify(
        course_id=str(course.id),
        date=view.day.isoformat(),
        tz=view.timezone,
        days_with_slots=[d.isoformat() for d in view.days_with_slots],
        teachers=[
            {
                **teacher_card_json(card),
                "session_minutes": view.session_minutes.get(card.user.id, 60),
            }
            for card in view.teachers
        ],
    )


# --- sessions ---------------------------------------------------------------------------


@bp.post("/sessions")
@login_required
def book():
    data = json_body()
    session = services.book(
        current_user,
        course_id=_text(data, "course_id", 64),
        teacher_id=_text(data, "teacher_id", 64),
        start=data.get("start"),
        agenda=data.get("agenda"),
        idempotency_key=request.headers.get("Idempotency-Key", "").strip()[:255] or None,
        now=clock.now(),
        kind=data.get("kind") or "regular",
    )
    return jsonify(session_json(session, viewer=current_user)), 201


@bp.get("/sessions")
@login_required
def my_sessions():
    role = request.args.get("role") or None
    if role not in (None, "student", "teacher"):
        raise ValidationError(fields={"role": "student or teacher."})
    statuses = None
    if request.args.get("status"):
        try:
            statuses = [SessionStatus(s.strip()) for s in request.args["status"].split(",") if s.strip()]
        except ValueError:
            raise ValidationError(
                fields={"status": "scheduled, in_progress, completed, no_show or cancelled."}
            ) from None
        if any(s in (SessionStatus.held, SessionStatus.lapsed) for s in statuses):
            raise ValidationError(fields={"status": "scheduled, in_progress, completed, no_show or cancelled."})
    page, per_page = page_args(request.args)
    shown = services.sessions_of(
        current_user, role=role, statuses=statuses, offset=(page - 1) * per_page, limit=per_page
    )
    total = services.count_sessions(current_user, role=role, statuses=statuses)
    return paginated([session_json(s, viewer=current_user) for s in shown], page=page, per_page=per_page, total=total)


@bp.get("/sessions/<session_id>")
@login_required
def session_detail(session_id: str):
    session = services.participant_session(current_user, session_id, allow_admin=True)
    return jsonify(session_json(session, viewer=current_user))


@bp.post("/sessions/<session_id>/cancel")
@login_required
def cancel(session_id: str):
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict):
        raise ValidationError("Send a JSON object.", code="invalid_json")
    session = services.cancel(current_user, session_id, reason=data.get("reason"), now=clock.now())
    return jsonify(session_json(session, viewer=current_user))


@bp.post("/sessions/<session_id>/reschedule")
@login_required
def reschedule(session_id: str):
    data = json_body()
    session = services.reschedule(
        current_user, session_id, start=data.get("start"), reason=data.get("reason"), now=clock.now()
    )
    return jsonify(session_json(session, viewer=current_user))


@bp.get("/sessions/<session_id>/calendar-export")
@login_required
def calendar_export(session_id: str):
    session = services.participant_session(current_user, session_id)
    body = session_calendar(
        session,
        viewer=current_user,
        url=external_url("scheduling.session_page", session_id=session.id),
        uid_domain=services.uid_domain(),
    )
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="peerloop-session-{session.id}.ics"'},
    )


# --- session requests -------------------------------------------------------------------


@bp.post("/session-requests")
@login_required
def create_request():
    data = json_body()
    item = requests.create_request(
        current_user,
        course_id=_text(data, "course_id", 64),
        teacher_id=_text(data, "teacher_id", 64),
        proposed_start=data.get("proposed_start"),
        message=data.get("message"),
        now=clock.now(),
    )
    return jsonify(request_json(item)), 201


@bp.get("/session-requests")
@login_required
def list_requests():
    role = request.args.get("role", "student")
    if role not in ("student", "teacher"):
        raise ValidationError(fields={"role": "student or teacher."})
    items = requests.requests_for(current_user, role=role)
    return paginated([request_json(i) for i in items], page=1, per_page=len(items) or 1, total=len(items))


@bp.post("/session-requests/<request_id>/respond")
@login_required
def respond(request_id: str):
    data = json_body()
    item = requests.respond(
        current_user,
        request_id,
        action=data.get("action"),
        start=data.get("start"),
        message=data.get("message"),
        now=clock.now(),
    )
    return jsonify(request_json(item))


@bp.post("/session-requests/<request_id>/accept")
@login_required
def accept_counter(request_id: str):
    return jsonify(request_json(requests.accept_counter(current_user, request_id, now=clock.now())))


@bp.post("/session-requests/<request_id>/decline")
@login_required
def decline_counter(request_id: str):
    return jsonify(request_json(requests.decline_counter(current_user, request_id, now=clock.now())))


@bp.post("/session-requests/<request_id>/withdraw")
@login_required
def withdraw(request_id: str):
    return jsonify(request_json(requests.withdraw(current_user, request_id, now=clock.now())))


# --- the private calendar feed ------------------------------------------------------------


@bp.post("/me/calendar-feed")
@login_required
def new_feed():
    token = feeds.create_feed(current_user, now=clock.now())
    return jsonify(services.feed_urls(token)), 201


@bp.delete("/me/calendar-feed")
@login_required
def revoke_feed():
    return jsonify(revoked=feeds.revoke_feeds(current_user, now=clock.now()))
