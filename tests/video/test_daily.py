"""Daily adapter: bearer calls, exact bodies, failures as VideoError, webhook HMACs, event shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from responses import matchers

from peerloop.video.daily import LATEST_RECORDING, Daily, sign
from peerloop.video.interfaces import (
    CreateRoomOptions,
    EventKind,
    Participant,
    ParticipantRole,
    Recording,
    Room,
    RoomState,
    VideoError,
    VideoProvider,
)

API = "https://api.daily.test/v1"
KEY = "daily-api-key-123"
SECRET = "cGVlcmxvb3AtZGFpbHktdGVzdC1zZWNyZXQtMDAwMQ=="  # base64 of b"peerloop-daily-test-secret-0001"
NOW = datetime(2026, 12, 3, 14, 50, tzinfo=UTC)  # 1796309400
START = datetime(2026, 12, 3, 15, tzinfo=UTC)
END = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)  # 1796315400
ROOM_URL = "https://peerloop.daily.co/peerloop-s1"
ROOM = Room(room_id="peerloop-s1", provider_room_id="peerloop-s1", url=ROOM_URL)
ROOM_ANSWER = {
    "id": "5e3cf703-5547-47d6-a371-37b1f0b4427f",
    "name": "peerloop-s1",
    "api_created": True,
    "privacy": "private",
    "url": ROOM_URL,
    "created_at": "2026-12-03T14:50:00.000Z",
    "config": {"exp": 1796315400, "max_participants": 2},
}


@pytest.fixture
def adapter() -> Daily:
    video = Daily(api_key=KEY, webhook_secret=SECRET, api_url=API + "/", timeout=7)
    video._now = lambda: NOW
    return video


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def options(**overrides) -> CreateRoomOptions:
    values = {"room_id": "peerloop-s1", "title": "Intro to algebra", "starts_at": START, "ends_at": END}
    values.update(overrides)
    return CreateRoomOptions(**values)


def sent(call) -> dict:
    return json.loads(call.request.body)


def assert_authorised(call) -> None:
    assert call.request.headers["Authorization"] == f"Bearer {KEY}"


def test_it_is_a_video_provider(adapter):
    assert isinstance(adapter, VideoProvider)
    assert adapter.name == "daily" and adapter.sends_webhooks is True


def test_the_constructor_checks_its_settings():
    session = requests.Session()
    video = Daily(api_key=KEY, webhook_secret=SECRET, session=session)
    assert video.api_url == "https://api.daily.co/v1" and video.session is session and video.timeout == 10
    with pytest.raises(ValueError):
        Daily(api_key="", webhook_secret=SECRET)
    with pytest.raises(ValueError):
        Daily(api_key=KEY, webhook_secret="")
    with pytest.raises(ValueError):
        Daily(api_key=KEY, webhook_secret="not base64!")
    with pytest.raises(ValueError):
        Daily(api_key=KEY, webhook_secret=SECRET, api_url="api.daily.co/v1")


# --- rooms --------------------------------------------------------------------------------------


def test_create_room_sends_the_exact_body(adapter, mocked):
    mocked.post(f"{API}/rooms", json=ROOM_ANSWER)
    room = adapter.create_room(options(record=True, callback_url="https://peerloop.test/hooks/video?t=abc"))
    assert room == Room(room_id="peerloop-s1", provider_room_id="peerloop-s1", url=ROOM_URL)
    (call,) = mocked.calls
    assert_authorised(call)
    assert call.request.headers["Content-Type"] == "application/json"
    assert sent(call) == {
        "name": "peerloop-s1",
        "privacy": "private",
        "properties": {
            "exp": 1796315400,
            "eject_at_room_exp": True,
            "max_participants": 2,
            "enable_prejoin_ui": True,
            "enable_recording": "cloud",
        },
    }


def test_create_room_without_recording_leaves_recording_off(adapter, mocked):
    mocked.post(f"{API}/rooms", json=ROOM_ANSWER)
    adapter.create_room(options(max_participants=3))
    properties = sent(mocked.calls[0])["properties"]
    assert "enable_recording" not in properties and "nbf" not in properties
    assert properties["max_participants"] == 3


def test_create_room_is_idempotent(adapter, mocked):
    mocked.post(f"{API}/rooms", json=ROOM_ANSWER)
    mocked.post(
        f"{API}/rooms",
        status=400,
        json={"error": "invalid-request-error", "info": "a room named peerloop-s1 already exists"},
    )
    mocked.get(f"{API}/rooms/peerloop-s1", json=ROOM_ANSWER)
    first = adapter.create_room(options())
    again = adapter.create_room(options())
    assert first == again == ROOM
    assert sent(mocked.calls[0]) == sent(mocked.calls[1])
    assert mocked.calls[2].request.method == "GET"
    assert_authorised(mocked.calls[2])


def test_create_room_other_refusals_are_not_retryable(adapter, mocked):
    mocked.post(
        f"{API}/rooms", status=400, json={"error": "invalid-request-error", "info": "max_participants is too big"}
    )
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options())
    assert not caught.value.retryable and caught.value.status == 400
    assert "max_participants is too big" in str(caught.value)


@pytest.mark.parametrize("room_id", ["peerloop:s1", "peerloop s1", "", "x" * 129])
def test_create_room_refuses_a_name_daily_cannot_take(adapter, mocked, room_id):
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options(room_id=room_id))
    assert not caught.value.retryable and not mocked.calls


def test_a_uuid_room_id_fits(adapter, mocked):
    room_id = "peerloop-6f1c2b9e-3d4a-4f5b-8c7d-9e0f1a2b3c4d"
    mocked.post(f"{API}/rooms", json={**ROOM_ANSWER, "name": room_id, "url": f"https://peerloop.daily.co/{room_id}"})
    assert adapter.create_room(options(room_id=room_id)).provider_room_id == room_id


def test_join_url_for_the_teacher_and_the_student(adapter, mocked):
    mocked.post(f"{API}/meeting-tokens", json={"token": "tok-T"})
    mocked.post(f"{API}/meeting-tokens", json={"token": "tok-S"})
    teacher = adapter.join_url(ROOM, Participant("t-1", "Marcus", ParticipantRole.moderator, expires_at=END))
    student = adapter.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant, expires_at=END))
    assert teacher == f"{ROOM_URL}?t=tok-T"
    assert student == f"{ROOM_URL}?t=tok-S"
    for call in mocked.calls:
        assert_authorised(call)
    assert sent(mocked.calls[0]) == {
        "properties": {
            "room_name": "peerloop-s1",
            "user_id": "t-1",
            "user_name": "Marcus",
            "is_owner": True,
            "exp": 1796315400,
            "eject_at_token_exp": True,
        }
    }
    assert sent(mocked.calls[1]) == {
        "properties": {
            "room_name": "peerloop-s1",
            "user_id": "s-1",
            "user_name": "Ana",
            "is_owner": False,
            "exp": 1796315400,
            "eject_at_token_exp": True,
        }
    }


def test_a_token_without_an_expiry_sets_no_eject(adapter, mocked):
    mocked.post(f"{API}/meeting-tokens", json={"token": "tok"})
    adapter.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant))
    properties = sent(mocked.calls[0])["properties"]
    assert "exp" not in properties and "eject_at_token_exp" not in properties  # the room's eject stands


def test_join_url_reads_the_address_of_a_stored_room_without_one(adapter, mocked):
    mocked.post(f"{API}/meeting-tokens", json={"token": "tok"})
    mocked.get(f"{API}/rooms/peerloop-s1", json=ROOM_ANSWER)
    stored = Room(room_id="peerloop-s1", provider_room_id="peerloop-s1")
    assert adapter.join_url(stored, Participant("s-1", "Ana", ParticipantRole.participant)) == f"{ROOM_URL}?t=tok"


def test_join_url_without_a_token_fails(adapter, mocked):
    mocked.post(f"{API}/meeting-tokens", json={})
    with pytest.raises(VideoError):
        adapter.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant))


def test_delete_room_and_a_gone_room_is_fine(adapter, mocked):
    mocked.delete(f"{API}/rooms/peerloop-s1", json={"deleted": True, "name": "peerloop-s1"})
    mocked.delete(f"{API}/rooms/peerloop-s1", status=404, json={"error": "not-found", "info": "room not found"})
    assert adapter.delete_room(ROOM) is None
    assert adapter.delete_room(ROOM) is None
    assert_authorised(mocked.calls[0])
    assert mocked.calls[0].request.body is None


def test_delete_room_other_refusals_raise(adapter, mocked):
    mocked.delete(f"{API}/rooms/peerloop-s1", status=403, json={"error": "forbidden-error"})
    with pytest.raises(VideoError) as caught:
        adapter.delete_room(ROOM)
    assert not caught.value.retryable and "forbidden-error" in str(caught.value)


def presence(count: int) -> dict:
    data = [
        {"room": "peerloop-s1", "id": f"p{i}", "userId": f"u{i}", "joinTime": "", "duration": 5} for i in range(count)
    ]
    return {"total_count": count, "data": data}


def test_room_status_with_people_in_it_is_active(adapter, mocked):
    mocked.get(f"{API}/rooms/peerloop-s1/presence", json=presence(2))
    status = adapter.room_status(ROOM)
    assert (status.state, status.participant_count) == (RoomState.active, 2)
    assert len(mocked.calls) == 1
    assert_authorised(mocked.calls[0])


@pytest.mark.parametrize(
    ("meetings", "state"),
    [
        ([], RoomState.not_started),
        (
            [{"id": "m1", "room": "peerloop-s1", "start_time": 1796309000, "duration": 300, "ongoing": False}],
            RoomState.ended,
        ),
        (
            [{"id": "m1", "room": "peerloop-s1", "start_time": 1796309000, "duration": 30, "ongoing": True}],
            RoomState.active,
        ),
    ],
    ids=["never-used", "held", "presence-lagging"],
)
def test_room_status_of_an_empty_room_asks_for_its_meetings(adapter, mocked, meetings, state):
    mocked.get(f"{API}/rooms/peerloop-s1/presence", json=presence(0))
    mocked.get(
        f"{API}/meetings",
        match=[matchers.query_param_matcher({"room": "peerloop-s1", "limit": "1"})],
        json={"total_count": len(meetings), "data": meetings},
    )
    assert adapter.room_status(ROOM).state is state
    assert_authorised(mocked.calls[1])


def test_room_status_of_a_room_daily_forgot(adapter, mocked):
    mocked.get(f"{API}/rooms/peerloop-s1/presence", status=404, json={"error": "not-found"})
    mocked.get(f"{API}/meetings", json={"total_count": 1, "data": [{"id": "m1", "ongoing": False}]})
    assert adapter.room_status(ROOM).state is RoomState.ended


# --- recordings ---------------------------------------------------------------------------------


def test_start_recording_returns_dailys_id(adapter, mocked):
    mocked.post(f"{API}/rooms/peerloop-s1/recordings/start", json={"recordingId": "rec-1"})
    assert adapter.start_recording(ROOM) == "rec-1"
    assert sent(mocked.calls[0]) == {"type": "cloud"}
    assert_authorised(mocked.calls[0])


def test_start_recording_without_an_id_looks_it_up(adapter, mocked):
    mocked.post(f"{API}/rooms/peerloop-s1/recordings/start", json={"status": "ok"})
    mocked.get(
        f"{API}/recordings",
        match=[matchers.query_param_matcher({"room_name": "peerloop-s1", "limit": "1"})],
        json={"total_count": 1, "data": [{"id": "rec-2", "room_name": "peerloop-s1", "status": "in-progress"}]},
    )
    assert adapter.start_recording(ROOM) == "rec-2"


def test_start_recording_that_is_not_listed_yet_is_the_newest(adapter, mocked):
    mocked.post(f"{API}/rooms/peerloop-s1/recordings/start", json={})
    mocked.get(f"{API}/recordings", json={"total_count": 0, "data": []})
    assert adapter.start_recording(ROOM) == LATEST_RECORDING


def test_start_recording_when_daily_has_no_worker_is_retryable(adapter, mocked):
    mocked.post(f"{API}/rooms/peerloop-s1/recordings/start", status=503, json={"error": "server-error"})
    with pytest.raises(VideoError) as caught:
        adapter.start_recording(ROOM)
    assert caught.value.retryable and caught.value.status == 503


def test_stop_recording_then_reports_it(adapter, mocked):
    mocked.post(f"{API}/rooms/peerloop-s1/recordings/stop", json={"status": "ok"})
    mocked.get(f"{API}/recordings/rec-1", json={"id": "rec-1", "status": "in-progress", "room_name": "peerloop-s1"})
    assert adapter.stop_recording(ROOM, "rec-1") == Recording(recording_id="rec-1")
    assert sent(mocked.calls[0]) == {"type": "cloud"}
    assert_authorised(mocked.calls[0])


def test_stop_recording_that_stopped_already_is_fine(adapter, mocked):
    mocked.post(
        f"{API}/rooms/peerloop-s1/recordings/stop",
        status=400,
        json={"error": "invalid-request-error", "info": "no active recording"},
    )
    mocked.get(f"{API}/recordings/rec-1", json={"id": "rec-1", "status": "finished", "duration": 3300})
    mocked.get(f"{API}/recordings/rec-1/access-link", json={"download_link": "https://s3.test/rec-1.mp4", "expires": 1})
    assert adapter.stop_recording(ROOM, "rec-1") == Recording(
        "rec-1", url="https://s3.test/rec-1.mp4", duration_seconds=3300
    )


def test_get_recording_when_finished_gets_a_download_link(adapter, mocked):
    mocked.get(
        f"{API}/recordings/rec-1",
        json={
            "id": "rec-1",
            "room_name": "peerloop-s1",
            "start_ts": 1796309500,
            "status": "finished",
            "duration": 3300,
        },
    )
    mocked.get(
        f"{API}/recordings/rec-1/access-link",
        json={"download_link": "https://s3.test/rec-1.mp4", "expires": 1796313000},
    )
    ready = adapter.get_recording(ROOM, "rec-1")
    assert ready == Recording(recording_id="rec-1", url="https://s3.test/rec-1.mp4", duration_seconds=3300)
    for call in mocked.calls:
        assert_authorised(call)


def test_get_recording_in_progress_or_missing_has_no_address(adapter, mocked):
    mocked.get(f"{API}/recordings/rec-1", json={"id": "rec-1", "status": "in-progress", "duration": None})
    assert adapter.get_recording(ROOM, "rec-1") == Recording(recording_id="rec-1")
    mocked.get(f"{API}/recordings/rec-9", status=404, json={"error": "not-found"})
    assert adapter.get_recording(ROOM, "rec-9") == Recording(recording_id="rec-9")


def test_get_recording_of_the_newest(adapter, mocked):
    mocked.get(f"{API}/recordings", json={"total_count": 0, "data": []})
    assert adapter.get_recording(ROOM, LATEST_RECORDING) == Recording(recording_id=LATEST_RECORDING)
    mocked.get(
        f"{API}/recordings",
        json={"total_count": 1, "data": [{"id": "rec-3", "status": "finished", "duration": 60}]},
    )
    mocked.get(f"{API}/recordings/rec-3/access-link", json={"download_link": "https://s3.test/rec-3.mp4"})
    newest = adapter.get_recording(ROOM, LATEST_RECORDING)
    assert newest == Recording(recording_id="rec-3", url="https://s3.test/rec-3.mp4", duration_seconds=60)


def test_a_finished_recording_without_a_link_fails(adapter, mocked):
    mocked.get(f"{API}/recordings/rec-1", json={"id": "rec-1", "status": "finished", "duration": 5})
    mocked.get(f"{API}/recordings/rec-1/access-link", json={"expires": 1})
    with pytest.raises(VideoError):
        adapter.get_recording(ROOM, "rec-1")


# --- failures -----------------------------------------------------------------------------------


def test_every_call_uses_the_configured_timeout(adapter, mocked):
    seen = []
    original = adapter.session.request

    def spy(*args, **kwargs):
        seen.append(kwargs["timeout"])
        return original(*args, **kwargs)

    adapter.session.request = spy
    mocked.get(f"{API}/rooms/peerloop-s1/presence", json=presence(1))
    adapter.room_status(ROOM)
    assert seen == [7]


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_5xx_or_a_rate_limit_is_retryable(adapter, mocked, status):
    mocked.post(f"{API}/meeting-tokens", status=status, json={"error": "rate-limit-error"})
    with pytest.raises(VideoError) as caught:
        adapter.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant))
    assert caught.value.retryable and caught.value.status == status


def test_a_5xx_without_json_is_retryable(adapter, mocked):
    mocked.get(f"{API}/rooms/peerloop-s1/presence", status=502, body="bad gateway")
    with pytest.raises(VideoError) as caught:
        adapter.room_status(ROOM)
    assert caught.value.retryable


def test_a_time_out_is_retryable(adapter, mocked):
    mocked.post(f"{API}/rooms", body=requests.exceptions.ConnectTimeout())
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options())
    assert caught.value.retryable


def test_a_connection_error_is_retryable(adapter, mocked):
    mocked.delete(f"{API}/rooms/peerloop-s1", body=requests.exceptions.ConnectionError())
    with pytest.raises(VideoError) as caught:
        adapter.delete_room(ROOM)
    assert caught.value.retryable


def test_a_refused_key_is_not_retryable(adapter, mocked):
    mocked.post(f"{API}/rooms", status=401, json={"error": "authentication-error", "info": "bad API key"})
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options())
    assert not caught.value.retryable and caught.value.status == 401 and "bad API key" in str(caught.value)


def test_a_non_json_answer_fails(adapter, mocked):
    mocked.post(f"{API}/meeting-tokens", body="<html>proxy</html>", content_type="text/html")
    with pytest.raises(VideoError) as caught:
        adapter.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant))
    assert not caught.value.retryable


def test_a_json_answer_that_is_not_an_object_fails(adapter, mocked):
    mocked.post(f"{API}/meeting-tokens", json=["tok"])
    with pytest.raises(VideoError):
        adapter.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant))


# --- webhooks -----------------------------------------------------------------------------------

VECTOR_BODY = (
    b'{"version":"1.0.0","type":"participant.joined","id":"ptcpt-join-1",'
    b'"payload":{"room":"peerloop-s1","user_id":"s-1"},"event_ts":1796309400}'
)
VECTOR_TIMESTAMP = "1796309400"
# Computed outside Python, with `openssl dgst -sha256 -mac HMAC -macopt hexkey:<the secret's bytes> -binary | base64`
# over "1796309400." + VECTOR_BODY.
VECTOR_SIGNATURE = "JCdjV2RaC3k0/KtP0n2Wkx0keyWlPedh0gFMKanRp/E="
HOOK_URL = "https://peerloop.test/hooks/video/daily"


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Daily's documented scheme, by hand: base64(HMAC-SHA256(base64-decoded secret, "<ts>.<body>"))."""
    key = base64.b64decode(secret)
    return base64.b64encode(hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()


def signed_headers(body: bytes, *, timestamp: str = VECTOR_TIMESTAMP, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Webhook-Signature": signature(body, timestamp, secret),
        "X-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def test_the_signature_matches_a_known_vector():
    assert signature(VECTOR_BODY, VECTOR_TIMESTAMP) == VECTOR_SIGNATURE
    assert sign(SECRET, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_a_signed_webhook_is_accepted(adapter):
    headers = {"x-webhook-signature": VECTOR_SIGNATURE, "x-webhook-timestamp": VECTOR_TIMESTAMP}
    assert adapter.verify_webhook(body=VECTOR_BODY, headers=headers, url=HOOK_URL) is True


def test_a_millisecond_timestamp_is_read_as_such(adapter):
    timestamp = "1796309460123"  # a minute after NOW, in milliseconds
    headers = signed_headers(VECTOR_BODY, timestamp=timestamp)
    assert adapter.verify_webhook(body=VECTOR_BODY, headers=headers, url=HOOK_URL) is True


@pytest.mark.parametrize(
    "headers",
    [
        signed_headers(VECTOR_BODY, secret=base64.b64encode(b"another-secret").decode()),
        signed_headers(VECTOR_BODY + b" "),  # signed another body
        {"X-Webhook-Signature": VECTOR_SIGNATURE, "X-Webhook-Timestamp": "1796309401"},  # another timestamp
        signed_headers(VECTOR_BODY, timestamp=str(1796309400 - 301)),
        signed_headers(VECTOR_BODY, timestamp=str(1796309400 + 301)),
        signed_headers(VECTOR_BODY, timestamp=str((1796309400 - 301) * 1000)),
        signed_headers(VECTOR_BODY, timestamp="2026-12-03T14:50:00Z"),
        {"X-Webhook-Signature": "not base64!", "X-Webhook-Timestamp": VECTOR_TIMESTAMP},
        {"X-Webhook-Signature": VECTOR_SIGNATURE},
        {"X-Webhook-Timestamp": VECTOR_TIMESTAMP},
        {"X-Webhook-Signature": "", "X-Webhook-Timestamp": ""},
        {},
    ],
    ids=[
        "wrong-secret",
        "body-changed",
        "timestamp-changed",
        "stale",
        "from-the-future",
        "stale-ms",
        "not-unix",
        "bad-base64",
        "no-timestamp",
        "no-signature",
        "empty",
        "missing",
    ],
)
def test_a_bad_webhook_is_refused(adapter, headers):
    assert adapter.verify_webhook(body=VECTOR_BODY, headers=headers, url=HOOK_URL) is False


def test_a_tampered_body_is_refused(adapter):
    headers = {"X-Webhook-Signature": VECTOR_SIGNATURE, "X-Webhook-Timestamp": VECTOR_TIMESTAMP}
    assert adapter.verify_webhook(body=VECTOR_BODY.replace(b"s-1", b"s-2"), headers=headers, url=HOOK_URL) is False


def test_the_window_is_five_minutes_each_way(adapter):
    for offset in (-300, 300):
        timestamp = str(1796309400 + offset)
        assert adapter.verify_webhook(
            body=VECTOR_BODY, headers=signed_headers(VECTOR_BODY, timestamp=timestamp), url=""
        )


def event_body(event_type: str | None, payload: dict, *, event_id: str | None = "evt-1", event_ts=1796309460) -> bytes:
    event: dict = {"version": "1.0.0", "payload": payload, "event_ts": event_ts}
    if event_type is not None:
        event["type"] = event_type
    if event_id is not None:
        event["id"] = event_id
    return json.dumps(event).encode()


def test_parse_participant_joined(adapter):
    body = event_body(
        "participant.joined",
        {
            "room": "peerloop-s1",
            "session_id": "sess-1",
            "user_id": "s-1",
            "user_name": "Ana",
            "owner": False,
            "joined_at": 1796309450,
        },
        event_id="ptcpt-join-1",
    )
    (event,) = adapter.parse_webhook(body, signed_headers(body), url=HOOK_URL)
    assert event.kind is EventKind.participant_joined
    assert event.event_id == "daily:ptcpt-join-1"
    assert (event.room_id, event.user_id) == ("peerloop-s1", "s-1")
    assert event.occurred_at == datetime.fromtimestamp(1796309450, UTC)
    assert event.recording is None and event.raw["payload"]["user_name"] == "Ana"


def test_parse_participant_left_happened_at_join_plus_duration(adapter):
    body = event_body(
        "participant.left",
        {"room": "peerloop-s1", "session_id": "sess-1", "user_id": "t-1", "joined_at": 1796309450, "duration": 3000},
        event_id="ptcpt-left-1",
    )
    (event,) = adapter.parse_webhook(body, {})
    assert (event.kind, event.user_id, event.event_id) == (EventKind.participant_left, "t-1", "daily:ptcpt-left-1")
    assert event.occurred_at == datetime.fromtimestamp(1796309450, UTC) + timedelta(seconds=3000)


def test_parse_an_anonymous_participant(adapter):
    body = event_body("participant.joined", {"room": "peerloop-s1", "user_id": None}, event_ts=1796309470.5)
    (event,) = adapter.parse_webhook(body, {})
    assert event.user_id is None
    assert event.occurred_at == datetime.fromtimestamp(1796309470.5, UTC)  # no joined_at: when it was sent


def test_parse_meeting_ended(adapter):
    body = event_body(
        "meeting.ended",
        {"room": "peerloop-s1", "meeting_id": "m1", "start_ts": 1796309450, "end_ts": 1796315000},
        event_id="mtg-end-1",
    )
    (event,) = adapter.parse_webhook(body, {})
    assert (event.kind, event.room_id, event.user_id) == (EventKind.room_finished, "peerloop-s1", None)
    assert event.occurred_at == datetime.fromtimestamp(1796315000, UTC)


def test_parse_recording_ready(adapter):
    body = event_body(
        "recording.ready-to-download",
        {
            "type": "cloud",
            "recording_id": "rec-1",
            "room_name": "peerloop-s1",
            "start_ts": 1796309500,
            "status": "finished",
            "max_participants": 2,
            "duration": 3300,
            "s3_key": "peerloop/peerloop-s1/1796309500000",
        },
        event_id="rec-rtd-1",
        event_ts=1796313000,
    )
    (event,) = adapter.parse_webhook(body, {})
    assert event.kind is EventKind.recording_ready and event.room_id == "peerloop-s1"
    assert event.recording == Recording(recording_id="rec-1", duration_seconds=3300)
    assert event.occurred_at == datetime.fromtimestamp(1796313000, UTC)
    assert event.event_id == "daily:rec-rtd-1"


@pytest.mark.parametrize(
    "event_type", ["meeting.started", "recording.started", "recording.error", "transcript.started"]
)
def test_parse_other_events(adapter, event_type):
    (event,) = adapter.parse_webhook(event_body(event_type, {"room": "peerloop-s1", "user_id": "s-1"}), {})
    assert (event.kind, event.event_id, event.user_id) == (EventKind.other, "daily:evt-1", None)


def test_the_creation_probe_is_an_other_event(adapter):
    body = b'{"test":"test"}'
    (event,) = adapter.parse_webhook(body, {})
    assert event.kind is EventKind.other and event.room_id == "" and event.occurred_at == NOW
    (again,) = adapter.parse_webhook(body, {})
    assert event.event_id == again.event_id and event.event_id.startswith("daily:")


def test_event_ids_are_stable(adapter):
    body = event_body("participant.joined", {"room": "peerloop-s1", "user_id": "s-1"})
    assert adapter.parse_webhook(body, {})[0].event_id == adapter.parse_webhook(body, {})[0].event_id


def test_parse_refuses_garbage(adapter):
    with pytest.raises(VideoError):
        adapter.parse_webhook(b"not json", {})
    with pytest.raises(VideoError):
        adapter.parse_webhook(b"[1, 2]", {})
    with pytest.raises(VideoError):
        adapter.parse_webhook(b'{"type": "participant.joined", "payload": [1]}', {})
