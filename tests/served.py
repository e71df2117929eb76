"""Start the real server the way scripts/run does, for tests that need real processes.

    from tests.served import served_app, sqlite_env

    def test_something(tmp_path):
        with served_app(sqlite_env(tmp_path)) as base_url:
            requests.post(f"{base_url}/api/auth/signup", json={...})
            ...
        # base_url.log() is the server's output (gunicorn's and the app's log)

``served_app(env)`` migrates the database (``flask db upgrade``, as scripts/run
does; pass ``migrate=False`` to skip), starts gunicorn with
``scripts/gunicorn_dev.py`` (the embedded default: one process, threads) on a
free port of 127.0.0.1, waits until it answers, yields its base URL, and stops it
(and its worker) on the way out. ``env`` is laid over a clean environment: the
test run's own settings (DATABASE_URL, REDIS_URL, TEST_* ...) never leak in, and
SECRET_KEY, PUBLIC_URL (the server's own address) and a cheap argon2 cost are
filled in unless given. ``sqlite_env(tmp_path)`` gives a fresh SQLite file.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUNICORN_CONFIG = REPO / "scripts" / "gunicorn_dev.py"
READY_TIMEOUT_SECONDS = 30

# Settings of the test run that must not reach the server unless asked for.
_SCRUBBED = {
    "PEERLOOP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "RATELIMIT_STORAGE_URI",
    "RATELIMIT_ENABLED",
    "PUBLIC_URL",
    "TEST_CLOCK",
    "EMAIL_BACKEND",
    "RESEND_API_KEY",
    "SMTP_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_CONNECT_WEBHOOK_SECRET",
    "TRUSTED_PROXY_HOPS",
    "SERVER_NAME",
    "FLASK_APP",
    "FLASK_DEBUG",
}


class ServedApp(str):
    """The base URL (a str), with the server's log at hand."""

    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def sqlite_env(directory: Path, **extra: str) -> dict:
    """An environment for a server on a fresh SQLite file in ``directory``."""
    return {"DATABASE_URL": f"sqlite:///{Path(directory) / 'served.db'}", **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(env: dict, base_url: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith("TEST_")}
    full.update(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "PUBLIC_URL": base_url,
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST": "1024",
            "EMAIL_BACKEND": "outbox",
            "FLASK_APP": "wsgi:app",
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
        }
    )
    full.update({k: str(v) for k, v in env.items()})
    if "DATABASE_URL" not in full:
        raise ValueError("served_app needs DATABASE_URL in env (sqlite_env(tmp_path) makes one)")
    return full


def migrate_database(env: dict) -> None:
    """``flask db upgrade`` on env's DATABASE_URL, as scripts/run does."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=REPO,
        env=_environment(env, env.get("PUBLIC_URL", "http://127.0.0.1:5000")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}")


def _wait_until_ready(process: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/terms", timeout=5) as response:
                response.read()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {READY_TIMEOUT_SECONDS} s:\n{log_path.read_text()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # gunicorn's quick stop: the worker ends with it
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own process group, started below
        process.wait(timeout=5)


@contextmanager
def served_app(env: dict, *, migrate: bool = True, log_dir: Path | None = None) -> Iterator[ServedApp]:
    """Run PeerLoop under gunicorn with scripts/gunicorn_dev.py; yield its base URL."""
    if migrate:
        migrate_database(env)
    log_dir = Path(log_dir) if log_dir else Path(env["DATABASE_URL"].removeprefix("sqlite:///")).parent
    if not log_dir.is_dir():
        log_dir = REPO / "instance"
    for attempt in range(3):
        port = _free_port()
        base_url = ServedApp(f"http://127.0.0.1:{port}")
        base_url.log_path = log_dir / f"served-{port}.log"
        with base_url.log_path.open("w") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(GUNICORN_CONFIG),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "wsgi:app",
                ],
                cwd=REPO,
                env=_environment(env, base_url),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_until_ready(process, base_url, base_url.log_path)
        except RuntimeError:
            _stop(process)
            if attempt < 2 and "Address already in use" in base_url.log():
                continue  # someone took the port between our check and gunicorn's bind
            raise
        break
    try:
        yield base_url
    finally:
        _stop(process)
