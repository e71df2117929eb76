"""Migrations build the schema on an empty database, and the models match them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


def flask(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLASK_APP": "wsgi:app", "DATABASE_URL": database_url, "PYTHONWARNINGS": "error"}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def empty_database(tmp_path):
    """An empty SQLite file, or a fresh PostgreSQL database next to the test one."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    from config import normalise_database_url

    name = f"peerloop_migrate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_upgrade_on_an_empty_database_then_check_finds_nothing(empty_database):
    upgrade = flask("db", "upgrade", database_url=empty_database)
    assert upgrade.returncode == 0, upgrade.stderr
    check = flask("db", "check", database_url=empty_database)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    downgrade = flask("db", "downgrade", "base", database_url=empty_database)
    assert downgrade.returncode == 0, downgrade.stderr


def test_seed_demo_is_idempotent_and_prints_the_logins(empty_database):
    assert flask("db", "upgrade", database_url=empty_database).returncode == 0
    first = flask("seed-demo", database_url=empty_database)
    second = flask("seed-demo", database_url=empty_database)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0]
    for login in [
        "brian@example.com",
        "gabriel@example.com",
        "marcus@example.com",
        "sarah@example.com",
        "peerloop-demo",
    ]:
        assert login in first.stdout


def test_create_admin_command(empty_database):
    assert flask("db", "upgrade", database_url=empty_database).returncode == 0
    made = flask(
        "create-admin",
        "--email",
        "Ops.Lead@Example.com",
        "--password",
        "a good long password",
        database_url=empty_database,
    )
    assert made.returncode == 0, made.stderr
    assert "ops.lead@example.com (@ops_lead) is an admin" in made.stdout
    weak = flask("create-admin", "--email", "x@example.com", "--password", "short", database_url=empty_database)
    assert weak.returncode != 0 and "password" in weak.stderr
