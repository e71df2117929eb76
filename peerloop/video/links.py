"""Link rooms, the embedded default: a stable, unguessable room address per session on a configured
base (Jitsi-style, ``VIDEO_LINK_BASE_URL``), opened in a new tab. No API, no recordings, no
webhooks: a join through our endpoint is what records attendance."""

from __future__ import annotations

import hashlib
import hmac

from peerloop.video.interfaces import (
    CreateRoomOptions,
    Participant,
    Recording,
    Room,
    RoomState,
    RoomStatus,
    VideoError,
    VideoEvent,
)


class LinkRooms:
    name = "link"
    sends_webhooks = False

    def __init__(self, *, base_url: str, secret: str):
        if not base_url.startswith("https://") and not base_url.startswith("http://"):
            raise ValueError("VIDEO_LINK_BASE_URL must be an http(s) address")
        if not secret:
            raise ValueError("link rooms need a secret to make their addresses unguessable")
        self.base_url = base_url
        self._secret = secret.encode()

    def room_url(self, room_id: str) -> str:
        # An HMAC of our room id: the same session always gets the same address, nobody can guess it.
        token = hmac.new(self._secret, f"video-room:{room_id}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self.base_url}{token}"

    def create_room(self, options: CreateRoomOptions) -> Room:
        return Room(room_id=options.room_id, provider_room_id=options.room_id, url=self.room_url(options.room_id))

    def delete_room(self, room: Room) -> None:
        return None  # nothing to delete: the address simply stops being handed out

    def join_url(self, room: Room, participant: Participant) -> str:
        return self.room_url(room.room_id)

    def start_recording(self, room: Room) -> str:
        raise VideoError("link rooms do not record")

    def stop_recording(self, room: Room, recording_id: str) -> Recording:
        raise VideoError("link rooms do not record")

    def get_recording(self, room: Room, recording_id: str) -> Recording:
        raise VideoError("link rooms do not record")

    def room_status(self, room: Room) -> RoomStatus:
        return RoomStatus(state=RoomState.unknown)

    def verify_webhook(self, *, body: bytes, headers: dict[str, str], url: str) -> bool:
        return False  # link rooms send none: anything claiming to be one is refused

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> list[VideoEvent]:
        return []
