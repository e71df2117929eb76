"""SQLite under concurrent writers, through the real server scripts/run starts (issue 5, item 10).

A deferred transaction that reads and then writes cannot wait for SQLite's
lock: two logins at once gave "database is locked" 500s. Write transactions
now begin IMMEDIATE and wait their turn (WAL, busy timeout); a lock that still
times out is a 503 with Retry-After, never a 500.
"""

from __future__ import annotations

import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa
from flask import request

from peerloop.db import for_update
from peerloop.extensions import db
from tests.conftest import ON_POSTGRES
from tests.served import served_app, sqlite_env

WRITERS = 20
PASSWORD = "a long pass phrase"


def all_at_once(call, items) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(call, items))


def reset_links_in(database, *, expected: int, wait_seconds: float = 20) -> list[str]:
    """The reset tokens in the served app's outbox; its jobs run after each response, so wait for them."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with sqlite3.connect(database) as connection:
            bodies = [row[0] for row in connection.execute("SELECT text_body FROM outbound_emails")]
        tokens = [m.group(1) for body in bodies if (m := re.search(r"/reset-password/(\S+)", body))]
        if len(tokens) >= expected or time.monotonic() > deadline:
            return tokens
        time.sleep(0.2)


def failed_jobs(database) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT error FROM failed_jobs")]


def statuses(responses) -> list[int]:
    return sorted(response.status_code for response in responses)


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's write lock: the SQLite run covers it")
def test_twenty_concurrent_writers_on_a_sqlite_file_get_no_5xx(tmp_path):
    # A real password hashing cost (OWASP's argon2id minimum): the slow step between the read
    # and the write that used to fail.
    env = sqlite_env(tmp_path, RATELIMIT_ENABLED="0", ARGON2_TIME_COST="2", ARGON2_MEMORY_COST="19456")
    database = tmp_path / "served.db"
    with served_app(env) as base_url:

        def signup(n: int):
            return requests.post(
                f"{base_url}/api/auth/signup",
                json={
                    "email": f"writer{n}@example.com",
                    "password": PASSWORD,
                    "name": f"Writer {n}",
                    "handle": f"writer{n}",
                    "accept_terms": True,
                },
                timeout=60,
            )

        def login(n: int):
            return requests.post(
                f"{base_url}/api/auth/login",
                json={"email": f"writer{n}@example.com", "password": PASSWORD},
                timeout=60,
            )

        def browser_login(n: int):
            session = requests.Session()
            page = session.get(f"{base_url}/login", timeout=60).text
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            return session.post(
                f"{base_url}/login",
                data={"email": f"writer{n}@example.com", "password": PASSWORD, "csrf_token": token},
                allow_redirects=False,
                timeout=60,
            )

        def ask_reset(n: int):
            return requests.post(
                f"{base_url}/api/auth/password-reset", json={"email": f"writer{n}@example.com"}, timeout=60
            )

        people = list(range(WRITERS))
        assert statuses(all_at_once(signup, people)) == [201] * WRITERS
        assert statuses(all_at_once(login, people)) == [200] * WRITERS
        assert statuses(all_at_once(browser_login, people)) == [302] * WRITERS
        assert statuses(all_at_once(ask_reset, people)) == [202] * WRITERS

        tokens = reset_links_in(database, expected=WRITERS)
        assert len(tokens) == WRITERS, f"{len(tokens)} reset links in the outbox; failed jobs: {failed_jobs(database)}"

        def confirm(token: str):
            return requests.post(
                f"{base_url}/api/auth/password-reset/confirm",
                json={"token": token, "password": "another long phrase"},
                timeout=60,
            )

        assert statuses(all_at_once(confirm, tokens)) == [204] * WRITERS
        assert "database is locked" not in base_url.log()


def test_for_update_takes_the_write_lock_in_a_read_request(app, make):
    """The one way to lock what a service read: FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite."""
    from peerloop.accounts.models import User

    user = make.user()
    with app.test_request_context("/courses", method="GET"):
        assert request.method == "GET"
        statement = for_update(sa.select(User).where(User.id == user.id))
        locked = db.session.scalar(statement)
        assert locked.id == user.id
        if db.session.connection().dialect.name == "sqlite":
            assert db.session.connection().info["sqlite_write_lock"] is True
        else:
            compiled = str(statement.compile(dialect=db.session.connection().dialect))
            assert "FOR UPDATE" in compiled


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's write lock: the SQLite run covers it")
def test_a_lock_that_times_out_is_a_503_with_retry_after(tmp_path):
    from peerloop import create_app

    path = tmp_path / "locked.db"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x" * 32,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SQLITE_BUSY_TIMEOUT_MS": 200,
            "WTF_CSRF_ENABLED": False,  # so the form reaches the database
            "RATELIMIT_ENABLED": False,
            "REDIS_URL": None,
        }
    )
    with app.app_context():
        db.create_all()
        db.session.remove()
    other_writer = sqlite3.connect(path, isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")  # someone else holds the write lock, and keeps it
    try:
        client = app.test_client()
        api = client.post("/api/auth/login", json={"email": "a@example.com", "password": "whatever it is"})
        assert api.status_code == 503 and api.headers["Retry-After"] == "2"
        assert api.get_json()["error"]["code"] == "busy"
        page = client.post("/login", data={"email": "a@example.com", "password": "whatever it is"})
        assert page.status_code == 503 and page.headers["Retry-After"] == "2"
        assert "Try again in a few seconds" in page.get_data(as_text=True)
        # Reads do not wait for the writer (WAL): the catalog still answers.
        assert client.get("/courses").status_code == 200
    finally:
        other_writer.rollback()
        other_writer.close()
        with app.app_context():
            db.engine.dispose()
