"""The scheduling JSON API through the test client: availability, free slots and bookings, the course's
teachers and day view, sessions (book, detail, cancel, reschedule, calendar export), the checkout
hold, and the counts My courses and the refund quote show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar

from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.extensions import db
from peerloop.payments import sandbox
from peerloop.scheduling import services
from peerloop.scheduling.models import SessionStatus, TutoringSession
from tests.conftest import run_jobs
from tests.payments.conftest import paid
from tests.scheduling.conftest import at, error_of, sessions_of, week, z

pytestmark = pytest.mark.usefixtures("business_time")

TUE9 = at(1, 9)


def post_session(client, headers, world, start, **extra):
    body = {"course_id": str(world.course.id), "teacher_id": str(world.teacher.id), "start": start, **extra}
    return client.post("/api/sessions", json=body, headers=headers)


# --- availability --------------------------------------------------------------------------


def test_put_and_get_my_availability(client, world, api_token, now):
    headers = api_token(world.teacher)
    body = {
        "timezone": "America/New_York",
        "weekly": [
            {"day_of_week": 1, "start": "09:00", "end": "12:00"},
            {"day_of_week": 1, "start": "13:00", "end": "17:00"},  # two windows, one day
            {"day_of_week": 3, "start": "18:00", "end": "24:00"},
        ],
        "blocked_dates": ["2026-11-26"],
        "session_minutes": 45,
        "buffer_minutes": 10,
        "min_notice_hours": 12,
        "max_window_days": 30,
    }
    response = client.put("/api/me/availability", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    got = client.get("/api/me/availability", headers=headers).get_json()
    assert got == response.get_json()
    assert got["timezone"] == "America/New_York"
    assert got["weekly"] == body["weekly"]
    assert got["blocked_dates"] == ["2026-11-26"]
    assert (got["session_minutes"], got["buffer_minutes"], got["min_notice_hours"], got["max_window_days"]) == (
        45,
        10,
        12,
        30,
    )
    assert got["is_set"] is True

    # Keys left out keep their value.
    client.put("/api/me/availability", json={"buffer_minutes": 0}, headers=headers)
    got = client.get("/api/me/availability", headers=headers).get_json()
    assert got["buffer_minutes"] == 0 and got["weekly"] == body["weekly"]


def test_a_24_00_end_joins_the_next_days_00_00(client, world, api_token, now):
    headers = api_token(world.teacher)
    body = {
        "weekly": [
            {"day_of_week": 1, "start": "22:30", "end": "24:00"},  # Monday
            {"day_of_week": 2, "start": "00:00", "end": "01:30"},  # Tuesday
        ],
        "min_notice_hours": 0,
    }
    assert client.put("/api/me/availability", json=body, headers=headers).status_code == 200
    items = client.get(f"/api/sts/{world.teacher.id}/availability").get_json()["items"]
    starts = [item["start"] for item in items if item["start"] < "2026-11-25"]
    # One window 22:30-01:30: the 23:30 slot crosses midnight.
    assert starts == ["2026-11-23T22:30:00Z", "2026-11-23T23:30:00Z", "2026-11-24T00:30:00Z"]
    assert items[1]["end"] == "2026-11-24T00:30:00Z"


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {
                "weekly": [
                    {"day_of_week": 2, "start": "09:00", "end": "12:00"},
                    {"day_of_week": 2, "start": "11:00", "end": "13:00"},
                ]
            },
            "weekly",
        ),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"weekly": [{"day_of_week": 7, "start": "09:00", "end": "12:00"}]}, "weekly.0.day_of_week"),
        ({"weekly": [{"day_of_week": 1, "start": "24:00", "end": "24:00"}]}, "weekly.0.start"),
        ({"weekly": [{"day_of_week": 1, "start": "12:00", "end": "09:00"}]}, "weekly.0.end"),
        ({"weekly": [{"day_of_week": 1, "start": "9am", "end": "12:00"}]}, "weekly.0.start"),
        ({"session_minutes": 50}, "session_minutes"),
        ({"blocked_dates": ["tomorrow"]}, "blocked_dates.0"),
        ({"paused": "yes"}, "paused"),
    ],
)
def test_bad_availability_is_400_with_the_field_and_changes_nothing(client, world, api_token, body, field):
    headers = api_token(world.teacher)
    before = client.get("/api/me/availability", headers=headers).get_json()
    response = client.put("/api/me/availability", json=body, headers=headers)
    assert response.status_code == 400
    assert field in error_of(response)["fields"], error_of(response)
    assert client.get("/api/me/availability", headers=headers).get_json() == before


def test_touching_windows_are_not_an_overlap(client, world, api_token):
    body = {
        "weekly": [
            {"day_of_week": 2, "start": "09:00", "end": "12:00"},
            {"day_of_week": 2, "start": "12:00", "end": "13:00"},
        ]
    }
    assert client.put("/api/me/availability", json=body, headers=api_token(world.teacher)).status_code == 200


def test_only_teachers_set_availability(client, world, api_token):
    response = client.put("/api/me/availability", json={"timezone": "UTC"}, headers=api_token(world.student))
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_a_teacher"


def test_free_slots_are_clear_of_a_booking_and_its_buffer(client, world, now):
    week(world.teacher, now=now, buffer_minutes=15)  # 09:00, 10:15, 11:30, 12:45, 14:00, 15:15
    services.book(
        world.student,
        course_id=world.course.id,
        teacher_id=world.teacher.id,
        start=at(1, 10, 40),  # off the grid, as an accepted request: 10:40-11:40
        now=now,
        within_availability=False,
    )
    query = f"from={z(at(1, 0))}&to={z(at(2, 0))}"
    response = client.get(f"/api/sts/{world.teacher.id}/availability?{query}&course_id={world.course.id}")
    assert response.status_code == 200
    data = response.get_json()
    assert data["session_minutes"] == 60
    assert [item["start"] for item in data["items"]] == [
        z(at(1, 9)),
        z(at(1, 12, 45)),
        z(at(1, 14)),
        z(at(1, 15, 15)),
    ]
    assert data["items"][0]["end"] == z(at(1, 10))

    bookings = client.get(f"/api/sts/{world.teacher.id}/bookings?{query}").get_json()
    assert bookings == {"items": [{"start": z(at(1, 10, 40)), "end": z(at(1, 11, 40))}]}  # times only, no names


def test_availability_input_errors(client, world, make):
    base = f"/api/sts/{world.teacher.id}/availability"
    assert client.get(f"{base}?tz=Not/AZone").status_code == 400
    assert "tz" in error_of(client.get(f"{base}?tz=Not/AZone"))["fields"]
    response = client.get(f"{base}?from=2026-11-24T00:00:00")
    assert response.status_code == 400 and "from" in error_of(response)["fields"]
    response = client.get(f"{base}?from={z(at(2, 0))}&to={z(at(1, 0))}")
    assert response.status_code == 400 and "to" in error_of(response)["fields"]
    assert client.get(f"{base}?course_id={make.course().id}").status_code == 404  # not their course
    assert client.get("/api/sts/not-a-uuid/availability").status_code == 404
    assert client.get(f"/api/sts/{world.teacher.id}/bookings?to=yesterday").status_code == 400


# --- the course's teachers and the day view -----------------------------------------------------


def test_the_course_teachers_list_the_creator_with_availability_and_page(client, world, make, now):
    assert client.get(f"/api/courses/{world.course.id}/sts").get_json()["total"] == 1  # the creator has no hours
    for n in range(2):
        make.student_teacher(make.user(name=f"Extra {n}"), world.course, students_taught=n)
    week(world.creator, now=now)
    first = client.get(f"/api/courses/{world.course.id}/sts?per_page=2").get_json()
    second = client.get(f"/api/courses/{world.course.id}/sts?per_page=2&page=2").get_json()
    assert first["total"] == second["total"] == 4
    assert first["items"][0]["id"] == str(world.creator.id) and first["items"][0]["is_creator"] is True
    assert first["items"][0]["next_available"] == z(at(0, 16))
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 4
    assert str(world.teacher.id) in ids
    extra = next(item for item in first["items"] + second["items"] if item["name"] == "Extra 0")
    assert extra["slots"] == [] and extra["next_available"] is None  # no hours set


def test_the_day_view(client, world, make, api_token, now):
    other = make.user(name="Other Teacher")
    make.student_teacher(other, world.course)
    week(other, now=now, weekly=[{"day_of_week": 3, "start": "09:00", "end": "11:00"}])  # Wednesdays only
    world.book(TUE9, now=now)  # Ana's own session with Marcus

    anonymous = client.get(f"/api/courses/{world.course.slug}/schedule?date=2026-11-25").get_json()
    assert anonymous["date"] == "2026-11-25" and anonymous["tz"] == "UTC"
    assert anonymous["days_with_slots"][:3] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert "2026-11-28" not in anonymous["days_with_slots"]  # a Saturday
    by_id = {t["id"]: t for t in anonymous["teachers"]}
    assert by_id[str(other.id)]["slots"] == [z(at(2, 9)), z(at(2, 10))]
    assert by_id[str(other.id)]["session_minutes"] == 60

    # Tuesday: only Marcus teaches, and 09:00 is taken.
    tuesday = client.get(f"/api/courses/{world.course.id}/schedule?date=2026-11-24").get_json()
    assert [t["id"] for t in tuesday["teachers"]] == [str(world.teacher.id)]
    assert z(TUE9) not in tuesday["teachers"][0]["slots"] and z(at(1, 10)) in tuesday["teachers"][0]["slots"]

    # The first day with a slot when no date is given, in the asked zone.
    first = client.get(f"/api/courses/{world.course.id}/schedule?tz=Asia/Tokyo").get_json()
    assert first["date"] == "2026-11-24"  # Monday 16:00 UTC is Tuesday 01:00 in Tokyo
    assert first["tz"] == "Asia/Tokyo"
    assert client.get(f"/api/courses/{world.course.id}/schedule?tz=Nowhere").status_code == 400
    assert client.get(f"/api/courses/{world.course.id}/schedule?date=soon").status_code == 400
    assert client.get("/api/courses/no-such-course/schedule").status_code == 404


def test_the_viewers_own_sessions_block_the_day_view(client, world, make, api_token, now):
    """Ana has Marcus at 09:00 Wednesday: another teacher's 09:00 is not offered to her, but is to others."""
    other = make.user(name="Other Teacher")
    make.student_teacher(other, world.course)
    week(other, now=now)
    world.book(at(2, 9), now=now)
    path = f"/api/courses/{world.course.id}/schedule?date=2026-11-25"

    mine = client.get(path, headers=api_token(world.student)).get_json()
    theirs = {t["id"]: t["slots"] for t in mine["teachers"]}
    assert z(at(2, 9)) not in theirs[str(other.id)] and z(at(2, 10)) in theirs[str(other.id)]

    anyone = {t["id"]: t["slots"] for t in client.get(path).get_json()["teachers"]}
    assert z(at(2, 9)) in anyone[str(other.id)]
    assert z(at(2, 9)) not in anyone[str(world.teacher.id)]


# --- booking ------------------------------------------------------------------------------


def test_post_a_session(client, world, api_token, now):
    response = post_session(client, api_token(world.student), world, z(TUE9), agenda="Loops")
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    for key in ("id", "course_id", "teacher_id", "student_id", "start", "end", "status", "number", "join_opens_at"):
        assert key in data, key
    assert data["course_id"] == str(world.course.id)
    assert (data["teacher_id"], data["student_id"]) == (str(world.teacher.id), str(world.student.id))
    assert (data["start"], data["end"]) == ("2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z")
    assert (data["status"], data["number"], data["session_count"]) == ("scheduled", 1, 2)
    assert data["join_opens_at"] == "2026-11-24T08:45:00Z"
    assert data["agenda"] == "Loops"
    assert data["role"] == "student"
    db.session.expire_all()
    assert db.session.get(Enrollment, world.enrollment.id).status == EnrollmentStatus.in_progress


def test_an_idempotency_key_repeat_returns_the_first_session(client, world, api_token):
    headers = {**api_token(world.student), "Idempotency-Key": "book-once"}
    first = post_session(client, headers, world, z(TUE9))
    again = post_session(client, headers, world, z(TUE9))
    assert first.status_code == 201 and again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(sessions_of(world.enrollment.id)) == 1


def test_a_taken_slot_is_409(client, world, enrolled, api_token, now):
    world.book(TUE9, now=now, student=enrolled())
    response = post_session(client, api_token(world.student), world, z(TUE9))
    assert response.status_code == 409
    assert error_of(response)["code"] == "slot_unavailable"
    assert error_of(response)["message"] == "This time is no longer available. Select another."


def test_the_422s(client, world, make, api_token, now):
    headers = api_token(world.student)
    cases = [
        ({"start": z(at(1, 8))}, "outside_availability"),
        ({"start": z(at(0, 13))}, "too_soon"),
        ({"start": z(at(0, 9))}, "too_soon"),
        ({"start": z(at(16, 9))}, "too_far"),
        ({"start": z(TUE9), "teacher_id": str(make.user().id)}, "not_a_teacher"),
    ]
    for extra, code in cases:
        response = post_session(client, headers, world, **{"start": extra.pop("start"), **extra})
        assert response.status_code == 422, (code, response.get_json())
        assert error_of(response)["code"] == code

    stranger = make.user()
    response = post_session(client, api_token(stranger), world, z(TUE9))
    assert (response.status_code, error_of(response)["code"]) == (422, "not_enrolled")

    world.book(at(2, 9), now=now)
    world.book(at(2, 10), now=now)
    response = post_session(client, headers, world, z(at(2, 11)))
    assert (response.status_code, error_of(response)["code"]) == (422, "no_sessions_left")


@pytest.mark.parametrize("start", ["2026-11-24T09:00:00", "2026-11-24", "tomorrow", None, 42])
def test_naive_or_malformed_start_is_400(client, world, api_token, start):
    response = post_session(client, api_token(world.student), world, start)
    assert response.status_code == 400
    assert "start" in error_of(response)["fields"]


def test_booking_needs_a_login_and_a_json_body(client, world, api_token):
    assert post_session(client, {}, world, z(TUE9)).status_code == 401
    response = client.post("/api/sessions", data="nope", headers=api_token(world.student))
    assert response.status_code in (400, 415)


# --- a session: detail, list, cancel, reschedule, calendar ---------------------------------------------


def test_a_session_is_seen_by_its_people_only(client, world, make, api_token, now):
    session = world.book(TUE9, now=now)
    path = f"/api/sessions/{session.id}"
    assert client.get(path, headers=api_token(world.student)).get_json()["role"] == "student"
    assert client.get(path, headers=api_token(world.teacher)).get_json()["role"] == "teacher"
    assert client.get(path, headers=api_token(make.admin())).status_code == 200
    stranger = api_token(make.user())
    for response in (
        client.get(path, headers=stranger),
        client.post(f"{path}/cancel", json={"reason": "x"}, headers=stranger),
        client.post(f"{path}/reschedule", json={"start": z(at(2, 9))}, headers=stranger),
        client.get(f"{path}/calendar-export", headers=stranger),
        client.get("/api/sessions/not-a-uuid", headers=stranger),
    ):
        assert response.status_code == 404
    assert client.get("/api/sessions?role=student", headers=stranger).get_json()["items"] == []


def test_my_sessions_by_role_and_status(client, world, make, api_token, now):
    first = world.book(TUE9, now=now)
    second = world.book(at(2, 9), now=now)
    services.cancel(world.student, second.id, now=now)
    headers = api_token(world.student)
    everything = client.get("/api/sessions", headers=headers).get_json()
    assert [s["id"] for s in everything["items"]] == [str(first.id), str(second.id)]
    assert everything["total"] == 2
    scheduled = client.get("/api/sessions?status=scheduled", headers=headers).get_json()
    assert [s["id"] for s in scheduled["items"]] == [str(first.id)]
    assert client.get("/api/sessions?role=teacher", headers=headers).get_json()["items"] == []
    teaching = client.get("/api/sessions?role=teacher", headers=api_token(world.teacher)).get_json()
    assert teaching["total"] == 2
    assert client.get("/api/sessions?status=held", headers=headers).status_code == 400
    assert client.get("/api/sessions?role=boss", headers=headers).status_code == 400
    second_page = client.get("/api/sessions?per_page=1&page=2", headers=headers).get_json()
    assert [s["id"] for s in second_page["items"]] == [str(second.id)] and second_page["total"] == 2


def _calendar_event(client, session_id, headers):
    response = client.get(f"/api/sessions/{session_id}/calendar-export", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    (event,) = Calendar.from_ical(response.data).walk("VEVENT")
    return event


def test_cancel_and_the_calendar_export(client, world, api_token, now):
    session = world.book(at(2, 9), now=now)
    headers = api_token(world.student)
    before = _calendar_event(client, session.id, headers)
    assert str(before["status"]) == "CONFIRMED"
    assert before["dtstart"].dt == at(2, 9)

    response = client.post(f"/api/sessions/{session.id}/cancel", json={}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled" and response.get_json()["late_cancellation"] is False
    after = _calendar_event(client, session.id, headers)
    assert str(after["status"]) == "CANCELLED"
    assert str(after["uid"]) == str(before["uid"])
    assert int(after["sequence"]) == int(before["sequence"]) + 1
    free = client.get(f"/api/sts/{world.teacher.id}/availability").get_json()["items"]
    assert z(at(2, 9)) in [item["start"] for item in free]

    again = client.post(f"/api/sessions/{session.id}/cancel", json={}, headers=headers)
    assert (again.status_code, error_of(again)["code"]) == (409, "not_cancellable")


def test_a_late_cancel_without_a_reason_is_400(client, world, api_token, now):
    session = world.book(TUE9, now=now)
    headers = api_token(world.student)
    response = client.post(f"/api/sessions/{session.id}/cancel", json={}, headers=headers)
    assert response.status_code == 400 and "reason" in error_of(response)["fields"]
    response = client.post(f"/api/sessions/{session.id}/cancel", json={"reason": "Flu"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["late_cancellation"] is True
    assert response.get_json()["cancel_reason"] == "Flu"


def test_reschedule_and_the_calendar_sequence(client, world, enrolled, api_token, now):
    session = world.book(at(2, 9), now=now)
    headers = api_token(world.student)
    before = _calendar_event(client, session.id, headers)
    response = client.post(f"/api/sessions/{session.id}/reschedule", json={"start": z(at(3, 10))}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["start"], response.get_json()["end"]) == (z(at(3, 10)), z(at(3, 11)))
    after = _calendar_event(client, session.id, headers)
    assert int(after["sequence"]) == int(before["sequence"]) + 1
    assert str(after["uid"]) == str(before["uid"])
    assert after["dtstart"].dt == at(3, 10)

    world.book(at(4, 9), now=now, student=enrolled())
    taken = client.post(f"/api/sessions/{session.id}/reschedule", json={"start": z(at(4, 9))}, headers=headers)
    assert (taken.status_code, error_of(taken)["code"]) == (409, "slot_unavailable")
    kept = client.get(f"/api/sessions/{session.id}", headers=headers).get_json()
    assert kept["start"] == z(at(3, 10))
    naive = client.post(
        f"/api/sessions/{session.id}/reschedule", json={"start": "2026-11-27T09:00:00"}, headers=headers
    )
    assert naive.status_code == 400 and "start" in error_of(naive)["fields"]


# --- the checkout hold -----------------------------------------------------------------------


def test_a_checkout_with_a_start_holds_the_slot_and_paying_books_it(app, client, world, make, api_token, now):
    buyer, rival = make.user(), make.user()
    body = {"course_id": str(world.course.id), "student_teacher_id": str(world.teacher.id), "start": z(TUE9)}
    response = client.post("/api/checkout/session", json=body, headers=api_token(buyer))
    assert response.status_code == 201, response.get_json()
    gateway_id = response.get_json()["id"]

    taken = client.post("/api/checkout/session", json=body, headers=api_token(rival))
    assert (taken.status_code, error_of(taken)["code"]) == (409, "slot_unavailable")
    booked = post_session(client, api_token(world.student), world, z(TUE9))
    assert (booked.status_code, error_of(booked)["code"]) == (409, "slot_unavailable")
    free = client.get(f"/api/sts/{world.teacher.id}/availability").get_json()["items"]
    assert z(TUE9) not in [item["start"] for item in free]

    sandbox.pay(gateway_id, now=now)
    run_jobs(app)
    headers = api_token(buyer)
    (session,) = client.get("/api/sessions", headers=headers).get_json()["items"]
    assert (session["start"], session["status"], session["number"]) == (z(TUE9), "scheduled", 1)
    (enrollment,) = client.get("/api/enrollments", headers=headers).get_json()["items"]
    assert enrollment["status"] == "in_progress"
    assert enrollment["student_teacher_id"] == str(world.teacher.id)
    assert enrollment["sessions_used"] == 1


def test_a_checkout_start_without_a_teacher_or_with_a_naive_time_is_400(client, world, make, api_token):
    headers = api_token(make.user())
    response = client.post(
        "/api/checkout/session", json={"course_id": str(world.course.id), "start": z(TUE9)}, headers=headers
    )
    assert response.status_code == 400 and "start" in error_of(response)["fields"]
    response = client.post(
        "/api/checkout/session",
        json={
            "course_id": str(world.course.id),
            "student_teacher_id": str(world.teacher.id),
            "start": "2026-11-24T09:00:00",
        },
        headers=headers,
    )
    assert response.status_code == 400 and "start" in error_of(response)["fields"]


def test_a_lapsed_hold_whose_time_was_taken_leaves_the_enrollment_without_a_session(
    app, client, world, make, api_token, now, monkeypatch
):
    buyer = make.user()
    body = {"course_id": str(world.course.id), "student_teacher_id": str(world.teacher.id), "start": z(TUE9)}
    gateway_id = client.post("/api/checkout/session", json=body, headers=api_token(buyer)).get_json()["id"]
    later = now + timedelta(hours=2)
    monkeypatch.setattr("peerloop.clock.now", lambda: later)
    assert post_session(client, api_token(world.student), world, z(TUE9)).status_code == 201
    sandbox.pay(gateway_id, now=later)
    run_jobs(app)
    headers = api_token(buyer)
    (enrollment,) = client.get("/api/enrollments", headers=headers).get_json()["items"]
    assert enrollment["status"] == "enrolled" and enrollment["sessions_used"] == 0
    assert client.get("/api/sessions", headers=headers).get_json()["items"] == []


# --- the enrollment's counts and its end -------------------------------------------------------------


@pytest.fixture
def buyer(app, make, world, now):
    student = make.user(name="Paying Student")
    enrollment = paid(app, student, world.course, now=now)
    return student, enrollment


def _counts(client, headers, enrollment_id):
    (row,) = client.get("/api/enrollments", headers=headers).get_json()["items"]
    quote = client.get(f"/api/enrollments/{enrollment_id}/refund-quote", headers=headers).get_json()
    return row["sessions_used"], quote["delivered_sessions"], quote["refund_cents"]


def test_sessions_used_and_the_refund_quote_follow_the_counting_rules(client, world, buyer, api_token, now):
    student, enrollment = buyer
    headers = api_token(student)
    used, delivered, untouched = _counts(client, headers, enrollment.id)
    assert (used, delivered) == (0, 0)

    first = world.book(TUE9, now=now, student=student)
    second = world.book(at(1, 10), now=now, student=student)
    assert _counts(client, headers, enrollment.id)[:2] == (2, 0)

    # The teacher cancels late: the place is free again, nothing delivered.
    teacher_headers = api_token(world.teacher)
    response = client.post(f"/api/sessions/{second.id}/cancel", json={"reason": "Ill"}, headers=teacher_headers)
    assert response.status_code == 200
    assert _counts(client, headers, enrollment.id) == (1, 0, untouched)

    # The student cancels late: the session is used and delivered (the refund shrinks).
    response = client.post(f"/api/sessions/{first.id}/cancel", json={"reason": "Busy"}, headers=headers)
    assert response.status_code == 200
    used, delivered, refund = _counts(client, headers, enrollment.id)
    assert (used, delivered) == (1, 1)
    assert refund < untouched


def test_a_refund_that_ends_the_enrollment_cancels_its_future_sessions(client, world, buyer, api_token, now):
    student, enrollment = buyer
    session = world.book(at(2, 9), now=now, student=student)
    headers = api_token(student)
    response = client.post(f"/api/enrollments/{enrollment.id}/cancel", json={}, headers=headers)
    assert response.status_code == 200, response.get_json()
    detail = client.get(f"/api/sessions/{session.id}", headers=headers).get_json()
    assert detail["status"] == "cancelled" and detail["late_cancellation"] is False
    db.session.expire_all()
    assert db.session.get(TutoringSession, session.id).status == SessionStatus.cancelled
    free = client.get(f"/api/sts/{world.teacher.id}/availability").get_json()["items"]
    assert z(at(2, 9)) in [item["start"] for item in free]
    response = post_session(client, headers, world, z(at(3, 9)))
    assert (response.status_code, error_of(response)["code"]) == (422, "not_enrolled")
