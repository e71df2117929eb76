"""`flask seed-demo` buys its enrollments through checkout, the sandbox and the completion service,
and connects its teachers' and creators' payout accounts through Connect onboarding."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from peerloop import create_app
from peerloop.accounts.models import StripeAccountStatus, User
from peerloop.demo import COURSES, DEMO_PASSWORD, ENROLLMENTS, STUDENT_TEACHERS
from peerloop.enrollment.models import Enrollment
from peerloop.extensions import db
from peerloop.payments import services
from peerloop.payments.models import Checkout, InstructorFollower, LedgerEntry, SandboxObject, Transaction
from peerloop.webhooks.models import WebhookEvent
from tests.conftest import AuthActions, IsolatedClient, base_config
from tests.test_migrations import flask

COUNTED = (Transaction, Checkout, LedgerEntry, Enrollment, InstructorFollower, WebhookEvent, SandboxObject)


@dataclass
class Seeded:
    url: str
    first: dict[str, int]  # rows per table after the first seed-demo
    second: dict[str, int]  # and after the second


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.scalar(sa.select(sa.func.count()).select_from(model.__table__))
            for model in COUNTED
        }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    """seed-demo run twice on an empty database, as tests/test_migrations.py does: a SQLite file,
    or a fresh PostgreSQL database next to the test one."""
    from config import normalise_database_url

    url = os.environ.get("TEST_DATABASE_URL")
    admin = name = None
    if url:
        name = f"peerloop_demo_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = url.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    engine = sa.create_engine(normalise_database_url(url))
    try:
        upgrade = flask("db", "upgrade", database_url=url)
        assert upgrade.returncode == 0, upgrade.stderr
        first = flask("seed-demo", database_url=url)
        assert first.returncode == 0, first.stderr
        after_first = _counts(engine)
        second = flask("seed-demo", database_url=url)
        assert second.returncode == 0, second.stderr
        yield Seeded(url=normalise_database_url(url), first=after_first, second=_counts(engine))
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


@pytest.fixture
def demo_app(seeded, tmp_path_factory):
    """An app on the seeded database, its context pushed for the test."""
    app = create_app({**base_config(tmp_path_factory), "SQLALCHEMY_DATABASE_URI": seeded.url, "REDIS_URL": None})
    app.test_client_class = IsolatedClient
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def test_a_second_seed_demo_adds_no_payment_rows(seeded):
    assert seeded.first["transactions"] == len(ENROLLMENTS)
    assert seeded.first["checkouts"] == len(ENROLLMENTS)
    assert seeded.first["payment_splits"] > 0
    assert seeded.second == seeded.first


def test_every_demo_enrollment_was_paid_once_and_its_ledger_sums_to_the_price(demo_app):
    enrollments = db.session.scalars(sa.select(Enrollment)).all()
    assert len(enrollments) == len(ENROLLMENTS)
    for enrollment in enrollments:
        paid = sa.select(Transaction).where(Transaction.enrollment_id == enrollment.id)
        transactions = db.session.scalars(paid).all()
        assert len(transactions) == 1, enrollment.id
        transaction = transactions[0]
        assert transaction.amount_cents == enrollment.price_cents == enrollment.course.price_cents
        ledger = db.session.scalar(
            sa.select(sa.func.sum(LedgerEntry.amount_cents)).where(LedgerEntry.transaction_id == transaction.id)
        )
        assert ledger == transaction.amount_cents
        # Paid when the demo says the student enrolled, not when the loader ran.
        assert transaction.paid_at == enrollment.enrolled_at
        assert db.session.scalar(sa.select(Checkout.status).where(Checkout.id == transaction.checkout_id)) == (
            "completed"
        )


def test_demo_creators_with_sold_courses_have_royalties_available(demo_app):
    creators = {c["slug"]: c["creator"] for c in COURSES}
    sold = {creators[e["course"]] for e in ENROLLMENTS}
    assert "gabriel@example.com" in sold
    for email in sold:
        balance = services.balances(_user(email).id)[0]
        assert balance.currency == "USD"
        assert balance.available_cents > 0, email


def test_demo_teachers_and_creators_are_connected_with_payouts_on(demo_app):
    connected = {st["user"] for st in STUDENT_TEACHERS} | {c["creator"] for c in COURSES}
    assert "marcus@example.com" in connected
    for email in connected:
        user = _user(email)
        assert user.stripe_account_id, email
        assert user.stripe_account_status == StripeAccountStatus.active, email
        assert user.stripe_payouts_enabled, email
        assert services.connect_status(user) == {"status": "active", "payouts_enabled": True}
    # Marcus teaches Sarah and Aisha: Sarah's pool is held for him until her sessions are delivered;
    # Aisha's two sessions were delivered, so her pool is his to take out.
    marcus = services.balances(_user("marcus@example.com").id)[0]
    assert marcus.held_cents > 0 and marcus.available_cents > 0


def test_the_demo_pages_show_the_payout_account_and_the_royalties(demo_app):
    client = demo_app.test_client()
    auth = AuthActions(client)
    assert auth.login("marcus@example.com", DEMO_PASSWORD).status_code == 302
    assert "Fully active" in client.get("/settings/payouts").get_data(as_text=True)
    auth.logout()
    assert auth.login("gabriel@example.com", DEMO_PASSWORD).status_code == 302
    earnings = client.get("/earnings")
    assert earnings.status_code == 200
    assert "Creator royalty" in earnings.get_data(as_text=True)
