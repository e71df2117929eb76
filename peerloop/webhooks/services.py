"""Store, then process: inbound provider events.

``ingest`` stores an event once (unique on provider and event id), commits,
then enqueues ``process_event_job`` with the row's id. ``process_event`` runs
the handler registered for the event's provider and type, and records the
outcome on the row: ``processed``, ``ignored`` (no handler) or ``failed``
(the handler raised; the sweep retries it with back-off, the console replays it).

Handlers are plain functions ``handler(event: WebhookEvent, *, now) -> None``
registered with ``register(provider, event_type, handler)``. They run inside
the transaction that marks the event processed: they should not commit, and
they notify with ``notify(..., dedupe_key=..., commit=False)`` so their rows,
their notifications and the ``processed`` mark commit together or not at all.
They must be idempotent and re-read the state they act on (deliveries arrive
late, twice or out of order; a replay runs the handler again).
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from peerloop import clock, jobs
from peerloop.db import for_update, unique_ids
from peerloop.errors import ValidationError
from peerloop.extensions import db
from peerloop.webhooks import stripe_signature
from peerloop.webhooks.models import WebhookEvent, WebhookStatus

log = logging.getLogger(__name__)

Handler = Callable[..., None]  # (event: WebhookEvent, *, now: datetime) -> None

MAX_ATTEMPTS = 8  # failed events are retried by the sweep this many times in all (2, 4 … 128 minutes apart)
UNPROCESSED_AFTER = timedelta(minutes=1)  # a received event not processed by then: its job was lost
SWEEP_BATCH = 200
LAST_ERROR_MAX = 8000

PROVIDER_MAX = 32  # WebhookEvent.provider
EVENT_ID_MAX = 255  # WebhookEvent.event_id
EVENT_TYPE_MAX = 100  # WebhookEvent.event_type

_handlers: dict[tuple[str, str], Handler] = {}


# --- the handler registry ----------------------------------------------------


def register(provider: str, event_type: str, handler: Handler) -> Handler:
    """Route ``provider``'s ``event_type`` events to ``handler``. Register at app start
    (from a function ``create_app`` calls), so the web, the worker and the sweep all know it."""
    key = (provider, event_type)
    existing = _handlers.get(key)
    if existing is not None and existing is not handler:
        raise ValueError(f"a handler for {provider} {event_type} is already registered: {existing!r}")
    _handlers[key] = handler
    return handler


def unregister(provider: str, event_type: str) -> None:
    _handlers.pop((provider, event_type), None)


def handler_for(provider: str, event_type: str) -> Handler | None:
    return _handlers.get((provider, event_type))


# --- store -------------------------------------------------------------------


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=2 ** max(attempts, 1))


def _find(provider: str, event_id: str) -> WebhookEvent | None:
    return db.session.scalar(
        sa.select(WebhookEvent).where(WebhookEvent.provider == provider, WebhookEvent.event_id == event_id)
    )


def ingest(
    provider: str, event_id: str, event_type: str, payload: dict, *, now: datetime, process_here: bool = False
) -> WebhookEvent:
    """Store a verified event once, commit, and enqueue its processing.

    A duplicate delivery returns the stored row and changes nothing; it is
    enqueued again only while still ``received`` or ``failed`` (processing is
    idempotent). With Redis unreachable the row stays ``received`` and the
    sweep processes it later. ``process_here`` (the sandbox gateway, which is
    its own Stripe) processes it at once, at ``now``, instead of queueing it.

    :raise ValidationError: an empty or over-long provider, event id or type.
    """
    for name, value, limit in (
        ("provider", provider, PROVIDER_MAX),
        ("event_id", event_id, EVENT_ID_MAX),
        ("event_type", event_type, EVENT_TYPE_MAX),
    ):
        if not isinstance(value, str) or not value or len(value) > limit:
            raise ValidationError(f"The webhook's {name} is missing or too long.", fields={name: "Invalid."})
    if not isinstance(payload, dict):
        raise ValidationError("The webhook payload must be a JSON object.", fields={"payload": "Invalid."})
    event = _find(provider, event_id)
    if event is None:
        event = WebhookEvent(
            provider=provider,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            status=WebhookStatus.received,
            attempts=0,
            received_at=now,
            next_attempt_at=now + UNPROCESSED_AFTER,
        )
        try:
            with db.session.begin_nested():  # a concurrent twin may win the insert
                db.session.add(event)
        except sa.exc.IntegrityError:
            event = _find(provider, event_id)
            if event is None:
                raise
    db.session.commit()
    if event.status in (WebhookStatus.received, WebhookStatus.failed):
        if process_here:
            process_event(event.id, now=now)
        else:
            jobs.enqueue(process_event_job, event.id)
    return event


def receive_stripe(
    provider: str,
    body: bytes | str,
    sig_header: str | None,
    *,
    secret: str,
    now: datetime,
    process_here: bool = False,
):
    """Verify a Stripe delivery and ingest it: what ``/webhooks/stripe`` and ``/webhooks/stripe-connect``
    do, and what the sandbox gateway calls in process with an event it signed itself (processed at
    once, at the sandbox's ``now``, so a purchase the demo dates in the past is dated so everywhere).

    :raise ValidationError: a bad or stale signature, or a body that is no event (nothing is stored).
    """
    verified = stripe_signature.verify(body, sig_header, secret)
    return ingest(
        provider, verified.event_id, verified.event_type, verified.payload, now=now, process_here=process_here
    )


# --- process -----------------------------------------------------------------


def _locked(event_id: uuid.UUID) -> WebhookEvent | None:
    return db.session.scalar(
        for_update(sa.select(WebhookEvent).where(WebhookEvent.id == event_id)).execution_options(populate_existing=True)
    )


def process_event(event_id: uuid.UUID | str, *, now: datetime) -> str:
    """Run the event's handler once. Idempotent: a processed or ignored event is left alone,
    and two runs at once (a retry racing a slow job) run the handler once.

    The row is locked (``for_update``) for the whole attempt; the handler's work
    and the ``processed`` mark commit together. A handler that raises rolls its
    work back; the row is then ``failed`` with the attempt counted and the error
    kept, and the sweep retries it after a back-off.

    Returns "processed", "ignored", "failed", "already done" or "missing".
    """
    event_id = uuid.UUID(str(event_id))
    event = _locked(event_id)
    if event is None:
        db.session.rollback()
        return "missing"
    if event.status not in (WebhookStatus.received, WebhookStatus.failed):
        db.session.commit()
        return "already done"
    handler = handler_for(event.provider, event.event_type)
    if handler is None:
        event.attempts += 1
        event.last_attempt_at = event.processed_at = now
        event.status = WebhookStatus.ignored
        event.next_attempt_at = None
        db.session.commit()
        return "ignored"
    try:
        handler(event, now=now)
        event.attempts += 1
        event.last_attempt_at = event.processed_at = now
        event.status = WebhookStatus.processed
        event.last_error = None
        event.next_attempt_at = None
        db.session.commit()
    except Exception:
        error = traceback.format_exc()
        db.session.rollback()
        log.warning("webhook event %s failed:\n%s", event_id, error)
        _record_failure(event_id, error, now=now)
        return "failed"
    return "processed"


def _record_failure(event_id: uuid.UUID, error: str, *, now: datetime) -> None:
    event = _locked(event_id)
    if event is None or event.status not in (WebhookStatus.received, WebhookStatus.failed):
        db.session.commit()  # gone, or a concurrent run finished it meanwhile
        return
    event.attempts += 1
    event.last_attempt_at = now
    event.status = WebhookStatus.failed
    event.last_error = error[-LAST_ERROR_MAX:]
    event.next_attempt_at = now + _backoff(event.attempts) if event.attempts < MAX_ATTEMPTS else None
    db.session.commit()


def process_event_job(event_id: str) -> str:
    return process_event(event_id, now=clock.now())


# --- sweep and replay --------------------------------------------------------


def retry_unprocessed_events(now: datetime) -> int:
    """Sweep step: enqueue events whose job was lost (still ``received`` a minute on) and
    failed ones due for another try (back-off 2, 4, 8 … minutes, up to ``MAX_ATTEMPTS``).

    Each enqueued row's next try moves on by its back-off, so a slow queue is not
    flooded with copies. Safe to run twice: processing locks the row. Returns how
    many were queued.
    """
    rows = list(
        db.session.scalars(
            # A row locked by a run in progress is being processed right now: skip it.
            for_update(
                sa.select(WebhookEvent)
                .where(
                    WebhookEvent.status.in_([WebhookStatus.received, WebhookStatus.failed]),
                    WebhookEvent.next_attempt_at <= now,
                )
                .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
                .limit(SWEEP_BATCH)
            ).with_for_update(skip_locked=True)
        )
    )
    due = []
    for event in rows:
        if event.status == WebhookStatus.failed and event.attempts >= MAX_ATTEMPTS:
            event.next_attempt_at = None  # out of tries: the console replays it
            continue
        event.next_attempt_at = now + (
            UNPROCESSED_AFTER if event.status == WebhookStatus.received else _backoff(event.attempts)
        )
        due.append(event.id)
    db.session.commit()
    # Counted when queued: with Redis still down the rows wait for the next pass.
    return sum(jobs.enqueue(process_event_job, event_id) is not None for event_id in due)


def replay_events(ids: Iterable, now: datetime) -> int:
    """The console's Replay: failed and ignored events are processed again (with fresh
    attempts), received ones are enqueued again; processed ones are left alone.

    Returns how many were enqueued.
    """
    event_ids = unique_ids(ids)
    if not event_ids:
        return 0
    events = list(
        db.session.scalars(
            for_update(
                sa.select(WebhookEvent)
                .where(
                    WebhookEvent.id.in_(event_ids),
                    WebhookEvent.status.in_([WebhookStatus.received, WebhookStatus.failed, WebhookStatus.ignored]),
                )
                .order_by(WebhookEvent.id)
            )
        )
    )
    for event in events:
        if event.status != WebhookStatus.received:
            event.status = WebhookStatus.received
            event.attempts = 0
        event.next_attempt_at = now + UNPROCESSED_AFTER  # the sweep's safety net if this job is lost
    db.session.commit()
    replayed = [event.id for event in events]
    for event_id in replayed:
        jobs.enqueue(process_event_job, event_id)
    return len(replayed)
