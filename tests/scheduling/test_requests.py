"""Session requests: a student asks for a time outside the published slots; the teacher accepts (the
session is booked under the booking's checks), counters (the student accepts or declines), or
declines; the student may withdraw. Services first, then the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.enrollment.models import EnrollmentStatus
from peerloop.errors import Conflict, NotFound, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.scheduling import requests, services
from peerloop.scheduling.models import RequestStatus, SessionRequest, SessionStatus, TutoringSession
from tests.scheduling.conftest import at, error_of, sessions_of, z

SATURDAY10 = at(5, 10)  # outside the teacher's week


def ask(world, now, start=SATURDAY10, **extra):
    return requests.create_request(
        world.student,
        course_id=world.course.id,
        teacher_id=world.teacher.id,
        proposed_start=z(start),
        now=now,
        **extra,
    )


def status_of(request_id) -> RequestStatus:
    db.session.expire_all()
    return db.session.get(SessionRequest, request_id).status


def test_create_a_request_tells_the_teacher(world, now):
    request = ask(world, now, message="Could we do a weekend?")
    assert request.status == RequestStatus.pending
    assert (request.proposed_start, request.message) == (SATURDAY10, "Could we do a weekend?")
    assert request.enrollment_id == world.enrollment.id
    told = db.session.scalars(sa.select(Notification).where(Notification.type == "session_request")).all()
    assert [n.user_id for n in told] == [world.teacher.id]


def test_accept_books_the_session_outside_the_published_slots(world, now):
    assert SATURDAY10 not in services.free_slots_for([world.teacher.id], now=now)[world.teacher.id]
    request = ask(world, now, message="Recursion")
    answered = requests.respond(world.teacher, request.id, action="accept", message="See you", now=now)
    assert answered.status == RequestStatus.accepted
    assert answered.response_message == "See you"
    session = db.session.get(TutoringSession, answered.session_id)
    assert (session.scheduled_start, session.scheduled_end) == (SATURDAY10, SATURDAY10 + timedelta(hours=1))
    assert (session.status, session.number, session.agenda) == (SessionStatus.scheduled, 1, "Recursion")
    assert (session.teacher_id, session.student_id) == (world.teacher.id, world.student.id)
    db.session.expire_all()
    assert world.enrollment.status == EnrollmentStatus.in_progress
    assert world.enrollment.student_teacher_id == world.teacher.id


def test_counter_then_the_student_accepts(world, now):
    request = ask(world, now)
    countered = requests.respond(world.teacher, request.id, action="counter", start=z(at(5, 14)), now=now)
    assert (countered.status, countered.counter_start) == (RequestStatus.countered, at(5, 14))
    assert countered.current_start == at(5, 14)
    told = db.session.scalars(sa.select(Notification.user_id).where(Notification.type == "session_request_answer"))
    assert list(told) == [world.student.id]
    with pytest.raises(NotFound):
        requests.accept_counter(world.teacher, request.id, now=now)  # the student's to accept
    accepted = requests.accept_counter(world.student, request.id, now=now)
    assert accepted.status == RequestStatus.accepted
    (session,) = sessions_of(world.enrollment.id)
    assert session.id == accepted.session_id and session.scheduled_start == at(5, 14)


def test_counter_needs_a_good_time(world, now):
    request = ask(world, now)
    with pytest.raises(ValidationError) as excinfo:
        requests.respond(world.teacher, request.id, action="counter", now=now)
    assert "start" in excinfo.value.fields
    with pytest.raises(ValidationError):
        requests.respond(world.teacher, request.id, action="counter", start="2026-11-28T14:00:00", now=now)
    with pytest.raises(RuleViolation) as excinfo:
        requests.respond(world.teacher, request.id, action="counter", start=z(now + timedelta(minutes=30)), now=now)
    assert excinfo.value.code == "too_soon"
    db.session.rollback()
    assert status_of(request.id) == RequestStatus.pending
    with pytest.raises(ValidationError) as excinfo:
        requests.respond(world.teacher, request.id, action="maybe", now=now)
    assert "action" in excinfo.value.fields


def test_decline_and_the_student_declining_a_counter(world, now):
    first = ask(world, now)
    assert requests.respond(world.teacher, first.id, action="decline", now=now).status == RequestStatus.declined
    second = ask(world, now, start=at(6, 10))
    requests.respond(world.teacher, second.id, action="counter", start=z(at(6, 12)), now=now)
    assert requests.decline_counter(world.student, second.id, now=now).status == RequestStatus.declined
    assert sessions_of(world.enrollment.id) == []


def test_withdraw_a_pending_or_countered_request(world, now):
    pending = ask(world, now)
    assert requests.withdraw(world.student, pending.id, now=now).status == RequestStatus.withdrawn
    countered = ask(world, now, start=at(6, 10))
    requests.respond(world.teacher, countered.id, action="counter", start=z(at(6, 12)), now=now)
    assert requests.withdraw(world.student, countered.id, now=now).status == RequestStatus.withdrawn


def test_already_answered_is_409(world, now):
    request = ask(world, now)
    requests.respond(world.teacher, request.id, action="decline", now=now)
    for call in (
        lambda: requests.respond(world.teacher, request.id, action="accept", now=now),
        lambda: requests.respond(world.teacher, request.id, action="decline", now=now),
        lambda: requests.accept_counter(world.student, request.id, now=now),
        lambda: requests.decline_counter(world.student, request.id, now=now),
        lambda: requests.withdraw(world.student, request.id, now=now),
    ):
        with pytest.raises(Conflict) as excinfo:
            call()
        assert excinfo.value.code == "already_answered"

    accepted = ask(world, now, start=at(6, 10))
    requests.respond(world.teacher, accepted.id, action="accept", now=now)
    with pytest.raises(Conflict):
        requests.respond(world.teacher, accepted.id, action="accept", now=now)
    with pytest.raises(Conflict):
        requests.withdraw(world.student, accepted.id, now=now)
    assert len(sessions_of(world.enrollment.id)) == 1


def test_someone_elses_request_is_404(world, make, enrolled, now):
    request = ask(world, now)
    other_teacher = make.user()
    make.student_teacher(other_teacher, world.course)
    for call in (
        lambda: requests.respond(other_teacher, request.id, action="accept", now=now),
        lambda: requests.respond(world.student, request.id, action="accept", now=now),  # not the asked teacher
        lambda: requests.withdraw(enrolled(), request.id, now=now),
        lambda: requests.withdraw(world.teacher, request.id, now=now),
        lambda: requests.respond(world.teacher, "not-a-uuid", action="decline", now=now),
    ):
        with pytest.raises(NotFound):
            call()
    assert status_of(request.id) == RequestStatus.pending


def test_asking_follows_the_booking_rules(world, make, now):
    cases = [
        (lambda: ask(world, now, start=now + timedelta(minutes=30)), "too_soon"),
        (lambda: ask(world, now, start=now + timedelta(days=91)), "too_far"),
        (
            lambda: requests.create_request(
                make.user(),
                course_id=world.course.id,
                teacher_id=world.teacher.id,
                proposed_start=z(SATURDAY10),
                now=now,
            ),
            "not_enrolled",
        ),
        (
            lambda: requests.create_request(
                world.student,
                course_id=world.course.id,
                teacher_id=make.user().id,
                proposed_start=z(SATURDAY10),
                now=now,
            ),
            "not_a_teacher",
        ),
    ]
    for call, code in cases:
        with pytest.raises(RuleViolation) as excinfo:
            call()
        assert excinfo.value.code == code
    with pytest.raises(ValidationError) as excinfo:
        requests.create_request(
            world.student,
            course_id=world.course.id,
            teacher_id=world.teacher.id,
            proposed_start="2026-11-28T10:00:00",
            now=now,
        )
    assert "proposed_start" in excinfo.value.fields


def test_at_most_three_open_requests_per_teacher(world, now):
    for day in range(3):
        ask(world, now, start=at(5 + day * 7, 10))
    with pytest.raises(RuleViolation) as excinfo:
        ask(world, now, start=at(6, 10))
    assert excinfo.value.code == "too_many_open_requests"


def test_no_sessions_left_when_asking_and_when_accepting(world, now):
    request = ask(world, now)
    world.book(at(1, 9), now=now)
    world.book(at(1, 10), now=now)  # both sessions booked meanwhile
    with pytest.raises(RuleViolation) as excinfo:
        requests.respond(world.teacher, request.id, action="accept", now=now)
    assert excinfo.value.code == "no_sessions_left"
    db.session.rollback()
    assert status_of(request.id) == RequestStatus.pending
    with pytest.raises(RuleViolation) as excinfo:
        ask(world, now, start=at(6, 10))
    assert excinfo.value.code == "no_sessions_left"


def test_accepting_a_time_now_taken_is_409_and_the_request_stays_open(world, enrolled, now):
    request = ask(world, now, start=at(1, 9))  # inside the week: someone else books it first
    world.book(at(1, 9), now=now, student=enrolled())
    with pytest.raises(Conflict) as excinfo:
        requests.respond(world.teacher, request.id, action="accept", now=now)
    assert excinfo.value.code == "slot_unavailable"
    db.session.rollback()
    assert status_of(request.id) == RequestStatus.pending


def test_a_cancelled_enrollment_cannot_accept(world, now):
    request = ask(world, now)
    world.enrollment.status = EnrollmentStatus.cancelled
    db.session.commit()
    with pytest.raises(RuleViolation) as excinfo:
        requests.respond(world.teacher, request.id, action="accept", now=now)
    assert excinfo.value.code == "not_enrolled"


# --- the API -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("business_time")
def test_the_request_api(client, world, make, api_token):
    student, teacher = api_token(world.student), api_token(world.teacher)
    body = {
        "course_id": str(world.course.id),
        "teacher_id": str(world.teacher.id),
        "proposed_start": z(SATURDAY10),
        "message": "Weekend?",
    }
    created = client.post("/api/session-requests", json=body, headers=student)
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert (data["status"], data["proposed_start"], data["message"], data["session_id"]) == (
        "pending",
        z(SATURDAY10),
        "Weekend?",
        None,
    )
    request_id = data["id"]

    listed = client.get("/api/session-requests?role=teacher", headers=teacher).get_json()
    assert [item["id"] for item in listed["items"]] == [request_id]
    assert client.get("/api/session-requests", headers=student).get_json()["total"] == 1
    assert client.get("/api/session-requests?role=teacher", headers=student).get_json()["items"] == []

    stranger = api_token(make.user())
    response = client.post(f"/api/session-requests/{request_id}/respond", json={"action": "accept"}, headers=stranger)
    assert response.status_code == 404
    assert client.post(f"/api/session-requests/{request_id}/withdraw", headers=stranger).status_code == 404

    countered = client.post(
        f"/api/session-requests/{request_id}/respond",
        json={"action": "counter", "start": z(at(5, 15))},
        headers=teacher,
    )
    assert countered.status_code == 200
    assert (countered.get_json()["status"], countered.get_json()["counter_start"]) == ("countered", z(at(5, 15)))
    again = client.post(f"/api/session-requests/{request_id}/respond", json={"action": "decline"}, headers=teacher)
    assert (again.status_code, error_of(again)["code"]) == (409, "already_answered")

    accepted = client.post(f"/api/session-requests/{request_id}/accept", headers=student)
    assert accepted.status_code == 200
    assert accepted.get_json()["status"] == "accepted"
    session = client.get(f"/api/sessions/{accepted.get_json()['session_id']}", headers=student).get_json()
    assert (session["start"], session["status"], session["number"]) == (z(at(5, 15)), "scheduled", 1)


@pytest.mark.usefixtures("business_time")
def test_the_request_api_errors(client, world, api_token):
    student, teacher = api_token(world.student), api_token(world.teacher)
    base = {"course_id": str(world.course.id), "teacher_id": str(world.teacher.id)}
    naive = client.post("/api/session-requests", json={**base, "proposed_start": "2026-11-28T10:00"}, headers=student)
    assert naive.status_code == 400 and "proposed_start" in error_of(naive)["fields"]
    soon = client.post("/api/session-requests", json={**base, "proposed_start": z(at(0, 12, 30))}, headers=student)
    assert (soon.status_code, error_of(soon)["code"]) == (422, "too_soon")

    request_id = client.post(
        "/api/session-requests", json={**base, "proposed_start": z(SATURDAY10)}, headers=student
    ).get_json()["id"]
    bad = client.post(f"/api/session-requests/{request_id}/respond", json={"action": "later"}, headers=teacher)
    assert bad.status_code == 400 and "action" in error_of(bad)["fields"]
    no_counter = client.post(f"/api/session-requests/{request_id}/accept", headers=student)
    assert (no_counter.status_code, error_of(no_counter)["code"]) == (409, "already_answered")
    declined = client.post(f"/api/session-requests/{request_id}/respond", json={"action": "decline"}, headers=teacher)
    assert declined.get_json()["status"] == "declined"
    withdrawn = client.post(f"/api/session-requests/{request_id}/withdraw", headers=student)
    assert (withdrawn.status_code, error_of(withdrawn)["code"]) == (409, "already_answered")


def test_accepting_a_counter_whose_time_was_taken_is_409_and_it_stays_countered(world, enrolled, now):
    request = ask(world, now)
    requests.respond(world.teacher, request.id, action="counter", start=z(at(1, 9)), now=now)
    world.book(at(1, 9), now=now, student=enrolled())
    with pytest.raises(Conflict) as excinfo:
        requests.accept_counter(world.student, request.id, now=now)
    assert excinfo.value.code == "slot_unavailable"
    db.session.rollback()
    assert status_of(request.id) == RequestStatus.countered
    assert sessions_of(world.enrollment.id) == []


@pytest.mark.usefixtures("business_time")
def test_the_student_declines_a_counter_through_the_api(client, world, api_token, now):
    request = ask(world, now)
    requests.respond(world.teacher, request.id, action="counter", start=z(at(5, 14)), now=now)
    response = client.post(f"/api/session-requests/{request.id}/decline", headers=api_token(world.student))
    assert response.status_code == 200 and response.get_json()["status"] == "declined"
    assert sessions_of(world.enrollment.id) == []
