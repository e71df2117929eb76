"""The test clock: one source of business time, shared by every process (issue 5, item 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from peerloop import clock
from peerloop.extensions import db
from tests.security.test_reset_and_emails import Statements

ROOT = Path(__file__).resolve().parents[1]
FROZEN = datetime(2026, 12, 1, 9, 45, tzinfo=UTC)


@pytest.fixture
def test_clock(app, monkeypatch):
    monkeypatch.setitem(app.config, "TEST_CLOCK", True)
    yield
    clock.reset()


def test_without_test_clock_the_time_is_real_and_costs_no_query(app):
    assert not app.config["TEST_CLOCK"]
    db.session.add(clock.TestClock(id=clock.ROW_ID, frozen_at=FROZEN))  # a stored value is ignored
    db.session.flush()
    with Statements() as statements:
        before = datetime.now(UTC)
        now = clock.now()
    assert statements.seen == []
    assert before <= now <= datetime.now(UTC)


def test_a_set_clock_stays_frozen_until_advanced_or_reset(test_clock):
    assert clock.set_to(FROZEN) == FROZEN
    assert clock.now() == FROZEN and clock.now() == FROZEN
    assert clock.advance(timedelta(minutes=15)) == FROZEN + timedelta(minutes=15)
    assert clock.now() == FROZEN + timedelta(minutes=15)
    clock.reset()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_model_timestamps_follow_the_clock(test_clock, make):
    clock.set_to(FROZEN)
    user = make.user()
    assert user.created_at == FROZEN and user.updated_at == FROZEN


def test_the_api_is_404_when_the_clock_is_off(client, make, api_token):
    headers = api_token(make.admin())
    assert client.get("/api/test-clock", headers=headers).status_code == 404
    assert client.post("/api/test-clock", json={"reset": True}, headers=headers).status_code == 404


def test_the_api_is_for_admins(test_clock, client, make, api_token):
    assert client.get("/api/test-clock").status_code == 401
    assert client.get("/api/test-clock", headers=api_token(make.user())).status_code == 403


def test_the_api_sets_advances_and_resets(test_clock, client, make, api_token):
    headers = api_token(make.admin())
    response = client.post("/api/test-clock", json={"now": "2026-12-01T10:45:00+01:00"}, headers=headers)
    assert response.status_code == 200 and response.get_json() == {"now": "2026-12-01T09:45:00Z"}
    assert client.get("/api/test-clock", headers=headers).get_json() == {"now": "2026-12-01T09:45:00Z"}
    moved = client.post("/api/test-clock", json={"advance_seconds": 900}, headers=headers).get_json()
    assert moved == {"now": "2026-12-01T10:00:00Z"}
    real = client.post("/api/test-clock", json={"reset": True}, headers=headers).get_json()["now"]
    assert abs(datetime.fromisoformat(real) - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"now": "2026-12-01T09:45:00"},  # naive
        {"now": "tomorrow"},
        {"now": 5},
        {"advance_seconds": "15m"},
        {"advance_seconds": True},
        {"advance_seconds": 10**12},
        {"reset": "yes"},
        {"now": "2026-12-01T09:45:00Z", "reset": True},
    ],
)
def test_bad_clock_requests_are_400s(test_clock, client, make, api_token, body):
    response = client.post("/api/test-clock", json=body, headers=api_token(make.admin()))
    assert response.status_code == 400 and response.get_json()["error"]["code"]


def flask_cli(app, *args: str) -> str:
    """Run ``flask <args>`` in another process on the suite's database."""
    env = {
        **os.environ,
        "FLASK_APP": "wsgi:app",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "TEST_CLOCK": "1",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.committed
def test_two_processes_see_the_same_clock(app, monkeypatch):
    """The CLI in one process sets it; this process reads it; this process moves it; the CLI sees that."""
    monkeypatch.setitem(app.config, "TEST_CLOCK", True)
    try:
        assert flask_cli(app, "clock", "set", "2026-12-01T09:45:00Z") == "clock: 2026-12-01T09:45:00+00:00"
        with app.app_context():
            assert clock.now() == FROZEN
            clock.advance(timedelta(hours=2))
            db.session.remove()
        assert flask_cli(app, "clock", "show") == "clock: 2026-12-01T11:45:00+00:00"
        assert flask_cli(app, "clock", "advance", "15m") == "clock: 2026-12-01T12:00:00+00:00"
        with app.app_context():
            assert clock.now() == FROZEN + timedelta(hours=2, minutes=15)
            db.session.remove()
    finally:
        with app.app_context():
            db.session.execute(sa.delete(clock.TestClock))
            db.session.commit()
