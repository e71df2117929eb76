"""Two people using the same reset link at the same moment: exactly one wins (PostgreSQL, real threads)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from peerloop.accounts import services
from peerloop.accounts.models import AccountToken, LoginSession, User
from peerloop.db import utcnow
from peerloop.errors import ValidationError
from peerloop.extensions import db
from peerloop.notifications.models import Notification, OutboundEmail
from tests.conftest import ON_POSTGRES

pytestmark = [
    pytest.mark.committed,
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks are a PostgreSQL matter: set TEST_DATABASE_URL"),
]


@pytest.fixture
def committed_user(app):
    with app.app_context(), app.test_request_context():
        user = services.signup(
            email="race@example.com",
            password="a long pass phrase",
            name="Race",
            handle="racer",
            accept_terms=True,
            now=utcnow(),
        )
        user_id = user.id
    yield user_id
    with app.app_context():
        for model in (OutboundEmail, Notification, AccountToken, LoginSession):
            db.session.execute(sa.delete(model).where(model.user_id == user_id))
        db.session.execute(sa.delete(User).where(User.id == user_id))
        db.session.commit()


def test_a_reset_token_used_twice_at_once_works_once(app, committed_user):
    import secrets
    from datetime import timedelta

    raw = secrets.token_urlsafe(32)
    with app.app_context():
        db.session.add(
            AccountToken(
                user_id=committed_user,
                purpose="reset_password",
                token_hash=services._digest(raw),
                email="race@example.com",
                expires_at=utcnow() + timedelta(minutes=5),
            )
        )
        db.session.commit()

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def use(password: str) -> None:
        with app.app_context():
            barrier.wait()
            try:
                services.reset_password(raw, password, now=utcnow())
                outcomes.append("ok")
            except ValidationError as error:
                outcomes.append(error.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=use, args=(f"new pass phrase {i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["invalid_token", "ok"]
    with app.app_context():
        from peerloop.accounts.passwords import verify_password

        user = db.session.get(User, committed_user)
        winners = [p for p in ("new pass phrase 0", "new pass phrase 1") if verify_password(user.password_hash, p)]
        assert len(winners) == 1  # changed exactly once
