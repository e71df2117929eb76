"""Video providers' callbacks: verified by the provider's own scheme, stored, then processed.

``receive`` turns a delivery into events in our words (the adapter's ``parse_webhook``) and stores
each through ``peerloop.webhooks`` under the provider's name with our event kind as its type and a
payload of our fields, so the handlers below never read a provider's shapes. The handlers re-read
and lock what they change: deliveries come late, twice, or out of order.
"""

from __future__ import annotations

import inspect
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from peerloop import jobs
from peerloop.errors import NotFound, ValidationError
from peerloop.extensions import db
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.video.interfaces import EventKind, VideoError, VideoEvent, VideoProvider
from peerloop.video.models import Attendance, AttendanceSource, ResourceType, SessionResource
from peerloop.video.outcomes import OutcomeSource, lock_session, room_session_id, settle_from_attendance
from peerloop.webhooks.models import WebhookEvent
from peerloop.webhooks.services import ingest, register

WEBHOOK_PROVIDERS = ("bbb", "plugnmeet", "daily")
COPY_SAFETY_NET = timedelta(minutes=10)


def _payload(event: VideoEvent) -> dict:
    recording = event.recording
    return {
        "room_id": event.room_id,
        "user_id": event.user_id,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "recording_id": recording.recording_id if recording else None,
        "recording_url": recording.url if recording else None,
        "duration_seconds": recording.duration_seconds if recording else None,
        "raw": event.raw if isinstance(event.raw, dict) else {},
    }


def receive(video: VideoProvider, *, body: bytes, headers: dict[str, str], url: str, now: datetime) -> int:
    """Verify a delivery and store its events (each once). Returns how many it carried.

    :raise ValidationError: a wrong signature or a body that is no event (nothing is stored).
    """
    if not video.sends_webhooks or not video.verify_webhook(body=body, headers=headers, url=url):
        raise ValidationError("The webhook signature could not be verified.", code="invalid_signature")
    try:
        if "url" in inspect.signature(video.parse_webhook).parameters:
            events = video.parse_webhook(body, headers, url=url)  # BBB's end callback names its room in the URL
        else:
            events = video.parse_webhook(body, headers)
    except (VideoError, ValueError, TypeError, AttributeError, KeyError, OverflowError) as error:
        # Signed but not a shape we understand: refused, nothing stored (the provider retries or alerts).
        raise ValidationError("The webhook's body is not an event.", code="invalid_payload") from error
    for event in events:
        ingest(video.name, event.event_id[:255], event.kind.value, _payload(event), now=now)
    return len(events)


# --- handlers --------------------------------------------------------------------------------


def _at(event: WebhookEvent) -> datetime:
    try:
        moment = datetime.fromisoformat(event.payload["occurred_at"])
    except (KeyError, TypeError, ValueError):
        return event.received_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _session_of(event: WebhookEvent, *, lock: bool) -> TutoringSession | None:
    """The session the event's room belongs to, if it is ours and still booked; else the event is
    stored and ignored (someone else's room on a shared server, a hold that lapsed)."""
    session_id = room_session_id(event.payload.get("room_id"))
    if session_id is None:
        return None
    session = lock_session(session_id) if lock else db.session.get(TutoringSession, session_id)
    if session is None or session.status in (SessionStatus.held, SessionStatus.lapsed):
        return None
    return session


def _participant(session: TutoringSession, event: WebhookEvent) -> uuid.UUID | None:
    """Only the session's two people count (a recorder bot or an observer does not)."""
    try:
        user_id = uuid.UUID(str(event.payload.get("user_id")))
    except ValueError:
        return None
    return user_id if user_id in (session.teacher_id, session.student_id) else None


def _stays(session: TutoringSession, user_id: uuid.UUID) -> list[Attendance]:
    return list(
        db.session.scalars(
            sa.select(Attendance)
            .where(Attendance.session_id == session.id, Attendance.user_id == user_id)
            .order_by(Attendance.joined_at, Attendance.id)
        )
    )


def _close(stay: Attendance, at: datetime) -> None:
    stay.left_at = max(at, stay.joined_at)
    stay.duration_seconds = int((stay.left_at - stay.joined_at).total_seconds())


def handle_joined(event: WebhookEvent, *, now: datetime) -> None:
    """A stay begins; a rejoin is a new row. A join arriving after its own leave fills in the start
    of the stay that leave recorded."""
    session = _session_of(event, lock=True)
    user_id = session and _participant(session, event)
    if user_id is None:
        return
    at = _at(event)
    stays = _stays(session, user_id)
    if any(stay.left_at is None and stay.joined_at <= at for stay in stays):
        return  # already in the room (a reconnect reported twice)
    # A leave seen first recorded a stay of no length at its moment: this join is its start.
    placeholder = next(
        (s for s in stays if s.left_at is not None and s.duration_seconds == 0 and s.joined_at >= at), None
    )
    if placeholder is not None:
        placeholder.joined_at = at
        _close(placeholder, placeholder.left_at)
    else:
        db.session.add(
            Attendance(
                session_id=session.id,
                user_id=user_id,
                joined_at=at,
                source=AttendanceSource.webhook,
                created_at=now,
            )
        )
    if session.status == SessionStatus.scheduled:
        session.status = SessionStatus.in_progress
        session.started_at = at
        session.updated_at = now


def handle_left(event: WebhookEvent, *, now: datetime) -> None:
    session = _session_of(event, lock=True)
    user_id = session and _participant(session, event)
    if user_id is None:
        return
    at = _at(event)
    open_stays = [s for s in _stays(session, user_id) if s.left_at is None and s.joined_at <= at]
    if open_stays:
        _close(open_stays[-1], at)
        return
    # Left before joined (out of order): a stay of no length until its join arrives.
    db.session.add(
        Attendance(
            session_id=session.id,
            user_id=user_id,
            joined_at=at,
            left_at=at,
            duration_seconds=0,
            source=AttendanceSource.webhook,
            created_at=now,
        )
    )


def handle_finished(event: WebhookEvent, *, now: datetime) -> None:
    """The room is over: completed, or a no-show by whoever never came; nobody came → the teacher
    settles it. A second finished event finds it settled and changes nothing.

    A "finished" before the booked end is ignored: providers end an empty room by themselves (a
    student who looked in early, a dropped connection), and BigBlueButton's end callback address is
    readable by participants. Such a session is settled by the sweep an hour after its end."""
    session = _session_of(event, lock=False)
    if session is None:
        return
    at = _at(event)
    if at < session.scheduled_end:
        return
    settle_from_attendance(session.id, source=OutcomeSource.webhook, now=now, ended_at=at)


def handle_recording(event: WebhookEvent, *, now: datetime) -> None:
    """A recording is ready: a resource row (once per recording), and a job copies it to storage."""
    from peerloop.video.recordings import copy_recording_job

    session = _session_of(event, lock=False)
    recording_id = event.payload.get("recording_id")
    if session is None or not recording_id:
        return
    recording_id = str(recording_id)[:255]
    resource = db.session.scalar(
        sa.select(SessionResource).where(SessionResource.provider_recording_id == recording_id)
    )
    if resource is None:
        resource = SessionResource(
            session_id=session.id,
            course_id=session.course_id,
            type=ResourceType.recording,
            name=f"Recording: {session.course.title}"[:255],
            provider_recording_id=recording_id,
            source_url=(event.payload.get("recording_url") or None),
            duration_seconds=event.payload.get("duration_seconds") or None,
            next_copy_at=now + COPY_SAFETY_NET,  # the sweep's turn if the copy job is lost
            created_at=now,
        )
        db.session.add(resource)
        db.session.flush()
    if resource.storage_key is None:
        jobs.enqueue_after_commit(copy_recording_job, resource.id)


HANDLERS = {
    EventKind.participant_joined: handle_joined,
    EventKind.participant_left: handle_left,
    EventKind.room_finished: handle_finished,
    EventKind.recording_ready: handle_recording,
}


def register_webhook_handlers() -> None:
    """Called from create_app. Kinds without a handler (``other``) are stored and marked ignored."""
    for provider_name in WEBHOOK_PROVIDERS:
        for kind, handler in HANDLERS.items():
            register(provider_name, kind.value, handler)


def configured_provider(name: str) -> VideoProvider:
    """The provider a callback names, only when it is the one configured (else 404)."""
    from peerloop.video.services import provider

    video = provider()
    if name != video.name or not video.sends_webhooks:
        raise NotFound("This webhook is not configured.")
    return video
