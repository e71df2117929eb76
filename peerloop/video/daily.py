"""Daily (https://www.daily.co), a hosted video service, behind the VideoProvider seam.

Every call is JSON to ``{api_url}/...`` (``https://api.daily.co/v1``) with ``Authorization: Bearer
<api key>``. Daily answers errors as HTTP 4xx/5xx with ``{"error": <stable type>, "info": <text>}``.
A time-out, a connection error, a 5xx or a 429 (rate limit) is retryable; any other 4xx is not.

What it maps (checked against Daily's REST reference, docs.daily.co/reference/rest-api, and
public code calling it, Dec 2026):

- ``create_room`` → ``POST /rooms``. Our room id is the Daily room *name* (letters, digits, ``-``
  and ``_``, at most 128 characters: anything else is refused here), so ``provider_room_id`` is that
  name too: every later call addresses the room by name, and Daily's own room UUID is never needed.
  The room is ``private`` (only our meeting tokens get in) and its properties are ``exp`` (the
  session's end plus grace, unix seconds) with ``eject_at_room_exp``, ``max_participants``,
  ``enable_prejoin_ui`` (Daily Prebuilt's camera/mic check) and, with ``record``, ``enable_recording:
  "cloud"`` (without it recording is not enabled at all). No ``nbf``: our join endpoint already keeps
  the window and tokens are only handed out inside it, so a "not before" on Daily's clock would only
  add a skew failure at the window's first second. Daily has no room title and no per-room webhook
  address, so ``title`` and ``callback_url`` are not sent. A create for a name that exists (400, "…
  already exists") reads the room with ``GET /rooms/<name>``: creates are idempotent on our id.
- ``join_url`` → ``POST /meeting-tokens`` with ``room_name``, ``user_id`` (our user id, so webhooks
  and ``/meetings`` name our users; Daily takes at most 36 characters, a UUID's length),
  ``user_name``, ``is_owner`` (the moderator, i.e. the teacher, only) and, with ``expires_at``,
  ``exp`` plus ``eject_at_token_exp``. (Without an ``exp`` no token eject is set: a token eject
  setting overrides the room's ``eject_at_room_exp``.) The address is the room's ``url`` with
  ``?t=<token>``; a stored room without its url is read with ``GET /rooms/<name>``.
- ``delete_room`` → ``DELETE /rooms/<name>``; 404 (gone, or expired: Daily treats those as deleted)
  counts as done.
- ``room_status`` → ``GET /rooms/<name>/presence``: a ``total_count`` above 0 is ``active`` (with
  that head count). Otherwise ``GET /meetings?room=<name>&limit=1`` (newest meeting session first):
  an ``ongoing`` one is ``active`` (presence lags a little), a past one is ``ended``, none is
  ``not_started``. A room Daily no longer knows (404 on presence) is read from ``/meetings`` the
  same way.
- Recordings (cloud): ``start_recording`` → ``POST /rooms/<name>/recordings/start`` ``{"type":
  "cloud"}``; its answer's ``recordingId`` is the id. If an answer carries none, the room's newest
  recording (``GET /recordings?room_name=<name>&limit=1``) is used, and failing that the placeholder
  ``LATEST_RECORDING`` ("the room's newest recording"), which ``get_recording`` resolves later.
  ``stop_recording`` → ``POST /rooms/<name>/recordings/stop`` (Daily answers 400 when no recording
  is running: stopped already, so that is fine, as is a 404 room), then ``get_recording``.
  ``get_recording`` → ``GET /recordings/<id>``: ``status`` ``finished`` gets its address from
  ``GET /recordings/<id>/access-link`` (``download_link``, a signed link valid for an hour: fetch it
  when it is needed, don't keep it); anything else (``in-progress``) is ``url=None``.
  ``duration_seconds`` is the recording's ``duration``. A 404 recording is "not there yet".
- Webhooks are set up once per Daily domain (``POST /webhooks``, not per room), and Daily signs every
  POST: ``X-Webhook-Signature`` = base64(HMAC-SHA256(key=base64-decode(the webhook's ``hmac``
  secret), msg=``<X-Webhook-Timestamp>.<raw body>``)). ``DAILY_WEBHOOK_SECRET`` is that ``hmac``
  secret as Daily shows it (base64). Daily does not document the timestamp's unit: seconds and
  milliseconds are both read (a value of 10^11 or more is milliseconds), and one more than 5
  minutes off our clock is refused. Daily's "is this endpoint alive" probe at webhook creation has
  the body ``{"test": "test"}`` and no ``type``: it parses as one ``other`` event, so the endpoint
  answers 200. Events are ``{version, type, id, payload, event_ts}`` (unix seconds); the event's
  ``id`` (Daily's recommended idempotency key) becomes ``daily:<id>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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
from peerloop.video.signing import header

DEFAULT_API_URL = "https://api.daily.co/v1"
LATEST_RECORDING = "daily:latest"  # start_recording's placeholder: "the room's newest recording"
WEBHOOK_TOLERANCE_SECONDS = 300
_MILLISECONDS_FROM = 10**11  # a unix time this large is in milliseconds (10^11 s is the year 5138)
_ROOM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

_EVENT_KINDS = {
    "participant.joined": EventKind.participant_joined,
    "participant.left": EventKind.participant_left,
    "meeting.ended": EventKind.room_finished,
    "recording.ready-to-download": EventKind.recording_ready,
}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Daily's ``X-Webhook-Signature``: base64 HMAC-SHA256 of ``<timestamp>.<body>`` under the
    base64-decoded secret."""
    key = base64.b64decode(secret, validate=True)
    return base64.b64encode(hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).digest()).decode()


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _from_unix(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
        if seconds >= _MILLISECONDS_FROM:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return None


class Daily:
    name = "daily"
    sends_webhooks = True

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        api_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        timeout: float = 10,
    ):
        if not api_url.startswith("https://") and not api_url.startswith("http://"):
            raise ValueError("the Daily API URL must be an http(s) address")
        if not api_key:
            raise ValueError("Daily needs an API key")
        try:
            self._webhook_key = base64.b64decode(webhook_secret or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("DAILY_WEBHOOK_SECRET must be the webhook's base64 hmac secret") from exc
        if not self._webhook_key:
            raise ValueError("Daily needs the webhook's hmac secret")
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self.session = session or requests.Session()
        self.timeout = timeout
        self._now: Callable[[], datetime] = lambda: datetime.now(UTC)  # tests replace it

    # --- HTTP ---------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        allow: tuple[int, ...] = (),
    ) -> tuple[int, dict[str, Any]]:
        """(status, answer). Statuses in ``allow`` come back as answers instead of raising."""
        what = f"daily {method} {path}"
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        try:
            response = self.session.request(
                method,
                f"{self.api_url}{path}",
                json=body,
                params=params,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:  # time-outs, connection errors: worth another try
            raise VideoError(f"{what}: {exc.__class__.__name__}", retryable=True) from exc
        status = response.status_code
        if status not in allow and (status >= 500 or status == 429):
            raise VideoError(f"{what}: HTTP {status}", retryable=True, status=status)
        try:
            answer = response.json()
        except ValueError as exc:
            if status in allow:
                return status, {}
            raise VideoError(f"{what}: not a JSON answer", status=status) from exc
        if not isinstance(answer, dict):
            raise VideoError(f"{what}: unexpected answer", status=status)
        if status >= 400 and status not in allow:
            detail = answer.get("info") or answer.get("error") or "refused"
            raise VideoError(f"{what}: HTTP {status}: {detail}", status=status)
        return status, answer

    @staticmethod
    def _room_name(room: Room) -> str:
        return room.provider_room_id or room.room_id

    # --- rooms --------------------------------------------------------------------------------

    def create_room(self, options: CreateRoomOptions) -> Room:
        if not _ROOM_NAME.match(options.room_id):
            raise VideoError("daily room names take only letters, digits, - and _ (at most 128)")
        properties: dict[str, Any] = {
            "exp": _unix(options.ends_at),
            "eject_at_room_exp": True,
            "max_participants": options.max_participants,
            "enable_prejoin_ui": True,
        }
        if options.record:
            properties["enable_recording"] = "cloud"
        payload = {"name": options.room_id, "privacy": "private", "properties": properties}
        status, answer = self._call("POST", "/rooms", body=payload, allow=(400,))
        if status == 400:
            text = f"{answer.get('info') or ''} {answer.get('error') or ''}".lower()
            if "already exists" not in text:
                raise VideoError(
                    f"daily POST /rooms: HTTP 400: {answer.get('info') or answer.get('error')}", status=400
                )
            _, answer = self._call("GET", f"/rooms/{options.room_id}")  # made before: use it
        url = answer.get("url")
        if not url:
            raise VideoError("daily /rooms: no url in the answer")
        return Room(room_id=options.room_id, provider_room_id=str(answer.get("name") or options.room_id), url=url)

    def delete_room(self, room: Room) -> None:
        self._call("DELETE", f"/rooms/{self._room_name(room)}", allow=(404,))

    def join_url(self, room: Room, participant: Participant) -> str:
        name = self._room_name(room)
        properties: dict[str, Any] = {
            "room_name": name,
            "user_id": participant.user_id,
            "user_name": participant.name,
            "is_owner": participant.role is ParticipantRole.moderator,
        }
        if participant.expires_at is not None:
            properties["exp"] = _unix(participant.expires_at)
            properties["eject_at_token_exp"] = True
        _, answer = self._call("POST", "/meeting-tokens", body={"properties": properties})
        token = answer.get("token")
        if not token:
            raise VideoError("daily POST /meeting-tokens: no token in the answer")
        url = room.url
        if not url:
            _, info = self._call("GET", f"/rooms/{name}")
            url = info.get("url")
            if not url:
                raise VideoError(f"daily GET /rooms/{name}: no url in the answer")
        return f"{url}{'&' if '?' in url else '?'}t={token}"

    def room_status(self, room: Room) -> RoomStatus:
        name = self._room_name(room)
        status, presence = self._call("GET", f"/rooms/{name}/presence", allow=(404,))
        count = presence.get("total_count") if status != 404 else None
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            return RoomStatus(state=RoomState.active, participant_count=count)
        _, meetings = self._call("GET", "/meetings", params={"room": name, "limit": 1})
        listed = meetings.get("data") or []
        newest = listed[0] if listed and isinstance(listed[0], dict) else None
        if newest is None:
            return RoomStatus(state=RoomState.not_started, participant_count=0)
        if newest.get("ongoing") is True:
            return RoomStatus(state=RoomState.active)
        return RoomStatus(state=RoomState.ended, participant_count=0)

    # --- recordings ---------------------------------------------------------------------------

    def start_recording(self, room: Room) -> str:
        name = self._room_name(room)
        _, answer = self._call("POST", f"/rooms/{name}/recordings/start", body={"type": "cloud"})
        recording_id = answer.get("recordingId") or answer.get("recording_id")
        if recording_id:
            return str(recording_id)
        newest = self._newest_recording(name)
        return str(newest["id"]) if newest else LATEST_RECORDING

    def stop_recording(self, room: Room, recording_id: str) -> Recording:
        # 400: "no recording is active" (stopped already); 404: the room is gone. Both are stopped.
        self._call("POST", f"/rooms/{self._room_name(room)}/recordings/stop", body={"type": "cloud"}, allow=(400, 404))
        return self.get_recording(room, recording_id)

    def get_recording(self, room: Room, recording_id: str) -> Recording:
        if recording_id == LATEST_RECORDING:
            found = self._newest_recording(self._room_name(room))
        else:
            status, found = self._call("GET", f"/recordings/{recording_id}", allow=(404,))
            if status == 404:
                found = None
        if not found or not found.get("id"):
            return Recording(recording_id=recording_id)  # not there yet
        found_id = str(found["id"])
        duration = found.get("duration")
        seconds = int(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None
        if found.get("status") != "finished":
            return Recording(recording_id=found_id, duration_seconds=seconds)
        _, link = self._call("GET", f"/recordings/{found_id}/access-link")
        url = link.get("download_link")
        if not url:
            raise VideoError(f"daily GET /recordings/{found_id}/access-link: no download_link in the answer")
        return Recording(recording_id=found_id, url=url, duration_seconds=seconds)

    def _newest_recording(self, name: str) -> dict[str, Any] | None:
        _, answer = self._call("GET", "/recordings", params={"room_name": name, "limit": 1})
        listed = answer.get("data") or []
        return listed[0] if listed and isinstance(listed[0], dict) else None

    # --- webhooks -----------------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: dict[str, str], url: str) -> bool:
        signature = (header(headers, "X-Webhook-Signature") or "").strip()
        timestamp = (header(headers, "X-Webhook-Timestamp") or "").strip()
        if not signature or not timestamp:
            return False
        sent_at = _from_unix(timestamp) if re.fullmatch(r"\d+(\.\d+)?", timestamp) else None
        if sent_at is None or abs((self._now() - sent_at).total_seconds()) > WEBHOOK_TOLERANCE_SECONDS:
            return False
        try:
            claimed = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = hmac.new(self._webhook_key, timestamp.encode() + b"." + body, hashlib.sha256).digest()
        return hmac.compare_digest(expected, claimed)

    def parse_webhook(self, body: bytes, headers: dict[str, str], *, url: str = "") -> list[VideoEvent]:
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise VideoError("daily webhook: not JSON") from exc
        if not isinstance(event, dict):
            raise VideoError("daily webhook: not an object")
        payload = event.get("payload")
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise VideoError("daily webhook: its payload is not an object")
        event_type = str(event.get("type") or "")  # none: Daily's {"test": "test"} probe
        kind = _EVENT_KINDS.get(event_type, EventKind.other)
        room_id = str(payload.get("room") or payload.get("room_name") or "")

        user_id = None
        if kind in (EventKind.participant_joined, EventKind.participant_left):
            user_id = payload.get("user_id") or None  # our user id: the meeting token set it

        recording = None
        if kind is EventKind.recording_ready and payload.get("recording_id"):
            duration = payload.get("duration")
            seconds = int(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None
            # The file's address comes from get_recording (a short-lived signed link), not from here.
            recording = Recording(recording_id=str(payload["recording_id"]), duration_seconds=seconds)

        # No id (the creation probe, or something odd): one derived from the body, the same every time.
        raw_id = event.get("id")
        event_id = f"daily:{raw_id}" if raw_id else "daily:" + hashlib.sha256(body).hexdigest()[:32]

        return [
            VideoEvent(
                event_id=event_id,
                kind=kind,
                room_id=room_id,
                occurred_at=self._occurred_at(kind, event, payload),
                user_id=str(user_id) if user_id else None,
                recording=recording,
                raw=event,
            )
        ]

    def _occurred_at(self, kind: EventKind, event: dict[str, Any], payload: dict[str, Any]) -> datetime:
        """When it happened: a join at ``joined_at``, a leave at ``joined_at + duration``, a meeting's
        end at ``end_ts``; otherwise (or failing those) when Daily sent it, ``event_ts``."""
        moment = None
        if kind is EventKind.participant_joined:
            moment = _from_unix(payload.get("joined_at"))
        elif kind is EventKind.participant_left:
            joined, duration = _from_unix(payload.get("joined_at")), payload.get("duration")
            if joined is not None and isinstance(duration, int | float) and not isinstance(duration, bool):
                moment = datetime.fromtimestamp(joined.timestamp() + duration, UTC)
        elif kind is EventKind.room_finished:
            moment = _from_unix(payload.get("end_ts"))
        return moment or _from_unix(event.get("event_ts")) or self._now()
