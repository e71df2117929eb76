"""PlugNmeet adapter: signed calls, exact bodies, failures as VideoError, webhook JWTs, event shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
import requests
import responses

from peerloop.video.interfaces import (
    CreateRoomOptions,
    EventKind,
    Participant,
    ParticipantRole,
    Room,
    RoomState,
    VideoError,
    VideoProvider,
)
from peerloop.video.plugnmeet import LATEST_RECORDING, PlugNmeet, sign

SERVER = "https://pnm.example.test"
KEY = "plugnmeet"
SECRET = "zumyyYWqv7KR2kUqvYdq4z4sXg7XTBD2ljT6"
NOW = datetime(2026, 12, 3, 14, 50, tzinfo=UTC)
START = datetime(2026, 12, 3, 15, tzinfo=UTC)
END = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)
ROOM = Room(room_id="session-1", provider_room_id="RM_abc")


@pytest.fixture
def adapter() -> PlugNmeet:
    video = PlugNmeet(server_url=SERVER + "/", api_key=KEY, api_secret=SECRET, timeout=7)
    video._now = lambda: NOW
    return video


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def options(**overrides) -> CreateRoomOptions:
    values = {"room_id": "session-1", "title": "Intro to algebra", "starts_at": START, "ends_at": END}
    values.update(overrides)
    return CreateRoomOptions(**values)


def sent(call) -> dict:
    return json.loads(call.request.body)


def assert_signed(call) -> None:
    body = call.request.body
    assert isinstance(body, bytes)
    # The documented formula, by hand: hex(HMAC-SHA256(secret, exact body bytes)).
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert call.request.headers["HASH-SIGNATURE"] == expected
    assert call.request.headers["API-KEY"] == KEY
    assert call.request.headers["Content-Type"] == "application/json"


def test_the_signature_matches_a_known_vector():
    body = b'{"room_id":"room01"}'
    # Computed independently of the adapter: HMAC-SHA256 under the secret, hex.
    assert sign(SECRET, body) == hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )  # the widely published HMAC-SHA256 example (Wikipedia)


def test_it_is_a_video_provider(adapter):
    assert isinstance(adapter, VideoProvider)
    assert adapter.name == "plugnmeet" and adapter.sends_webhooks is True


def test_create_room_sends_the_exact_body(adapter, mocked):
    mocked.post(
        f"{SERVER}/auth/room/create",
        json={"status": True, "msg": "success", "status_code": "SUCCESS", "room_info": {"sid": "RM_abc"}},
    )
    room = adapter.create_room(options(record=True, callback_url="https://peerloop.test/hooks/video?t=abc"))
    assert room == Room(room_id="session-1", provider_room_id="RM_abc")
    (call,) = mocked.calls
    assert_signed(call)
    assert sent(call) == {
        "room_id": "session-1",
        "max_participants": 2,
        "metadata": {
            "room_title": "Intro to algebra",
            "room_features": {
                "room_duration": 100,  # 14:50 → 16:30
                "recording_features": {"is_allow": True, "is_allow_cloud": True},
            },
            "webhook_url": "https://peerloop.test/hooks/video?t=abc",
        },
    }


def test_create_room_without_recording_or_callback(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/create", json={"status": True, "msg": "success", "room_info": {}})
    adapter._now = lambda: END  # a late create still asks for at least a minute
    room = adapter.create_room(options())
    assert room.provider_room_id == "session-1"
    body = sent(mocked.calls[0])
    assert "webhook_url" not in body["metadata"]
    assert body["metadata"]["room_features"] == {
        "room_duration": 1,
        "recording_features": {"is_allow": False, "is_allow_cloud": False},
    }


def test_create_room_is_idempotent(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/create", json={"status": True, "msg": "success", "room_info": {"sid": "RM_abc"}})
    mocked.post(f"{SERVER}/auth/room/create", json={"status": False, "msg": "Room already exists and is active"})
    first = adapter.create_room(options())
    again = adapter.create_room(options())
    assert first.room_id == again.room_id == "session-1"
    assert sent(mocked.calls[0]) == sent(mocked.calls[1])


def test_create_room_refuses_an_id_plugnmeet_cannot_take(adapter, mocked):
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options(room_id="session:1"))
    assert not caught.value.retryable and not mocked.calls


def test_create_room_status_false_is_not_retryable(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/create", json={"status": False, "msg": "room_id should only contain …"})
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options())
    assert not caught.value.retryable and "room_id should only contain" in str(caught.value)


def test_join_url_for_the_teacher_and_the_student(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/getJoinToken", json={"status": True, "msg": "success", "token": "tok-T"})
    mocked.post(f"{SERVER}/auth/room/getJoinToken", json={"status": True, "msg": "success", "token": "tok-S"})
    teacher = adapter.join_url(ROOM, Participant("t-1", "Marcus", ParticipantRole.moderator))
    student = adapter.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant))
    assert teacher == f"{SERVER}/?access_token=tok-T"
    assert student == f"{SERVER}/?access_token=tok-S"
    for call in mocked.calls:
        assert_signed(call)
        assert call.request.url == f"{SERVER}/auth/room/getJoinToken"
    assert sent(mocked.calls[0]) == {
        "room_id": "session-1",
        "user_info": {"name": "Marcus", "user_id": "t-1", "is_admin": True, "is_hidden": False},
    }
    assert sent(mocked.calls[1]) == {
        "room_id": "session-1",
        "user_info": {"name": "Ana", "user_id": "s-1", "is_admin": False, "is_hidden": False},
    }


def test_join_url_without_a_token_fails(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/getJoinToken", json={"status": True, "msg": "success"})
    with pytest.raises(VideoError):
        adapter.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant))


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"status": True, "msg": "room is active", "status_code": "SUCCESS", "is_active": True}, RoomState.active),
        (
            {"status": True, "msg": "room is not active", "status_code": "ROOM_NOT_ACTIVE", "is_active": False},
            RoomState.ended,
        ),
        (
            {"status": True, "msg": "room not found", "status_code": "ROOM_NOT_FOUND", "is_active": False},
            RoomState.not_started,
        ),
    ],
)
def test_room_status(adapter, mocked, answer, state):
    mocked.post(f"{SERVER}/auth/room/isRoomActive", json=answer)
    assert adapter.room_status(ROOM).state is state
    assert_signed(mocked.calls[0])
    assert sent(mocked.calls[0]) == {"room_id": "session-1"}


def test_delete_room_ends_it_and_an_ended_room_is_fine(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/endRoom", json={"status": True, "msg": "success", "status_code": "SUCCESS"})
    mocked.post(
        f"{SERVER}/auth/room/endRoom",
        json={"status": False, "msg": "room not found or not active", "status_code": "ROOM_NOT_FOUND"},
    )
    assert adapter.delete_room(ROOM) is None
    assert adapter.delete_room(ROOM) is None
    assert_signed(mocked.calls[0])
    assert sent(mocked.calls[0]) == {"room_id": "session-1"}


def test_delete_room_other_refusals_raise(adapter, mocked):
    mocked.post(
        f"{SERVER}/auth/room/endRoom",
        json={"status": False, "msg": "failed to end room", "status_code": "INTERNAL_SERVER_ERROR"},
    )
    with pytest.raises(VideoError) as caught:
        adapter.delete_room(ROOM)
    assert not caught.value.retryable


def test_recordings_are_started_in_the_room_and_fetched_when_ready(adapter, mocked):
    assert adapter.start_recording(ROOM) == LATEST_RECORDING
    assert not mocked.calls  # nothing to call: the moderator records from the room
    mocked.post(
        f"{SERVER}/auth/recording/fetch",
        json={"status": False, "msg": "no recording found", "status_code": "NOT_FOUND"},
    )
    pending = adapter.stop_recording(ROOM, LATEST_RECORDING)
    assert pending.recording_id == LATEST_RECORDING and pending.url is None
    assert_signed(mocked.calls[0])
    assert sent(mocked.calls[0]) == {"room_ids": ["session-1"], "from": 0, "limit": 50, "order_by": "DESC"}

    listing = {
        "status": True,
        "msg": "success",
        "result": {
            "total_recordings": "2",
            "recordings_list": [
                {"record_id": "REC_new", "room_id": "session-1", "file_path": "node_01/RM_abc/REC_new.mp4"},
                {"record_id": "REC_old", "room_id": "session-1", "file_path": "node_01/RM_abc/REC_old.mp4"},
            ],
        },
    }
    mocked.post(f"{SERVER}/auth/recording/fetch", json=listing)
    mocked.post(f"{SERVER}/auth/recording/getDownloadToken", json={"status": True, "msg": "success", "token": "dl1"})
    ready = adapter.get_recording(ROOM, LATEST_RECORDING)
    assert ready.recording_id == "REC_new"
    assert ready.url == f"{SERVER}/download/recording/dl1"
    assert_signed(mocked.calls[2])
    assert sent(mocked.calls[2]) == {"record_id": "REC_new"}

    mocked.post(f"{SERVER}/auth/recording/fetch", json=listing)
    mocked.post(f"{SERVER}/auth/recording/getDownloadToken", json={"status": True, "msg": "success", "token": "dl2"})
    old = adapter.get_recording(ROOM, "REC_old")
    assert old.recording_id == "REC_old" and old.url == f"{SERVER}/download/recording/dl2"
    assert sent(mocked.calls[4]) == {"record_id": "REC_old"}

    mocked.post(f"{SERVER}/auth/recording/fetch", json=listing)
    missing = adapter.get_recording(ROOM, "REC_elsewhere")
    assert missing.recording_id == "REC_elsewhere" and missing.url is None


def test_every_call_uses_the_configured_timeout(adapter, mocked):
    seen = []
    original = adapter.session.post

    def spy(*args, **kwargs):
        seen.append(kwargs["timeout"])
        return original(*args, **kwargs)

    adapter.session.post = spy
    mocked.post(f"{SERVER}/auth/room/isRoomActive", json={"status": True, "is_active": True})
    adapter.room_status(ROOM)
    assert seen == [7]


def test_a_5xx_is_retryable(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/isRoomActive", status=502, body="bad gateway")
    with pytest.raises(VideoError) as caught:
        adapter.room_status(ROOM)
    assert caught.value.retryable and caught.value.status == 502


def test_a_time_out_is_retryable(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/create", body=requests.exceptions.ConnectTimeout())
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options())
    assert caught.value.retryable


def test_a_connection_error_is_retryable(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/endRoom", body=requests.exceptions.ConnectionError())
    with pytest.raises(VideoError) as caught:
        adapter.delete_room(ROOM)
    assert caught.value.retryable


def test_a_non_json_answer_fails(adapter, mocked):
    mocked.post(f"{SERVER}/auth/room/isRoomActive", body="<html>proxy</html>", content_type="text/html")
    with pytest.raises(VideoError) as caught:
        adapter.room_status(ROOM)
    assert not caught.value.retryable


def test_a_refused_signature_fails(adapter, mocked):
    mocked.post(
        f"{SERVER}/auth/room/isRoomActive",
        status=401,
        json={"status": False, "msg": "Failed to verify provided authentication details."},
    )
    with pytest.raises(VideoError) as caught:
        adapter.room_status(ROOM)
    assert not caught.value.retryable and caught.value.status == 401


# --- webhooks -----------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def webhook_token(body: bytes, *, secret=SECRET, issuer=KEY, expires_in=300, sha=None) -> str:
    """A LiveKit-style webhook token, built by hand the way the server's notifier does."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "iss": issuer,
        "nbf": now,
        "exp": now + expires_in,
        "sha256": sha or base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


BODY = json.dumps(
    {
        "event": "participant_joined",
        "room": {"sid": "RM_abc", "room_id": "session-1"},
        "participant": {"sid": "PA_1", "identity": "s-1", "name": "Ana"},
        "id": "EV_join1",
        "created_at": "1796309400",
    }
).encode()
HOOK_URL = "https://peerloop.test/hooks/video/plugnmeet"


def test_a_signed_webhook_is_accepted(adapter):
    headers = {"authorization": webhook_token(BODY), "Content-Type": "application/json"}
    assert adapter.verify_webhook(body=BODY, headers=headers, url=HOOK_URL) is True


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": webhook_token(BODY, secret="not-the-secret")},
        {"Authorization": webhook_token(BODY + b" ")},  # signed another body
        {"Authorization": webhook_token(BODY, expires_in=-120)},
        {"Authorization": webhook_token(BODY, issuer="someone-else")},
        {"Authorization": webhook_token(BODY, sha="bm90IHRoZSBoYXNo")},
        {"Authorization": "not.a.jwt"},
        {"Authorization": ""},
        {},
    ],
    ids=["wrong-secret", "body-changed", "expired", "wrong-issuer", "wrong-hash", "garbage", "empty", "missing"],
)
def test_a_bad_webhook_is_refused(adapter, headers):
    assert adapter.verify_webhook(body=BODY, headers=headers, url=HOOK_URL) is False


def test_a_changed_body_is_refused(adapter):
    headers = {"Authorization": webhook_token(BODY)}
    assert adapter.verify_webhook(body=BODY.replace(b"s-1", b"s-2"), headers=headers, url=HOOK_URL) is False


def test_an_unsigned_alg_is_refused(adapter):
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"iss": KEY, "exp": int(time.time()) + 60}).encode())
    assert adapter.verify_webhook(body=BODY, headers={"Authorization": f"{header}.{claims}."}, url=HOOK_URL) is False


def test_parse_participant_joined(adapter):
    (event,) = adapter.parse_webhook(BODY, {})
    assert event.kind is EventKind.participant_joined
    assert event.event_id == "EV_join1"
    assert event.room_id == "session-1" and event.user_id == "s-1"
    assert event.occurred_at == datetime.fromtimestamp(1796309400, UTC)
    assert event.recording is None and event.raw["participant"]["name"] == "Ana"


def test_parse_participant_left_from_a_native_twin(adapter):
    body = json.dumps(
        {
            "event": "participant_left",
            "room": {"room_id": "session-1"},
            "participant": {"identity": "t-1-native", "attributes": {"original_user_id": "t-1"}},
            "id": "EV_left1",
            "created_at": 1796309500,
        }
    ).encode()
    (event,) = adapter.parse_webhook(body, {})
    assert (event.kind, event.user_id, event.event_id) == (EventKind.participant_left, "t-1", "EV_left1")


def test_parse_room_finished(adapter):
    body = json.dumps(
        {"event": "room_finished", "room": {"sid": "RM_abc", "room_id": "session-1"}, "id": "EV_fin"}
    ).encode()
    (event,) = adapter.parse_webhook(body, {})
    assert (event.kind, event.room_id, event.user_id) == (EventKind.room_finished, "session-1", None)
    assert event.occurred_at == NOW  # no created_at: the time it arrived


def test_parse_recording_proceeded(adapter):
    body = json.dumps(
        {
            "event": "RECORDING_PROCEEDED",  # the server sends the task's enum name
            "room": {"sid": "RM_abc", "room_id": "session-1"},
            "recording_info": {
                "record_id": "REC_new",
                "recorder_id": "node_01",
                "file_path": "node_01/RM_abc/REC_new.mp4",
                "file_size": 12.5,
            },
        }
    ).encode()
    (event,) = adapter.parse_webhook(body, {})
    assert event.kind is EventKind.recording_ready
    assert event.recording is not None and event.recording.recording_id == "REC_new"
    assert event.raw["recording_info"]["file_path"] == "node_01/RM_abc/REC_new.mp4"
    # No id on recorder events: a derived one, the same on every delivery.
    (again,) = adapter.parse_webhook(body, {})
    assert event.event_id == again.event_id and event.event_id.startswith("plugnmeet:")


def test_parse_other_events(adapter):
    body = json.dumps({"event": "track_published", "room": {"room_id": "session-1"}, "id": "EV_tr"}).encode()
    (event,) = adapter.parse_webhook(body, {})
    assert (event.kind, event.event_id, event.user_id) == (EventKind.other, "EV_tr", None)


def test_parse_refuses_garbage(adapter):
    with pytest.raises(VideoError):
        adapter.parse_webhook(b"not json", {})
    with pytest.raises(VideoError):
        adapter.parse_webhook(b"[1, 2]", {})


def test_a_bearer_prefix_and_an_injected_session_are_fine():
    session = requests.Session()
    video = PlugNmeet(server_url=SERVER, api_key=KEY, api_secret=SECRET, session=session)
    assert video.session is session and video.timeout == 10
    headers = {"Authorization": "Bearer " + webhook_token(BODY)}
    assert video.verify_webhook(body=BODY, headers=headers, url=HOOK_URL) is True
