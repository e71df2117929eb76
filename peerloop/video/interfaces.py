"""The VideoProvider seam (seed 002 §2): the seven calls every video service answers, in our words.

Adapters (one module each: ``links`` the embedded default, ``bbb``, ``plugnmeet``, ``daily``) turn
these into their provider's HTTP API; services never see a provider's shapes. Every failure of a
provider is a ``VideoError`` (``retryable`` when trying again may work: a time-out, a 5xx), which
the services turn into 503 ``video_unavailable`` ("Video service unavailable. Try again.").

Webhook verification and parsing are per provider too (``verify_webhook``, ``parse_webhook``):
each provider signs its callbacks its own way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


class VideoError(Exception):
    """A provider call failed. ``retryable``: a time-out, a connection error or a 5xx."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class ParticipantRole(enum.StrEnum):
    moderator = "moderator"  # the teacher: starts, records, ends
    participant = "participant"  # the student


@dataclass(frozen=True)
class CreateRoomOptions:
    """A room for one session. ``room_id`` is ours (stable per session), so a create is idempotent."""

    room_id: str
    title: str
    starts_at: datetime
    ends_at: datetime  # the session's end plus the grace period: tokens and rooms expire then
    record: bool = False
    callback_url: str | None = None  # where the provider sends its events (with our signed token)
    max_participants: int = 2


@dataclass(frozen=True)
class Room:
    room_id: str  # ours
    provider_room_id: str  # theirs (a BBB internal meeting id, a Daily room name …)
    url: str | None = None  # a room that opens at one address (link rooms, Daily)


@dataclass(frozen=True)
class Participant:
    user_id: str
    name: str
    role: ParticipantRole
    expires_at: datetime | None = None


class RoomState(enum.StrEnum):
    not_started = "not_started"
    active = "active"
    ended = "ended"
    unknown = "unknown"  # the provider cannot tell (link rooms)


@dataclass(frozen=True)
class RoomStatus:
    state: RoomState
    participant_count: int | None = None


@dataclass(frozen=True)
class Recording:
    recording_id: str
    url: str | None = None  # None while the provider is still processing it
    duration_seconds: int | None = None


class EventKind(enum.StrEnum):
    participant_joined = "participant_joined"
    participant_left = "participant_left"
    room_finished = "room_finished"
    recording_ready = "recording_ready"
    other = "other"


@dataclass(frozen=True)
class VideoEvent:
    """A provider callback in our words."""

    event_id: str  # unique per event: the webhook store's key
    kind: EventKind
    room_id: str  # ours
    occurred_at: datetime
    user_id: str | None = None
    recording: Recording | None = None
    raw: dict = field(default_factory=dict)


@runtime_checkable
class VideoProvider(Protocol):
    name: str
    sends_webhooks: bool  # link rooms do not: a join through our endpoint is the attendance record

    def create_room(self, options: CreateRoomOptions) -> Room: ...

    def delete_room(self, room: Room) -> None: ...

    def join_url(self, room: Room, participant: Participant) -> str: ...

    def start_recording(self, room: Room) -> str: ...

    def stop_recording(self, room: Room, recording_id: str) -> Recording: ...

    def get_recording(self, room: Room, recording_id: str) -> Recording: ...

    def room_status(self, room: Room) -> RoomStatus: ...

    def verify_webhook(self, *, body: bytes, headers: dict[str, str], url: str) -> bool: ...

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> list[VideoEvent]: ...
