"""The RQ worker (Procfile ``worker:``): one app, one app context, the peerloop queue.

A SimpleWorker runs jobs in this process, so the database pool is never shared
across a fork.
"""

from __future__ import annotations

from rq import SimpleWorker

from peerloop import create_app


def main() -> None:
    app = create_app()
    if not app.config.get("REDIS_URL"):
        raise SystemExit("REDIS_URL is not set: without Redis, jobs run inline in the web process.")
    with app.app_context():
        queue = app.extensions["rq_queue"]
        SimpleWorker([queue], connection=queue.connection).work(with_scheduler=True)


if __name__ == "__main__":
    main()
