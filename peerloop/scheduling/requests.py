"""Session requests (seed 004 §9.2-9.3): a student asks a teacher for a time outside the published
slots; the teacher accepts (the session is booked under the same checks and locks), declines, or
counters with another time, which the student can accept.

pending → accepted | declined | countered (→ accepted | declined | withdrawn); pending → withdrawn.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from peerloop.accounts.models import User
from peerloop.db import for_update, parse_uuid
from peerloop.errors import Conflict, NotFound, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.notifications.services import notify
from peerloop.scheduling import services
from peerloop.scheduling.models import OPEN_REQUEST_STATUSES, RequestStatus, SessionRequest
from peerloop.timezones import format_local
from peerloop.urls import site_path

MESSAGE_MAX = 1000
MAX_OPEN_PER_TEACHER = 3
FURTHEST = timedelta(days=90)


def _clean_message(message) -> str | None:
    return services.optional_text(message, field="message", limit=MESSAGE_MAX)


def _check_future(start: datetime, *, now: datetime, field: str) -> None:
    if start <= now + timedelta(hours=1):
        raise RuleViolation("Ask for a time at least an hour from now.", code="too_soon", fields={field: "Too soon."})
    if start > now + FURTHEST:
        raise RuleViolation("Ask for a time within 90 days.", code="too_far", fields={field: "Too far ahead."})


def create_request(
    student: User, *, course_id, teacher_id, proposed_start, message=None, now: datetime
) -> SessionRequest:
    """Ask a teacher for a time. Commits; the teacher is told.

    :raise ValidationError, NotFound, RuleViolation: ``not_enrolled``, ``not_a_teacher``,
        ``no_sessions_left``, ``too_soon``, ``too_far``, ``too_many_open_requests``.
    """
    start = services.parse_instant(proposed_start, field="proposed_start")
    message = _clean_message(message)
    course = services._course(course_id)
    enrollment = services.student_enrollment(student, course)
    teacher = services._teacher(teacher_id, course, student=student)
    _check_future(start, now=now, field="proposed_start")
    enrollment = services.lock_enrollment(enrollment.id)
    if enrollment.status not in services.BOOKABLE_ENROLLMENT:  # ended or frozen while we waited for the lock
        raise RuleViolation("This enrollment can no longer book sessions.", code="not_enrolled")
    services._check_sessions_left(enrollment)
    open_count = db.session.scalar(
        sa.select(sa.func.count(SessionRequest.id)).where(
            SessionRequest.student_id == student.id,
            SessionRequest.teacher_id == teacher.id,
            SessionRequest.status.in_(OPEN_REQUEST_STATUSES),
        )
    )
    if open_count >= MAX_OPEN_PER_TEACHER:
        raise RuleViolation(
            f"You have {open_count} requests waiting for {teacher.name}: wait for an answer first.",
            code="too_many_open_requests",
        )
    request = SessionRequest(
        enrollment_id=enrollment.id,
        course_id=course.id,
        student_id=student.id,
        teacher_id=teacher.id,
        proposed_start=start,
        message=message,
        status=RequestStatus.pending,
        created_at=now,
        updated_at=now,
    )
    db.session.add(request)
    db.session.flush()
    notify(
        teacher,
        "session_request",
        title=f"{student.name} asks for {format_local(start, teacher.timezone)}",
        body=(f'"{message}" ' if message else "") + f"A session of {course.title}. Accept, counter or decline.",
        dedupe_key=f"session-request:{request.id}:new",
        now=now,
        action_url=site_path("scheduling.teaching"),
        commit=False,
    )
    db.session.commit()
    return request


def _locked_request(request_id) -> SessionRequest:
    uid = parse_uuid(request_id)
    request = (
        db.session.scalar(
            for_update(sa.select(SessionRequest).where(SessionRequest.id == uid)).execution_options(
                populate_existing=True
            )
        )
        if uid
        else None
    )
    if request is None:
        raise NotFound("No such request.")
    return request


def _own(request: SessionRequest, user: User, role: str) -> None:
    owner = request.teacher_id if role == "teacher" else request.student_id
    if owner != user.id:
        raise NotFound("No such request.")


def respond(teacher: User, request_id, *, action, start=None, message=None, now: datetime) -> SessionRequest:
    """The asked teacher answers: ``accept`` books the session (under the booking's checks and locks,
    outside the published slots), ``decline``, or ``counter`` with another ``start``. Commits.

    :raise NotFound: not their request. :raise Conflict: ``already_answered``.
    :raise ValidationError: an unknown action, a counter without a time.
    """
    if action not in ("accept", "decline", "counter"):
        raise ValidationError(fields={"action": "accept, decline or counter."})
    message = _clean_message(message)
    counter_at = services.parse_instant(start, field="start") if action == "counter" else None
    request = _peek(request_id)
    _own(request, teacher, "teacher")
    if request.status != RequestStatus.pending:
        raise Conflict(f"This request is already {request.status.value}.", code="already_answered")
    if action == "accept":
        return _accept(request, start=request.proposed_start, by=teacher, message=message, now=now)
    request = _locked_request(request.id)
    if request.status != RequestStatus.pending:
        raise Conflict(f"This request is already {request.status.value}.", code="already_answered")
    request.response_message = message
    request.responded_at = now
    request.updated_at = now
    student = request.student
    if action == "decline":
        request.status = RequestStatus.declined
        title = f"{teacher.name} can't do {format_local(request.proposed_start, student.timezone)}"
        body = (f'"{message}" ' if message else "") + "Pick one of the published times, or ask for another."
    else:
        _check_future(counter_at, now=now, field="start")
        request.status = RequestStatus.countered
        request.counter_start = counter_at
        title = f"{teacher.name} suggests {format_local(counter_at, student.timezone)} instead"
        body = (f'"{message}" ' if message else "") + "Accept it from My courses, or decline."
    notify(
        student,
        "session_request_answer",
        title=title,
        body=body,
        dedupe_key=f"session-request:{request.id}:{request.status.value}",
        now=now,
        action_url=site_path("payments.dashboard"),
        commit=False,
    )
    db.session.commit()
    return request


def _peek(request_id) -> SessionRequest:
    uid = parse_uuid(request_id)
    request = (
        db.session.scalar(
            sa.select(SessionRequest)
            .where(SessionRequest.id == uid)
            .options(joinedload(SessionRequest.student), joinedload(SessionRequest.teacher))
        )
        if uid
        else None
    )
    if request is None:
        raise NotFound("No such request.")
    return request


def _accept(request: SessionRequest, *, start: datetime, by: User, message: str | None, now: datetime):
    session = services.book(
        request.student,
        course_id=request.course_id,
        teacher_id=request.teacher_id,
        start=start,
        agenda=request.message,
        now=now,
        within_availability=False,
        commit=False,
    )
    request = _locked_request(request.id)
    if request.status not in OPEN_REQUEST_STATUSES:
        db.session.rollback()
        raise Conflict(f"This request is already {request.status.value}.", code="already_answered")
    request.status = RequestStatus.accepted
    request.session_id = session.id
    request.response_message = message or request.response_message
    request.responded_at = now
    request.updated_at = now
    db.session.commit()
    return request


def accept_counter(student: User, request_id, *, now: datetime) -> SessionRequest:
    """The student takes the teacher's counter-proposal: the session is booked. Commits."""
    request = _peek(request_id)
    _own(request, student, "student")
    if request.status != RequestStatus.countered:
        raise Conflict("There is no counter-proposal to accept.", code="already_answered")
    return _accept(request, start=request.counter_start, by=student, message=None, now=now)


def withdraw(student: User, request_id, *, now: datetime) -> SessionRequest:
    request = _peek(request_id)
    _own(request, student, "student")
    request = _locked_request(request.id)
    if request.status not in OPEN_REQUEST_STATUSES:
        raise Conflict(f"This request is already {request.status.value}.", code="already_answered")
    request.status = RequestStatus.withdrawn
    request.updated_at = now
    notify(
        request.teacher,
        "session_request_answer",
        title=f"{request.student.name} withdrew their request for "
        f"{format_local(request.current_start, request.teacher.timezone)}",
        body="Nothing to answer.",
        dedupe_key=f"session-request:{request.id}:withdrawn",
        now=now,
        action_url=site_path("scheduling.teaching"),
        commit=False,
    )
    db.session.commit()
    return request


def decline_counter(student: User, request_id, *, now: datetime) -> SessionRequest:
    request = _peek(request_id)
    _own(request, student, "student")
    request = _locked_request(request.id)
    if request.status != RequestStatus.countered:
        raise Conflict("There is no counter-proposal to decline.", code="already_answered")
    request.status = RequestStatus.declined
    request.updated_at = now
    notify(
        request.teacher,
        "session_request_answer",
        title=f"{request.student.name} declined your suggested time",
        body="They may ask for another time.",
        dedupe_key=f"session-request:{request.id}:counter-declined",
        now=now,
        action_url=site_path("scheduling.teaching"),
        commit=False,
    )
    db.session.commit()
    return request


def requests_for(user: User, *, role: str, limit: int = 50) -> list[SessionRequest]:
    column = SessionRequest.teacher_id if role == "teacher" else SessionRequest.student_id
    return list(
        db.session.scalars(
            sa.select(SessionRequest)
            .where(column == user.id)
            .options(
                joinedload(SessionRequest.student),
                joinedload(SessionRequest.teacher),
                joinedload(SessionRequest.course),
            )
            .order_by(
                sa.case((SessionRequest.status.in_(OPEN_REQUEST_STATUSES), 0), else_=1),
                SessionRequest.created_at.desc(),
            )
            .limit(limit)
        ).unique()
    )
