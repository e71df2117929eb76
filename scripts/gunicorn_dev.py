"""gunicorn settings of the embedded default: ``gunicorn -c scripts/gunicorn_dev.py 'wsgi:app'``.

Used by scripts/run and by the tests that start the real server (tests/served.py).
One process with threads: with the default ``memory://`` rate-limit storage each
worker process would count alone (two workers let every limit through twice),
and SQLite has one writer at a time anyway. Production (the Procfile's web:)
runs several workers and counts in Redis, which they share.

Not named gunicorn.conf.py on purpose: gunicorn would load that from the
working directory for the Procfile's web: too.
"""

import os

workers = 1
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
accesslog = "-"
# Long enough for a slow first request on a small machine; a hung request still ends.
timeout = 60
graceful_timeout = 5
# gunicorn 27's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl): two servers at
# once (scripts/run beside a test's server) would fight over it, and nothing here uses it.
control_socket_disable = True
