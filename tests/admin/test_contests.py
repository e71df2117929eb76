"""Brian's contest queue at /admin/contests/, used as a person uses it: real pages, real forms with CSRF.

The contest is built through the real services: a paid enrollment (the sandbox's checkout and its
webhook), a booking, the teacher's hand-marked outcome, the student's contest.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from peerloop.extensions import db
from peerloop.scheduling.models import NoShowBy, SessionStatus
from peerloop.video import outcomes
from peerloop.video.models import Attendance, AttendanceSource
from tests.conftest import csrf_from
from tests.scheduling.conftest import at
from tests.video import conftest as video_fixtures
from tests.video.test_outcomes import fresh, releases

paid_world = video_fixtures.paid_world  # the booking world with a real purchase (a fixture)

QUEUE = "/admin/contests/"
DECIDE = "/admin/contests/decide/"
SESSIONS = "/admin/console_sessions/"
START = at(1, 9)  # Tuesday 2026-11-24 09:00 UTC
END = START + timedelta(hours=1)
NEW_YORK = ZoneInfo("America/New_York")
REASON = "I was there, the link did not work & nobody answered"


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def flashes(html: str) -> str:
    return " ".join(text(m) for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S))


@pytest.fixture
def business_time(monkeypatch):
    """The console reads business time: two days after the session, inside nothing in particular."""
    moment = END + timedelta(hours=2)
    monkeypatch.setattr("peerloop.clock.now", lambda: moment)
    return moment


@pytest.fixture
def contested(paid_world, now, business_time):
    """A session the teacher marked completed at the end and the student contested an hour later."""
    booked = paid_world.book(START, now=now)
    outcomes.mark_by_teacher(paid_world.teacher, booked.id, "completed", now=END)
    outcomes.contest(paid_world.student, booked.id, REASON, now=END + timedelta(hours=1))
    return fresh(booked.id)


@pytest.fixture
def brian(paid_world, login_as):
    paid_world.admin.timezone = "America/New_York"
    db.session.commit()
    return login_as(paid_world.admin)


def decide(client, session, resolution: str):
    token = csrf_from(page(client, QUEUE))
    return client.post(
        DECIDE,
        data={"csrf_token": token, "session_id": str(session.id), "resolution": resolution},
        follow_redirects=True,
    )


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["student", "teacher", "creator", "moderator"])
def test_the_queue_is_refused_to_visitors_and_non_admins(client, make, login_as, paid_world, contested, role):
    response = client.get(QUEUE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    user = {
        "student": lambda: paid_world.student,
        "teacher": lambda: paid_world.teacher,
        "creator": lambda: paid_world.creator,
        "moderator": lambda: make.user(is_moderator=True),
    }[role]()
    login_as(user)
    assert client.get(QUEUE).status_code == 403
    token = csrf_from(page(client, "/"))
    response = client.post(
        DECIDE, data={"csrf_token": token, "session_id": str(contested.id), "resolution": "returned"}
    )
    assert response.status_code == 403
    assert fresh(contested.id).contest_resolved_at is None


def test_the_teaching_menu_links_the_queue_at_the_notifications_url(client, brian):
    home = page(client, "/admin/")
    link = re.search(rf'href="{QUEUE}">(.*?)</a>', home, re.S)
    assert link and text(link.group(1)) == "Contests"


# --- the queue ----------------------------------------------------------------------------------


def test_the_queue_lists_an_undecided_contest_with_what_each_side_said(client, brian, paid_world, contested):
    body = page(client, QUEUE)
    section = body.split(f'id="contest-{contested.id}"', 1)[1].split("</section>", 1)[0]
    words = text(section)
    assert "Intro to Python" in words and "Ana Student" in words and "Marcus Teacher" in words
    assert REASON in words  # escaped in the page, read back as text
    assert "&amp; nobody answered" in section
    assert "The teacher marked it completed" in words
    # Times in Brian's zone (New York), to the minute, as the Sessions view shows them.
    local = START.astimezone(NEW_YORK)
    assert f"{local:%Y-%m-%d %H:%M} {local.tzname()}" in words
    marked = END.astimezone(NEW_YORK)
    assert f"completed , at {marked:%Y-%m-%d %H:%M}" in words or f"completed, at {marked:%Y-%m-%d %H:%M}" in words
    assert f'<time datetime="{START.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"' in section
    assert "Nobody was recorded in the room." in words
    assert "Pay the teacher" in words and "Give the session back to the student" in words
    assert section.count('name="csrf_token"') == 2
    assert f'href="/admin/refunds/{paid_world.enrollment.id}/"' in section and "Refund tool" in words
    assert f'href="{SESSIONS}details/?id={contested.id}"' in section
    assert page(client, f"/admin/refunds/{paid_world.enrollment.id}/")


def test_the_queue_shows_who_the_room_recorded(client, brian, paid_world, contested):
    db.session.add(
        Attendance(
            session_id=contested.id,
            user_id=paid_world.teacher.id,
            joined_at=START + timedelta(minutes=2),
            left_at=START + timedelta(minutes=14),
            duration_seconds=12 * 60,
            source=AttendanceSource.join,
        )
    )
    db.session.commit()
    words = text(page(client, QUEUE))
    assert "Nobody was recorded" not in words
    assert "Marcus Teacher (teacher)" in words and "12 min" in words
    joined = (START + timedelta(minutes=2)).astimezone(NEW_YORK)
    assert f"{joined:%Y-%m-%d %H:%M}" in words


def test_contests_are_oldest_first_and_an_empty_queue_says_so(client, brian, paid_world, contested, now):
    later = paid_world.book(at(2, 9), now=now)
    end = at(2, 10)
    outcomes.mark_by_teacher(paid_world.teacher, later.id, "student_no_show", now=end)
    outcomes.contest(paid_world.student, later.id, "I waited in the room", now=end + timedelta(minutes=30))
    body = page(client, QUEUE)
    assert body.index(f'id="contest-{contested.id}"') < body.index(f'id="contest-{later.id}"')
    assert "the student did not come (student no-show)" in text(body)
    decide(client, contested, "teacher_paid")
    decide(client, later, "teacher_paid")
    body = page(client, QUEUE)
    assert 'id="no-contests"' in body and "contest-" not in body.split('id="no-contests"', 1)[1]


# --- deciding -----------------------------------------------------------------------------------


def test_pay_the_teacher_releases_the_share_and_the_contest_leaves_the_queue(client, brian, paid_world, contested):
    assert releases(contested.id) == []
    response = decide(client, contested, "teacher_paid")
    assert response.status_code == 200 and response.request.path == QUEUE
    assert "Marcus Teacher is paid" in flashes(response.get_data(as_text=True))
    paid = releases(contested.id)
    assert len(paid) == 1 and paid[0].recipient_id == paid_world.teacher.id and paid[0].amount_cents > 0
    session = fresh(contested.id)
    assert (session.status, session.contest_resolution, session.release_after) == (
        SessionStatus.completed,
        "teacher_paid",
        None,
    )
    assert f'id="contest-{contested.id}"' not in response.get_data(as_text=True)


def test_give_back_makes_it_the_teachers_no_show_unpaid(client, brian, paid_world, contested):
    response = decide(client, contested, "returned")
    assert response.status_code == 200
    assert "goes back to Ana Student" in flashes(response.get_data(as_text=True))
    session = fresh(contested.id)
    assert (session.status, session.no_show_by, session.outcome_source, session.contest_resolution) == (
        SessionStatus.no_show,
        NoShowBy.teacher,
        "admin",
        "returned",
    )
    assert releases(contested.id) == []
    assert f'id="contest-{contested.id}"' not in page(client, QUEUE)


@pytest.mark.parametrize("first,second", [("teacher_paid", "teacher_paid"), ("returned", "teacher_paid")])
def test_deciding_twice_flashes_already_decided_and_changes_nothing(client, brian, contested, first, second):
    token = csrf_from(page(client, QUEUE))
    data = {"csrf_token": token, "session_id": str(contested.id), "resolution": first}
    assert client.post(DECIDE, data=data).status_code == 302
    ledger = len(releases(contested.id))
    again = client.post(DECIDE, data={**data, "resolution": second}, follow_redirects=True)  # a second tab
    assert again.status_code == 200
    assert "already decided" in flashes(again.get_data(as_text=True))
    assert len(releases(contested.id)) == ledger
    assert fresh(contested.id).contest_resolution == first


def test_odd_posts_flash_and_never_500(client, brian, paid_world, contested, now):
    token = csrf_from(page(client, QUEUE))
    uncontested = paid_world.book(at(3, 9), now=now)
    for data in (
        {"session_id": str(contested.id), "resolution": "split_it"},
        {"session_id": "not-a-uuid", "resolution": "returned"},
        {"session_id": str(uncontested.id), "resolution": "returned"},
        {},
    ):
        response = client.post(DECIDE, data={"csrf_token": token, **data}, follow_redirects=True)
        assert response.status_code == 200, data
        assert flashes(response.get_data(as_text=True)), data
    # Without the CSRF token the global protection refuses the form.
    refused = client.post(DECIDE, data={"session_id": str(contested.id), "resolution": "returned"})
    assert refused.status_code == 400
    assert client.get(DECIDE).status_code == 405
    assert fresh(contested.id).contest_resolved_at is None
    assert fresh(uncontested.id).status == SessionStatus.scheduled


# --- the console home card ------------------------------------------------------------------------


def test_the_home_card_counts_open_contests_and_links_to_the_queue(client, brian, contested):
    home = page(client, "/admin/")
    card = home.split('id="contests-card"', 1)[1].split("</div></div>", 1)[0]
    assert re.search(r'id="contests-open">1<', card)
    assert f'href="{QUEUE}"' in card
    assert 'id="late-cancellations-card"' in home  # side by side with the late-cancellation card
    decide(client, contested, "returned")
    assert re.search(r'id="contests-open">0<', page(client, "/admin/"))


def test_the_home_card_says_zero_without_contests(client, brian):
    assert re.search(r'id="contests-open">0<', page(client, "/admin/"))


# --- the Sessions details page --------------------------------------------------------------------


def test_the_session_details_page_shows_how_it_ended_the_contest_and_attendance(client, brian, paid_world, contested):
    details = f"{SESSIONS}details/?id={contested.id}"
    words = text(page(client, details))
    assert "How it ended Marked by the teacher" in words
    release = (END + outcomes.CONTEST_WINDOW).astimezone(NEW_YORK)
    assert f"Share released after {release:%Y-%m-%d %H:%M}" in words
    assert "Contested by the student" in words and REASON in words
    assert "Contested: decide in the queue" in words
    assert "Nobody was recorded in the room." in words
    decide(client, contested, "returned")
    words = text(page(client, details))
    assert "How it ended Decided by an admin (a contest)" in words
    assert "Decision Given back to the student" in words and "Contest decided" in words
    assert "Share released after" not in words and "decide in the queue" not in words


def test_the_session_details_page_lists_attendance_and_plain_outcomes(client, brian, paid_world, now):
    from peerloop.cli import run_sweep
    from peerloop.video.services import join

    booked = paid_world.book(START, now=now)
    join(paid_world.student, booked.id, now=START - timedelta(minutes=3))
    join(paid_world.teacher, booked.id, now=START + timedelta(minutes=1))
    run_sweep(END + timedelta(hours=1))
    body = page(client, f"{SESSIONS}details/?id={booked.id}")
    words = text(body)
    assert "How it ended Automatically: PeerLoop settled it" in words
    assert "Ana Student (student)" in words and "Marcus Teacher (teacher)" in words
    assert "1 h 3 min" in words and "59 min" in words
    assert "Share released after" not in words and "Contested" not in words
