"""The room page and the forms after a session, as the two people use them (the test client with
real logins and CSRF)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.extensions import db
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.video.models import Assessment, ResourceType, SessionResource
from tests.conftest import csrf_from
from tests.scheduling.conftest import at

TUE9 = at(1, 9)
END = TUE9 + timedelta(hours=1)


@pytest.fixture
def booked(paid_world, now):
    return paid_world.book(TUE9, now=now)


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_room_page_opens_fifteen_minutes_before_with_a_device_check(client, paid_world, booked, login_as, clock):
    login_as(paid_world.student)
    clock(TUE9 - timedelta(minutes=16))
    html = page(client, f"/sessions/{booked.id}/room")
    assert "The room opens" in html and "Enter the room" not in html
    assert "Join" not in page(client, "/dashboard").split("Upcoming sessions")[1].split("</section>")[0]
    clock(TUE9 - timedelta(minutes=15))
    assert f'href="/sessions/{booked.id}/room">Join</a>' in page(client, "/dashboard")
    html = page(client, f"/sessions/{booked.id}/room")
    assert "Test camera and microphone" in html and "Enter the room" in html and "js/room.js" in html
    entered = client.post(f"/sessions/{booked.id}/join", data={"csrf_token": csrf_from(html)})
    assert entered.status_code == 303 and entered.headers["Location"].startswith("https://meet.jit.si/peerloop-")


def test_the_teacher_sees_join_on_the_teaching_page_and_hosts(client, paid_world, booked, login_as, clock):
    login_as(paid_world.teacher)
    clock(TUE9 - timedelta(minutes=10))
    assert f'href="/sessions/{booked.id}/room">Join</a>' in page(client, "/teaching")
    assert "Open the room (you host)" in page(client, f"/sessions/{booked.id}/room")


def test_after_the_end_the_teacher_marks_it_and_the_student_rates_and_may_contest(
    client, paid_world, booked, login_as, clock, auth
):
    clock(END + timedelta(minutes=10))
    login_as(paid_world.student)
    html = page(client, f"/sessions/{booked.id}")
    assert "How did it go?" not in html  # the teacher's question, never the student's
    assert "How was your session with Marcus Teacher?" in html
    bad = client.post(f"/sessions/{booked.id}/feedback", data={"csrf_token": csrf_from(html), "rating": "9"})
    assert bad.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assessment)) == 0
    rated = client.post(
        f"/sessions/{booked.id}/feedback",
        data={"csrf_token": csrf_from(html), "rating": "4", "comment": "Clear and patient"},
        follow_redirects=True,
    )
    text = rated.get_data(as_text=True)
    assert "your rating is saved" in text and "★★★★☆" in text
    auth.logout()

    login_as(paid_world.teacher)
    html = page(client, f"/sessions/{booked.id}")
    assert "How did it go?" in html and "How was your session with Ana Student?" in html
    marked = client.post(
        f"/sessions/{booked.id}/outcome",
        data={"csrf_token": csrf_from(html), "outcome": "completed"},
        follow_redirects=True,
    )
    assert "released in 48 hours" in marked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TutoringSession, booked.id).status == SessionStatus.completed
    auth.logout()

    login_as(paid_world.student)
    html = page(client, f"/sessions/{booked.id}")
    assert "That is not what happened" in html
    empty = client.post(f"/sessions/{booked.id}/contest", data={"csrf_token": csrf_from(html), "reason": " "})
    assert empty.status_code == 303
    sent = client.post(
        f"/sessions/{booked.id}/contest",
        data={"csrf_token": csrf_from(html), "reason": "We only had ten minutes"},
        follow_redirects=True,
    )
    assert "Sent to PeerLoop" in sent.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TutoringSession, booked.id).contested_at is not None


def test_a_stored_recording_is_served_to_the_two_people_only(
    app, client, paid_world, booked, login_as, make, clock, tmp_path, monkeypatch, auth
):
    monkeypatch.setitem(app.config, "RECORDINGS_DIR", str(tmp_path))
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "r.mp4").write_bytes(b"video")
    session = db.session.get(TutoringSession, booked.id)
    session.status = SessionStatus.completed
    resource = SessionResource(
        session_id=booked.id,
        course_id=paid_world.course.id,
        type=ResourceType.recording,
        name="Recording, Intro to Python",
        storage_key="s/r.mp4",
        mime_type="video/mp4",
    )
    db.session.add(resource)
    db.session.commit()
    clock(END + timedelta(hours=2))
    login_as(paid_world.student)
    assert "Recording, Intro to Python" in page(client, f"/sessions/{booked.id}")
    served = client.get(f"/sessions/{booked.id}/recordings/{resource.id}")
    assert served.status_code == 200 and served.data == b"video"
    auth.logout()
    login_as(make.user())
    assert client.get(f"/sessions/{booked.id}/recordings/{resource.id}").status_code == 404
    assert client.get(f"/sessions/{booked.id}/room").status_code == 404


def test_an_odd_rating_in_the_form_is_a_message_not_a_500(client, paid_world, booked, login_as, clock):
    clock(END + timedelta(minutes=10))
    login_as(paid_world.student)
    html = page(client, f"/sessions/{booked.id}")
    for rating in ("²", "٣", "-1", "", "5.0"):
        answer = client.post(f"/sessions/{booked.id}/feedback", data={"csrf_token": csrf_from(html), "rating": rating})
        assert answer.status_code == 303, rating
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assessment)) == 0
