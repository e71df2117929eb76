"""Brian's Teaching menu at /admin: sessions and session requests, read-only, as a person uses it.

The sessions are made directly as rows (booking has its own tests); the pages are real requests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from peerloop import clock
from peerloop.extensions import db
from peerloop.scheduling.models import (
    NoShowBy,
    RequestStatus,
    SessionRequest,
    SessionStatus,
    TutoringSession,
)
from tests.conftest import csrf_from

LIST = "/admin/console_sessions/"
REQUESTS = "/admin/console_session_requests/"
LATE = "flt0_late_cancellation_equals=1"
NEW_YORK = ZoneInfo("America/New_York")


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def rows(html: str) -> list[str]:
    """The list's rows (each cell carries its column's name for the phone layout), as text."""
    body = html.split("</thead>", 1)[-1]
    found = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", r).strip() for r in found if "data-label" in r]


def add_session(enrollment, teacher, *, start, status=SessionStatus.scheduled, **values) -> TutoringSession:
    row = TutoringSession(
        enrollment_id=None if status in (SessionStatus.held, SessionStatus.lapsed) else enrollment.id,
        course_id=enrollment.course_id,
        teacher_id=teacher.id,
        student_id=enrollment.student_id,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        status=status,
        **values,
    )
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def world(make):
    """Two teachers, two students, one course each, and sessions of every kind."""
    now = clock.now().replace(microsecond=0)
    course = make.course(title="Terminal basics", session_count=2)
    other_course = make.course(title="Prompt craft", session_count=3)
    teacher = make.user(name="Tara Teacher", email="tara@example.com")
    other_teacher = make.user(name="Otto Mentor", email="otto@example.com")
    student = make.user(name="Sam Student", email="sam@example.com")
    other_student = make.user(name="Lena Learner", email="lena@example.com")
    enrollment = make.enrollment(student, course)
    other_enrollment = make.enrollment(other_student, other_course)
    s = {}
    s["upcoming"] = add_session(enrollment, teacher, start=now + timedelta(days=2), number=1)
    s["done"] = add_session(
        other_enrollment, other_teacher, start=now - timedelta(days=3), status=SessionStatus.completed, number=1
    )
    s["late_student"] = add_session(
        enrollment,
        teacher,
        start=now - timedelta(days=1),
        status=SessionStatus.cancelled,
        late_cancellation=True,
        cancelled_by=student.id,
        cancelled_at=now - timedelta(days=1, hours=5),
        cancel_reason="Sick with the flu",
        number=2,
    )
    s["late_teacher"] = add_session(
        other_enrollment,
        other_teacher,
        start=now - timedelta(days=2),
        status=SessionStatus.cancelled,
        late_cancellation=True,
        cancelled_by=other_teacher.id,
        cancelled_at=now - timedelta(days=2, hours=3),
        cancel_reason="Power cut",
    )
    s["late_old"] = add_session(  # late, but cancelled 10 days ago: not on this week's card
        other_enrollment,
        other_teacher,
        start=now - timedelta(days=10),
        status=SessionStatus.cancelled,
        late_cancellation=True,
        cancelled_by=other_student.id,
        cancelled_at=now - timedelta(days=10, hours=2),
        cancel_reason="Forgot",
    )
    s["early"] = add_session(
        enrollment,
        teacher,
        start=now + timedelta(days=5),
        status=SessionStatus.cancelled,
        cancelled_by=student.id,
        cancelled_at=now - timedelta(hours=1),
        cancel_reason="Moving house",
    )
    s["no_show"] = add_session(
        other_enrollment,
        other_teacher,
        start=now - timedelta(days=4),
        status=SessionStatus.no_show,
        no_show_by=NoShowBy.student,
        number=2,
    )
    s["held"] = add_session(enrollment, teacher, start=now + timedelta(days=6), status=SessionStatus.held)
    s["lapsed"] = add_session(enrollment, teacher, start=now + timedelta(days=7), status=SessionStatus.lapsed)
    return {
        "now": now,
        "course": course,
        "other_course": other_course,
        "teacher": teacher,
        "other_teacher": other_teacher,
        "student": student,
        "other_student": other_student,
        "enrollment": enrollment,
        "sessions": s,
    }


@pytest.fixture
def brian(make, login_as):
    return login_as(make.admin(name="Brian", timezone="America/New_York"))


def details(session) -> str:
    return f"{LIST}details/?id={session.id}"


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["student", "creator", "moderator"])
def test_the_teaching_pages_are_refused_to_visitors_and_non_admins(client, make, login_as, auth, world, role):
    pages = [LIST, details(world["sessions"]["upcoming"]), REQUESTS, f"{LIST}?{LATE}"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    user = {"student": make.user, "creator": make.creator, "moderator": lambda: make.user(is_moderator=True)}[role]()
    login_as(user)
    for path in pages:
        assert client.get(path).status_code == 403, path
    # A Student-Teacher of the session is refused too: the console is Brian's.
    auth.logout()
    login_as(world["teacher"])
    assert client.get(LIST).status_code == 403


def test_the_teaching_menu_lists_its_pages(client, brian):
    home = page(client, "/admin/")
    assert "Teaching" in home
    for href in (LIST, REQUESTS, f"{LIST}?{LATE}"):
        assert f'href="{href}"' in home, href


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_every_booked_session_newest_start_first(client, brian, world):
    body = page(client, LIST)
    listed = rows(body)
    assert len(listed) == 7  # held and lapsed are checkout holds, not sessions
    headers = {re.sub(r"<[^>]+>|\s+", " ", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", body, re.S)}
    assert {
        "Start",
        "Course",
        "Teacher",
        "Student",
        "Session",
        "Status",
        "Late cancellation",
        "Cancelled by",
        "Reason",
        "No-show by",
    } <= headers
    # Newest start first: the cancelled-early session (in 5 days), then the upcoming one (in 2).
    assert "Moving house" in listed[0]
    assert "scheduled" in listed[1] and "1 of 2" in listed[1]
    assert "Terminal basics" in body and "Tara Teacher" in body and "Sam Student" in body
    assert "Sick with the flu" in body and ">late</span>" in body
    assert "no show" in body  # the status chip


def test_held_and_lapsed_are_hidden_from_the_list_filters_and_details(client, brian, world):
    s = world["sessions"]
    for status in ("held", "lapsed"):  # not a status the filter offers: refused, and still only the 7
        html = page(client, f"{LIST}?flt0_status_equals={status}")
        assert "Invalid Filter Value" in html
        assert len(rows(html)) == 7 and not any(status in r for r in rows(html))
    for hidden in (s["held"], s["lapsed"]):
        response = client.get(details(hidden))
        assert response.status_code == 302  # Flask-Admin: "Record does not exist", back to the list
    assert "held" not in re.findall(r'<option value="([^"]+)"', page(client, LIST))


def test_times_are_shown_in_the_admins_zone(client, brian, world):
    upcoming = world["sessions"]["upcoming"]
    body = page(client, LIST)
    local = upcoming.scheduled_start.astimezone(NEW_YORK)
    shown = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    assert shown in body
    utc = upcoming.scheduled_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'<time datetime="{utc}"' in body
    assert shown in page(client, details(upcoming))


def test_filter_by_status_late_cancellation_teacher_course_and_dates(client, brian, world):
    s = world["sessions"]
    late = rows(page(client, f"{LIST}?{LATE}"))
    assert len(late) == 3 and all("late" in r for r in late)
    assert len(rows(page(client, f"{LIST}?flt0_status_equals=no_show"))) == 1
    assert len(rows(page(client, f"{LIST}?flt0_status_equals=cancelled"))) == 4
    by_tara = rows(page(client, f"{LIST}?flt0_teacher_is={world['teacher'].id}"))
    assert len(by_tara) == 3 and all("Tara Teacher" in r for r in by_tara)
    prompt = rows(page(client, f"{LIST}?flt0_course_is={world['other_course'].id}"))
    assert len(prompt) == 4 and all("Prompt craft" in r for r in prompt)
    # Dates are the admin's days (New York): the upcoming session's local day finds it alone.
    day = s["upcoming"].scheduled_start.astimezone(NEW_YORK).date()
    on_day = rows(page(client, f"{LIST}?flt0_start_date_between={day} to {day}"))
    assert len(on_day) == 1 and "1 of 2" in on_day[0]
    # Filters combine; an unreadable value is refused with a message, never a 500.
    combined = rows(page(client, f"{LIST}?{LATE}&flt1_teacher_is={world['teacher'].id}"))
    assert len(combined) == 1 and "Sick with the flu" in combined[0]
    for odd in ("flt0_teacher_is=nope", "flt0_start_date_between=2026-13-01", "flt0_cancelled_in_the_last=999"):
        assert client.get(f"{LIST}?{odd}").status_code == 200, odd


def test_the_date_filter_reads_days_in_the_admins_zone(client, brian, make):
    """03:30 UTC on the 20th is still the 19th in New York."""
    course = make.course(title="Night owls")
    teacher, student = make.user(), make.user()
    enrollment = make.enrollment(student, course)
    add_session(enrollment, teacher, start=datetime(2026, 11, 20, 3, 30, tzinfo=UTC))
    assert len(rows(page(client, f"{LIST}?flt0_start_date_between=2026-11-19 to 2026-11-19"))) == 1
    assert rows(page(client, f"{LIST}?flt0_start_date_between=2026-11-20 to 2026-11-20")) == []


def test_search_by_teacher_or_student_name_or_email(client, brian, world):
    assert len(rows(page(client, f"{LIST}?search=otto@example"))) == 4
    assert len(rows(page(client, f"{LIST}?search=sam"))) == 3
    assert len(rows(page(client, f"{LIST}?search=lena learner"))) == 4
    assert rows(page(client, f"{LIST}?search=nobody%25")) == []
    assert "Teacher or student name or email" in page(client, LIST)


def test_the_late_cancellations_quick_filter_is_on_the_list(client, brian, world):
    body = page(client, LIST)
    assert f'href="{LIST}?{LATE}"' in body.replace("&amp;", "&")
    week = f"{LIST}?{LATE}&flt1_cancelled_in_the_last=7"
    assert f'href="{week}"' in body.replace("&amp;", "&")
    recent = rows(page(client, week))
    assert len(recent) == 2 and not any("Forgot" in r for r in recent)


# --- details ---------------------------------------------------------------------------------


def test_the_details_page_has_everything_and_links_to_people_and_the_refund_tool(client, brian, world):
    late = world["sessions"]["late_student"]
    body = page(client, details(late))
    assert "Sick with the flu" in body and "late cancellation" in body
    assert "sam@example.com" in body and "tara@example.com" in body
    assert "2 of 2" in body and "student" in body
    assert f'href="/admin/console_users/details/?id={world["teacher"].id}"' in body
    assert f'href="/admin/console_users/details/?id={world["student"].id}"' in body
    assert f'href="/admin/refunds/{world["enrollment"].id}/"' in body
    assert f"flt0_teacher_is={world['teacher'].id}" in body
    assert page(client, f"/admin/refunds/{world['enrollment'].id}/")


def test_the_details_page_escapes_what_people_wrote(client, brian, world):
    session = world["sessions"]["upcoming"]
    session.agenda = "<script>alert(1)</script>"
    db.session.commit()
    body = page(client, details(session))
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_no_create_edit_or_delete(client, brian, world):
    session = world["sessions"]["upcoming"]
    body = page(client, LIST)
    assert "/admin/console_sessions/new/" not in body
    assert "/admin/console_sessions/edit/" not in body
    assert "/admin/console_sessions/delete/" not in body
    assert client.get(f"{LIST}new/").status_code in (302, 404)
    assert client.get(f"{LIST}edit/?id={session.id}").status_code in (302, 404)
    token = csrf_from(body) if "csrf_token" in body else csrf_from(page(client, "/admin/"))
    for path, data in (
        (f"{LIST}delete/", {"id": str(session.id), "csrf_token": token}),
        (f"{LIST}new/", {"status": "cancelled", "csrf_token": token}),
        (f"{LIST}edit/?id={session.id}", {"status": "cancelled", "csrf_token": token}),
        (f"{LIST}action/", {"action": "delete", "rowid": str(session.id), "csrf_token": token}),
    ):
        assert client.post(path, data=data).status_code in (302, 404), path
    db.session.expire_all()
    kept = db.session.get(TutoringSession, session.id)
    assert kept is not None and kept.status == SessionStatus.scheduled
    assert "/admin/console_session_requests/new/" not in page(client, REQUESTS)
    assert client.get(f"{REQUESTS}new/").status_code in (302, 404)


# --- the console home card ---------------------------------------------------------------------


def test_the_home_card_counts_this_weeks_late_cancellations_by_whom(client, brian, world):
    home = page(client, "/admin/")
    card = home.split('id="late-cancellations-card"', 1)[1].split("</div></div>", 1)[0]
    assert re.search(r'id="late-total">2<', card)
    assert re.search(r'id="late-by-student">1<', card)
    assert re.search(r'id="late-by-teacher">1<', card)
    link = re.search(r'href="([^"]+)">See them', card).group(1).replace("&amp;", "&")
    listed = rows(page(client, link))
    assert len(listed) == 2  # the list behind the card shows what it counted
    assert {"Sick with the flu" in r or "Power cut" in r for r in listed} == {True}


def test_the_home_card_says_zero_with_no_sessions(client, brian):
    home = page(client, "/admin/")
    assert re.search(r'id="late-total">0<', home)


# --- session requests -------------------------------------------------------------------------------


def test_session_requests_are_listed_read_only(client, brian, world):
    now = world["now"]
    request = SessionRequest(
        enrollment_id=world["enrollment"].id,
        course_id=world["course"].id,
        student_id=world["student"].id,
        teacher_id=world["teacher"].id,
        proposed_start=now + timedelta(days=3),
        counter_start=now + timedelta(days=4),
        message="Could we do an evening?",
        status=RequestStatus.countered,
    )
    db.session.add(request)
    db.session.commit()
    body = page(client, REQUESTS)
    listed = rows(body)
    assert len(listed) == 1 and "countered" in listed[0] and "Sam Student" in listed[0]
    headers = {re.sub(r"<[^>]+>|\s+", " ", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", body, re.S)}
    assert {"Created", "Status", "Student", "Teacher", "Course", "Proposed time", "Counter time"} <= headers
    assert body.count("<time") >= 3
    assert len(rows(page(client, f"{REQUESTS}?flt0_status_equals=countered"))) == 1
    assert rows(page(client, f"{REQUESTS}?flt0_status_equals=pending")) == []
    assert len(rows(page(client, f"{REQUESTS}?search=tara"))) == 1
    detail = page(client, f"{REQUESTS}details/?id={request.id}")
    assert "Could we do an evening?" in detail
    assert client.get(f"{REQUESTS}edit/?id={request.id}").status_code in (302, 404)
    assert db.session.scalar(sa.select(sa.func.count(SessionRequest.id))) == 1
