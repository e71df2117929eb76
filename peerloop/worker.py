"""The RQ worker (Procfile ``worker:``) for the peerloop queue.

Each job runs in a fresh app context with its own database session, removed
afterwards: a job that fails half-way cannot leave a broken transaction for the
next one, and no job leaves a transaction open (which on PostgreSQL would hold
locks against the next deploy's migrations). A SimpleWorker runs jobs in this
process, so the database pool is never shared across a fork.
"""

from __future__ import annotations

from flask import Flask
from rq import SimpleWorker

from peerloop import create_app
from peerloop.extensions import db


class AppWorker(SimpleWorker):
    app: Flask

    def perform_job(self, job, queue, *args, **kwargs):
        with self.app.app_context():
            try:
                return super().perform_job(job, queue, *args, **kwargs)
            finally:
                db.session.remove()


def make_worker(app: Flask) -> AppWorker:
    queue = app.extensions["rq_queue"]
    worker = AppWorker([queue], connection=queue.connection)
    worker.app = app
    return worker


def main() -> None:
    app = create_app()
    if not app.config.get("REDIS_URL"):
        raise SystemExit("REDIS_URL is not set: without Redis, jobs run inline in the web process.")
    make_worker(app).work(with_scheduler=True)


if __name__ == "__main__":
    main()
