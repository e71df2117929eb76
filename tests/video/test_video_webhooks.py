"""/webhooks/video/<provider>: the provider's signature checked, each event stored once and then
processed into attendance, the session's outcome and recordings, whatever order they come in.

PlugNmeet is the provider here (its LiveKit-style JWT signed in the test with a real HMAC); the
adapters' own parsing is tested in their files."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from peerloop.extensions import db
from peerloop.payments.models import LedgerAccount, LedgerEntry, LedgerKind
from peerloop.scheduling.models import NoShowBy, SessionStatus, TutoringSession
from peerloop.video.models import Attendance, SessionResource
from peerloop.webhooks.models import WebhookEvent, WebhookStatus
from tests.conftest import run_jobs
from tests.scheduling.conftest import at
from tests.video.test_plugnmeet import webhook_token

TUE9 = at(1, 9)
END = TUE9 + timedelta(hours=1)
SECRET = "zumyyYWqv7KR2kUqvYdq4z4sXg7XTBD2ljT6"


@pytest.fixture
def plugnmeet(app, monkeypatch, tmp_path):
    for key, value in {
        "VIDEO_PROVIDER": "plugnmeet",
        "PLUGNMEET_URL": "https://pnm.example.test",
        "PLUGNMEET_API_KEY": "plugnmeet",
        "PLUGNMEET_API_SECRET": SECRET,
        "RECORDINGS_DIR": str(tmp_path / "recordings"),
    }.items():
        monkeypatch.setitem(app.config, key, value)


@pytest.fixture
def booked(paid_world, now, plugnmeet):
    return paid_world.book(TUE9, now=now)


def event(kind: str, session, *, moment, user=None, event_id=None, **extra) -> bytes:
    payload = {
        "event": kind,
        "id": event_id or f"EV_{kind}_{user.id if user else 'room'}_{int(moment.timestamp())}",
        "room": {"sid": "RM_1", "room_id": f"peerloop-{session.id}"},
        "created_at": str(int(moment.timestamp())),
        **extra,
    }
    if user is not None:
        payload["participant"] = {"sid": f"PA_{user.id}", "identity": str(user.id), "name": user.name}
    return json.dumps(payload).encode()


def deliver(client, body: bytes, *, token: str | None = None):
    """One delivery, and its queued processing run (inline already; a burst worker on Redis)."""
    response = client.post(
        "/webhooks/video/plugnmeet",
        data=body,
        headers={
            "Authorization": token or webhook_token(body, secret=SECRET),
            "Content-Type": "application/webhook+json",
        },
    )
    run_jobs(current_app)
    return response


def stays(session_id, user_id=None) -> list[Attendance]:
    db.session.expire_all()
    query = sa.select(Attendance).where(Attendance.session_id == session_id).order_by(Attendance.joined_at)
    if user_id is not None:
        query = query.where(Attendance.user_id == user_id)
    return list(db.session.scalars(query))


def released(session_id) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            LedgerEntry.session_id == session_id,
            LedgerEntry.kind == LedgerKind.teaching_release,
            LedgerEntry.account == LedgerAccount.earnings,
        )
    )


def test_the_whole_timeline_joins_leaves_rejoin_finish_and_the_share_once(client, paid_world, booked):
    teacher, student = paid_world.teacher, paid_world.student
    timeline = [
        event("participant_joined", booked, moment=TUE9 - timedelta(minutes=2), user=teacher),
        event("participant_joined", booked, moment=TUE9, user=student),
        event("participant_left", booked, moment=TUE9 + timedelta(minutes=20), user=student),
        event("participant_joined", booked, moment=TUE9 + timedelta(minutes=22), user=student),  # a rejoin
        event("participant_left", booked, moment=END, user=student),
        event("room_finished", booked, moment=END + timedelta(minutes=1)),
    ]
    for body in timeline:
        assert deliver(client, body).status_code == 200
    session = db.session.get(TutoringSession, booked.id)
    db.session.refresh(session)
    assert (session.status, session.outcome_source) == (SessionStatus.completed, "webhook")
    assert session.started_at == TUE9 - timedelta(minutes=2) and session.ended_at == END + timedelta(minutes=1)
    assert [s.duration_seconds for s in stays(booked.id, student.id)] == [20 * 60, 38 * 60]
    assert [s.duration_seconds for s in stays(booked.id, teacher.id)] == [63 * 60]  # closed when the room ended
    assert released(booked.id) == 1
    # Replays change nothing: stored once, processed once.
    for body in timeline:
        assert deliver(client, body).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).where(WebhookEvent.provider == "plugnmeet")) == len(timeline)
    assert len(stays(booked.id)) == 3 and released(booked.id) == 1


def test_out_of_order_left_before_joined_and_finished_twice_stay_consistent(client, paid_world, booked):
    teacher = paid_world.teacher
    deliver(client, event("participant_left", booked, moment=TUE9 + timedelta(minutes=30), user=teacher))
    deliver(client, event("participant_joined", booked, moment=TUE9, user=teacher))
    [stay] = stays(booked.id, teacher.id)
    assert (stay.joined_at, stay.left_at, stay.duration_seconds) == (TUE9, TUE9 + timedelta(minutes=30), 1800)
    first = event("room_finished", booked, moment=END, event_id="EV_fin_1")
    second = event("room_finished", booked, moment=END + timedelta(minutes=5), event_id="EV_fin_2")
    deliver(client, first)
    deliver(client, second)
    db.session.expire_all()
    session = db.session.get(TutoringSession, booked.id)
    assert (session.status, session.no_show_by, session.ended_at) == (SessionStatus.no_show, NoShowBy.student, END)
    assert released(booked.id) == 1  # a student's no-show is delivered: paid, once


def test_a_wrong_signature_is_a_400_and_nothing_is_stored(client, paid_world, booked):
    body = event("participant_joined", booked, moment=TUE9, user=paid_world.student)
    forged = webhook_token(body, secret="not-the-secret")
    response = deliver(client, body, token=forged)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_signature"
    tampered = deliver(
        client, body.replace(b"participant_joined", b"participant_left"), token=webhook_token(body, secret=SECRET)
    )
    assert tampered.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).where(WebhookEvent.provider == "plugnmeet")) == 0
    assert stays(booked.id) == []


def test_events_for_rooms_that_are_not_ours_are_stored_and_change_nothing(client, paid_world, booked):
    body = json.dumps(
        {
            "event": "room_finished",
            "id": "EV_other",
            "room": {"room_id": "someone-elses-room"},
            "created_at": "1796309400",
        }
    ).encode()
    assert deliver(client, body).status_code == 200
    stored = db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.event_id == "EV_other"))
    assert stored is not None and stored.status == WebhookStatus.processed
    assert db.session.get(TutoringSession, booked.id).status == SessionStatus.scheduled


def test_a_webhook_for_a_provider_not_configured_is_a_404(client, paid_world, booked):
    assert client.post("/webhooks/video/daily", data=b"{}").status_code == 404
    assert client.post("/webhooks/video/link", data=b"{}").status_code == 404


def test_a_recording_becomes_a_resource_and_is_copied_to_storage(client, app, paid_world, booked, tmp_path):
    import responses

    with responses.RequestsMock() as mocked:
        mocked.post(
            "https://pnm.example.test/auth/recording/fetch",
            json={"status": True, "result": {"recordings_list": [{"record_id": "REC_1"}]}},
        )
        mocked.post("https://pnm.example.test/auth/recording/getDownloadToken", json={"status": True, "token": "tok"})
        mocked.get(
            "https://pnm.example.test/download/recording/tok", body=b"\x00video-bytes" * 100, content_type="video/mp4"
        )
        body = event("recording_proceeded", booked, moment=END, recording_info={"record_id": "REC_1"})
        assert deliver(client, body).status_code == 200
        deliver(client, body)  # twice: one resource
    resources = db.session.scalars(sa.select(SessionResource)).all()
    assert len(resources) == 1
    [resource] = resources
    db.session.refresh(resource)
    assert resource.provider_recording_id == "REC_1" and resource.size_bytes == 1200
    stored = tmp_path / "recordings" / resource.storage_key
    assert stored.read_bytes() == b"\x00video-bytes" * 100


def test_a_room_finished_before_the_booked_end_is_left_to_the_sweep(client, paid_world, booked):
    """Providers close an empty room by themselves: a student who looked in early is no teacher no-show."""
    student = paid_world.student
    deliver(client, event("participant_joined", booked, moment=TUE9 - timedelta(minutes=10), user=student))
    deliver(client, event("participant_left", booked, moment=TUE9 - timedelta(minutes=9), user=student))
    deliver(client, event("room_finished", booked, moment=TUE9 - timedelta(minutes=8)))
    db.session.expire_all()
    session = db.session.get(TutoringSession, booked.id)
    assert session.status == SessionStatus.in_progress and session.ended_at is None


def test_a_signed_body_of_an_odd_shape_is_a_400_not_a_500(client, paid_world, booked):
    body = json.dumps({"event": "participant_joined", "id": "EV_odd", "room": "peerloop-x", "participant": 7}).encode()
    response = deliver(client, body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_payload"
