"""Link rooms: stable, unguessable addresses; no recordings, no webhooks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from peerloop.video.interfaces import (
    CreateRoomOptions,
    Participant,
    ParticipantRole,
    RoomState,
    VideoError,
    VideoProvider,
)
from peerloop.video.links import LinkRooms

START = datetime(2026, 12, 3, 15, tzinfo=UTC)
END = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)


def options(room_id: str) -> CreateRoomOptions:
    return CreateRoomOptions(room_id=room_id, title="Intro", starts_at=START, ends_at=END)


def test_a_session_always_gets_the_same_unguessable_address():
    rooms = LinkRooms(base_url="https://meet.jit.si/peerloop-", secret="s3cret")
    assert isinstance(rooms, VideoProvider)
    first = rooms.create_room(options("session-1"))
    again = rooms.create_room(options("session-1"))
    other = rooms.create_room(options("session-2"))
    assert first == again and first.url != other.url
    assert (
        first.url.startswith("https://meet.jit.si/peerloop-")
        and len(first.url) > len("https://meet.jit.si/peerloop-") + 30
    )
    assert "session-1" not in first.url  # the session id is not readable from the address
    assert LinkRooms(base_url="https://meet.jit.si/peerloop-", secret="other").room_url("session-1") != first.url
    teacher = Participant("t", "Marcus", ParticipantRole.moderator)
    student = Participant("s", "Sarah", ParticipantRole.participant)
    assert rooms.join_url(first, teacher) == rooms.join_url(first, student) == first.url


def test_link_rooms_do_not_record_and_refuse_webhooks():
    rooms = LinkRooms(base_url="https://meet.example/", secret="x")
    room = rooms.create_room(options("r"))
    for call in (lambda: rooms.start_recording(room), lambda: rooms.get_recording(room, "x")):
        with pytest.raises(VideoError):
            call()
    assert rooms.room_status(room).state == RoomState.unknown
    assert rooms.sends_webhooks is False
    assert rooms.verify_webhook(body=b"{}", headers={}, url="https://peerloop.test/webhooks/video/link") is False
    assert rooms.parse_webhook(b"{}", {}) == []


@pytest.mark.parametrize("base, secret", [("ftp://meet/", "x"), ("meet.jit.si/", "x"), ("https://meet/", "")])
def test_a_bad_configuration_is_refused(base, secret):
    with pytest.raises(ValueError):
        LinkRooms(base_url=base, secret=secret)
