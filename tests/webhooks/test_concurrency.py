"""Two deliveries or two runs of one event at the same moment: stored once, handled once (real threads)."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from peerloop.db import utcnow
from peerloop.extensions import db
from peerloop.webhooks import services
from peerloop.webhooks.models import WebhookEvent, WebhookStatus
from tests.webhooks.conftest import TEST_TYPE, stripe_event

pytestmark = [pytest.mark.committed]


@pytest.fixture
def clean(app):
    yield
    with app.app_context():
        db.session.execute(sa.delete(WebhookEvent))
        db.session.commit()
        db.session.remove()


def at_once(app, work, n: int = 2) -> list:
    barrier = threading.Barrier(n)
    outcomes: list = []

    def run(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(work(i))
            except Exception as error:  # the test reports what each thread met
                outcomes.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_runs_of_one_event_at_once_call_the_handler_once(app, clean):
    now = utcnow()
    with app.app_context():
        event = WebhookEvent(
            provider="stripe",
            event_id="evt_race",
            event_type=TEST_TYPE,
            payload=stripe_event("evt_race"),
            status=WebhookStatus.received,
            received_at=now,
        )
        db.session.add(event)
        db.session.commit()
        event_id = event.id
        db.session.remove()
    calls: list[str] = []

    def slow_handler(event, *, now):
        calls.append(event.event_id)
        time.sleep(0.3)  # the other run arrives while this one holds the row

    services.register("stripe", TEST_TYPE, slow_handler)
    try:
        outcomes = at_once(app, lambda i: services.process_event(event_id, now=now))
    finally:
        services.unregister("stripe", TEST_TYPE)

    assert sorted(outcomes) == ["already done", "processed"]
    assert calls == ["evt_race"]
    with app.app_context():
        stored = db.session.get(WebhookEvent, event_id)
        assert stored.status == WebhookStatus.processed and stored.attempts == 1
        db.session.remove()


def test_two_deliveries_of_one_event_at_once_store_one_row(app, clean, monkeypatch):
    monkeypatch.setattr("peerloop.webhooks.services.jobs.enqueue", lambda *a, **k: None)  # storing is the point
    # Both threads look before either inserts: the unique constraint decides, and the loser finds the winner.
    real_find, looked = services._find, threading.local()

    def find_after_both_looked(provider, event_id):
        if not getattr(looked, "once", False):
            looked.once = True
            return None
        return real_find(provider, event_id)

    monkeypatch.setattr(services, "_find", find_after_both_looked)
    now = utcnow()
    payload = stripe_event("evt_twin")

    outcomes = at_once(app, lambda i: services.ingest("stripe", "evt_twin", TEST_TYPE, payload, now=now).id)

    assert len(outcomes) == 2 and outcomes[0] == outcomes[1], outcomes
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 1
        db.session.remove()
