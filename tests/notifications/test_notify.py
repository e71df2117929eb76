"""notify(), the bell, the outbox, email senders and the job runner."""

from __future__ import annotations

import json
import uuid

import pytest
import responses
import sqlalchemy as sa

from peerloop import jobs
from peerloop.extensions import db
from peerloop.jobs import FailedJob
from peerloop.notifications import services
from peerloop.notifications.interfaces import Attachment, EmailDeliveryError, EmailMessage
from peerloop.notifications.models import EmailStatus, Notification, OutboundEmail
from peerloop.notifications.resend import RESEND_API_URL, ResendSender
from peerloop.notifications.smtp import SmtpSender
from tests.conftest import csrf_from


def test_notify_writes_the_notification_and_sends_the_email(app, make, now, jobs):
    user = make.user(name="Sarah")
    note = services.notify(
        user,
        "session.booked",
        title="Session booked",
        body="Marcus at 7pm",
        action_url="/sessions/1",
        email_template="notification",
        dedupe_key="session.booked:1",
        now=now,
    )
    jobs.run()
    assert note.type == "session.booked" and not note.is_read
    email = db.session.scalar(sa.select(OutboundEmail).where(OutboundEmail.user_id == user.id))
    db.session.refresh(email)
    assert email.subject == "Session booked"
    assert "Hi Sarah" in email.text_body and "Marcus at 7pm" in email.html_body
    # Mail clients cannot open a path: the email's link is absolute, on PUBLIC_URL.
    assert "http://peerloop.test/sessions/1" in email.text_body
    assert email.status == EmailStatus.sent and email.backend == "outbox" and email.attempts == 1


def test_sending_twice_sends_once(app, make, now, jobs):
    user = make.user()
    services.notify(user, "x", title="T", body="B", email_template="notification", dedupe_key=None, now=now)
    jobs.run()
    email = db.session.scalar(sa.select(OutboundEmail))
    assert services.send_queued_email(email.id, now=now) == "already sent"
    db.session.refresh(email)
    assert email.attempts == 1


def test_notify_without_template_sends_no_email(make, now):
    services.notify(make.user(), "x", title="T", body="B", dedupe_key=None, now=now)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboundEmail)) == 0


def test_bell_shows_unread_count_and_last_five_and_marks_read(client, make, login_as, now):
    user = login_as(make.user())
    for i in range(7):
        services.notify(user, "x", title=f"Note {i}", body="body", dedupe_key=None, now=now)
    html = client.get("/").get_data(as_text=True)
    assert 'data-testid="bell-count">7<' in html
    assert html.count('class="note unread"') == 5
    page = client.get("/notifications").get_data(as_text=True)
    assert page.count('<li class="card note unread">') == 7
    client.post("/notifications/read", data={"csrf_token": csrf_from(page)})
    assert "bell-count" not in client.get("/").get_data(as_text=True)


def test_api_notifications_list_and_mark_some_read(client, make, api_token, now):
    user = make.user()
    other = make.user()
    notes = [services.notify(user, "x", title=f"N{i}", body="b", dedupe_key=None, now=now) for i in range(3)]
    foreign = services.notify(other, "x", title="not yours", body="b", dedupe_key=None, now=now)
    headers = api_token(user)
    body = client.get("/api/notifications", headers=headers).get_json()
    assert body["total"] == 3 and body["unread"] == 3
    marked = client.post(
        "/api/notifications/read", json={"ids": [str(notes[0].id), str(foreign.id)]}, headers=headers
    ).get_json()
    assert marked == {"marked": 1, "unread": 2}
    db.session.refresh(foreign)
    assert not foreign.is_read
    bad = client.post("/api/notifications/read", json={"ids": ["nope"]}, headers=headers)
    assert bad.status_code == 400 and "ids" in bad.get_json()["error"]["fields"]
    assert client.get("/api/notifications?per_page=500", headers=headers).status_code == 400


def failing_job(message: str) -> None:
    raise RuntimeError(message)


def session_breaking_job() -> None:
    """Fails in the middle of a flush, leaving its session needing a rollback."""
    from peerloop.catalog.models import Category

    db.session.add_all([Category(name="A", slug="same"), Category(name="B", slug="same")])
    db.session.flush()


def test_a_failed_inline_job_is_recorded_not_lost(app):
    if app.extensions["rq_queue"].is_async:
        pytest.skip("inline mode only: under Redis, RQ's failed-job registry keeps failures")
    jobs.enqueue(failing_job, "boom")
    failure = db.session.scalar(sa.select(FailedJob))
    assert failure.func_name.endswith("failing_job")
    assert "RuntimeError: boom" in failure.error


def test_jobs_go_through_redis_when_configured(app, make, now, jobs):
    queue = app.extensions["rq_queue"]
    if not queue.is_async:
        pytest.skip("Redis run only (TEST_REDIS_URL)")
    user = make.user()
    services.notify(user, "x", title="T", body="B", email_template="notification", dedupe_key=None, now=now)
    email = db.session.scalar(sa.select(OutboundEmail))
    assert email.status == EmailStatus.queued  # nothing ran yet: it waits in Redis
    assert queue.count == 1
    jobs.run()
    db.session.refresh(email)
    assert email.status == EmailStatus.sent


MESSAGE = EmailMessage(
    to="a@example.com",
    subject="Hi",
    text="text",
    html="<p>html</p>",
    sender="PeerLoop <hello@peerloop.local>",
    idempotency_key="notification:1",
    attachments=(Attachment("session.ics", "text/calendar", "BEGIN:VCALENDAR"),),
)


@responses.activate
def test_resend_sender_posts_with_idempotency_key():
    responses.post(RESEND_API_URL, json={"id": "re_123"}, status=200)
    assert ResendSender("re_key").send(MESSAGE) == "re_123"
    call = responses.calls[0].request
    assert call.headers["Authorization"] == "Bearer re_key"
    assert call.headers["Idempotency-Key"] == "notification:1"
    body = json.loads(call.body)
    assert body["to"] == ["a@example.com"] and body["attachments"][0]["filename"] == "session.ics"


@responses.activate
def test_resend_errors_become_delivery_errors():
    responses.post(RESEND_API_URL, json={"message": "invalid"}, status=422)
    with pytest.raises(EmailDeliveryError):
        ResendSender("re_key").send(MESSAGE)


def test_smtp_message_has_text_html_and_attachment():
    mime = SmtpSender("smtp://user:pass@mail.example:2525").build(MESSAGE)
    kinds = [part.get_content_type() for part in mime.walk()]
    assert {"text/plain", "text/html", "text/calendar"} <= set(kinds)


def test_smtp_failure_is_recorded_and_retryable(app, make, now):
    user = make.user()
    app.config["EMAIL_BACKEND"] = "smtp"
    app.config["SMTP_URL"] = "smtp://127.0.0.1:1"  # nothing listens there
    try:
        services.notify(user, "x", title="T", body="B", email_template="notification", dedupe_key=None, now=now)
        email = db.session.scalar(sa.select(OutboundEmail))
        if app.extensions["rq_queue"].is_async:
            services.send_queued_email(email.id, now=now)
        db.session.refresh(email)
        assert email.status == EmailStatus.queued and email.attempts == 1
        assert "SMTP delivery failed" in email.last_error
    finally:
        app.config["EMAIL_BACKEND"] = "outbox"
        app.config["SMTP_URL"] = None


def test_notification_rows_belong_to_their_user(make, now):
    user = make.user()
    services.notify(user, "x", title="T", body="B", dedupe_key=None, now=now)
    assert db.session.scalar(sa.select(Notification.user_id)) == user.id


@responses.activate
def test_links_are_redacted_once_a_real_provider_has_them(app, make, jobs):
    from peerloop.accounts import services as accounts
    from peerloop.db import utcnow
    from peerloop.notifications.services import REDACTED

    responses.post(RESEND_API_URL, json={"id": "re_1"}, status=200)
    user = make.user()
    app.config.update(EMAIL_BACKEND="resend", RESEND_API_KEY="re_key")
    try:
        accounts.request_password_reset(user.email, now=utcnow())
        jobs.run()
    finally:
        app.config.update(EMAIL_BACKEND="outbox", RESEND_API_KEY=None)
    email = db.session.scalar(sa.select(OutboundEmail))
    db.session.refresh(email)
    assert email.status == EmailStatus.sent and email.text_body == REDACTED
    assert "reset-password/" in json.loads(responses.calls[0].request.body)["text"]


def test_the_sweep_retries_emails_that_did_not_go(app, make, now):
    from datetime import timedelta

    user = make.user()
    email = services.queue_email(
        to=user.email,
        template="notification",
        idempotency_key="k1",
        user_id=user.id,
        context={"user": user, "title": "T", "body": "B", "action_url": None},
    )
    email.created_at = now - timedelta(minutes=3)
    db.session.commit()
    assert services.retry_unsent_emails(now - timedelta(minutes=2)) == 0  # not due yet
    assert services.retry_unsent_emails(now) == 1
    if app.extensions["rq_queue"].is_async:
        from tests.conftest import run_jobs

        run_jobs(app)
    db.session.refresh(email)
    assert email.status == EmailStatus.sent
    assert services.retry_unsent_emails(now + timedelta(hours=1)) == 0


def test_enqueue_refuses_uncommitted_work(make):
    user = make.user()
    user.name = "half done"
    with pytest.raises(RuntimeError, match="commit first"):
        jobs.enqueue(failing_job, "x")
    db.session.rollback()


def test_a_failed_job_does_not_break_the_next_one_on_the_worker(app, make, now):
    queue = app.extensions["rq_queue"]
    if not queue.is_async:
        pytest.skip("Redis run only (TEST_REDIS_URL)")
    from peerloop.worker import make_worker

    user = make.user()
    services.notify(user, "x", title="T", body="B", email_template="notification", dedupe_key=None, now=now)
    queue.enqueue_call(session_breaking_job, at_front=True)
    make_worker(app).work(burst=True)
    email = db.session.scalar(sa.select(OutboundEmail))
    db.session.refresh(email)
    assert email.status == EmailStatus.sent


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, make, login_as, now):
    user = login_as(make.user())
    mine = services.notify(
        user, "x", title="Go", body="b", action_url="/courses?level=beginner", dedupe_key=None, now=now
    )
    outside = services.notify(
        user, "x", title="Away", body="b", action_url="https://evil.example/", dedupe_key=None, now=now
    )
    theirs = services.notify(
        make.user(), "x", title="Not yours", body="b", action_url="/terms", dedupe_key=None, now=now
    )
    token = csrf_from(client.get("/notifications").get_data(as_text=True))
    response = client.post(f"/notifications/{mine.id}/open", data={"csrf_token": token})
    assert response.headers["Location"] == "/courses?level=beginner"
    assert client.post(f"/notifications/{outside.id}/open", data={"csrf_token": token}).headers["Location"] == (
        "/notifications"
    )
    assert client.post(f"/notifications/{theirs.id}/open", data={"csrf_token": token}).headers["Location"] == (
        "/notifications"
    )
    db.session.expire_all()
    assert mine.is_read and not theirs.is_read


def test_too_many_ids_to_mark_read_is_a_400(client, make, api_token):
    headers = api_token(make.user())
    note_id = str(uuid.uuid4())
    response = client.post("/api/notifications/read", json={"ids": [note_id] * 501}, headers=headers)
    assert response.status_code == 400 and "ids" in response.get_json()["error"]["fields"]
    assert client.post("/api/notifications/read", json={"ids": [note_id] * 3}, headers=headers).status_code == 200


def test_jobs_wait_for_the_real_commit_not_a_savepoints(app, make, now, monkeypatch):
    """Two notices in one use case (booking tells both people): the second one's savepoint release
    must not run the first one's email job while the use case is still uncommitted."""
    ran: list[tuple] = []
    monkeypatch.setattr(jobs, "enqueue", lambda func, *args: ran.append(args))
    student, teacher = make.user(), make.user()
    for user in (student, teacher):
        services.notify(
            user, "x", title="T", body="B", email_template="notification", dedupe_key=None, now=now, commit=False
        )
    with db.session.begin_nested():  # a later savepoint in the same use case
        pass
    assert ran == []
    db.session.commit()
    assert len(ran) == 2
