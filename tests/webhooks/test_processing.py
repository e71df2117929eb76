"""Store, then process: once per event, failures recorded and retried, nothing lost with Redis down."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

from peerloop import cli
from peerloop.accounts.models import User
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.notifications.services import notify
from peerloop.webhooks import services
from peerloop.webhooks.models import WebhookEvent, WebhookStatus
from tests.webhooks.conftest import TEST_TYPE, stripe_event


@pytest.fixture(autouse=True)
def business_time(now, monkeypatch):
    """Jobs read business time from peerloop.clock.now(): pin it to the tests' ``now``."""
    monkeypatch.setattr("peerloop.clock.now", lambda: now)


def the_event(event_id: str, provider: str = "stripe") -> WebhookEvent:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(WebhookEvent).where(WebhookEvent.provider == provider, WebhookEvent.event_id == event_id)
    )


def count_events() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent))


def test_a_valid_event_is_stored_once_and_processed_by_its_handler(deliver, handler, jobs):
    response = deliver(stripe_event("evt_1"))
    jobs.run()

    assert response.status_code == 200
    event = the_event("evt_1")
    assert event.status == WebhookStatus.processed
    assert event.attempts == 1 and event.processed_at is not None and event.last_error is None
    assert handler.calls == [("evt_1", "cs_test_1")]


def test_a_duplicate_delivery_changes_nothing(deliver, handler, jobs):
    assert deliver(stripe_event("evt_dup")).status_code == 200
    jobs.run()
    first = the_event("evt_dup")
    processed_at = first.processed_at

    again = deliver(stripe_event("evt_dup"))
    jobs.run()

    assert again.status_code == 200 and again.get_json() == {"received": True}
    assert count_events() == 1
    assert handler.calls == [("evt_dup", "cs_test_1")]
    event = the_event("evt_dup")
    assert event.attempts == 1 and event.processed_at == processed_at


def test_an_unknown_type_is_stored_and_ignored(deliver, jobs):
    response = deliver(stripe_event("evt_unknown", event_type="customer.created"))
    jobs.run()

    assert response.status_code == 200
    event = the_event("evt_unknown")
    assert event.status == WebhookStatus.ignored
    assert event.payload["type"] == "customer.created"


def test_a_handler_that_raises_leaves_the_event_failed_and_its_work_undone(app, deliver, handler, make, jobs, now):
    user_id = make.user().id
    db.session.commit()  # end this session's transaction: under Redis the job runs in it, and rolls back

    def write_then_fail(event, now):
        user = db.session.get(User, user_id)  # as a handler does: by id, in its own session
        notify(user, "test", title="T", body="B", dedupe_key=f"webhook:{event.event_id}", now=now, commit=False)
        raise RuntimeError("ledger says no")

    handler.on_call = write_then_fail
    response = deliver(stripe_event("evt_fail"))
    jobs.run()

    assert response.status_code == 200  # the provider's delivery succeeded; the failure is ours
    event = the_event("evt_fail")
    assert event.status == WebhookStatus.failed
    assert event.attempts == 1
    assert "RuntimeError: ledger says no" in event.last_error
    assert event.next_attempt_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0  # rolled back with it


def test_the_sweep_retries_a_failed_event_with_backoff(handler, jobs, now):
    handler.fail_with = RuntimeError("temporary")
    services.ingest("stripe", "evt_retry", TEST_TYPE, stripe_event("evt_retry"), now=now)
    jobs.run()
    assert the_event("evt_retry").status == WebhookStatus.failed

    assert services.retry_unprocessed_events(now + timedelta(minutes=1)) == 0  # backing off (2 minutes)
    handler.fail_with = None
    assert services.retry_unprocessed_events(now + timedelta(minutes=2)) == 1
    jobs.run()

    event = the_event("evt_retry")
    assert event.status == WebhookStatus.processed and event.attempts == 2 and event.last_error is None
    assert len(handler.calls) == 2
    assert services.retry_unprocessed_events(now + timedelta(hours=5)) == 0  # done: never again


def test_a_failing_event_stops_being_retried_after_the_maximum_and_can_be_replayed(handler, jobs, now):
    handler.fail_with = RuntimeError("always")
    services.ingest("stripe", "evt_poison", TEST_TYPE, stripe_event("evt_poison"), now=now)
    jobs.run()
    later = now
    for _ in range(services.MAX_ATTEMPTS + 2):
        later += timedelta(days=1)
        services.retry_unprocessed_events(later)
        jobs.run()

    event = the_event("evt_poison")
    assert event.status == WebhookStatus.failed and event.attempts == services.MAX_ATTEMPTS
    assert event.next_attempt_at is None
    assert services.retry_unprocessed_events(later + timedelta(days=30)) == 0

    handler.fail_with = None
    assert services.replay_events([event.id], later) == 1
    jobs.run()
    assert the_event("evt_poison").status == WebhookStatus.processed


def test_process_event_is_idempotent(handler, jobs, now):
    event = services.ingest("stripe", "evt_twice", TEST_TYPE, stripe_event("evt_twice"), now=now)
    jobs.run()

    assert services.process_event(event.id, now=now) == "already done"
    assert services.process_event(str(event.id), now=now) == "already done"
    assert handler.calls == [("evt_twice", "cs_test_1")]


def test_two_events_about_one_object_are_each_processed_once(deliver, handler, jobs):
    """Out of order is the handlers' business (they re-read state); each event still runs once."""
    expired = stripe_event("evt_b_expired", id="cs_same")
    completed = stripe_event("evt_a_completed", id="cs_same")
    for event in (expired, completed, expired, completed):
        assert deliver(event).status_code == 200
    jobs.run()

    assert sorted(handler.calls) == [("evt_a_completed", "cs_same"), ("evt_b_expired", "cs_same")]
    assert the_event("evt_a_completed").status == the_event("evt_b_expired").status == WebhookStatus.processed


def test_notifications_from_a_handler_commit_with_its_work_and_ring_once(deliver, handler, make, jobs, now):
    user_id = make.user().id

    def ring(event, now):
        user = db.session.get(User, user_id)
        notify(user, "test", title="Paid", body="B", dedupe_key=f"webhook:{event.event_id}", now=now, commit=False)

    handler.on_call = ring
    deliver(stripe_event("evt_ring"))
    deliver(stripe_event("evt_ring"))
    jobs.run()
    services.replay_events([the_event("evt_ring").id], now)  # processed: left alone
    jobs.run()

    notes = list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user_id)))
    assert [n.title for n in notes] == ["Paid"]


def dead_queue() -> Queue:
    """A queue on a port where nothing listens: every enqueue fails as with Redis down."""
    connection = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    return Queue("dead", connection=connection)


def test_with_redis_down_the_event_is_stored_and_the_sweep_processes_it(deliver, handler, jobs):
    with pytest.MonkeyPatch.context() as redis_down:
        dead = dead_queue()
        redis_down.setattr("peerloop.jobs.queue", lambda: dead)
        response = deliver(stripe_event("evt_no_redis"))

        assert response.status_code == 200 and response.get_json() == {"received": True}
        event = the_event("evt_no_redis")
        assert event.status == WebhookStatus.received and event.attempts == 0
        received_at = event.received_at
        assert services.retry_unprocessed_events(received_at + timedelta(minutes=1)) == 0  # still down
        assert the_event("evt_no_redis").status == WebhookStatus.received
    # Redis is back.
    assert services.retry_unprocessed_events(received_at + timedelta(minutes=1, seconds=30)) == 0  # next pass due at 2
    assert services.retry_unprocessed_events(received_at + timedelta(minutes=2)) == 1
    jobs.run()

    assert the_event("evt_no_redis").status == WebhookStatus.processed
    assert handler.calls == [("evt_no_redis", "cs_test_1")]


def test_the_sweep_runs_the_webhook_step(app, handler, jobs, now):
    with pytest.MonkeyPatch.context() as redis_down:
        dead = dead_queue()
        redis_down.setattr("peerloop.jobs.queue", lambda: dead)
        services.ingest("stripe", "evt_sweep", TEST_TYPE, stripe_event("evt_sweep"), now=now)

    assert cli.run_sweep(now + timedelta(seconds=30))["webhook_events_retried"] == 0  # its job may still come
    result = cli.run_sweep(now + timedelta(minutes=1))
    jobs.run()

    assert result["webhook_events_retried"] == 1
    assert the_event("evt_sweep").status == WebhookStatus.processed
    assert cli.run_sweep(now + timedelta(minutes=10))["webhook_events_retried"] == 0


def test_a_received_event_the_sweep_enqueued_waits_a_minute_before_the_next_try(app, now):
    """A slow queue is not flooded with copies of one event (no handler runs here: the job waits)."""
    if not app.extensions["rq_queue"].is_async:
        pytest.skip("needs a queue that holds jobs (Redis run)")
    services.ingest("stripe", "evt_slow", TEST_TYPE, stripe_event("evt_slow"), now=now)
    assert services.retry_unprocessed_events(now + timedelta(minutes=1)) == 1
    assert services.retry_unprocessed_events(now + timedelta(minutes=1, seconds=30)) == 0
    assert services.retry_unprocessed_events(now + timedelta(minutes=2)) == 1


def test_ingest_refuses_an_event_without_id_or_type(now):
    from peerloop.errors import ValidationError

    for event_id, event_type in (("", TEST_TYPE), ("evt", ""), ("x" * 300, TEST_TYPE), ("evt", "t" * 101)):
        with pytest.raises(ValidationError):
            services.ingest("stripe", event_id, event_type, {}, now=now)
    assert count_events() == 0


def test_a_handler_registered_twice_for_one_type_is_refused(handler):
    with pytest.raises(ValueError, match="already registered"):
        services.register("stripe", TEST_TYPE, lambda event, *, now: None)
    services.register("stripe", TEST_TYPE, handler)  # the same one again is fine
