"""Notify people: an in-app notification and, when wanted, an email.

Every feature notifies through ``notify``. Emails are written to the outbox
table in the same transaction, then delivered by a job.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, render_template
from rq import get_current_job

from peerloop import clock, jobs
from peerloop.accounts.models import User
from peerloop.extensions import db
from peerloop.notifications.interfaces import Attachment, EmailDeliveryError, EmailMessage, EmailSender
from peerloop.notifications.models import EmailStatus, Notification, OutboundEmail
from peerloop.notifications.outbox import OutboxSender
from peerloop.notifications.resend import ResendSender
from peerloop.notifications.smtp import SmtpSender
from peerloop.urls import absolute

MAX_EMAIL_ATTEMPTS = 5
TITLE_MAX = 200  # Notification.title
DEDUPE_KEY_MAX = 200  # Notification.dedupe_key


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def email_sender() -> EmailSender:
    backend = current_app.config["EMAIL_BACKEND"]
    if backend == "outbox":
        return OutboxSender()
    if backend == "smtp":
        return SmtpSender(current_app.config["SMTP_URL"])
    if backend == "resend":
        return ResendSender(current_app.config["RESEND_API_KEY"])
    raise ValueError(f"unknown EMAIL_BACKEND {backend!r}")


def queue_email(
    *,
    to: str,
    template: str,
    context: dict,
    idempotency_key: str,
    user_id: uuid.UUID | None = None,
    attachments: list[Attachment] | None = None,
    redact_after_send: bool = False,
) -> OutboundEmail:
    """Render ``templates/email/<template>.{txt,html}`` into an outbox row (not committed).

    The first line of the text template, after ``Subject:``, is the subject.
    A second call with the same idempotency key returns the first row.
    """
    existing = db.session.scalar(sa.select(OutboundEmail).filter_by(idempotency_key=idempotency_key))
    if existing is not None:
        return existing
    context = {"site_name": current_app.config["SITE_NAME"], **context}
    text = render_template(f"email/{template}.txt", **context)
    subject_line, _, text_body = text.partition("\n")
    subject = subject_line.removeprefix("Subject:").strip()
    html = render_template(f"email/{template}.html", subject=subject, **context)
    email = OutboundEmail(
        user_id=user_id,
        to_address=to,
        subject=subject,
        text_body=text_body.strip() + "\n",
        html_body=html,
        attachments=[a.__dict__ for a in attachments or []],
        idempotency_key=idempotency_key,
        redact_after_send=redact_after_send,
    )
    db.session.add(email)
    return email


REDACTED = "[redacted: this email held a single-use link]"
CLAIM_SECONDS = 60  # a send in progress holds the row this long against a second sender


def send_queued_email(email_id: uuid.UUID | str, *, now: datetime) -> str:
    """Deliver one outbox row. Idempotent: a sent email is not sent again, and
    two runs at once (a retry racing a slow job) send it once."""
    email_id = uuid.UUID(str(email_id))
    claimed = db.session.execute(
        sa.update(OutboundEmail)
        .where(
            OutboundEmail.id == email_id,
            OutboundEmail.status == EmailStatus.queued,
            sa.or_(
                OutboundEmail.last_attempt_at.is_(None),
                OutboundEmail.last_attempt_at <= now - timedelta(seconds=CLAIM_SECONDS),
            ),
        )
        .values(attempts=OutboundEmail.attempts + 1, last_attempt_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    email = db.session.get(OutboundEmail, email_id)
    if email is None:
        return "missing"
    if not claimed:
        return "already sent" if email.status == EmailStatus.sent else "not due"
    sender = email_sender()
    message = EmailMessage(
        to=email.to_address,
        subject=email.subject,
        text=email.text_body,
        html=email.html_body,
        sender=current_app.config["MAIL_FROM"],
        idempotency_key=email.idempotency_key,
        attachments=tuple(Attachment(**a) for a in email.attachments or []),
    )
    email.backend = sender.name
    try:
        email.provider_message_id = sender.send(message)
    except EmailDeliveryError as exc:
        email.last_error = str(exc)
        if email.attempts >= MAX_EMAIL_ATTEMPTS:
            email.status = EmailStatus.failed
        db.session.commit()
        return "failed"
    email.status = EmailStatus.sent
    email.sent_at = now
    email.last_error = None
    if email.redact_after_send and sender.name != "outbox":
        email.text_body = email.html_body = REDACTED
    db.session.commit()
    return "sent"


def retry_unsent_emails(now: datetime) -> int:
    """Sweep step: enqueue queued emails whose last attempt failed (or never ran),
    backing off 2, 4, 8 … minutes. Safe to run twice: sending claims the row."""
    rows = db.session.execute(
        sa.select(OutboundEmail.id, OutboundEmail.attempts, OutboundEmail.last_attempt_at, OutboundEmail.created_at)
        .where(OutboundEmail.status == EmailStatus.queued, OutboundEmail.attempts < MAX_EMAIL_ATTEMPTS)
        .order_by(OutboundEmail.created_at)
        .limit(200)
    ).all()
    db.session.commit()
    due = [
        row.id
        for row in rows
        if (row.last_attempt_at or row.created_at) <= now - timedelta(minutes=2 ** max(row.attempts, 1))
    ]
    for email_id in due:
        jobs.enqueue(send_email_job, email_id)
    return len(due)


def _find_notification(user_id: uuid.UUID, dedupe_key: str) -> Notification | None:
    return db.session.scalar(
        sa.select(Notification).where(Notification.user_id == user_id, Notification.dedupe_key == dedupe_key)
    )


def sent_keys(dedupe_keys: list[str]) -> set[tuple[uuid.UUID, str]]:
    """Which (user, key) pairs among these keys were already notified: one query, for sweep
    steps that would otherwise ask per person per pass."""
    if not dedupe_keys:
        return set()
    rows = db.session.execute(
        sa.select(Notification.user_id, Notification.dedupe_key).where(
            Notification.dedupe_key.in_([key[:DEDUPE_KEY_MAX] for key in dedupe_keys])
        )
    )
    return {(user_id, key) for user_id, key in rows}


def admins() -> list[User]:
    """Every active admin ("Brian is told" means each of them gets the notification)."""
    return list(
        db.session.scalars(
            sa.select(User).where(User.is_admin.is_(True), User.deleted_at.is_(None)).order_by(User.created_at)
        )
    )


def _email_link(action_url: str | None) -> str | None:
    """The absolute link an email carries for an in-site ``action_url`` (mail clients cannot open a path)."""
    try:
        return absolute(action_url)
    except ValueError:
        return None  # not an in-site path: the bell refuses to follow it, and so does the email


def notify(
    user: User,
    kind: str,
    *,
    title: str,
    body: str,
    dedupe_key: str | None,
    now: datetime,
    action_url: str | None = None,
    email_template: str | None = None,
    email_context: dict | None = None,
    attachments: list[Attachment] | None = None,
    commit: bool = True,
) -> Notification:
    """Tell ``user`` something: a bell notification, plus an email when a template is given.

    ``dedupe_key`` is unique per user: a second call with the same key (a step
    that runs twice, two overlapping sweeps, a replayed webhook) returns the
    first notification and rings and emails nothing. It is required for
    anything sent from a job, the sweep or a retried step; ``None`` is only for
    a direct, one-off user action.

    ``commit=True`` commits the notification on its own (call it after the use
    case committed). ``commit=False`` joins the caller's transaction: the use
    case and its notifications commit together or not at all. Either way the
    email is enqueued only once its row is committed (and the sweep retries a
    queued email whose job was lost).

    :raise ValueError: no ``dedupe_key`` inside an RQ job.
    """
    if dedupe_key is None and get_current_job() is not None:
        raise ValueError(f"notify({kind!r}) from a job needs a dedupe_key: jobs may run twice")
    if dedupe_key is not None:
        dedupe_key = dedupe_key[:DEDUPE_KEY_MAX]
        existing = _find_notification(user.id, dedupe_key)
        if existing is not None:
            if commit:
                db.session.commit()
            return existing
    title = _fit(title, TITLE_MAX)  # titles are often built from user text (a course title)
    notification = Notification(
        user_id=user.id,
        type=kind[:50],
        title=title,
        body=body,
        action_url=action_url,
        dedupe_key=dedupe_key,
        created_at=now,
    )
    try:
        # A savepoint: losing the race to a concurrent twin must not undo the caller's work.
        with db.session.begin_nested():
            db.session.add(notification)
    except sa.exc.IntegrityError:
        existing = _find_notification(user.id, dedupe_key) if dedupe_key is not None else None
        if existing is None:
            raise
        if commit:
            db.session.commit()
        return existing
    if email_template and user.deleted_at is None:
        email = queue_email(
            to=user.email,
            template=email_template,
            context={
                "user": user,
                "title": title,
                "body": body,
                "action_url": _email_link(action_url),
                **(email_context or {}),
            },
            idempotency_key=(
                f"notification:{user.id}:{dedupe_key}" if dedupe_key is not None else f"notification:{notification.id}"
            ),
            user_id=user.id,
            attachments=attachments,
        )
        db.session.flush()
        jobs.enqueue_after_commit(send_email_job, email.id)
    if commit:
        db.session.commit()
    return notification


def send_email_job(email_id: str) -> str:
    return send_queued_email(email_id, now=clock.now())


def unread_count(user_id: uuid.UUID) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification).filter_by(user_id=user_id, is_read=False)
    )


def recent(user_id: uuid.UUID, limit: int = 5) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .filter_by(user_id=user_id)
            .order_by(Notification.created_at.desc(), Notification.id)
            .limit(limit)
        )
    )


def list_page(user_id: uuid.UUID, page: int, per_page: int) -> tuple[list[Notification], int]:
    query = sa.select(Notification).filter_by(user_id=user_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id).offset((page - 1) * per_page).limit(per_page)
    )
    return list(items), total


def open_notification(user_id: uuid.UUID, notification_id: uuid.UUID, *, now: datetime) -> str | None:
    """Mark the user's notification read and return where it points; None if it is not theirs."""
    notification = db.session.scalar(
        sa.select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id)
    )
    if notification is None:
        return None
    if not notification.is_read:
        notification.is_read = True
        notification.read_at = now
        db.session.commit()
    return notification.action_url


def mark_read(user_id: uuid.UUID, ids: list[uuid.UUID] | None, *, now: datetime) -> int:
    """Mark the user's notifications read: the given ids, or all of them. Returns how many changed."""
    stmt = (
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.is_read.is_(False))
        .values(is_read=True, read_at=now)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    count = db.session.execute(stmt).rowcount
    db.session.commit()
    return count
