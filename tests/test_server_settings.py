"""Production server settings: gunicorn's from WEB_CONCURRENCY and friends, the database pool to match."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, from_env

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_WEB = ROOT / "scripts" / "gunicorn_web.py"
SERVER_VARIABLES = ("PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT")


def _load(monkeypatch, **env: str) -> dict:
    for name in SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_WEB))


def test_defaults_fit_a_small_instance(monkeypatch):
    settings = _load(monkeypatch)
    assert settings["bind"] == ["0.0.0.0:5000"]
    assert settings["workers"] == 2
    assert settings["worker_class"] == "gthread" and settings["threads"] == 4
    assert settings["timeout"] == 30 and settings["graceful_timeout"] <= 30
    assert settings["keepalive"] == 5
    assert (settings["max_requests"], settings["max_requests_jitter"]) == (1000, 100)
    assert settings["accesslog"] == "-" and settings["control_socket_disable"] is True
    # The engine and its connections are made in each worker, after the fork; X-Forwarded-* is ProxyFix's job.
    assert "preload_app" not in settings and "forwarded_allow_ips" not in settings


def test_settings_follow_the_environment(monkeypatch):
    settings = _load(monkeypatch, PORT="8123", WEB_CONCURRENCY="3", GUNICORN_THREADS="6", GUNICORN_TIMEOUT="20")
    assert settings["bind"] == ["0.0.0.0:8123"]
    assert (settings["workers"], settings["threads"], settings["timeout"]) == (3, 6, 20)
    assert settings["graceful_timeout"] == 20


@pytest.mark.parametrize(
    ("name", "value"),
    [("WEB_CONCURRENCY", "abc"), ("WEB_CONCURRENCY", "0"), ("GUNICORN_THREADS", "-1"), ("PORT", "99999")],
)
def test_a_bad_value_stops_the_start_naming_the_variable(monkeypatch, name, value):
    with pytest.raises(SystemExit, match=name):
        _load(monkeypatch, **{name: value})


def test_run_as_the_procfile_does_a_bad_web_concurrency_is_one_line_not_a_traceback():
    # gunicorn itself does int(WEB_CONCURRENCY) on import; the script checks before that.
    env = {**os.environ, "WEB_CONCURRENCY": "abc"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, str(GUNICORN_WEB), "--check-config", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "gunicorn_web.py: WEB_CONCURRENCY must be a whole number, got 'abc'"


def test_the_procfile_web_line_uses_these_settings():
    web = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")]
    assert web == ["web: python scripts/gunicorn_web.py 'wsgi:app'"]


POSTGRES = {"DATABASE_URL": "postgres://user:secret@db.example/peerloop"}


def test_postgres_gets_a_pool_sized_to_the_worker_threads():
    options = from_env(POSTGRES)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {
        "pool_pre_ping": True,
        "pool_size": 4,
        "max_overflow": 2,
        "pool_timeout": 10,
        "pool_recycle": 1800,
    }
    assert from_env({**POSTGRES, "GUNICORN_THREADS": "8"})["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 8


def test_the_pool_settings_override_the_defaults():
    env = {**POSTGRES, "GUNICORN_THREADS": "8", "DB_POOL_SIZE": "3", "DB_MAX_OVERFLOW": "0", "DB_POOL_TIMEOUT": "5"}
    options = from_env(env)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert (options["pool_size"], options["max_overflow"], options["pool_timeout"]) == (3, 0, 5)


@pytest.mark.parametrize(
    ("name", "value"),
    [("DB_POOL_SIZE", "many"), ("DB_POOL_SIZE", "0"), ("DB_MAX_OVERFLOW", "-1"), ("GUNICORN_THREADS", "x")],
)
def test_a_bad_pool_setting_is_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=name):
        from_env({**POSTGRES, name: value})


def test_sqlite_keeps_its_engine_options():
    assert from_env({})["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}
    assert from_env({"DB_POOL_SIZE": "9", "GUNICORN_THREADS": "8"})["SQLALCHEMY_ENGINE_OPTIONS"] == {
        "pool_pre_ping": True
    }
