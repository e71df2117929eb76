"""PlugNmeet (https://www.plugnmeet.org), a self-hosted room server, behind the VideoProvider seam.

Every call POSTs JSON to ``{server_url}/auth/<path>`` with ``API-KEY`` and ``HASH-SIGNATURE`` (the
hex HMAC-SHA256 of the exact body bytes under the API secret), as the server's
``HandleAuthHeaderCheck`` checks it. Answers are ``{"status": bool, "msg": str, "status_code": ...}``
(proto field names: the server marshals with ``UseProtoNames``).

What it maps (checked against mynaparrot/plugNmeet-server and plugnmeet-protocol, Aug 2026):

- ``create_room`` → ``room/create``. Our room id is PlugNmeet's ``room_id`` (letters, digits, ``-``
  and ``_`` only: anything else is refused here). The server itself answers a create for an active
  room with that room (idempotent); an older server's "already exists/active" refusal counts as
  success too. ``room_duration`` is in minutes and counts from the first join, so we ask for the
  minutes from now to ``ends_at`` (at least 1): the room never closes before the session's end.
  Caveat: the server merges our features onto its defaults, where recording is allowed, and a proto
  merge skips false values, so ``record=False`` cannot switch recording off; only the server's own
  settings can.
- ``join_url`` → ``room/getJoinToken``; the moderator (teacher) joins as admin. The join address is
  ``{server_url}/?access_token=<token>``.
- ``room_status`` → ``room/isRoomActive`` (it gives no head count). "Not active" is ``ended``; "not
  found" is ``not_started``. PlugNmeet drops ended rooms after a while, so an old room reads
  ``not_started`` too.
- ``delete_room`` → ``room/endRoom``; a room that is not found or not active counts as ended.
- Recordings are started and stopped by the moderator in the room (PlugNmeet has no server API for
  that). ``start_recording`` returns the placeholder id ``LATEST_RECORDING`` and does not call the
  server. ``stop_recording`` and ``get_recording`` call ``recording/fetch`` for the room (newest
  first). The placeholder means the newest recording, and a real id means that recording. If it has
  not been processed yet, you get ``url=None``. Otherwise ``recording/getDownloadToken`` gives
  ``{server_url}/download/recording/<token>``. That token is short-lived (the server's setting), so
  fetch the address when it is needed, don't keep it.
- Webhooks carry a LiveKit-style JWT in ``Authorization`` (HS256 under the API secret, ``iss`` = the
  API key, 5 minutes of validity) whose ``sha256`` claim is the base64 SHA-256 of the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time
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
from peerloop.video.signing import header, hs256_claims

LATEST_RECORDING = "plugnmeet:latest"  # start_recording's placeholder: "the room's newest recording"
WEBHOOK_LEEWAY_SECONDS = 30
_ROOM_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_FETCH_LIMIT = 50

_EVENT_KINDS = {
    "participant_joined": EventKind.participant_joined,
    "participant_left": EventKind.participant_left,
    "room_finished": EventKind.room_finished,
    "recording_proceeded": EventKind.recording_ready,
}


def sign(secret: str, body: bytes) -> str:
    """The ``HASH-SIGNATURE`` of a request body: hex HMAC-SHA256 under the API secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class PlugNmeet:
    name = "plugnmeet"
    sends_webhooks = True

    def __init__(
        self,
        *,
        server_url: str,
        api_key: str,
        api_secret: str,
        session: requests.Session | None = None,
        timeout: float = 10,
    ):
        if not server_url.startswith("https://") and not server_url.startswith("http://"):
            raise ValueError("the PlugNmeet server URL must be an http(s) address")
        if not api_key or not api_secret:
            raise ValueError("PlugNmeet needs an API key and secret")
        self.server_url = server_url.rstrip("/")
        self.api_key = api_key
        self._secret = api_secret
        self.session = session or requests.Session()
        self.timeout = timeout
        self._now: Callable[[], datetime] = lambda: datetime.now(UTC)  # tests replace it

    # --- HTTP ---------------------------------------------------------------------------------

    def _call(self, path: str, payload: dict[str, Any], *, ok_codes: tuple[str, ...] = ()) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()  # serialised once: these bytes are signed
        headers = {
            "API-KEY": self.api_key,
            "HASH-SIGNATURE": sign(self._secret, body),
            "Content-Type": "application/json",
        }
        try:
            response = self.session.post(
                f"{self.server_url}/auth/{path}", data=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:  # time-outs, connection errors: worth another try
            raise VideoError(f"plugnmeet {path}: {exc.__class__.__name__}", retryable=True) from exc
        if response.status_code >= 500:
            raise VideoError(
                f"plugnmeet {path}: HTTP {response.status_code}", retryable=True, status=response.status_code
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise VideoError(f"plugnmeet {path}: not a JSON answer", status=response.status_code) from exc
        if not isinstance(answer, dict):
            raise VideoError(f"plugnmeet {path}: unexpected answer", status=response.status_code)
        if answer.get("status") is not True and answer.get("status_code") not in ok_codes:
            raise VideoError(f"plugnmeet {path}: {answer.get('msg') or 'refused'}", status=response.status_code)
        if response.status_code >= 400:
            raise VideoError(f"plugnmeet {path}: HTTP {response.status_code}", status=response.status_code)
        return answer

    # --- rooms --------------------------------------------------------------------------------

    def create_room(self, options: CreateRoomOptions) -> Room:
        if not _ROOM_ID.match(options.room_id):
            raise VideoError("plugnmeet room ids take only letters, digits, - and _")
        minutes = max(1, math.ceil((options.ends_at - self._now()).total_seconds() / 60))
        metadata: dict[str, Any] = {
            "room_title": options.title,
            "room_features": {
                "room_duration": minutes,
                "recording_features": {"is_allow": options.record, "is_allow_cloud": options.record},
            },
        }
        if options.callback_url:
            metadata["webhook_url"] = options.callback_url
        payload = {"room_id": options.room_id, "max_participants": options.max_participants, "metadata": metadata}
        try:
            answer = self._call("room/create", payload)
        except VideoError as exc:
            text = str(exc).lower()
            if exc.retryable or "already" not in text or not ("exist" in text or "active" in text):
                raise
            answer = {}
        info = answer.get("room_info") or {}
        return Room(room_id=options.room_id, provider_room_id=info.get("sid") or options.room_id)

    def delete_room(self, room: Room) -> None:
        self._call("room/endRoom", {"room_id": room.room_id}, ok_codes=("ROOM_NOT_FOUND", "ROOM_NOT_ACTIVE"))

    def join_url(self, room: Room, participant: Participant) -> str:
        payload = {
            "room_id": room.room_id,
            "user_info": {
                "name": participant.name,
                "user_id": participant.user_id,
                "is_admin": participant.role is ParticipantRole.moderator,
                "is_hidden": False,
            },
        }
        token = self._call("room/getJoinToken", payload).get("token")
        if not token:
            raise VideoError("plugnmeet room/getJoinToken: no token in the answer")
        return f"{self.server_url}/?access_token={token}"

    def room_status(self, room: Room) -> RoomStatus:
        answer = self._call("room/isRoomActive", {"room_id": room.room_id}, ok_codes=("ROOM_NOT_FOUND",))
        if answer.get("is_active") is True:
            return RoomStatus(state=RoomState.active)
        if answer.get("status_code") == "ROOM_NOT_ACTIVE":
            return RoomStatus(state=RoomState.ended)
        return RoomStatus(state=RoomState.not_started)

    # --- recordings ---------------------------------------------------------------------------

    def start_recording(self, room: Room) -> str:
        # PlugNmeet records from the moderator's controls in the room: there is nothing to call.
        return LATEST_RECORDING

    def stop_recording(self, room: Room, recording_id: str) -> Recording:
        # Likewise stopped in the room; this reports the recording once the server has processed it.
        return self.get_recording(room, recording_id)

    def get_recording(self, room: Room, recording_id: str) -> Recording:
        payload = {"room_ids": [room.room_id], "from": 0, "limit": _FETCH_LIMIT, "order_by": "DESC"}
        answer = self._call("recording/fetch", payload, ok_codes=("NOT_FOUND",))
        listed = (answer.get("result") or {}).get("recordings_list") or []
        if recording_id == LATEST_RECORDING:
            found = listed[0] if listed else None
        else:
            found = next((r for r in listed if r.get("record_id") == recording_id), None)
        if not found or not found.get("record_id"):
            return Recording(recording_id=recording_id)  # not processed yet
        record_id = found["record_id"]
        token = self._call("recording/getDownloadToken", {"record_id": record_id}).get("token")
        if not token:
            raise VideoError("plugnmeet recording/getDownloadToken: no token in the answer")
        return Recording(recording_id=record_id, url=f"{self.server_url}/download/recording/{token}")

    # --- webhooks -----------------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: dict[str, str], url: str) -> bool:
        token = (header(headers, "Authorization") or "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        claims = hs256_claims(token, self._secret)
        if claims is None:
            return False
        if not isinstance(claims.get("iss"), str) or not hmac.compare_digest(claims["iss"], self.api_key):
            return False
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp + WEBHOOK_LEEWAY_SECONDS < now:
            return False
        if nbf is not None and (not isinstance(nbf, int | float) or nbf - WEBHOOK_LEEWAY_SECONDS > now):
            return False
        body_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
        claimed = claims.get("sha256")
        return isinstance(claimed, str) and hmac.compare_digest(claimed, body_hash)

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> list[VideoEvent]:
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise VideoError("plugnmeet webhook: not JSON") from exc
        if not isinstance(payload, dict):
            raise VideoError("plugnmeet webhook: not an object")
        event = str(payload.get("event") or "")
        kind = _EVENT_KINDS.get(event.lower(), EventKind.other)
        room = payload.get("room") or {}
        room_id = str(room.get("room_id") or "")
        participant = payload.get("participant") or {}
        recording_info = payload.get("recording_info") or {}

        user_id = None
        if kind in (EventKind.participant_joined, EventKind.participant_left):
            # A native-shell twin joins as "<id>-native" and names the real id in an attribute.
            attributes = participant.get("attributes") or {}
            user_id = attributes.get("original_user_id") or participant.get("identity") or None

        recording = None
        if kind is EventKind.recording_ready and recording_info.get("record_id"):
            # The file path (recording_info.file_path) is on the server: get_recording gives the address.
            recording = Recording(recording_id=str(recording_info["record_id"]))

        event_id = payload.get("id")
        if not event_id:
            # Recorder events carry no id: one recording is processed once, so this is stable.
            basis = f"{event.lower()}:{room_id}:{room.get('sid') or ''}:{recording_info.get('record_id') or ''}"
            basis += f":{participant.get('sid') or ''}:{payload.get('created_at') or ''}"
            event_id = "plugnmeet:" + hashlib.sha256(basis.encode()).hexdigest()[:32]

        return [
            VideoEvent(
                event_id=str(event_id),
                kind=kind,
                room_id=room_id,
                occurred_at=self._occurred_at(payload),
                user_id=str(user_id) if user_id else None,
                recording=recording,
                raw=payload,
            )
        ]

    def _occurred_at(self, payload: dict[str, Any]) -> datetime:
        created = payload.get("created_at")  # unix seconds; protojson writes int64 as a string
        try:
            return datetime.fromtimestamp(int(created), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            return self._now()
