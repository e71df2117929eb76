"""/admin → System → Webhook events: list, filter by status, details, Replay; admins only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from peerloop.extensions import db
from peerloop.webhooks import services
from peerloop.webhooks.models import WebhookEvent, WebhookStatus
from tests.conftest import csrf_from
from tests.webhooks.conftest import TEST_TYPE, stripe_event

LIST = "/admin/console_webhook_events/"


@pytest.fixture(autouse=True)
def business_time(now, monkeypatch):
    monkeypatch.setattr("peerloop.clock.now", lambda: now)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def make_event(event_id: str, status: WebhookStatus, now, *, event_type: str = TEST_TYPE, **obj) -> WebhookEvent:
    event = WebhookEvent(
        provider="stripe",
        event_id=event_id,
        event_type=event_type,
        payload=stripe_event(event_id, event_type, **obj),
        status=status,
        attempts=1 if status != WebhookStatus.received else 0,
        last_error="RuntimeError: boom" if status == WebhookStatus.failed else None,
        received_at=now,
    )
    db.session.add(event)
    db.session.commit()
    return event


def fresh(event: WebhookEvent) -> WebhookEvent:
    db.session.expire_all()
    return db.session.get(WebhookEvent, event.id)


def test_the_list_shows_provider_type_status_and_attempts(client, make, login_as, now):
    login_as(make.admin())
    make_event("evt_listed_1", WebhookStatus.processed, now)
    make_event("evt_listed_2", WebhookStatus.failed, now, event_type="charge.refunded")

    body = page(client, LIST)

    assert "evt_listed_1" in body and "evt_listed_2" in body
    assert "charge.refunded" in body and "failed" in body and "processed" in body
    assert "Webhook events" in page(client, "/admin/")  # in the System menu


def test_the_status_filter_shows_only_that_status(client, make, login_as, now):
    login_as(make.admin())
    make_event("evt_ok_one", WebhookStatus.processed, now)
    make_event("evt_broken_one", WebhookStatus.failed, now)

    body = page(client, LIST + "?flt0_0=failed")

    assert "evt_broken_one" in body and "evt_ok_one" not in body


def test_an_unknown_status_in_the_filter_is_no_500(client, make, login_as):
    login_as(make.admin())
    assert client.get(LIST + "?flt0_0=exploded").status_code == 200


def test_details_show_the_payload_pretty_printed_and_escaped(client, make, login_as, now):
    login_as(make.admin())
    event = make_event("evt_detail", WebhookStatus.failed, now, customer_name="<script>alert(1)</script>")

    body = page(client, f"{LIST}details/?id={event.id}")

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)</script>" not in body
    assert "\n  &#34;data&#34;: {" in body  # indented JSON (quotes escaped too)
    assert "RuntimeError: boom" in body


def test_replay_processes_failed_and_ignored_events_and_leaves_processed_ones(client, make, login_as, now, jobs):
    login_as(make.admin())
    calls = []
    services.register("stripe", TEST_TYPE, lambda event, *, now: calls.append(event.event_id))
    try:
        failed = make_event("evt_replay_failed", WebhookStatus.failed, now)
        ignored = make_event("evt_replay_ignored", WebhookStatus.ignored, now)
        done = make_event("evt_replay_done", WebhookStatus.processed, now)
        token = csrf_from(page(client, LIST))

        response = client.post(
            LIST + "action/",
            data={"action": "replay", "rowid": [str(failed.id), str(ignored.id), str(done.id)], "csrf_token": token},
        )
        jobs.run()
    finally:
        services.unregister("stripe", TEST_TYPE)

    assert response.status_code == 302
    assert fresh(failed).status == fresh(ignored).status == WebhookStatus.processed
    assert fresh(done).status == WebhookStatus.processed and fresh(done).attempts == 1
    assert sorted(calls) == ["evt_replay_failed", "evt_replay_ignored"]
    assert "2 event(s) queued for processing." in page(client, LIST)


def test_replay_without_a_csrf_token_is_refused(client, make, login_as, now):
    login_as(make.admin())
    failed = make_event("evt_no_csrf", WebhookStatus.failed, now)

    response = client.post(LIST + "action/", data={"action": "replay", "rowid": str(failed.id)})

    assert response.status_code == 400
    assert fresh(failed).status == WebhookStatus.failed


def test_the_console_is_read_only(client, make, login_as, now):
    login_as(make.admin())
    event = make_event("evt_read_only", WebhookStatus.failed, now)
    assert client.get(f"{LIST}edit/?id={event.id}").status_code in (302, 403, 404)
    assert client.get(f"{LIST}new/").status_code in (302, 403, 404)
    token = csrf_from(page(client, LIST))
    client.post(f"{LIST}delete/", data={"id": str(event.id), "csrf_token": token})
    assert fresh(event) is not None


@pytest.mark.parametrize("who", ["student", "creator", "moderator"])
def test_non_admins_get_a_403_and_replay_nothing(client, make, login_as, now, who):
    user = {"student": make.user, "creator": make.creator, "moderator": lambda: make.user(is_moderator=True)}[who]()
    login_as(user)
    failed = make_event("evt_not_yours", WebhookStatus.failed, now)
    token = csrf_from(client.get("/settings").get_data(as_text=True))

    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}details/?id={failed.id}").status_code == 403
    response = client.post(LIST + "action/", data={"action": "replay", "rowid": str(failed.id), "csrf_token": token})

    assert response.status_code == 403
    assert fresh(failed).status == WebhookStatus.failed


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_replay_ignores_ids_that_are_not_events(now):
    assert services.replay_events(["not-a-uuid", None], now) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0
