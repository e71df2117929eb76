"""Browser tests: a live PeerLoop on its own SQLite file, driven by Debian's chromium.

The package is skipped on PostgreSQL (the SQLite run covers the browser) and
when /usr/bin/chromium is missing, unless REQUIRE_BROWSER=1 asks for it to fail.
Never run ``playwright install``: the browser is the system one.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from peerloop import create_app
from peerloop.db import utcnow
from peerloop.demo import DEMO_PASSWORD, load_demo
from peerloop.extensions import db, limiter

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    """Skip (or fail) the package before any server or browser starts."""
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("browser tests run on SQLite only")
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install -y chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


@pytest.fixture(scope="session")
def live_app(_browser_available, app, tmp_path_factory) -> Iterator[Flask]:
    """A separate app with the demo data on its own SQLite file.

    Built after the suite's own ``app``, which is requested only for that order.
    """
    limiter_was_enabled = limiter.enabled
    database = tmp_path_factory.mktemp("e2e") / "e2e.db"
    live = create_app(
        {
            "TESTING": True,  # keeps create_app from configuring the root logger
            "SECRET_KEY": "e2e-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "RATELIMIT_ENABLED": False,
            "REDIS_URL": None,
            "EMAIL_BACKEND": "outbox",
        }
    )
    # The limiter is one object shared by every app: its init_app just turned it
    # off for all of them. Give the other tests theirs back; _no_rate_limits turns
    # it off again while this package runs.
    limiter.enabled = limiter_was_enabled
    with live.app_context():
        db.create_all()
        load_demo(now=utcnow())
        db.session.remove()
    try:
        yield live
    finally:
        with live.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="package", autouse=True)
def _no_rate_limits(live_app) -> Iterator[None]:
    enabled = limiter.enabled
    limiter.enabled = False
    try:
        yield
    finally:
        limiter.enabled = enabled


@pytest.fixture(scope="session")
def live_server(live_app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    # Emails link to PUBLIC_URL: the port is known only now.
    live_app.config["PUBLIC_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    return live_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args) -> dict:
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args) -> dict:
    # A fixed zone and locale: the signup form sends the browser's zone.
    return {**browser_context_args, "timezone_id": "Europe/Berlin", "locale": "en-GB"}


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(screenshot_dir):
    """screenshot(page, "name"): a full-page PNG in artifacts/screenshots/."""

    def _take(page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _take


class Outbox:
    """Reads the emails the live app wrote, as a person would read their inbox."""

    def __init__(self, app: Flask):
        self.app = app

    def count(self, to: str) -> int:
        from peerloop.notifications.models import OutboundEmail

        with self.app.app_context():
            total = db.session.scalar(
                sa.select(sa.func.count()).select_from(OutboundEmail).where(OutboundEmail.to_address == to)
            )
            db.session.remove()
        return total

    def link(self, to: str, path: str, *, wait_seconds: float = 10) -> str:
        """The first link to ``path`` (e.g. "/verify-email/") in the newest email to ``to``.

        Waits for it as a person waits for mail: some emails are written by a job
        that runs after the response (a password reset's lookup), not during it.
        """
        from peerloop.notifications.models import OutboundEmail

        deadline = time.monotonic() + wait_seconds
        while True:
            with self.app.app_context():
                emails = db.session.scalars(
                    sa.select(OutboundEmail)
                    .where(OutboundEmail.to_address == to)
                    .order_by(OutboundEmail.created_at.desc(), OutboundEmail.id)
                ).all()
                bodies = [email.text_body for email in emails]
                db.session.remove()
            for body in bodies:
                match = re.search(r"https?://\S+" + re.escape(path) + r"[^\s<>\"')]+", body)
                if match:
                    return match.group(0)
            if time.monotonic() > deadline:
                raise AssertionError(f"no email to {to} holds a {path} link ({len(bodies)} emails)")
            time.sleep(0.1)


@pytest.fixture
def outbox(live_app) -> Outbox:
    return Outbox(live_app)


@pytest.fixture
def log_in(base_url):
    """log_in(page, email): through the real login form."""

    def _log_in(page, email: str, password: str = DEMO_PASSWORD) -> None:
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login" not in url)

    return _log_in


@pytest.fixture
def restore_demo_password(live_app) -> Iterator[list[str]]:
    """Append an email; after the test that demo user's password is the demo one again."""
    from peerloop.accounts.models import User
    from peerloop.accounts.passwords import hash_password

    emails: list[str] = []
    yield emails
    if not emails:
        return
    with live_app.app_context():
        password_hash = hash_password(DEMO_PASSWORD)
        for user in db.session.scalars(sa.select(User).where(User.email.in_(emails))):
            user.password_hash = password_hash
        db.session.commit()
        db.session.remove()
