"""A whole session on BigBlueButton and on Daily, each against its HTTP shape (responses at the
boundary, real checksums and HMACs): both join through our API, the provider's events come to
/webhooks/video/<provider>, the room ends, the session is completed and the teacher's share released.
(PlugNmeet's lifecycle is in test_video_webhooks.py; link rooms' in test_outcomes.py and the browser.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import responses
import sqlalchemy as sa
from flask import current_app

from peerloop.extensions import db
from peerloop.payments.models import LedgerAccount, LedgerEntry, LedgerKind
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.urls import external_url
from peerloop.video.models import Attendance
from tests.conftest import run_jobs
from tests.scheduling.conftest import at

TUE9 = at(1, 9)
END = TUE9 + timedelta(hours=1)
BBB_API = "https://bbb.example.test/bigbluebutton/api/"
BBB_SECRET = "8cd8ef52e8e101574e400365b55e11a6"
DAILY_SECRET = base64.b64encode(b"peerloop-daily-lifecycle-secret").decode()


def configure(app, monkeypatch, settings: dict) -> None:
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)


def join_both(client, api_token, world, session_id) -> list[str]:
    urls = []
    for person in (world.teacher, world.student):
        answer = client.post("/api/video/token", json={"session_id": str(session_id)}, headers=api_token(person))
        assert answer.status_code == 200, answer.get_json()
        urls.append(answer.get_json()["join_url"])
    return urls


def settled(session_id) -> tuple[TutoringSession, int, list[Attendance]]:
    db.session.expire_all()
    session = db.session.get(TutoringSession, session_id)
    paid = db.session.scalar(
        sa.select(sa.func.count()).where(
            LedgerEntry.session_id == session_id,
            LedgerEntry.kind == LedgerKind.teaching_release,
            LedgerEntry.account == LedgerAccount.earnings,
        )
    )
    stays = list(db.session.scalars(sa.select(Attendance).where(Attendance.session_id == session_id)))
    return session, paid, stays


@responses.activate
def test_a_session_on_bigbluebutton(app, client, paid_world, api_token, clock, monkeypatch, now):
    configure(
        app,
        monkeypatch,
        {"VIDEO_PROVIDER": "bbb", "BBB_API_URL": BBB_API, "BBB_SECRET": BBB_SECRET, "BBB_CHECKSUM": "sha256"},
    )
    booked = paid_world.book(TUE9, now=now)
    room = f"peerloop-{booked.id}"
    created = (
        "<response><returncode>SUCCESS</returncode>"
        f"<meetingID>{room}</meetingID><internalMeetingID>int-{booked.id}</internalMeetingID></response>"
    )
    responses.get(re.compile(re.escape(BBB_API) + r"create\?.*"), body=created, content_type="text/xml")
    clock(TUE9 - timedelta(minutes=2))
    teacher_url, student_url = join_both(client, api_token, paid_world, booked.id)
    assert "role=MODERATOR" in teacher_url and "role=VIEWER" in student_url
    assert len(responses.calls) == 2  # BBB forgets ended meetings: created (idempotently) before each join
    create = parse_qs(urlsplit(responses.calls[0].request.url).query)
    end_callback = create["meta_endCallbackUrl"][0]
    hook = external_url("webhooks.video", provider_name="bbb")
    assert end_callback.startswith(hook + "?peerloop_room=" + room)

    def bbb_event(kind: str, user, moment) -> dict:
        attributes = {"meeting": {"internal-meeting-id": f"int-{booked.id}", "external-meeting-id": room}}
        if user is not None:
            attributes["user"] = {"internal-user-id": f"w_{user.id}", "external-user-id": str(user.id), "name": "x"}
        return {
            "data": {
                "type": "event",
                "id": kind,
                "attributes": attributes,
                "event": {"ts": int(moment.timestamp() * 1000)},
            }
        }

    def post_hook(*events):
        body = urlencode({"domain": "bbb.example.test", "event": json.dumps(list(events)), "timestamp": 1}).encode()
        checksum = hashlib.sha1(hook.encode() + body + BBB_SECRET.encode()).hexdigest()
        answer = client.post(
            f"/webhooks/video/bbb?checksum={checksum}",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        run_jobs(current_app)
        return answer

    joined = post_hook(
        bbb_event("user-joined", paid_world.teacher, TUE9 - timedelta(minutes=2)),
        bbb_event("user-joined", paid_world.student, TUE9),
    )
    assert joined.status_code == 200 and joined.get_json() == {"received": 2}
    assert post_hook(bbb_event("user-left", paid_world.student, END)).status_code == 200
    forged = client.post("/webhooks/video/bbb?checksum=" + "0" * 40, data=b"event=%5B%5D")
    assert forged.status_code == 400
    # BBB calls the end callback (with GET), adding the meeting's id; it is dated by the wall clock.
    clock(END + timedelta(minutes=3))
    path = "/webhooks/video/bbb?" + urlsplit(end_callback).query + f"&meetingID={room}&recordingmarks=false"
    ended = client.get(path)
    run_jobs(current_app)
    assert ended.status_code == 200
    session, paid, stays = settled(booked.id)
    assert session.status == SessionStatus.completed and session.outcome_source == "webhook"
    assert paid == 1
    assert sorted(s.duration_seconds for s in stays) == [60 * 60, 65 * 60]


def daily_signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    key = base64.b64decode(DAILY_SECRET)
    signature = base64.b64encode(hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).digest()).decode()
    return {"X-Webhook-Signature": signature, "X-Webhook-Timestamp": timestamp, "Content-Type": "application/json"}


@responses.activate
def test_a_session_on_daily(app, client, paid_world, api_token, clock, monkeypatch, now):
    configure(app, monkeypatch, {"VIDEO_PROVIDER": "daily", "DAILY_API_KEY": "k", "DAILY_WEBHOOK_SECRET": DAILY_SECRET})
    booked = paid_world.book(TUE9, now=now)
    room = f"peerloop-{booked.id}"
    room_url = f"https://peerloop.daily.co/{room}"
    responses.post("https://api.daily.co/v1/rooms", json={"id": "r-1", "name": room, "url": room_url})
    responses.post("https://api.daily.co/v1/meeting-tokens", json={"token": "tok"})
    clock(TUE9 - timedelta(minutes=2))
    teacher_url, student_url = join_both(client, api_token, paid_world, booked.id)
    assert teacher_url == student_url == f"{room_url}?t=tok"
    tokens = [
        json.loads(c.request.body)["properties"] for c in responses.calls if c.request.url.endswith("meeting-tokens")
    ]
    assert [t["is_owner"] for t in tokens] == [True, False]
    assert [t["user_id"] for t in tokens] == [str(paid_world.teacher.id), str(paid_world.student.id)]
    assert tokens[0]["exp"] == int((END + timedelta(minutes=15)).timestamp())  # the end plus the grace

    def post(kind: str, payload: dict, event_id: str):
        body = json.dumps(
            {"version": "1.0.0", "type": kind, "id": event_id, "payload": payload, "event_ts": 1}
        ).encode()
        answer = client.post("/webhooks/video/daily", data=body, headers=daily_signed(body))
        run_jobs(current_app)
        return answer

    for person, moment, event_id in (
        (paid_world.teacher, TUE9 - timedelta(minutes=2), "ev-1"),
        (paid_world.student, TUE9, "ev-2"),
    ):
        payload = {
            "room": room,
            "user_id": str(person.id),
            "joined_at": int(moment.timestamp()),
            "session_id": event_id,
        }
        assert post("participant.joined", payload, event_id).status_code == 200
    clock(END + timedelta(minutes=2))
    left = {"room": room, "user_id": str(paid_world.student.id), "joined_at": int(TUE9.timestamp()), "duration": 3600}
    assert post("participant.left", left, "ev-3").status_code == 200
    ended = {"room": room, "start_ts": int(TUE9.timestamp()), "end_ts": int((END + timedelta(minutes=1)).timestamp())}
    assert post("meeting.ended", ended, "ev-4").status_code == 200
    tampered = json.dumps({"type": "meeting.ended", "id": "ev-5", "payload": ended}).encode()
    bad = client.post("/webhooks/video/daily", data=tampered, headers=daily_signed(tampered + b" "))
    assert bad.status_code == 400
    session, paid, stays = settled(booked.id)
    assert session.status == SessionStatus.completed and session.ended_at == END + timedelta(minutes=1)
    assert paid == 1
    assert sorted(s.duration_seconds for s in stays) == [60 * 60, 63 * 60]
