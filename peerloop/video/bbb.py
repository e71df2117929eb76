"""BigBlueButton (https://bigbluebutton.org), a self-hosted room server, behind the VideoProvider seam.

Every call is a GET of ``{api_url}<call>?<query>&checksum=<hex>``, where the checksum is
``hex(hash(call + query + secret))`` over the exact query bytes that are sent (sha1, sha256, sha384 or
sha512, per ``checksum``). bbb-web hashes the raw query string it receives, less the checksum
parameter, so the query is built once here (``urlencode``: spaces as ``+``, ``!`` as ``%21``, never an
escaped unreserved character that ``requests`` would un-escape) and those very bytes are hashed and
sent. ``api_url`` is the API base ending in ``/api/`` (with or without the final slash; nothing is
appended to it). Answers are XML: ``<response><returncode>SUCCESS|FAILED</returncode>
<messageKey>…</messageKey><message>…</message>…``.

What it maps (checked against bigbluebutton/bigbluebutton's bbb-web and docs, and bbb-webhooks,
Dec 2026). It needs BBB 2.4 or newer: meetings are made without passwords and joined by ``role``.

- ``create_room`` → ``create``. Our room id is BBB's ``meetingID`` (2 to 256 characters, no commas:
  anything else is refused here). A create for a meeting that exists answers SUCCESS with the
  messageKey ``duplicateWarning`` (the existing meeting): that is success, so a create is idempotent.
  ``duration`` is the minutes from now to ``ends_at`` (at least 1); BBB ends the meeting then.
  ``maxParticipants`` counts distinct ``userID``s, so a rejoin does not use a seat. Recording is allowed
  (never started automatically) when ``record``. The meeting's name is the title cut to 64 characters.
- ``join_url`` is the signed ``join`` address, built here without a call: ``role`` MODERATOR for the
  moderator (the teacher), VIEWER otherwise, and ``userID`` = our user id, so webhooks name our users.
  BBB's join addresses do not expire: the address is as good as a password while the meeting lives.
- ``room_status`` → ``getMeetingInfo`` (it gives the head count). Running is ``active``; a meeting
  ended by force, or left empty (BBB drops it a minute or so later), is ``ended``; a meeting made and
  not yet joined is ``not_started``. BBB forgets ended meetings (it answers ``notFound``), so an ended
  room soon reads ``not_started``, and a join to it fails: create the room again (it is idempotent)
  before every join.
- ``delete_room`` → ``end``; a meeting that is not found has ended already, which is fine.
- Recordings are started and stopped by the moderator in the room (BBB has no server API for that;
  the recording is then processed after the meeting ends). ``start_recording`` returns the placeholder
  ``LATEST_RECORDING`` and calls nothing. ``stop_recording`` and ``get_recording`` call
  ``getRecordings`` for the room (every state but deleted, ``limit`` 100: BBB refuses more). The
  placeholder means the room's newest recording (by start time; a newer one still processing wins
  over an older published one, so the caller waits for it), a real id means that recording. Until it
  is published you get ``url=None``; then the ``presentation`` playback address (or another format's)
  and its length (minutes in BBB) as seconds.
- Callbacks, three kinds, all to ``options.callback_url`` (``verify_webhook`` tells them apart):
  (a) bbb-webhooks POSTs ``domain=…&event=[…]&timestamp=…`` to the URL an administrator registered
  (``hooks/create?callbackURL=…``), with ``checksum=hex(hash(callbackURL + body + secret))`` appended
  to that URL; the hash is bbb-webhooks' ``hookChecksumAlgorithm`` (sha1 by default, its own setting),
  so it is told by the checksum's length. With bbb-webhooks' ``auth2_0`` it sends
  ``Authorization: Bearer <secret>`` instead. Events: ``user-joined`` / ``user-left`` (our user id is
  ``external-user-id``), ``meeting-ended``, ``rap-publish-ended`` / ``rap-published`` (a recording is
  ready); the rest are ``other``.
  (b) BBB's end-of-meeting callback (``meta_endCallbackUrl``) is a bare GET with ``meetingID`` and
  ``recordingmarks`` appended, and BBB signs nothing, so ``create_room`` puts our own token in it:
  ``peerloop_room=<room id>&peerloop_sig=<hex HMAC-SHA256(secret, "end:" + room id)>``. BBB hands
  meeting metadata to the meeting's clients, so a participant can read this address and call it early:
  take it as a hint and confirm with ``room_status`` before doing anything that cannot be undone.
  bbb-web fetches this address twice (once to follow redirects), so its event id is per room.
  (c) The recording-ready callback (``meta_bbb-recording-ready-url``) POSTs ``signed_parameters``, a JWT
  (HS256 under the secret, no expiry) with ``meeting_id`` (our room id) and ``record_id``.
- ``parse_webhook`` needs the request URL for (b): it takes ``url=`` beside the Protocol's two
  arguments. Event ids are stable per event: the end of a room is ``bbb:end:<room id>`` from (a) and
  (b) alike, a recording is ``bbb:rec:<record id>`` from (a) and (c) alike, and other events hash their
  type, meeting, user and time.

What BBB cannot do here: start or stop a recording from the server, expire a join address, keep an
ended meeting (or its state) around, or sign its end-of-meeting callback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from peerloop.video.interfaces import (
    CreateRoomOptions,
    EventKind,
    Participant,
    ParticipantRole,
    Recording,
    Room,
    RoomState,
    RoomStatus,
    VideoError,
    VideoEvent,
)
from peerloop.video.signing import b64url_decode, header, hs256_claims

LATEST_RECORDING = "bbb:latest"  # start_recording's placeholder: "the room's newest recording"
ALGORITHMS = ("sha1", "sha256", "sha384", "sha512")
_BY_LENGTH = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}  # hex digest length → hash
_NOT_FOUND = ("notFound", "invalidMeetingIdentifier")  # BBB's "no such meeting" across versions
_RECORDING_STATES = "processing,processed,published,unpublished"  # all but deleted
_RECORDINGS_LIMIT = 100  # getRecordings refuses a limit above 100
_NAME_MAX = 64
_HOOK_CHECKSUM = re.compile(r"^(?P<callback>.*)[?&]checksum=(?P<checksum>[0-9A-Fa-f]+)$", re.DOTALL)
_PREFERRED_FORMATS = ("presentation", "video")

_EVENT_KINDS = {
    "user-joined": EventKind.participant_joined,
    "user-left": EventKind.participant_left,
    "meeting-ended": EventKind.room_finished,
    "rap-publish-ended": EventKind.recording_ready,
    "rap-published": EventKind.recording_ready,
}


def checksum(call: str, query: str, secret: str, algorithm: str = "sha256") -> str:
    """The ``checksum`` of an API call: ``hex(hash(call + query + secret))`` over the exact query sent."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"BBB checksums are one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
    return hashlib.new(algorithm, (call + query + secret).encode()).hexdigest()


def end_token(secret: str, room_id: str) -> str:
    """Our signature on a room's end-of-meeting callback: hex HMAC-SHA256(secret, "end:" + room id)."""
    return hmac.new(secret.encode(), f"end:{room_id}".encode(), hashlib.sha256).hexdigest()


def _text(element: ET.Element | None, tag: str) -> str:
    found = element.find(tag) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) else None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _single(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name) or []
    return found[0] if len(found) == 1 else None


def _is_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"[", b"{")


def _form(body: bytes) -> dict[str, list[str]]:
    """A form-encoded body's fields (none for a JSON body)."""
    if _is_json(body):
        return {}
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}


class BigBlueButton:
    name = "bbb"
    sends_webhooks = True
    # BBB forgets a meeting once it ends: the services create it (idempotently) before every join.
    create_before_each_join = True

    def __init__(
        self,
        *,
        api_url: str,
        secret: str,
        checksum: str = "sha256",
        session: requests.Session | None = None,
        timeout: float = 10,
    ):
        if not api_url.startswith("https://") and not api_url.startswith("http://"):
            raise ValueError("the BigBlueButton API URL must be an http(s) address")
        if not secret:
            raise ValueError("BigBlueButton needs its shared secret")
        algorithm = (checksum or "sha256").lower()
        if algorithm not in ALGORITHMS:
            raise ValueError(f"BBB checksums are one of {', '.join(ALGORITHMS)}, not {checksum!r}")
        self.api_url = api_url.rstrip("/") + "/"
        self.algorithm = algorithm
        self._secret = secret
        self.session = session or requests.Session()
        self.timeout = timeout
        self._now: Callable[[], datetime] = lambda: datetime.now(UTC)  # tests replace it

    # --- HTTP ---------------------------------------------------------------------------------

    def signed_url(self, call: str, params: list[tuple[str, str]]) -> str:
        """``{api_url}<call>?<query>&checksum=…``: the query is encoded once, and those bytes are signed."""
        query = urlencode(params)
        signature = checksum(call, query, self._secret, self.algorithm)
        return f"{self.api_url}{call}?{query + '&' if query else ''}checksum={signature}"

    def _call(self, call: str, params: list[tuple[str, str]], *, ok_keys: tuple[str, ...] = ()) -> ET.Element:
        url = self.signed_url(call, params)
        try:
            response = self.session.get(url, timeout=self.timeout)
        except requests.RequestException as exc:  # time-outs, connection errors: worth another try
            raise VideoError(f"bbb {call}: {exc.__class__.__name__}", retryable=True) from exc
        if response.status_code >= 500:
            raise VideoError(f"bbb {call}: HTTP {response.status_code}", retryable=True, status=response.status_code)
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            raise VideoError(f"bbb {call}: not an XML answer", status=response.status_code) from exc
        code = _text(root, "returncode").upper()
        key = _text(root, "messageKey")
        if code != "SUCCESS" and not (code == "FAILED" and key in ok_keys):
            message = _text(root, "message") or key or "refused"
            raise VideoError(f"bbb {call}: {message}" + (f" ({key})" if key else ""), status=response.status_code)
        if response.status_code >= 400:
            raise VideoError(f"bbb {call}: HTTP {response.status_code}", status=response.status_code)
        return root

    # --- rooms --------------------------------------------------------------------------------

    def create_room(self, options: CreateRoomOptions) -> Room:
        room_id = options.room_id
        if not 2 <= len(room_id) <= 256 or "," in room_id:
            raise VideoError("bbb meeting ids are 2 to 256 characters, without commas")
        name = options.title.strip()[:_NAME_MAX]
        if len(name) < 2:
            name = room_id[:_NAME_MAX]
        minutes = max(1, math.ceil((options.ends_at - self._now()).total_seconds() / 60))
        params = [
            ("meetingID", room_id),
            ("name", name),
            ("record", "true" if options.record else "false"),
            ("autoStartRecording", "false"),
            ("allowStartStopRecording", "true" if options.record else "false"),
            ("maxParticipants", str(options.max_participants)),
            ("duration", str(minutes)),
        ]
        if options.callback_url:
            params.append(("meta_endCallbackUrl", self.end_callback_url(options.callback_url, room_id)))
            params.append(("meta_bbb-recording-ready-url", options.callback_url))
        root = self._call("create", params)  # an existing meeting: SUCCESS with duplicateWarning
        provider_id = _text(root, "internalMeetingID") or _text(root, "meetingID") or room_id
        return Room(room_id=room_id, provider_room_id=provider_id)

    def end_callback_url(self, callback_url: str, room_id: str) -> str:
        """``callback_url`` with our token on it, for BBB's unsigned end-of-meeting GET."""
        token = urlencode([("peerloop_room", room_id), ("peerloop_sig", end_token(self._secret, room_id))])
        return callback_url + ("&" if "?" in callback_url else "?") + token

    def delete_room(self, room: Room) -> None:
        self._call("end", [("meetingID", room.room_id)], ok_keys=_NOT_FOUND)

    def join_url(self, room: Room, participant: Participant) -> str:
        params = [
            ("fullName", participant.name.strip() or participant.user_id),
            ("meetingID", room.room_id),
            ("role", "MODERATOR" if participant.role is ParticipantRole.moderator else "VIEWER"),
            ("userID", participant.user_id),
            ("redirect", "true"),
        ]
        return self.signed_url("join", params)

    def room_status(self, room: Room) -> RoomStatus:
        root = self._call("getMeetingInfo", [("meetingID", room.room_id)], ok_keys=_NOT_FOUND)
        if _text(root, "returncode").upper() != "SUCCESS":
            return RoomStatus(state=RoomState.not_started)  # never made, or ended and forgotten
        if _text(root, "running").lower() == "true":
            return RoomStatus(state=RoomState.active, participant_count=_int(_text(root, "participantCount")))
        if _text(root, "hasBeenForciblyEnded").lower() == "true" or (_int(_text(root, "endTime")) or 0) > 0:
            return RoomStatus(state=RoomState.ended, participant_count=0)
        return RoomStatus(state=RoomState.not_started, participant_count=0)

    # --- recordings ---------------------------------------------------------------------------

    def start_recording(self, room: Room) -> str:
        # BBB records from the moderator's controls in the room: there is nothing to call.
        return LATEST_RECORDING

    def stop_recording(self, room: Room, recording_id: str) -> Recording:
        # Likewise stopped in the room; this reports the recording once BBB has published it.
        return self.get_recording(room, recording_id)

    def get_recording(self, room: Room, recording_id: str) -> Recording:
        params = [
            ("meetingID", room.room_id),
            ("state", _RECORDING_STATES),
            ("limit", str(_RECORDINGS_LIMIT)),
        ]
        root = self._call("getRecordings", params)
        recordings = root.find("recordings")  # not iter(): metadata may hold any tag, "recording" too
        listed = recordings.findall("recording") if recordings is not None else []
        if recording_id == LATEST_RECORDING:
            found = max(listed, key=lambda r: _int(_text(r, "startTime")) or 0, default=None)
        else:
            found = next((r for r in listed if _text(r, "recordID") == recording_id), None)
        if found is None or not _text(found, "recordID"):
            return Recording(recording_id=recording_id)  # not there yet
        record_id = _text(found, "recordID")
        published = _text(found, "published").lower() == "true"
        state = _text(found, "state").lower()
        if not published or state not in ("", "published"):
            return Recording(recording_id=record_id)  # processing, processed or unpublished
        playback = self._playback(found)
        if playback is None:
            return Recording(recording_id=record_id)
        url, minutes = playback
        return Recording(recording_id=record_id, url=url, duration_seconds=minutes * 60 if minutes else None)

    @staticmethod
    def _playback(recording: ET.Element) -> tuple[str, int | None] | None:
        playback = recording.find("playback")
        formats = [f for f in playback.findall("format") if _text(f, "url")] if playback is not None else []
        if not formats:
            return None
        formats.sort(
            key=lambda f: _PREFERRED_FORMATS.index(_text(f, "type"))
            if _text(f, "type") in _PREFERRED_FORMATS
            else len(_PREFERRED_FORMATS)
        )
        chosen = formats[0]
        return _text(chosen, "url"), _int(_text(chosen, "length"))

    # --- webhooks -----------------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: dict[str, str], url: str) -> bool:
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        if "checksum" in query:  # (a) bbb-webhooks, signed on its URL
            return self._verify_hook_checksum(body=body, url=url)
        form = _form(body)
        authorization = (header(headers, "Authorization") or "").strip()
        if authorization and ("event" in form or _is_json(body)):
            # (a) bbb-webhooks with auth2_0: the shared secret as a bearer token
            scheme, _, token = authorization.partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self._secret.encode())
        if "signed_parameters" in form:  # (c) recording ready
            return self._recording_claims(form) is not None
        if "peerloop_sig" in query or "peerloop_room" in query:  # (b) the end of a meeting
            room_id, signature = _single(query, "peerloop_room"), _single(query, "peerloop_sig")
            if not room_id or not signature:
                return False
            if "meetingID" in query and _single(query, "meetingID") != room_id:
                return False  # BBB appends the meeting's id: it must be the room we signed
            return hmac.compare_digest(end_token(self._secret, room_id).encode(), signature.lower().encode())
        return False

    def _verify_hook_checksum(self, *, body: bytes, url: str) -> bool:
        matched = _HOOK_CHECKSUM.match(url)
        if not matched:
            return False
        given = matched["checksum"].lower()
        algorithm = _BY_LENGTH.get(len(given))
        if algorithm is None:
            return False
        # bbb-webhooks: sha(callbackURL + body + secret), the callback URL as registered (no checksum)
        data = matched["callback"].encode() + body + self._secret.encode()
        return hmac.compare_digest(hashlib.new(algorithm, data).hexdigest(), given)

    def _recording_claims(self, form: dict[str, list[str]]) -> dict[str, Any] | None:
        """The verified claims of a recording-ready JWT (HS256 under the secret), or None."""
        token = (_single(form, "signed_parameters") or "").strip()
        claims = hs256_claims(token, self._secret)
        if claims is None:
            return None
        if not isinstance(claims.get("record_id"), str) or not claims["record_id"]:
            return None
        return claims

    def parse_webhook(self, body: bytes, headers: dict[str, str], url: str = "") -> list[VideoEvent]:
        """Events in our words. ``url``: the request's full URL (the end callback carries its data there)."""
        form = _form(body)
        if "signed_parameters" in form:
            return [self._recording_ready(form)]
        if "event" in form or _is_json(body):
            return self._hook_events(form, body)
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        room_id = _single(query, "peerloop_room")
        if room_id:
            raw = {key: values[0] for key, values in query.items() if values and key != "peerloop_sig"}
            return [
                VideoEvent(
                    event_id=f"bbb:end:{room_id}",
                    kind=EventKind.room_finished,
                    room_id=room_id,
                    occurred_at=self._now(),
                    raw=raw,
                )
            ]
        raise VideoError("bbb webhook: not a callback this adapter knows")

    def _recording_ready(self, form: dict[str, list[str]]) -> VideoEvent:
        token = _single(form, "signed_parameters") or ""
        parts = token.strip().split(".")
        try:
            claims = json.loads(b64url_decode(parts[1])) if len(parts) == 3 else None
        except (ValueError, TypeError) as exc:
            raise VideoError("bbb recording callback: unreadable signed_parameters") from exc
        if not isinstance(claims, dict) or not claims.get("record_id"):
            raise VideoError("bbb recording callback: no record_id")
        record_id = str(claims["record_id"])
        return VideoEvent(
            event_id=f"bbb:rec:{record_id}",
            kind=EventKind.recording_ready,
            room_id=str(claims.get("meeting_id") or ""),
            occurred_at=self._now(),
            recording=Recording(recording_id=record_id),
            raw=claims,
        )

    def _hook_events(self, form: dict[str, list[str]], body: bytes) -> list[VideoEvent]:
        text = _single(form, "event") if "event" in form else None
        try:
            payload = json.loads(text if text is not None else body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise VideoError("bbb webhook: the event is not JSON") from exc
        items = payload if isinstance(payload, list) else [payload]
        if not items:
            raise VideoError("bbb webhook: no events")
        return [self._hook_event(item) for item in items]

    def _hook_event(self, item: Any) -> VideoEvent:
        data = item.get("data") if isinstance(item, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise VideoError("bbb webhook: an event without data.id")
        event = data["id"]
        attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
        meeting = attributes.get("meeting") if isinstance(attributes.get("meeting"), dict) else {}
        user = attributes.get("user") if isinstance(attributes.get("user"), dict) else {}
        stamp = data.get("event") if isinstance(data.get("event"), dict) else {}
        room_id = str(meeting.get("external-meeting-id") or "")
        kind = _EVENT_KINDS.get(event, EventKind.other)
        record_id = str(attributes.get("record-id") or "")
        if kind is EventKind.recording_ready and (attributes.get("success") is False or not record_id):
            kind = EventKind.other  # a failed publish, or nothing to fetch

        user_id = None
        if kind in (EventKind.participant_joined, EventKind.participant_left):
            user_id = str(user.get("external-user-id") or user.get("internal-user-id") or "") or None

        recording = Recording(recording_id=record_id) if kind is EventKind.recording_ready else None
        if kind is EventKind.room_finished and room_id:
            event_id = f"bbb:end:{room_id}"  # the same fact as the end callback's
        elif kind is EventKind.recording_ready:
            event_id = f"bbb:rec:{record_id}"  # the same fact as the recording-ready callback's
        else:
            basis = ":".join(
                str(part or "")
                for part in (
                    event,
                    meeting.get("internal-meeting-id") or room_id,
                    user.get("internal-user-id") or user.get("external-user-id"),
                    record_id,
                    stamp.get("ts"),
                )
            )
            event_id = "bbb:" + hashlib.sha256(basis.encode()).hexdigest()[:32]

        return VideoEvent(
            event_id=event_id,
            kind=kind,
            room_id=room_id,
            occurred_at=self._occurred_at(stamp.get("ts")),
            user_id=user_id,
            recording=recording,
            raw=item,
        )

    def _occurred_at(self, ts: Any) -> datetime:
        millis = _int(ts)  # bbb-webhooks stamps events in milliseconds
        if millis is None:
            return self._now()
        try:
            return datetime.fromtimestamp(millis / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return self._now()
