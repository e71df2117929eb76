"""Login, logout, remember me, rate limits, next= safety, API tokens."""

from __future__ import annotations

import pytest

from peerloop.accounts.access import safe_next
from tests.factories import PASSWORD


def test_login_with_right_password_redirects_to_next(auth, make, client):
    user = make.user()
    response = auth.login(user.email.upper(), next="/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings"
    assert client.get("/settings").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_answer(auth, make):
    user = make.user()
    wrong = auth.login(user.email, password="not the password")
    unknown = auth.login("nobody@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "Email or password is incorrect." in response.get_data(as_text=True)


def test_api_login_failure_is_401_invalid_credentials(client, make):
    user = make.user()
    response = client.post("/api/auth/login", json={"email": user.email, "password": "nope nope nope"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"


def test_login_is_rate_limited_per_email_and_address(client, make):
    """Failures count per email from one address; the owner elsewhere is not locked out
    (more in tests/accounts/test_rate_limits.py)."""
    user = make.user()
    statuses = [
        client.post(
            "/api/auth/login",
            json={"email": user.email, "password": "wrong guess"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    owner = client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.1.1"}
    )
    assert owner.status_code == 200


def test_login_is_rate_limited_per_address(client):
    statuses = [
        client.post("/api/auth/login", json={"email": f"u{i}@example.com", "password": "wrong guess"}).status_code
        for i in range(11)
    ]
    assert statuses[-1] == 429


def test_rate_limit_sees_the_client_behind_the_router(app, make):
    """With one trusted proxy hop, X-Forwarded-For names the client."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    user = make.user()
    original = app.wsgi_app
    app.wsgi_app = ProxyFix(original, x_for=1, x_proto=1)
    try:
        with app.test_client() as client:
            for i in range(10):
                client.post(
                    "/api/auth/login",
                    json={"email": f"a{i}@example.com", "password": "x" * 10},
                    headers={"X-Forwarded-For": "203.0.113.9"},
                )
            blocked = client.post(
                "/api/auth/login",
                json={"email": user.email, "password": PASSWORD},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
            other = client.post(
                "/api/auth/login",
                json={"email": user.email, "password": PASSWORD},
                headers={"X-Forwarded-For": "198.51.100.7"},
            )
    finally:
        app.wsgi_app = original
    assert blocked.status_code == 429
    assert other.status_code == 200


def test_logout_needs_post_with_csrf_and_ends_the_session(auth, make, client):
    user = make.user()
    auth.login(user.email)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token: refused
    assert client.get("/settings").status_code == 200
    auth.logout()
    assert client.get("/settings").status_code == 302


def test_remember_me_sets_a_secure_httponly_cookie_in_production_config(app, make, client):
    user = make.user()
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "remember": "y", "csrf_token": token}
    )
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember
    assert "SameSite=Lax" in remember


def test_production_cookie_settings():
    from config import from_env

    config = from_env(
        {
            "PEERLOOP_ENV": "production",
            "SECRET_KEY": "k" * 32,
            "PUBLIC_URL": "https://peerloop.example",
            "DATABASE_URL": "postgres://x/y",
            "REDIS_URL": "redis://r",
            "STRIPE_SECRET_KEY": "sk_test_x",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_y",
        }
    )
    assert config["SESSION_COOKIE_SECURE"] and config["SESSION_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["REMEMBER_COOKIE_SECURE"]
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/courses?level=beginner", "/courses?level=beginner"),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("courses", None),
        ("", None),
    ],
)
def test_next_only_points_inside_the_site(target, expected):
    assert safe_next(target) == expected


def test_login_ignores_an_outside_next(auth, make):
    user = make.user()
    response = auth.login(user.email, next="https://evil.example/")
    assert response.headers["Location"] == "/dashboard"  # their dashboard, never the outside address


def test_api_logout_revokes_the_token(client, make, api_token):
    user = make.user()
    headers = api_token(user)
    assert client.get("/api/me", headers=headers).status_code == 200
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    response = client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_api_token_expires(client, make, api_token, app):
    from datetime import timedelta

    import sqlalchemy as sa

    from peerloop.accounts.models import ApiToken
    from peerloop.db import utcnow
    from peerloop.extensions import db

    user = make.user()
    headers = api_token(user)
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert len(token.token_hash) == 64  # only the hash is stored
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/me", headers=headers).status_code == 401


def test_deleted_users_cannot_log_in(client, make, now):
    from peerloop.accounts import services

    user = make.user()
    services.delete_account(user, password=PASSWORD, now=now)
    response = client.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD})
    assert response.status_code == 401
