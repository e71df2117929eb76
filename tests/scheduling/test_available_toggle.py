"""The "Available as Student-Teacher" toggle: off hides an S-T from new bookings everywhere a student
finds a teacher; their booked sessions stay, can be moved, and the teacher may still agree to a time."""

from __future__ import annotations

import pytest

from peerloop.errors import RuleViolation
from peerloop.extensions import db
from peerloop.scheduling import requests as session_requests
from peerloop.scheduling.models import SessionStatus, TutoringSession
from tests.scheduling.conftest import at, error_of, z

pytestmark = pytest.mark.usefixtures("business_time")


def switch(client, headers, available):
    return client.put("/api/me/student-teacher", json={"available": available}, headers=headers)


def listed_ids(client, world) -> dict[str, list[str]]:
    """Where a student finds teachers: the course's S-T list, the day view, the directory page."""
    sts = client.get(f"/api/courses/{world.course.id}/sts").get_json()
    day = client.get(f"/api/courses/{world.course.id}/schedule?date=2026-11-24").get_json()
    directory = client.get(f"/courses/{world.course.slug}/teachers").get_data(as_text=True)
    return {
        "sts": [item["id"] for item in sts["items"]],
        "day": [item["id"] for item in day["teachers"]],
        "directory": [world.teacher.handle] if f"/@{world.teacher.handle}" in directory else [],
    }


def test_off_hides_the_teacher_from_new_bookings_and_keeps_booked_sessions(client, world, api_token, now):
    booked = world.book(at(2, 9), now=now)
    teacher = api_token(world.teacher)
    assert client.get("/api/me/student-teacher", headers=teacher).get_json() == {
        "available": True,
        "courses": [{"id": str(world.course.id), "slug": world.course.slug, "title": world.course.title}],
    }
    seen = listed_ids(client, world)
    assert str(world.teacher.id) in seen["sts"] and str(world.teacher.id) in seen["day"] and seen["directory"]

    response = switch(client, teacher, False)
    assert response.status_code == 200 and response.get_json()["available"] is False
    assert listed_ids(client, world) == {"sts": [], "day": [], "directory": []}
    student = api_token(world.student)
    refused = client.post(
        "/api/sessions",
        json={"course_id": str(world.course.id), "teacher_id": str(world.teacher.id), "start": z(at(1, 11))},
        headers=student,
    )
    assert refused.status_code == 422 and error_of(refused)["code"] == "not_a_teacher"
    assert "not taking new bookings" in error_of(refused)["message"]
    availability = client.get(f"/api/sts/{world.teacher.id}/availability?course_id={world.course.id}")
    assert availability.status_code == 404
    db.session.expire_all()  # the switch was saved by a request: read it again
    with pytest.raises(RuleViolation, match="not taking new bookings"):
        session_requests.create_request(
            world.student, course_id=world.course.id, teacher_id=world.teacher.id, proposed_start=z(at(2, 18)), now=now
        )

    # The booked session stays and the student may still move it.
    moved = client.post(f"/api/sessions/{booked.id}/reschedule", json={"start": z(at(2, 14))}, headers=student)
    assert moved.status_code == 200, moved.get_json()
    db.session.expire_all()
    session = db.session.get(TutoringSession, booked.id)
    assert session.status == SessionStatus.scheduled and session.teacher_id == world.teacher.id
    assert session.scheduled_start == at(2, 14)

    assert switch(client, teacher, True).get_json()["available"] is True
    assert str(world.teacher.id) in listed_ids(client, world)["sts"]


def test_a_teacher_still_accepts_a_request_made_before_switching_off(client, world, api_token, now):
    request = session_requests.create_request(
        world.student, course_id=world.course.id, teacher_id=world.teacher.id, proposed_start=z(at(2, 18)), now=now
    )
    switch(client, api_token(world.teacher), False)
    db.session.expire_all()
    accepted = session_requests.respond(world.teacher, request.id, action="accept", now=now)
    assert accepted.session_id is not None


@pytest.mark.parametrize("body", [{"available": "no"}, {"available": 0}, {}, {"available": None}])
def test_a_bad_body_is_400_and_changes_nothing(client, world, api_token, body):
    response = client.put("/api/me/student-teacher", json=body, headers=api_token(world.teacher))
    assert response.status_code == 400 and "available" in error_of(response)["fields"]
    db.session.expire_all()
    assert db.session.get(type(world.teacher), world.teacher.id).is_student_teacher is True


def test_only_an_active_student_teacher_has_the_switch(client, world, make, api_token):
    assert switch(client, api_token(world.student), True).status_code == 403
    assert switch(client, api_token(world.creator), False).status_code == 403
    retired = make.user()
    make.student_teacher(retired, world.course, is_active=False)
    assert switch(client, api_token(retired), True).status_code == 403
    assert client.put("/api/me/student-teacher", json={"available": True}).status_code == 401
    assert client.get("/api/me/student-teacher", headers=api_token(world.student)).get_json() == {
        "available": False,
        "courses": [],
    }


def test_the_dashboard_switch(client, world, login_as, auth):
    login_as(world.student)
    assert "Available as Student-Teacher" not in client.get("/dashboard").get_data(as_text=True)
    auth.logout()

    login_as(world.teacher)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Available as Student-Teacher" in page and 'name="available" type="checkbox" role="switch" checked' in page
    assert world.course.title in page

    off = client.post("/dashboard/student-teacher", data={"csrf_token": auth.csrf("/dashboard")}, follow_redirects=True)
    page = off.get_data(as_text=True)
    assert "hidden from new bookings" in page
    assert 'role="switch" checked' not in page
    db.session.expire_all()
    assert db.session.get(type(world.teacher), world.teacher.id).is_student_teacher is False

    on = client.post(
        "/dashboard/student-teacher",
        data={"available": "on", "csrf_token": auth.csrf("/dashboard")},
        follow_redirects=True,
    )
    assert "students can book you" in on.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(world.teacher), world.teacher.id).is_student_teacher is True


def test_the_dashboard_switch_refuses_a_student(client, world, login_as, auth):
    login_as(world.student)
    response = client.post(
        "/dashboard/student-teacher",
        data={"available": "on", "csrf_token": auth.csrf("/dashboard")},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Only a certified Student-Teacher has this switch." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(world.student), world.student.id).is_student_teacher is False
