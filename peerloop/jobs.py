"""Background jobs: RQ when REDIS_URL is set, inline otherwise.

Jobs take ids, not objects, and are enqueued as function objects. Enqueue only
after the transaction that made the rows they read has committed.

Inline mode still goes through RQ (``is_async=False`` on fakeredis), so job
arguments are serialised exactly as in production. A failed inline job does
not raise into the caller: its error is recorded as a ``FailedJob`` row, which
the console lists.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import fakeredis
import sqlalchemy as sa
from flask import Flask, after_this_request, current_app, has_request_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.orm import Mapped, Session, mapped_column

from peerloop.db import CreatedAt, UTCDateTime, UUIDPrimaryKey
from peerloop.extensions import db

log = logging.getLogger(__name__)
REDIS_CONNECT_TIMEOUT = 2  # seconds
REDIS_TIMEOUT = 5


class FailedJob(UUIDPrimaryKey, CreatedAt, db.Model):
    """A job that raised when run inline. (Under RQ, its failed-job registry holds these.)"""

    __tablename__ = "failed_jobs"

    func_name: Mapped[str] = mapped_column(sa.String(200))
    args: Mapped[str] = mapped_column(sa.Text)
    error: Mapped[str] = mapped_column(sa.Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def init_app(app: Flask) -> None:
    if app.config.get("REDIS_URL"):
        # An unreachable Redis must fail fast (the work is left to the sweep), not hang a request
        # or a webhook answer for the operating system's TCP timeout.
        connection = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=REDIS_CONNECT_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
        app.extensions["rq_queue"] = Queue(app.config["RQ_QUEUE"], connection=connection)
    else:
        connection = fakeredis.FakeStrictRedis(server=fakeredis.FakeServer())
        app.extensions["rq_queue"] = Queue(app.config["RQ_QUEUE"], connection=connection, is_async=False)


def queue() -> Queue:
    return current_app.extensions["rq_queue"]


def _stringify(args: tuple) -> tuple:
    # UUIDs pickle fine, but strings keep RQ's job descriptions readable.
    return tuple(str(a) if isinstance(a, uuid.UUID) else a for a in args)


def enqueue(func, *args, **kwargs):
    """Run ``func(*args)`` as a job. Call it after committing.

    Returns the RQ job, or None when Redis could not be reached: the work is then
    left to the sweep (e.g. queued emails are retried), never lost to a 500.
    """
    session = db.session
    if session.new or session.dirty or session.deleted:
        # An inline job would commit (or roll back) the caller's half-done work.
        raise RuntimeError(f"enqueue({func.__name__}) with uncommitted changes: commit first")
    args = _stringify(args)
    q = queue()
    try:
        job = q.enqueue(func, *args, **kwargs)
    except RedisError:
        log.exception("could not enqueue %s%r: Redis unavailable; the sweep will retry", func.__name__, args)
        return None
    if not q.is_async and job.is_failed:
        result = job.latest_result()
        error = result.exc_string if result is not None else "unknown error"
        log.error("inline job %s%r failed:\n%s", job.func_name, args, error)
        db.session.rollback()
        db.session.add(FailedJob(func_name=job.func_name, args=repr(args), error=error))
        db.session.commit()
    return job


# --- after the transaction commits, after the response is sent --------------

_AFTER_COMMIT = "peerloop_jobs_after_commit"


def enqueue_after_commit(func, *args) -> None:
    """Enqueue ``func(*args)`` once the session's current transaction commits; dropped if it rolls back.

    For work whose rows the caller has added but not yet committed (``notify(commit=False)``).
    If the process dies between the commit and the enqueue, the sweep finds the rows
    (queued emails are retried), so nothing is lost.
    """
    db.session().info.setdefault(_AFTER_COMMIT, []).append((func, args))


@sa.event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    # SQLAlchemy fires after_commit for a SAVEPOINT's release too (a second notify() in one use
    # case opens one): the rows are not committed yet, so the jobs wait for the real commit.
    if session.in_nested_transaction():
        return
    pending = session.info.pop(_AFTER_COMMIT, None)
    if not pending:
        return
    # The committing session cannot run SQL any more; an inline job gets a session of its own.
    with current_app.app_context():
        for func, args in pending:
            enqueue(func, *args)


@sa.event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(_AFTER_COMMIT, None)


def enqueue_after_response(func, *args) -> None:
    """Enqueue ``func(*args)``, and when jobs run inline, run it only once the response is sent.

    With a worker the request does the same work whatever the job finds (one
    enqueue); inline, the job would otherwise run inside the request and show in
    its timing (a password reset must take as long for an unknown address as
    for a known one).
    """
    if queue().is_async or not has_request_context():
        enqueue(func, *args)
        return
    app = current_app._get_current_object()

    @after_this_request
    def _defer(response):
        def _run():
            with app.app_context():
                enqueue(func, *args)

        response.call_on_close(_run)
        return response
