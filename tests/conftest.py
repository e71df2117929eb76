"""Test fixtures: one app and one schema per run, each test in a rolled-back transaction.

The suite runs on SQLite by default, and on PostgreSQL + Redis when
TEST_DATABASE_URL and TEST_REDIS_URL are set (scripts/test does both).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from redis import Redis

from peerloop import create_app, readcache
from peerloop.extensions import db, limiter
from tests import factories

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
ON_POSTGRES = bool(TEST_DATABASE_URL)


def base_config(tmp_path_factory) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "PUBLIC_URL": "http://peerloop.test",
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "EMAIL_BACKEND": "outbox",
        "RATELIMIT_ENABLED": True,
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    if TEST_DATABASE_URL:
        from config import normalise_database_url

        config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(TEST_DATABASE_URL)
    else:
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if TEST_REDIS_URL:
        config["REDIS_URL"] = TEST_REDIS_URL
        config["RATELIMIT_STORAGE_URI"] = TEST_REDIS_URL
        config["RQ_QUEUE"] = "peerloop-test"
    return config


class IsolatedClient(FlaskClient):
    """A test client whose every request gets a fresh app context.

    Flask reuses an app context that is already pushed (the test's own), which
    would carry ``g`` (the logged-in user, rate-limit state) from one request to
    the next. Production requests never share ``g``; neither do these.
    """

    def open(self, *args, **kwargs):
        # Buffered, as a server sends the whole body: the response is closed and
        # its on-close work (jobs run after the response) done before we return.
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            response = super().open(*args, **kwargs)
            # Flask re-pushes the request's contexts after a test request; drop
            # them before our own context is popped.
            self._context_stack.close()
        return response


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app(base_config(tmp_path_factory))
    app.test_client_class = IsolatedClient
    if TEST_REDIS_URL:
        Redis.from_url(TEST_REDIS_URL).flushdb()
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    if TEST_REDIS_URL:
        app.extensions["rq_queue"].connection.close()


@pytest.fixture(autouse=True)
def _isolated_database(request, app):
    """Every test runs inside a transaction that is rolled back at the end.

    Services commit as usual: their commits release SAVEPOINTs inside it.
    """
    with app.app_context():
        # What an earlier test cached was made from rows its rollback took away, which no write saw.
        readcache.content_changed()
    if request.node.get_closest_marker("e2e") or request.node.get_closest_marker("committed"):
        yield
        return
    context = app.app_context()
    context.push()
    connection = db.engine.connect()
    outer = connection.begin()
    engines = db._app_engines[app]
    real_engine = engines[None]
    engines[None] = connection
    factory = db.session.session_factory
    saved_kw = dict(factory.kw)
    db.session.remove()
    factory.configure(join_transaction_mode="create_savepoint")
    limiter.reset()
    queue = app.extensions["rq_queue"]
    if queue.is_async:
        queue.empty()  # jobs left by an earlier test point at rolled-back rows
    try:
        yield
    finally:
        db.session.remove()
        factory.kw.clear()
        factory.kw.update(saved_kw)
        engines[None] = real_engine
        outer.rollback()
        connection.close()
        context.pop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def now():
    return datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def make():
    """Factories: make.user(...), make.course(...), make.student_teacher(...)."""
    return factories


def run_jobs(app) -> None:
    """Run whatever is queued: a no-op inline, a burst SimpleWorker on Redis."""
    from rq import SimpleWorker

    queue = app.extensions["rq_queue"]
    if queue.is_async:
        # The worker's jobs share the test's connection: a job that rolls back must not take the
        # test's own pending work with it.
        db.session.commit()
        SimpleWorker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture
def jobs(app):
    class Jobs:
        def run(self):
            run_jobs(app)

    return Jobs()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in page"
    return match.group(1)


class AuthActions:
    """Log in and out through the real forms (flaskr's AuthActions)."""

    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def login(self, email: str, password: str = factories.PASSWORD, next: str | None = None):
        data = {"email": email, "password": password, "csrf_token": self.csrf()}
        if next:
            data["next"] = next
        return self.client.post("/login", data=data)

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf("/")})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def login_as(auth):
    def _login(user):
        response = auth.login(user.email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user

    return _login


@pytest.fixture
def api_token(client):
    def _token(user, password: str = factories.PASSWORD) -> dict:
        response = client.post("/api/auth/login", json={"email": user.email, "password": password})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    return _token
