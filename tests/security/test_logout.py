"""Logout ends the login server-side: a replayed cookie is worthless (issue 5, item 3)."""

from __future__ import annotations

import sqlalchemy as sa

from peerloop.accounts.models import LoginSession
from peerloop.extensions import db
from tests.conftest import csrf_from
from tests.factories import PASSWORD


def cookies_of(client) -> dict[str, str]:
    return {name: client.get_cookie(name).value for name in ("session", "remember_token") if client.get_cookie(name)}


def replay(app, cookies: dict[str, str]):
    """A fresh browser holding copies of the saved cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def log_in(client, email: str, *, remember: bool = False):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302
    return token


def test_a_saved_session_cookie_stops_working_after_logout(app, client, make):
    user = make.user()
    log_in(client, user.email)
    saved = cookies_of(client)
    assert replay(app, saved).get("/api/me").status_code == 200  # the copy works while logged in

    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})

    thief = replay(app, saved)
    assert thief.get("/settings").status_code == 302  # to the login page
    assert thief.get("/api/me").status_code == 401


def test_a_saved_remember_me_cookie_stops_working_after_logout(app, client, make):
    user = make.user()
    log_in(client, user.email, remember=True)
    saved = cookies_of(client)
    assert "remember_token" in saved
    remember_only = {"remember_token": saved["remember_token"]}
    assert replay(app, remember_only).get("/settings").status_code == 200  # it logs a fresh browser in

    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})

    assert replay(app, remember_only).get("/settings").status_code == 302
    assert replay(app, remember_only).get("/api/me").status_code == 401


def test_api_logout_by_cookie_ends_the_login_too(app, client, make):
    user = make.user()
    log_in(client, user.email)
    saved = cookies_of(client)
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    assert client.post("/api/auth/logout", headers={"X-CSRFToken": token}).status_code == 204
    assert replay(app, saved).get("/api/me").status_code == 401


def test_a_password_change_ends_every_other_login(app, client, make):
    user = make.user()
    log_in(client, user.email)
    other_device = app.test_client()
    log_in(other_device, user.email)
    page = client.get("/settings").get_data(as_text=True)
    response = client.post(
        "/settings/password",
        data={
            "pw-current_password": PASSWORD,
            "pw-new_password": "an entirely new phrase",
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 302
    assert client.get("/settings").status_code == 200  # this browser stays logged in
    assert other_device.get("/settings").status_code == 302
    live = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    )
    assert live == 1


def test_the_csrf_token_changes_at_login(client, make):
    user = make.user()
    before = log_in(client, user.email)
    after = csrf_from(client.get("/settings").get_data(as_text=True))
    assert after != before
    # The token an anonymous page handed out does not work for the logged-in session.
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400  # the form expired
    assert client.get("/settings").status_code == 200, "the stale token must not have logged us out"
