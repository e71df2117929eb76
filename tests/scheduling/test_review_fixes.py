"""What a review of the booking work found: a teacher who is also a student, a time given up in
checkout, extreme timestamps, the student's own buffer, a request on an enrollment ended meanwhile."""

from __future__ import annotations

import pytest

from peerloop.enrollment.models import EnrollmentStatus
from peerloop.errors import Conflict, RuleViolation
from peerloop.extensions import db
from peerloop.payments import sandbox
from peerloop.payments import services as payments
from peerloop.scheduling import requests, services
from peerloop.scheduling.models import SessionStatus
from tests.conftest import run_jobs
from tests.scheduling.conftest import at, sessions_of, week, z

TUE9, TUE10 = at(1, 9), at(1, 10)


def test_a_teacher_learning_elsewhere_is_busy_then(world, make, now):
    """Marcus teaches this course and takes another one as a student: his own lesson blocks his slots."""
    other_course = make.course(session_count=2)
    other_teacher = make.user()
    make.student_teacher(other_teacher, other_course)
    week(other_teacher, now=now)
    make.enrollment(world.teacher, other_course)
    services.book(world.teacher, course_id=other_course.id, teacher_id=other_teacher.id, start=TUE9, now=now)

    assert TUE9 not in services.free_slots_for([world.teacher.id], now=now)[world.teacher.id]
    busy, _ = services.busy_intervals(teacher_ids=[world.teacher.id], start=TUE9, end=TUE10, now=now)
    assert busy[world.teacher.id] == [(TUE9, TUE10)]
    with pytest.raises(Conflict) as excinfo:
        world.book(TUE9, now=now)
    assert excinfo.value.code == "slot_unavailable"


def test_a_time_given_up_in_checkout_is_not_booked_when_paying(app, world, make, now):
    buyer = make.user()
    first = payments.start_checkout(buyer, world.course.id, student_teacher_id=world.teacher.id, start=TUE9, now=now)
    again = payments.start_checkout(buyer, world.course.id, schedule_later=True, now=now)  # changed their mind
    assert again.id == first.id  # the open checkout is reused
    assert services.held_session(first.id) is None
    assert TUE9 in services.free_slots_for([world.teacher.id], now=now)[world.teacher.id]

    sandbox.pay(first.gateway_session_id, now=now)
    run_jobs(app)
    db.session.expire_all()
    enrollment = db.session.get(type(world.enrollment), again.enrollment_id)
    assert enrollment.status == EnrollmentStatus.enrolled
    assert sessions_of(enrollment.id) == []


def test_a_second_pick_in_the_same_checkout_books_only_the_second(app, world, make, now):
    buyer = make.user()
    first = payments.start_checkout(buyer, world.course.id, student_teacher_id=world.teacher.id, start=TUE9, now=now)
    payments.start_checkout(buyer, world.course.id, student_teacher_id=world.teacher.id, start=at(2, 9), now=now)
    sandbox.pay(first.gateway_session_id, now=now)
    run_jobs(app)
    db.session.expire_all()
    enrollment = db.session.get(type(world.enrollment), db.session.get(type(first), first.id).enrollment_id)
    (session,) = sessions_of(enrollment.id)
    assert session.scheduled_start == at(2, 9) and session.status == SessionStatus.scheduled


@pytest.mark.parametrize(
    "start", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-01:00", "1999-12-31T23:00:00Z", "2101-01-01T00:00:00Z"]
)
def test_times_outside_the_calendar_we_serve_are_a_400(client, world, api_token, start):
    headers = api_token(world.student)
    booked = client.post(
        "/api/sessions",
        json={"course_id": str(world.course.id), "teacher_id": str(world.teacher.id), "start": start},
        headers=headers,
    )
    assert booked.status_code == 400 and "start" in booked.get_json()["error"]["fields"]
    asked = client.post(
        "/api/session-requests",
        json={"course_id": str(world.course.id), "teacher_id": str(world.teacher.id), "proposed_start": start},
        headers=headers,
    )
    assert asked.status_code == 400
    for path in (f"/api/sts/{world.teacher.id}/availability", f"/api/sts/{world.teacher.id}/bookings"):
        assert client.get(path, query_string={"from": start}).status_code == 400
        assert client.get(path, query_string={"to": start}).status_code == 400
    page = client.get(f"/courses/{world.course.slug}/book", query_string={"start": start, "teacher": world.teacher.id})
    assert page.status_code == 302  # back to the day view: "Pick a time first."


def test_the_request_form_refuses_a_date_outside_the_calendar(client, world, login_as):
    login_as(world.student)
    from tests.conftest import csrf_from

    form = client.get(f"/courses/{world.course.slug}/request")
    response = client.post(
        f"/courses/{world.course.slug}/request",
        data={
            "csrf_token": csrf_from(form.get_data(as_text=True)),
            "teacher": str(world.teacher.id),
            "when": "9999-12-31T23:59-01:00",
        },
    )
    assert response.status_code == 400
    assert "between the years 2000 and 2100" in response.get_data(as_text=True)


def test_booking_keeps_the_buffer_around_the_students_own_sessions_as_the_offered_slots_do(world, make, now):
    week(world.teacher, now=now, buffer_minutes=15)
    second_course = make.course(session_count=2)
    other = make.user()
    make.student_teacher(other, second_course)
    week(other, now=now, buffer_minutes=15)
    make.enrollment(world.student, second_course)
    services.book(world.student, course_id=second_course.id, teacher_id=other.id, start=TUE9, now=now)
    # Marcus's 10:15 slot starts 15 minutes after the student's other session ends: offered and bookable.
    offered = services.free_slots_for([world.teacher.id], now=now, student_id=world.student.id)[world.teacher.id]
    assert at(1, 10, 15) in offered
    assert world.book(at(1, 10, 15), now=now).scheduled_start == at(1, 10, 15)


def test_a_request_for_an_enrollment_ended_meanwhile_is_refused(world, now, monkeypatch):
    original = services.lock_enrollment

    def ended_while_waiting(enrollment_id):
        row = original(enrollment_id)
        row.status = EnrollmentStatus.cancelled
        return row

    monkeypatch.setattr(services, "lock_enrollment", ended_while_waiting)
    with pytest.raises(RuleViolation) as excinfo:
        requests.create_request(
            world.student,
            course_id=world.course.id,
            teacher_id=world.teacher.id,
            proposed_start=z(at(2, 19)),
            now=now,
        )
    assert excinfo.value.code == "not_enrolled"


def test_an_exotic_digit_in_the_availability_form_is_not_a_500(client, world, login_as):
    login_as(world.teacher)
    from tests.conftest import csrf_from

    form = client.get("/availability")
    response = client.post(
        "/availability", data={"csrf_token": csrf_from(form.get_data(as_text=True)), "blocked_count": "²"}
    )
    assert response.status_code in (200, 302, 303, 400)
