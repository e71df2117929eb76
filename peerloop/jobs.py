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
from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.orm import Mapped, mapped_column

from peerloop.db import CreatedAt, UTCDateTime, UUIDPrimaryKey
from peerloop.extensions import db

log = logging.getLogger(__name__)


class FailedJob(UUIDPrimaryKey, CreatedAt, db.Model):
    """A job that raised when run inline. (Under RQ, its failed-job registry holds these.)"""

    __tablename__ = "failed_jobs"

    func_name: Mapped[str] = mapped_column(sa.String(200))
    args: Mapped[str] = mapped_column(sa.Text)
    error: Mapped[str] = mapped_column(sa.Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def init_app(app: Flask) -> None:
    if app.config.get("REDIS_URL"):
        connection = Redis.from_url(app.config["REDIS_URL"])
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
