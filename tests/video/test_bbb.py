"""BigBlueButton adapter: checksummed calls, exact queries, failures as VideoError, three callbacks, events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import pytest
import requests
import responses

from peerloop.video.bbb import LATEST_RECORDING, BigBlueButton, checksum, end_token
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

API = "https://bbb.example.test/bigbluebutton/api/"
SECRET = "8cd8ef52e8e101574e400365b55e11a6"
NOW = datetime(2026, 12, 3, 14, 50, tzinfo=UTC)
START = datetime(2026, 12, 3, 15, tzinfo=UTC)
END = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)
ROOM = Room(room_id="session-1", provider_room_id="0f3b0c2e-1796309400000")
HOOK = "https://peerloop.test/webhooks/video/bbb"


@pytest.fixture
def adapter() -> BigBlueButton:
    video = BigBlueButton(api_url=API, secret=SECRET, timeout=7)
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


def xml(*elements: str, code: str = "SUCCESS") -> str:
    return f"<response><returncode>{code}</returncode>{''.join(elements)}</response>"


def failed(key: str, message: str) -> str:
    return xml(f"<messageKey>{key}</messageKey><message>{message}</message>", code="FAILED")


def split_signed(url: str) -> tuple[str, str, str]:
    """(call, query without the checksum, checksum) of a signed API address."""
    path, _, query = url.partition("?")
    unsigned, _, given = query.rpartition("&checksum=")
    return path.rsplit("/", 1)[1], unsigned, given


def assert_signed(url: str, algorithm: str = "sha256") -> dict[str, list[str]]:
    """The documented formula, by hand: hex(hash(call + query + secret)) over the query as sent."""
    call, query, given = split_signed(url)
    assert given == hashlib.new(algorithm, (call + query + SECRET).encode()).hexdigest()
    return parse_qs(query, keep_blank_values=True)


# --- checksums ---------------------------------------------------------------------------------


def test_the_documented_checksum_example():
    # docs.bigbluebutton.org, "API Security Model": the create example and its SHA-1.
    query = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
    assert checksum("create", query, "639259d4-9dd8-4b25-bf01-95f9567eaf4b", "sha1") == (
        "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"
    )


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_checksums_computed_by_hand(algorithm):
    query = "fullName=Ana+Lu%C3%ADsa%21&meetingID=session-1&role=VIEWER"
    whole = b"joinfullName=Ana+Lu%C3%ADsa%21&meetingID=session-1&role=VIEWER" + SECRET.encode()
    assert checksum("join", query, SECRET, algorithm) == hashlib.new(algorithm, whole).hexdigest()


def test_known_sha1_and_sha256_values():
    # A query with "!" and spaces as BBB receives it; the values were computed once with hashlib on
    # the literal b"createmeetingID=room+one%21&name=Hello+world%21secret".
    query = "meetingID=room+one%21&name=Hello+world%21"
    assert checksum("create", query, "secret", "sha1") == "e7f547e7d00a1852ca8a66d0f7532acd0cbd4994"
    assert checksum("create", query, "secret", "sha256") == (
        "01ca9c00425fcb1b09b89e41b1aa13806bfb67b5a4e16d9c73c5e74864d7904c"
    )
    assert checksum("isMeetingRunning", "meetingID=abc", "s3cr3t", "sha1") == "df07f8e3f02daa18e858524e9f67e4d08ba409dd"
    # The adapter encodes exactly so: spaces as "+", "!" as %21.
    video = BigBlueButton(api_url=API, secret="secret", checksum="sha1")
    url = video.signed_url("create", [("meetingID", "room one!"), ("name", "Hello world!")])
    assert url == f"{API}create?{query}&checksum=e7f547e7d00a1852ca8a66d0f7532acd0cbd4994"


def test_an_unknown_algorithm_is_refused():
    with pytest.raises(ValueError):
        checksum("create", "meetingID=a", SECRET, "md5")
    with pytest.raises(ValueError):
        BigBlueButton(api_url=API, secret=SECRET, checksum="md5")
    with pytest.raises(ValueError):
        BigBlueButton(api_url="bbb.example.test/bigbluebutton/api/", secret=SECRET)
    with pytest.raises(ValueError):
        BigBlueButton(api_url=API, secret="")


def test_it_is_a_video_provider(adapter):
    assert isinstance(adapter, VideoProvider)
    assert adapter.name == "bbb" and adapter.sends_webhooks is True
    assert adapter.algorithm == "sha256" and adapter.timeout == 7


# --- create ------------------------------------------------------------------------------------

CREATED = xml(
    "<meetingID>session-1</meetingID>",
    "<internalMeetingID>0f3b0c2e-1796309400000</internalMeetingID>",
    "<createTime>1796309400000</createTime>",
    "<hasUserJoined>false</hasUserJoined><duration>100</duration>",
)


def test_create_room_sends_the_exact_query(adapter, mocked):
    mocked.get(f"{API}create", body=CREATED, content_type="text/xml")
    room = adapter.create_room(options(record=True, callback_url=HOOK))
    assert room == Room(room_id="session-1", provider_room_id="0f3b0c2e-1796309400000", url=None)
    (call,) = mocked.calls
    sig = hmac.new(SECRET.encode(), b"end:session-1", hashlib.sha256).hexdigest()
    end_callback = f"{HOOK}?peerloop_room=session-1&peerloop_sig={sig}"
    query = (
        "meetingID=session-1&name=Intro+to+algebra&record=true&autoStartRecording=false"
        "&allowStartStopRecording=true&maxParticipants=2&duration=100"  # 14:50 → 16:30
        "&meta_endCallbackUrl=https%3A%2F%2Fpeerloop.test%2Fwebhooks%2Fvideo%2Fbbb%3Fpeerloop_room%3Dsession-1"
        f"%26peerloop_sig%3D{sig}"
        "&meta_bbb-recording-ready-url=https%3A%2F%2Fpeerloop.test%2Fwebhooks%2Fvideo%2Fbbb"
    )
    expected_sum = hashlib.sha256(("create" + query + SECRET).encode()).hexdigest()
    assert call.request.url == f"{API}create?{query}&checksum={expected_sum}"
    sent = assert_signed(call.request.url)
    assert sent["meta_endCallbackUrl"] == [end_callback]
    assert sent["meta_bbb-recording-ready-url"] == [HOOK]


def test_create_room_encodes_bangs_and_spaces_once(adapter, mocked):
    mocked.get(f"{API}create", body=CREATED)
    adapter._now = lambda: END  # a late create still asks for at least a minute
    adapter.create_room(options(title="Fractions! Part two ~ (revision)"))
    url = mocked.calls[0].request.url
    _, query, _ = split_signed(url)
    assert "name=Fractions%21+Part+two+~+%28revision%29" in query  # as hashed, as sent
    sent = assert_signed(url)
    assert sent["name"] == ["Fractions! Part two ~ (revision)"]
    assert sent["record"] == ["false"] and sent["allowStartStopRecording"] == ["false"]
    assert sent["autoStartRecording"] == ["false"] and sent["duration"] == ["1"]
    assert "meta_endCallbackUrl" not in sent and "meta_bbb-recording-ready-url" not in sent


def test_create_room_appends_the_token_to_a_callback_with_a_query(adapter, mocked):
    mocked.get(f"{API}create", body=CREATED)
    adapter.create_room(options(callback_url=HOOK + "?v=1"))
    sent = assert_signed(mocked.calls[0].request.url)
    (end_callback,) = sent["meta_endCallbackUrl"]
    assert end_callback.startswith(HOOK + "?v=1&peerloop_room=session-1&peerloop_sig=")
    assert sent["meta_bbb-recording-ready-url"] == [HOOK + "?v=1"]


def test_create_room_is_idempotent(adapter, mocked):
    mocked.get(f"{API}create", body=CREATED)
    mocked.get(
        f"{API}create",
        body=xml(
            "<meetingID>session-1</meetingID><internalMeetingID>0f3b0c2e-1796309400000</internalMeetingID>",
            "<messageKey>duplicateWarning</messageKey>",
            "<message>This conference was already in existence and may currently be in progress.</message>",
        ),
    )
    first = adapter.create_room(options())
    again = adapter.create_room(options())
    assert first == again == Room(room_id="session-1", provider_room_id="0f3b0c2e-1796309400000")
    assert mocked.calls[0].request.url == mocked.calls[1].request.url


def test_create_room_without_an_internal_id_falls_back_to_ours(adapter, mocked):
    mocked.get(f"{API}create", body=xml("<meetingID>session-1</meetingID>"))
    assert adapter.create_room(options()).provider_room_id == "session-1"


def test_create_room_failed_is_not_retryable(adapter, mocked):
    mocked.get(f"{API}create", body=failed("checksumError", "Checksums do not match"))
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options())
    assert not caught.value.retryable
    assert "Checksums do not match" in str(caught.value) and "checksumError" in str(caught.value)


def test_create_room_refuses_an_id_bbb_cannot_take(adapter, mocked):
    for bad in ("session,1", "s", "x" * 257):
        with pytest.raises(VideoError) as caught:
            adapter.create_room(options(room_id=bad))
        assert not caught.value.retryable
    assert not mocked.calls


def test_a_short_title_names_the_meeting_by_its_id(adapter, mocked):
    mocked.get(f"{API}create", body=CREATED)
    adapter.create_room(options(title=" A "))
    assert assert_signed(mocked.calls[0].request.url)["name"] == ["session-1"]
    mocked.get(f"{API}create", body=CREATED)
    adapter.create_room(options(title="L" * 100))
    assert assert_signed(mocked.calls[1].request.url)["name"] == ["L" * 64]


@pytest.mark.parametrize("api_url", [API, API.rstrip("/")])
def test_the_api_base_takes_or_leaves_its_slash(api_url, mocked):
    video = BigBlueButton(api_url=api_url, secret=SECRET)
    mocked.get(f"{API}end", body=xml("<messageKey>sentEndMeetingRequest</messageKey>"))
    video.delete_room(ROOM)
    url = mocked.calls[0].request.url
    assert url.startswith(f"{API}end?meetingID=session-1&checksum=") and "/api/api" not in url


def test_sha1_when_configured(mocked):
    video = BigBlueButton(api_url=API, secret=SECRET, checksum="SHA1")
    mocked.get(f"{API}getMeetingInfo", body=failed("notFound", "A meeting with that ID does not exist"))
    video.room_status(ROOM)
    url = mocked.calls[0].request.url
    assert len(split_signed(url)[2]) == 40
    assert_signed(url, "sha1")
    join = video.join_url(ROOM, Participant("s-1", "Ana", ParticipantRole.participant))
    assert_signed(join, "sha1")


# --- join --------------------------------------------------------------------------------------


def test_join_urls_for_the_teacher_and_the_student(adapter, mocked):
    teacher = adapter.join_url(ROOM, Participant("t-1", "Marcus Aurelius", ParticipantRole.moderator))
    student = adapter.join_url(ROOM, Participant("s-1", "Ana!", ParticipantRole.participant))
    assert not mocked.calls  # built here: no call to the server
    assert teacher.startswith(
        f"{API}join?fullName=Marcus+Aurelius&meetingID=session-1&role=MODERATOR&userID=t-1&redirect=true&checksum="
    )
    assert student.startswith(f"{API}join?fullName=Ana%21&meetingID=session-1&role=VIEWER&userID=s-1&redirect=true")
    assert assert_signed(teacher)["role"] == ["MODERATOR"]
    assert assert_signed(student) == {
        "fullName": ["Ana!"],
        "meetingID": ["session-1"],
        "role": ["VIEWER"],
        "userID": ["s-1"],
        "redirect": ["true"],
    }
    # What requests would send is what was signed.
    assert requests.Request("GET", student).prepare().url == student


# --- status and end ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "state", "count"),
    [
        (xml("<running>true</running><participantCount>2</participantCount><endTime>0</endTime>"), RoomState.active, 2),
        (
            xml("<running>false</running><participantCount>0</participantCount><endTime>0</endTime>"),
            RoomState.not_started,
            0,
        ),
        (xml("<running>false</running><hasBeenForciblyEnded>true</hasBeenForciblyEnded>"), RoomState.ended, 0),
        (xml("<running>false</running><endTime>1796315400000</endTime>"), RoomState.ended, 0),
        (failed("notFound", "A meeting with that ID does not exist"), RoomState.not_started, None),
        (failed("invalidMeetingIdentifier", "No such meeting"), RoomState.not_started, None),
    ],
    ids=["running", "made-not-joined", "ended-by-force", "left-empty", "not-found", "not-found-old"],
)
def test_room_status(adapter, mocked, answer, state, count):
    mocked.get(f"{API}getMeetingInfo", body=answer)
    status = adapter.room_status(ROOM)
    assert status.state == state and status.participant_count == count
    assert assert_signed(mocked.calls[0].request.url) == {"meetingID": ["session-1"]}


def test_room_status_other_failures_raise(adapter, mocked):
    mocked.get(f"{API}getMeetingInfo", body=failed("checksumError", "Checksums do not match"))
    with pytest.raises(VideoError) as caught:
        adapter.room_status(ROOM)
    assert not caught.value.retryable


def test_delete_room_ends_it_and_an_ended_room_is_fine(adapter, mocked):
    mocked.get(f"{API}end", body=xml("<messageKey>sentEndMeetingRequest</messageKey><message>sent</message>"))
    mocked.get(f"{API}end", body=failed("notFound", "A meeting with that ID does not exist"))
    assert adapter.delete_room(ROOM) is None
    assert adapter.delete_room(ROOM) is None
    assert assert_signed(mocked.calls[0].request.url) == {"meetingID": ["session-1"]}


def test_delete_room_other_refusals_raise(adapter, mocked):
    mocked.get(f"{API}end", body=failed("validationError", "You must provide a meeting ID"))
    with pytest.raises(VideoError) as caught:
        adapter.delete_room(ROOM)
    assert not caught.value.retryable and "You must provide a meeting ID" in str(caught.value)


# --- failures ----------------------------------------------------------------------------------


def test_a_5xx_is_retryable(adapter, mocked):
    mocked.get(f"{API}getMeetingInfo", status=500, body="<html>oops</html>")
    with pytest.raises(VideoError) as caught:
        adapter.room_status(ROOM)
    assert caught.value.retryable and caught.value.status == 500


def test_a_time_out_is_retryable(adapter, mocked):
    mocked.get(f"{API}create", body=requests.exceptions.Timeout())
    with pytest.raises(VideoError) as caught:
        adapter.create_room(options())
    assert caught.value.retryable


def test_a_connection_error_is_retryable(adapter, mocked):
    mocked.get(f"{API}end", body=requests.exceptions.ConnectionError())
    with pytest.raises(VideoError) as caught:
        adapter.delete_room(ROOM)
    assert caught.value.retryable


def test_a_non_xml_answer_fails(adapter, mocked):
    mocked.get(f"{API}getMeetingInfo", body="<html><body>proxy", content_type="text/html")
    with pytest.raises(VideoError) as caught:
        adapter.room_status(ROOM)
    assert not caught.value.retryable


def test_a_4xx_fails_without_retry(adapter, mocked):
    mocked.get(f"{API}getMeetingInfo", status=404, body="<response><returncode>SUCCESS</returncode></response>")
    with pytest.raises(VideoError) as caught:
        adapter.room_status(ROOM)
    assert not caught.value.retryable and caught.value.status == 404


def test_every_call_uses_the_configured_timeout(adapter, mocked):
    seen = []
    original = adapter.session.get

    def spy(*args, **kwargs):
        seen.append(kwargs["timeout"])
        return original(*args, **kwargs)

    adapter.session.get = spy
    mocked.get(f"{API}getMeetingInfo", body=xml("<running>true</running>"))
    adapter.room_status(ROOM)
    assert seen == [7]


def test_an_injected_session_is_used():
    session = requests.Session()
    video = BigBlueButton(api_url=API, secret=SECRET, session=session)
    assert video.session is session and video.timeout == 10 and video.algorithm == "sha256"


# --- recordings --------------------------------------------------------------------------------


def recording(record_id: str, start: int, *, state: str = "published", formats: str = "") -> str:
    published = "true" if state == "published" else "false"
    return (
        f"<recording><recordID>{record_id}</recordID><meetingID>session-1</meetingID>"
        f"<internalMeetingID>{record_id}</internalMeetingID><published>{published}</published>"
        f"<state>{state}</state><startTime>{start}</startTime><endTime>{start + 3_600_000}</endTime>"
        "<metadata><recording>not a recording</recording><format>nor a format</format></metadata>"
        f"<playback>{formats}</playback></recording>"
    )


PODCAST = (
    "<format><type>podcast</type><url>https://bbb.example.test/podcast/r/audio.ogg</url><length>33</length></format>"
)
PRESENTATION = (
    "<format><type>presentation</type>"
    "<url>https://bbb.example.test/playback/presentation/2.3/rec-new</url>"
    "<processingTime>7177</processingTime><length>52</length></format>"
)


def test_recordings_are_started_in_the_room_and_fetched_when_ready(adapter, mocked):
    assert adapter.start_recording(ROOM) == LATEST_RECORDING
    assert not mocked.calls  # nothing to call: the moderator records from the room

    mocked.get(f"{API}getRecordings", body=xml("<recordings/><messageKey>noRecordings</messageKey>"))
    pending = adapter.stop_recording(ROOM, LATEST_RECORDING)
    assert pending == Recording(recording_id=LATEST_RECORDING)
    sent = assert_signed(mocked.calls[0].request.url)
    assert sent == {
        "meetingID": ["session-1"],
        "state": ["processing,processed,published,unpublished"],
        "limit": ["100"],
    }
    assert int(sent["limit"][0]) <= 100  # BBB refuses more

    processing = xml(
        "<recordings>",
        recording("rec-old", 1796300000000, formats=PODCAST),
        recording("rec-new", 1796309400000, state="processing"),
        "</recordings>",
    )
    mocked.get(f"{API}getRecordings", body=processing)
    waiting = adapter.get_recording(ROOM, LATEST_RECORDING)
    assert waiting == Recording(recording_id="rec-new", url=None)  # the newest, still processing

    published = xml(
        "<recordings>",
        recording("rec-new", 1796309400000, formats=PODCAST + PRESENTATION),
        recording("rec-old", 1796300000000, formats=PODCAST),
        "</recordings>",
    )
    mocked.get(f"{API}getRecordings", body=published)
    ready = adapter.get_recording(ROOM, LATEST_RECORDING)
    assert ready == Recording(
        recording_id="rec-new",
        url="https://bbb.example.test/playback/presentation/2.3/rec-new",
        duration_seconds=52 * 60,
    )

    mocked.get(f"{API}getRecordings", body=published)
    old = adapter.get_recording(ROOM, "rec-old")
    assert old == Recording(
        recording_id="rec-old", url="https://bbb.example.test/podcast/r/audio.ogg", duration_seconds=33 * 60
    )

    mocked.get(f"{API}getRecordings", body=published)
    assert adapter.get_recording(ROOM, "rec-elsewhere") == Recording(recording_id="rec-elsewhere")


def test_an_unpublished_or_formatless_recording_has_no_address(adapter, mocked):
    mocked.get(
        f"{API}getRecordings", body=xml("<recordings>", recording("r1", 1, state="unpublished"), "</recordings>")
    )
    assert adapter.get_recording(ROOM, "r1") == Recording(recording_id="r1")
    mocked.get(f"{API}getRecordings", body=xml("<recordings>", recording("r2", 1), "</recordings>"))
    assert adapter.get_recording(ROOM, "r2") == Recording(recording_id="r2")
    zero = "<format><type>presentation</type><url>https://bbb.example.test/p/r3</url><length>0</length></format>"
    mocked.get(f"{API}getRecordings", body=xml("<recordings>", recording("r3", 1, formats=zero), "</recordings>"))
    assert adapter.get_recording(ROOM, "r3") == Recording(recording_id="r3", url="https://bbb.example.test/p/r3")


# --- webhooks: (a) bbb-webhooks -----------------------------------------------------------------


def hook_event(event: str, *, user: str | None = "s-1", ts: int = 1796309461000, **attributes) -> dict:
    data_attributes = {
        "meeting": {"internal-meeting-id": "0f3b0c2e-1796309400000", "external-meeting-id": "session-1"},
        **attributes,
    }
    if user:
        data_attributes["user"] = {"internal-user-id": "w_abc123", "external-user-id": user, "name": "Ana"}
    return {"data": {"type": "event", "id": event, "attributes": data_attributes, "event": {"ts": ts}}}


def hook_body(*events: dict) -> bytes:
    """The form bbb-webhooks POSTs: domain, event (a JSON array) and timestamp, keys in that order."""
    payload = json.dumps(list(events), separators=(",", ":"))
    return urlencode({"domain": "bbb.example.test", "event": payload, "timestamp": 1796309461123}).encode()


def hook_url(body: bytes, *, callback: str = HOOK, algorithm: str = "sha1", secret: str = SECRET) -> str:
    """bbb-webhooks' callback address: sha(callbackURL + body + secret) appended as ``checksum``."""
    digest = hashlib.new(algorithm, callback.encode() + body + secret.encode()).hexdigest()
    return callback + ("&" if "?" in callback else "?") + f"checksum={digest}"


JOINED = hook_body(hook_event("user-joined"))


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_a_bbb_webhooks_post_is_accepted(adapter, algorithm):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert adapter.verify_webhook(body=JOINED, headers=headers, url=hook_url(JOINED, algorithm=algorithm)) is True


def test_a_bbb_webhooks_post_to_a_url_with_a_query_is_accepted(adapter):
    url = hook_url(JOINED, callback=HOOK + "?from=bbb")
    assert "?from=bbb&checksum=" in url
    assert adapter.verify_webhook(body=JOINED, headers={}, url=url) is True


@pytest.mark.parametrize(
    "url",
    [
        hook_url(JOINED, secret="not-the-secret"),
        hook_url(JOINED + b"&x=1"),  # signed another body
        hook_url(JOINED).replace("https://peerloop.test", "https://evil.test"),
        hook_url(JOINED)[:-2],  # a cut checksum: no algorithm has that length
        hook_url(JOINED) + "&more=1",  # the checksum is not last
        HOOK + "?checksum=",
    ],
    ids=["wrong-secret", "other-body", "url-changed", "cut", "not-last", "empty"],
)
def test_a_bad_bbb_webhooks_post_is_refused(adapter, url):
    assert adapter.verify_webhook(body=JOINED, headers={}, url=url) is False


def test_a_changed_body_is_refused(adapter):
    url = hook_url(JOINED)
    assert adapter.verify_webhook(body=JOINED.replace(b"s-1", b"s-2"), headers={}, url=url) is False


def test_bbb_webhooks_bearer_mode(adapter):
    assert adapter.verify_webhook(body=JOINED, headers={"authorization": f"Bearer {SECRET}"}, url=HOOK) is True
    assert adapter.verify_webhook(body=JOINED, headers={"Authorization": "Bearer nope"}, url=HOOK) is False
    assert adapter.verify_webhook(body=JOINED, headers={"Authorization": SECRET}, url=HOOK) is False


def test_parse_user_joined_and_left(adapter):
    (joined,) = adapter.parse_webhook(JOINED, {}, url=hook_url(JOINED))
    assert joined.kind is EventKind.participant_joined
    assert (joined.room_id, joined.user_id) == ("session-1", "s-1")
    assert joined.occurred_at == datetime.fromtimestamp(1796309461, UTC)
    assert joined.recording is None and joined.raw["data"]["attributes"]["user"]["name"] == "Ana"
    assert joined.event_id.startswith("bbb:")
    (again,) = adapter.parse_webhook(JOINED, {})
    assert again.event_id == joined.event_id  # a redelivery is the same event

    (left,) = adapter.parse_webhook(hook_body(hook_event("user-left", ts=1796312000000)), {})
    assert (left.kind, left.user_id, left.room_id) == (EventKind.participant_left, "s-1", "session-1")
    assert left.event_id != joined.event_id
    (rejoined,) = adapter.parse_webhook(hook_body(hook_event("user-joined", ts=1796313000000)), {})
    assert rejoined.event_id != joined.event_id  # a second join at another time is another event


def test_parse_meeting_ended_is_the_end_callbacks_event(adapter):
    (ended,) = adapter.parse_webhook(hook_body(hook_event("meeting-ended", user=None)), {})
    assert (ended.kind, ended.room_id, ended.user_id) == (EventKind.room_finished, "session-1", None)
    assert ended.event_id == "bbb:end:session-1"


def test_parse_recording_published(adapter):
    body = hook_body(hook_event("rap-publish-ended", user=None, **{"record-id": "rec-new", "success": True}))
    (event,) = adapter.parse_webhook(body, {})
    assert event.kind is EventKind.recording_ready
    assert event.recording == Recording(recording_id="rec-new")
    assert event.event_id == "bbb:rec:rec-new" and event.room_id == "session-1"
    failed_publish = hook_body(hook_event("rap-publish-ended", user=None, **{"record-id": "rec-x", "success": False}))
    (other,) = adapter.parse_webhook(failed_publish, {})
    assert other.kind is EventKind.other and other.recording is None


def test_parse_other_events_and_several_in_one_post(adapter):
    body = hook_body(
        hook_event("meeting-created", user=None, ts=1796309400000),
        hook_event("user-audio-voice-enabled"),
        hook_event("user-joined"),
    )
    created, audio, joined = adapter.parse_webhook(body, {})
    assert (created.kind, created.user_id, created.room_id) == (EventKind.other, None, "session-1")
    assert audio.kind is EventKind.other and audio.user_id is None
    assert joined.kind is EventKind.participant_joined
    assert len({created.event_id, audio.event_id, joined.event_id}) == 3


def test_parse_a_json_body(adapter):
    body = json.dumps([hook_event("user-left")]).encode()
    (event,) = adapter.parse_webhook(body, {"Content-Type": "application/json"})
    assert (event.kind, event.user_id) == (EventKind.participant_left, "s-1")
    (single,) = adapter.parse_webhook(json.dumps(hook_event("user-left")).encode(), {})
    assert single.event_id == event.event_id


def test_an_event_without_a_time_is_stamped_on_arrival(adapter):
    item = hook_event("user-joined")
    del item["data"]["event"]
    (event,) = adapter.parse_webhook(hook_body(item), {})
    assert event.occurred_at == NOW


@pytest.mark.parametrize(
    "body",
    [
        urlencode({"event": "not json", "timestamp": 1}).encode(),
        urlencode({"event": "[]"}).encode(),
        urlencode({"event": '[{"nodata": 1}]'}).encode(),
        urlencode({"event": '[{"data": {"id": ""}}]'}).encode(),
        urlencode({"event": "[1, 2]"}).encode(),
        b"[not json",
        b"",
        b"hello=world",
    ],
    ids=["not-json", "empty-array", "no-data", "empty-id", "not-objects", "bad-json-body", "nothing", "unknown"],
)
def test_parse_refuses_garbage(adapter, body):
    with pytest.raises(VideoError):
        adapter.parse_webhook(body, {}, url=HOOK)


# --- webhooks: (b) the end-of-meeting callback -----------------------------------------------------


def end_callback_from_create(adapter, mocked) -> str:
    mocked.get(f"{API}create", body=CREATED)
    adapter.create_room(options(callback_url=HOOK))
    (registered,) = assert_signed(mocked.calls[-1].request.url)["meta_endCallbackUrl"]
    return registered


def test_the_end_callback_is_accepted_and_parsed(adapter, mocked):
    registered = end_callback_from_create(adapter, mocked)
    sig = hmac.new(SECRET.encode(), b"end:session-1", hashlib.sha256).hexdigest()  # by hand
    assert registered == f"{HOOK}?peerloop_room=session-1&peerloop_sig={sig}"
    assert end_token(SECRET, "session-1") == sig
    called = registered + "&recordingmarks=true&meetingID=session-1"  # what bbb-web appends, then GETs
    assert adapter.verify_webhook(body=b"", headers={}, url=called) is True
    assert adapter.verify_webhook(body=b"", headers={}, url=registered + "&recordingmarks=false") is True
    (event,) = adapter.parse_webhook(b"", {}, url=called)
    assert event.kind is EventKind.room_finished
    assert (event.event_id, event.room_id, event.user_id) == ("bbb:end:session-1", "session-1", None)
    assert event.occurred_at == NOW and event.raw["recordingmarks"] == "true"
    assert "peerloop_sig" not in event.raw
    (twice,) = adapter.parse_webhook(b"", {}, url=called)  # bbb-web calls it twice: one event
    assert twice.event_id == event.event_id


@pytest.mark.parametrize(
    "url",
    [
        f"{HOOK}?peerloop_room=session-2&peerloop_sig={end_token(SECRET, 'session-1')}",
        f"{HOOK}?peerloop_room=session-1&peerloop_sig={end_token('other-secret', 'session-1')}",
        f"{HOOK}?peerloop_room=session-1&peerloop_sig={end_token(SECRET, 'session-1')[:-1]}0",
        f"{HOOK}?peerloop_room=session-1",
        f"{HOOK}?peerloop_sig={end_token(SECRET, 'session-1')}",
        f"{HOOK}?peerloop_room=session-1&peerloop_sig={end_token(SECRET, 'session-1')}&meetingID=session-2",
        f"{HOOK}?peerloop_room=session-1&peerloop_room=session-2&peerloop_sig={end_token(SECRET, 'session-1')}",
        HOOK,
        f"{HOOK}?meetingID=session-1&recordingmarks=false",
    ],
    ids=["other-room", "wrong-secret", "sig-changed", "no-sig", "no-room", "other-meeting", "two-rooms", "bare", "raw"],
)
def test_a_bad_end_callback_is_refused(adapter, url):
    assert adapter.verify_webhook(body=b"", headers={}, url=url) is False


# --- webhooks: (c) the recording-ready callback ----------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_parameters(claims: dict, *, secret: str = SECRET, alg: str = "HS256") -> bytes:
    """The recording-ready POST, built by hand as BBB's post_publish script does (ruby-jwt, HS256)."""
    signing_input = f"{b64url(json.dumps({'alg': alg}).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return urlencode({"signed_parameters": f"{signing_input}.{b64url(signature)}"}).encode()


READY = signed_parameters({"meeting_id": "session-1", "record_id": "rec-new"})


def test_the_recording_ready_callback_is_accepted_and_parsed(adapter):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert adapter.verify_webhook(body=READY, headers=headers, url=HOOK) is True
    (event,) = adapter.parse_webhook(READY, headers, url=HOOK)
    assert event.kind is EventKind.recording_ready
    assert event.recording == Recording(recording_id="rec-new")
    assert (event.event_id, event.room_id) == ("bbb:rec:rec-new", "session-1")
    assert event.raw == {"meeting_id": "session-1", "record_id": "rec-new"}
    published = hook_body(hook_event("rap-publish-ended", user=None, **{"record-id": "rec-new", "success": True}))
    (from_hooks,) = adapter.parse_webhook(published, {})
    assert from_hooks.event_id == event.event_id  # the same fact from bbb-webhooks is one event


def test_a_bad_recording_ready_callback_is_refused(adapter):
    forged = signed_parameters({"meeting_id": "session-1", "record_id": "rec-new"}, secret="not-the-secret")
    assert adapter.verify_webhook(body=forged, headers={}, url=HOOK) is False
    token = parse_qs(READY.decode())["signed_parameters"][0]
    header, _, signature = token.split(".")
    swapped = b64url(json.dumps({"meeting_id": "session-2", "record_id": "rec-new"}).encode())
    tampered = urlencode({"signed_parameters": f"{header}.{swapped}.{signature}"}).encode()
    assert adapter.verify_webhook(body=tampered, headers={}, url=HOOK) is False
    none_header, none_claims = b64url(b'{"alg":"none"}'), b64url(b'{"record_id":"rec-new"}')
    unsigned = f"{none_header}.{none_claims}."
    assert (
        adapter.verify_webhook(body=urlencode({"signed_parameters": unsigned}).encode(), headers={}, url=HOOK) is False
    )
    no_record = signed_parameters({"meeting_id": "session-1"})
    assert adapter.verify_webhook(body=no_record, headers={}, url=HOOK) is False
    assert adapter.verify_webhook(body=b"signed_parameters=garbage", headers={}, url=HOOK) is False


def test_parse_refuses_an_unreadable_recording_callback(adapter):
    with pytest.raises(VideoError):
        adapter.parse_webhook(b"signed_parameters=garbage", {}, url=HOOK)
    with pytest.raises(VideoError):
        adapter.parse_webhook(signed_parameters({"meeting_id": "session-1"}), {}, url=HOOK)


def test_anything_else_is_refused(adapter):
    assert adapter.verify_webhook(body=b"", headers={}, url=HOOK) is False
    assert adapter.verify_webhook(body=b'{"event": "room_finished"}', headers={}, url=HOOK) is False
    assert adapter.verify_webhook(body=b"hello=world", headers={"Authorization": "Bearer x"}, url=HOOK) is False
