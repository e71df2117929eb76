"""gunicorn settings of production, the Procfile's ``web:`` line: ``python scripts/gunicorn_web.py 'wsgi:app'``.

Run as a script, it checks the environment below and then becomes
``python -m gunicorn -c scripts/gunicorn_web.py 'wsgi:app'`` (same process, so the
platform's SIGTERM reaches gunicorn's arbiter). The check comes first because gunicorn
itself reads ``WEB_CONCURRENCY`` with a bare ``int()`` when it is imported, before any
config file: ``WEB_CONCURRENCY=abc`` (or set but empty) would otherwise end in a
``ValueError`` traceback from inside gunicorn that never names the variable.
``gunicorn -c scripts/gunicorn_web.py 'wsgi:app'`` works too and checks every other
value the same way.

Settings, each from the environment:

- ``PORT`` (default 5000): bind 0.0.0.0:$PORT, the address the PaaS router sends to.
- ``WEB_CONCURRENCY`` (default 2, a small 512 MB instance): worker processes.
- ``GUNICORN_THREADS`` (default 4): threads per worker (gthread). config.py sizes each
  worker's database pool from the same variable, so every thread can hold a connection.
- ``GUNICORN_TIMEOUT`` (default 30 s, the usual PaaS router timeout): a worker silent that
  long is killed and replaced.

A bad value (not a whole number, or below its minimum) stops the start with one line
naming the variable.

Not named gunicorn.conf.py on purpose (see scripts/gunicorn_dev.py): gunicorn would load
that from the working directory for every gunicorn command. No ``preload_app``: the app,
and with it the SQLAlchemy engine and its pool of open connections, must be created in
each worker after the fork, never shared between processes. ``forwarded_allow_ips`` keeps
gunicorn's default (loopback only): trusting ``X-Forwarded-*`` from anyone would let a
client choose its own address and scheme. The app's ProxyFix, with ``TRUSTED_PROXY_HOPS``
(1 in production), reads those headers from the router alone.
"""

from __future__ import annotations

import os
import sys


def _number(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn_web.py: {name} must be a whole number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SystemExit(f"gunicorn_web.py: {name} must be {bounds}, got {value}")
    return value


port = _number("PORT", 5000, maximum=65535)
bind = [f"0.0.0.0:{port}"]
workers = _number("WEB_CONCURRENCY", 2)
worker_class = "gthread"
threads = _number("GUNICORN_THREADS", 4)
timeout = _number("GUNICORN_TIMEOUT", 30)
# On a deploy or restart the platform sends SIGTERM and kills what is left about 30 s later:
# requests under way get this long to finish.
graceful_timeout = min(timeout, 25)
# Behind the PaaS router, which may reuse its connections to us: kept open 5 s between requests
# (gunicorn's default is 2 s).
keepalive = 5
# Each worker is replaced after about this many requests (jittered so they do not all restart
# at once): a slow leak cannot grow for ever.
max_requests = 1000
max_requests_jitter = 100
accesslog = "-"
# gunicorn 27's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl), and nothing
# here uses it (as in scripts/gunicorn_dev.py).
control_socket_disable = True


if __name__ == "__main__":
    # Everything above has been checked: hand over to gunicorn, with this file as its config, and
    # WEB_CONCURRENCY as gunicorn's own int() accepts it (set but empty means the default here).
    command = [sys.executable, "-m", "gunicorn", "-c", os.path.abspath(__file__), *sys.argv[1:]]
    os.execve(sys.executable, command, {**os.environ, "WEB_CONCURRENCY": str(workers)})
