"""POST /api/video/token on link rooms: who may join, when, the room made once, attendance from joins."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
import sqlalchemy as sa

from peerloop.extensions import db
from peerloop.scheduling import services as scheduling
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.video.models import Attendance, AttendanceSource
from tests.scheduling.conftest import at

TUE9 = at(1, 9)


@pytest.fixture
def booked(world, now):
    return world.book(TUE9, now=now)


def token(client, api_token, user, session_id):
    return client.post("/api/video/token", json={"session_id": str(session_id)}, headers=api_token(user))


def test_the_window_opens_fifteen_minutes_before_and_closes_after_the_grace(client, world, booked, api_token, clock):
    clock(TUE9 - timedelta(minutes=15, seconds=1))
    early = token(client, api_token, world.student, booked.id)
    assert early.status_code == 422 and early.get_json()["error"]["code"] == "not_open_yet"
    clock(TUE9 - timedelta(minutes=15))
    opened = token(client, api_token, world.student, booked.id)
    assert opened.status_code == 200
    assert opened.get_json()["join_url"].startswith("https://meet.jit.si/peerloop-")
    clock(booked.scheduled_end + timedelta(minutes=15))
    assert token(client, api_token, world.teacher, booked.id).status_code == 200
    clock(booked.scheduled_end + timedelta(minutes=15, seconds=1))
    late = token(client, api_token, world.teacher, booked.id)
    assert late.status_code == 422 and late.get_json()["error"]["code"] == "closed"


def test_only_the_two_people_may_join(client, world, booked, make, api_token, clock):
    clock(TUE9)
    stranger = token(client, api_token, make.user(), booked.id)
    assert stranger.status_code == 403 and stranger.get_json()["error"]["code"] == "not_participant"
    assert stranger.get_json()["error"]["message"] == "You're not part of this session."
    assert token(client, api_token, world.student, "not-a-uuid").status_code == 404
    missing = client.post("/api/video/token", json={}, headers=api_token(world.student))
    assert missing.status_code == 400 and "session_id" in missing.get_json()["error"]["fields"]
    assert client.post("/api/video/token", json={"session_id": str(booked.id)}).status_code == 401


def test_one_room_per_session_and_each_join_is_attendance(client, world, booked, api_token, clock):
    clock(TUE9 - timedelta(minutes=5))
    student_url = token(client, api_token, world.student, booked.id).get_json()["join_url"]
    again = token(client, api_token, world.student, booked.id).get_json()["join_url"]  # a second click
    clock(TUE9)
    teacher_url = token(client, api_token, world.teacher, booked.id).get_json()["join_url"]
    assert student_url == again == teacher_url
    db.session.expire_all()
    session = db.session.get(TutoringSession, booked.id)
    assert session.video_provider == "link" and session.video_room_url == student_url
    assert session.status == SessionStatus.in_progress and session.started_at == TUE9 - timedelta(minutes=5)
    stays = db.session.scalars(sa.select(Attendance).where(Attendance.session_id == booked.id)).all()
    assert sorted((s.user_id, s.source) for s in stays) == sorted(
        [(world.student.id, AttendanceSource.join), (world.teacher.id, AttendanceSource.join)]
    )


def test_a_cancelled_session_has_no_room(client, world, booked, api_token, clock, now):
    scheduling.cancel(world.student, booked.id, reason="ill", now=now)
    clock(TUE9)
    closed = token(client, api_token, world.student, booked.id)
    assert closed.status_code == 422 and closed.get_json()["error"]["code"] == "closed"


@responses.activate
def test_a_provider_that_fails_is_a_503_and_nothing_is_half_made(
    app, client, world, booked, api_token, clock, monkeypatch
):
    """PlugNmeet configured and down (a 502 on room/create): 503 video_unavailable, no room stored."""
    for key, value in {
        "VIDEO_PROVIDER": "plugnmeet",
        "PLUGNMEET_URL": "https://pnm.example",
        "PLUGNMEET_API_KEY": "key",
        "PLUGNMEET_API_SECRET": "secret",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    responses.post("https://pnm.example/auth/room/create", status=502, body="Bad gateway")
    clock(TUE9)
    response = token(client, api_token, world.student, booked.id)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert (error["code"], error["message"]) == ("video_unavailable", "Video service unavailable. Try again.")
    assert len(responses.calls) == 1 and responses.calls[0].request.headers["API-KEY"] == "key"
    db.session.expire_all()
    session = db.session.get(TutoringSession, booked.id)
    assert session.video_room_id is None and session.status == SessionStatus.scheduled


def test_the_session_page_shows_join_in_the_window_and_it_leads_into_the_room(client, world, booked, login_as, clock):
    from tests.conftest import csrf_from

    login_as(world.student)
    clock(TUE9 - timedelta(minutes=16))
    before = client.get(f"/sessions/{booked.id}").get_data(as_text=True)
    assert "Join session" not in before and "The Join button appears here from" in before
    clock(TUE9 - timedelta(minutes=15))
    page = client.get(f"/sessions/{booked.id}")
    html = page.get_data(as_text=True)
    assert "Join session" in html
    # The form is redirected on to the room: the CSP lets forms go to the video service.
    assert (
        "form-action 'self' https://checkout.stripe.com https://connect.stripe.com https://meet.jit.si"
        in (page.headers["Content-Security-Policy"])
    )
    joined = client.post(f"/sessions/{booked.id}/join", data={"csrf_token": csrf_from(html)})
    assert joined.status_code == 303 and joined.headers["Location"].startswith("https://meet.jit.si/peerloop-")


def test_someone_elses_join_is_a_404(client, world, booked, make, login_as, clock):
    from tests.conftest import csrf_from

    login_as(make.user())
    clock(TUE9)
    form = client.get("/settings")
    assert (
        client.post(
            f"/sessions/{booked.id}/join", data={"csrf_token": csrf_from(form.get_data(as_text=True))}
        ).status_code
        == 404
    )
