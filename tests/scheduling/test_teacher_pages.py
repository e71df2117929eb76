"""The teacher's pages: the availability form (round trip, errors next to their box, nothing lost),
Teaching (sessions and requests in the viewer's zone, Accept books), the calendar feed page, and
where a login lands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from peerloop.extensions import db
from peerloop.scheduling import feeds, requests, services
from peerloop.scheduling.models import CalendarFeed, RequestStatus, SessionStatus, TutoringSession
from tests.conftest import csrf_from

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday; 07:00 in New York


@pytest.fixture(autouse=True)
def _business_time(monkeypatch):
    monkeypatch.setattr("peerloop.clock.now", lambda: NOW)


@pytest.fixture
def teacher(make):
    creator = make.creator(name="Cora Creator")
    course = make.course(creator=creator, title="Intro to Python", session_count=4)
    user = make.user(name="Marcus Teacher", timezone="America/New_York")
    make.student_teacher(user, course)
    user.course = course  # handy in the tests
    return user


@pytest.fixture
def student(make, teacher):
    user = make.user(name="Ana Student", timezone="Asia/Kolkata")
    user.enrollment = make.enrollment(user, teacher.course)
    return user


def week(user, **overrides):
    data = {
        "timezone": "UTC",
        "weekly": [{"day_of_week": d, "start": "09:00", "end": "17:00"} for d in range(1, 6)],
        "session_minutes": 60,
        "buffer_minutes": 0,
        "min_notice_hours": 4,
        "max_window_days": 14,
        **overrides,
    }
    return services.set_availability(user, data, now=NOW)


def form_of(page: str, **changes) -> dict:
    """The availability form as the browser would send it, with ``changes``."""
    import re

    data = {"csrf_token": csrf_from(page)}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or name.group(1) == "csrf_token":
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                data[name.group(1)] = value.group(1) if value else "on"
        else:
            data[name.group(1)] = value.group(1) if value else ""
    for select in ("timezone", "session_minutes"):
        chosen = re.search(rf'<select id="{select}".*?<option value="([^"]+)" selected', page, re.S)
        if chosen:
            data[select] = chosen.group(1)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def value_of(page: str, name: str) -> str | None:
    import re

    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag:
            found = re.search(r'value="([^"]*)"', tag)
            return found.group(1) if found else None
    return None


def post_availability(client, **changes):
    page = client.get("/availability").get_data(as_text=True)
    return client.post("/availability", data=form_of(page, **changes))


# --- availability ------------------------------------------------------------------------------


def test_a_new_teacher_sees_the_defaults_in_their_zone(client, teacher, login_as):
    login_as(teacher)
    page = client.get("/availability").get_data(as_text=True)
    assert '<option value="America/New_York" selected' in page
    assert 'name="buffer_minutes" value="15"' in page
    assert 'name="min_notice_hours" value="4"' in page
    assert 'name="max_window_days" value="14"' in page
    assert "Pause bookings (holiday)" in page
    assert "sessions already booked stay booked" in page.lower()
    for day in ("Sunday", "Monday", "Saturday"):
        assert f">{day}</label>" in page


def test_the_form_round_trips(client, teacher, login_as):
    login_as(teacher)
    response = post_availability(
        client,
        timezone="Europe/Berlin",
        **{"day-1": "09:00-12:00, 14:00-17:00", "day-3": "9:30-24:00", "day-6": ""},
        session_minutes="45",
        buffer_minutes="10",
        min_notice_hours="12",
        max_window_days="30",
        paused="1",
        blocked_add="2026-12-24",
        **{"override-0-date": "2026-12-05", "override-0-start": "10:00", "override-0-end": "13:00"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/availability"
    saved = services.availability_json(teacher)
    assert saved["timezone"] == "Europe/Berlin"
    assert saved["weekly"] == [
        {"day_of_week": 1, "start": "09:00", "end": "12:00"},
        {"day_of_week": 1, "start": "14:00", "end": "17:00"},
        {"day_of_week": 3, "start": "09:30", "end": "24:00"},
    ]
    assert saved["blocked_dates"] == ["2026-12-24"]
    assert saved["overrides"] == [{"date": "2026-12-05", "start": "10:00", "end": "13:00"}]
    assert (saved["session_minutes"], saved["buffer_minutes"], saved["min_notice_hours"]) == (45, 10, 12)
    assert saved["max_window_days"] == 30 and saved["paused"] is True

    page = client.get("/availability").get_data(as_text=True)
    assert "Availability saved" in page and "sessions already booked stay booked" in page
    assert 'name="day-1" value="09:00-12:00, 14:00-17:00"' in page
    assert 'name="day-3" value="09:30-24:00"' in page
    assert 'id="paused" name="paused" type="checkbox" value="1" role="switch" checked' in page

    # Saved again untouched, nothing changes; then a day off and the extra hours are removed.
    assert post_availability(client).status_code == 303
    assert services.availability_json(teacher) == saved
    response = post_availability(client, **{"blocked-0-remove": "1", "override-0-remove": "1"}, paused=None)
    assert response.status_code == 303
    again = services.availability_json(teacher)
    assert again["blocked_dates"] == [] and again["overrides"] == [] and again["paused"] is False
    assert again["weekly"] == saved["weekly"]


@pytest.mark.parametrize(
    ("changes", "box", "text"),
    [
        ({"day-2": "09:00-12:00, 11:00-13:00"}, "day-2", "overlaps"),
        ({"day-4": "17:00-09:00"}, "day-4", "ends after it starts"),
        ({"day-5": "morning"}, "day-5", "09:00-12:00"),
        ({"day-0": "09:00-25:00"}, "day-0", "HH:MM"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Unknown time zone"),
        ({"buffer_minutes": "ten"}, "buffer_minutes", "whole number"),
        ({"max_window_days": "400"}, "max_window_days", "between 1 and 90"),
        ({"blocked_add": "2026-13-45"}, "blocked_add", "YYYY-MM-DD"),
        (
            {"override-0-date": "2026-12-05", "override-0-start": "13:00", "override-0-end": "12:00"},
            "override-0",
            "End",
        ),
    ],
)
def test_a_mistake_comes_back_next_to_its_box_with_a_400_and_nothing_lost(
    client, teacher, login_as, changes, box, text
):
    login_as(teacher)
    week(teacher)
    before = services.availability_json(teacher)
    typed = {"day-1": "08:00-11:00", "day-6": "10:00-14:00", "min_notice_hours": "6", **changes}
    response = post_availability(client, **typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    error = page.split(f'id="{box}-error"', 1)
    assert len(error) == 2, f"no error next to {box}"
    assert text in error[1].split("</p>", 1)[0]
    # Everything typed is still there (the bad value too, where a text box can hold it).
    assert 'name="day-1" value="08:00-11:00"' in page
    assert 'name="day-6" value="10:00-14:00"' in page
    assert 'name="min_notice_hours" value="6"' in page
    for name, value in changes.items():
        if name != "timezone":
            assert value_of(page, name) == value
    # And nothing was saved.
    assert services.availability_json(teacher) == before


def test_errors_on_two_days_land_on_each(client, teacher, login_as):
    login_as(teacher)
    response = post_availability(client, **{"day-1": "12:00-10:00", "day-3": "09:00-11:00, 10:00-12:00"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    monday = page.split('id="day-1-error"', 1)[1].split("</p>", 1)[0]
    wednesday = page.split('id="day-3-error"', 1)[1].split("</p>", 1)[0]
    assert "12:00-10:00" in monday and "ends after it starts" in monday
    assert "overlaps" in wednesday
    assert 'id="day-2-error"' not in page


def test_someone_who_does_not_teach_gets_403(client, make, login_as):
    login_as(make.user())
    for path in ("/availability", "/teaching"):
        response = client.get(path)
        assert response.status_code == 403
        assert "Student-Teachers and creators" in response.get_data(as_text=True)
    page = client.get("/settings/calendar").get_data(as_text=True)
    assert client.post("/availability", data={"csrf_token": csrf_from(page)}).status_code == 403


def test_the_pages_need_a_login(client):
    for path in ("/availability", "/teaching", "/settings/calendar"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- Teaching --------------------------------------------------------------------------------


def _session(teacher, student, start, *, status=SessionStatus.scheduled, number=None):
    row = TutoringSession(
        enrollment_id=student.enrollment.id,
        course_id=teacher.course.id,
        teacher_id=teacher.id,
        student_id=student.id,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        status=status,
        number=number,
    )
    db.session.add(row)
    db.session.commit()
    return row


def test_a_teacher_without_hours_is_told_to_set_them(client, teacher, login_as):
    login_as(teacher)
    page = client.get("/teaching").get_data(as_text=True)
    assert "Students can&#39;t book you yet" in page or "Students can't book you yet" in page
    assert 'href="/availability"' in page and 'href="/settings/calendar"' in page
    assert "No requests." in page and "Students appear here after their first booking" in page


def test_teaching_lists_sessions_and_requests_in_the_viewers_zone(client, teacher, student, login_as):
    week(teacher)
    today = _session(teacher, student, datetime(2026, 11, 23, 15, 0, tzinfo=UTC), number=1)  # 10:00 New York
    later = _session(teacher, student, datetime(2026, 11, 26, 14, 0, tzinfo=UTC), number=2)  # Thu 09:00
    done = _session(teacher, student, datetime(2026, 11, 20, 15, 0, tzinfo=UTC), status=SessionStatus.completed)
    request = requests.create_request(
        student,
        course_id=teacher.course.id,
        teacher_id=teacher.id,
        proposed_start="2026-11-28T18:30:00Z",  # Saturday 13:30 in New York
        message="Weekends suit me",
        now=NOW,
    )
    login_as(teacher)
    page = client.get("/teaching").get_data(as_text=True)
    today_part = page.split('id="today-h"', 1)[1].split('id="upcoming-h"', 1)[0]
    upcoming_part = page.split('id="upcoming-h"', 1)[1].split('id="past-h"', 1)[0]
    past_part = page.split('id="past-h"', 1)[1].split('id="requests-h"', 1)[0]
    assert "Monday 23 November" in today_part
    assert "10:00</time>–11:00" in today_part and f"/sessions/{today.id}" in today_part
    assert "Session 1 of 4" in today_part and "Ana Student" in today_part and "Intro to Python" in today_part
    assert "Thu 26 Nov, 09:00 EST" in upcoming_part and f"/sessions/{later.id}" in upcoming_part
    assert "Session 2 of 4" in upcoming_part and "Scheduled" in upcoming_part
    assert "20 Nov 2026, 10:00 EST" in past_part and "Completed" in past_part and f"/sessions/{done.id}" in past_part
    requests_part = page.split('id="requests-h"', 1)[1].split('id="students-h"', 1)[0]
    assert "28 Nov 2026, 13:30 EST" in requests_part and "Weekends suit me" in requests_part
    assert "Pending" in requests_part
    assert f"/session-requests/{request.id}/accept" in requests_part
    assert f"/session-requests/{request.id}/decline" in requests_part
    assert f"/session-requests/{request.id}/counter" in requests_part and 'type="datetime-local"' in requests_part
    students_part = page.split('id="students-h"', 1)[1]
    assert students_part.count("Ana Student") == 1
    assert "1 done · 2 booked · of 4" in students_part


def test_accept_from_the_teaching_page_books_the_session(client, teacher, student, login_as):
    week(teacher)
    request = requests.create_request(
        student, course_id=teacher.course.id, teacher_id=teacher.id, proposed_start="2026-11-28T18:30:00Z", now=NOW
    )
    login_as(teacher)
    page = client.get("/teaching").get_data(as_text=True)
    response = client.post(
        f"/session-requests/{request.id}/accept", data={"csrf_token": csrf_from(page), "next": "/teaching"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/teaching"
    db.session.expire_all()
    assert request.status == RequestStatus.accepted
    session = db.session.get(TutoringSession, request.session_id)
    assert session.scheduled_start == datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
    assert session.status == SessionStatus.scheduled and session.student_id == student.id
    page = client.get("/teaching").get_data(as_text=True)
    assert "Accepted: the session is booked." in page
    upcoming_part = page.split('id="upcoming-h"', 1)[1].split('id="past-h"', 1)[0]
    assert "Sat 28 Nov, 13:30 EST" in upcoming_part
    assert "Accepted" in page.split('id="requests-h"', 1)[1]


def test_a_counter_from_the_teaching_page_waits_for_the_student(client, teacher, student, login_as):
    week(teacher)
    request = requests.create_request(
        student, course_id=teacher.course.id, teacher_id=teacher.id, proposed_start="2026-11-28T18:30:00Z", now=NOW
    )
    login_as(teacher)
    page = client.get("/teaching").get_data(as_text=True)
    response = client.post(
        f"/session-requests/{request.id}/counter",
        data={"csrf_token": csrf_from(page), "when": "2026-11-29T10:00", "message": "Sunday morning?"},
    )
    assert response.status_code == 303
    page = client.get("/teaching").get_data(as_text=True)
    requests_part = page.split('id="requests-h"', 1)[1].split('id="students-h"', 1)[0]
    assert "Countered" in requests_part and "29 Nov 2026, 10:00 EST" in requests_part
    assert "Waiting for Ana Student" in requests_part
    assert f"/session-requests/{request.id}/accept" not in requests_part


# --- the calendar feed page ---------------------------------------------------------------------


def test_a_student_makes_and_revokes_a_calendar_feed(client, make, login_as):
    user = login_as(make.user())
    page = client.get("/settings/calendar").get_data(as_text=True)
    assert "No feed yet" in page
    created = client.post("/settings/calendar", data={"csrf_token": csrf_from(page)})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    body = created.get_data(as_text=True)
    import re

    url = re.search(r">(http://peerloop\.test/calendar/[^<]+\.ics)</textarea>", body).group(1)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert f'href="webcal://peerloop.test/calendar/{token}.ics"' in body
    assert "Google Calendar" in body and "Apple Calendar" in body and "Outlook" in body
    stored = db.session.scalars(sa.select(CalendarFeed).where(CalendarFeed.user_id == user.id)).one()
    assert stored.token_hash == feeds.token_hash(token) and token not in stored.token_hash
    assert client.get(f"/calendar/{token}.ics").status_code == 200

    again = client.get("/settings/calendar").get_data(as_text=True)
    assert "Feed on" in again and token not in again  # shown once only
    revoked = client.post("/settings/calendar/revoke", data={"csrf_token": csrf_from(again)})
    assert revoked.status_code == 303
    after = client.get("/settings/calendar").get_data(as_text=True)
    assert "Feed turned off" in after and "No feed yet" in after
    assert client.get(f"/calendar/{token}.ics").status_code == 404


def test_a_new_address_stops_the_old_one(client, make, login_as):
    login_as(make.user())
    page = client.get("/settings/calendar").get_data(as_text=True)
    first = client.post("/settings/calendar", data={"csrf_token": csrf_from(page)}).get_data(as_text=True)
    second = client.post("/settings/calendar", data={"csrf_token": csrf_from(first)}).get_data(as_text=True)
    import re

    tokens = [re.search(r"/calendar/([^\"]+)\.ics", html).group(1) for html in (first, second)]
    assert tokens[0] != tokens[1]
    assert client.get(f"/calendar/{tokens[0]}.ics").status_code == 404
    assert client.get(f"/calendar/{tokens[1]}.ics").status_code == 200


# --- nav and the login landing -------------------------------------------------------------------


def test_teaching_is_in_the_nav_only_for_teachers(client, make, teacher, login_as, auth):
    login_as(teacher)
    assert 'href="/teaching">Teaching</a>' in client.get("/courses").get_data(as_text=True)
    auth.logout()
    login_as(make.user())
    assert 'href="/teaching"' not in client.get("/courses").get_data(as_text=True)


def test_a_student_lands_on_my_courses(auth, student):
    assert auth.login(student.email).headers["Location"] == "/dashboard"


def test_a_teacher_without_enrollments_lands_on_teaching(auth, teacher):
    assert auth.login(teacher.email).headers["Location"] == "/teaching"


def test_a_teacher_who_also_studies_lands_on_my_courses(auth, make, teacher):
    other = make.course()
    make.enrollment(teacher, other)
    assert auth.login(teacher.email).headers["Location"] == "/dashboard"


def test_someone_with_nothing_yet_lands_on_my_courses(auth, make):
    assert auth.login(make.user().email).headers["Location"] == "/dashboard"


def test_a_safe_next_still_wins_and_an_unsafe_one_is_ignored(auth, client, teacher):
    assert auth.login(teacher.email, next="/courses?level=beginner").headers["Location"] == "/courses?level=beginner"
    auth.logout()
    assert auth.login(teacher.email, next="https://evil.example/").headers["Location"] == "/teaching"
    # Already logged in, /login sends a teacher to Teaching too.
    assert client.get("/login").headers["Location"] == "/teaching"
