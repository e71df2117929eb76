"""Signup through the form and the API: validation, duplicates, terms, no half-written rows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.extensions import db
from peerloop.notifications.models import OutboundEmail
from tests.conftest import csrf_from

GOOD = {
    "name": "Ada Lovelace",
    "email": "Ada@Example.com ",
    "handle": "@Ada_L",
    "password": "analytical engine 1843",
    "accept_terms": True,
}


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def signup_form(client, **overrides):
    token = csrf_from(client.get("/signup").get_data(as_text=True))
    data = {**GOOD, **overrides, "csrf_token": token}
    if data.get("accept_terms") is True:
        data["accept_terms"] = "y"
    elif data.get("accept_terms") in (False, None):
        data.pop("accept_terms", None)
    return client.post("/signup", data=data)


def test_signup_form_creates_a_normalised_account_logs_in_and_emails_a_link(client):
    response = signup_form(client)
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "ada@example.com"))
    assert user.handle == "ada_l"
    assert user.name == "Ada Lovelace"
    assert user.privacy_public is False  # private by default (schema v3)
    assert user.email_verified is False
    assert user.password_hash.startswith("$argon2id$")
    email = db.session.scalar(sa.select(OutboundEmail).where(OutboundEmail.to_address == "ada@example.com"))
    assert "verify-email/" in email.text_body
    assert client.get("/api/me").get_json()["handle"] == "ada_l"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"email": "a" * 250 + "@x.io"}, "email", "too long"),
        ({"handle": "has space"}, "handle", "spaces"),
        ({"handle": "admin"}, "handle", "reserved"),
        ({"handle": "ab"}, "handle", "3-30"),
        ({"handle": "x" * 31}, "handle", "3-30"),
        ({"password": "short"}, "password", "at least 10"),
        ({"password": "password123"}, "password", "too easy"),
        ({"password": "ada_l is my password"}, "password", "handle"),
        ({"name": "n" * 101}, "name", "at most 100"),
        ({"accept_terms": False}, "accept_terms", "Accept the terms"),
    ],
)
def test_api_signup_rejects_bad_input_with_field_messages(client, overrides, field, message):
    response = client.post("/api/auth/signup", json={**GOOD, **overrides})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert message in error["fields"][field]
    assert user_count() == 0


def test_form_signup_shows_errors_next_to_fields_and_keeps_nothing(client):
    response = signup_form(client, handle="has space", password="short")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Handles can&#39;t contain spaces." in html
    assert "Use at least 10 characters." in html
    assert 'value="Ada Lovelace"' in html  # what was typed is kept
    assert user_count() == 0


def test_duplicate_email_and_handle_are_conflicts(client, make):
    make.user(email="ada@example.com", handle="someone")
    response = client.post("/api/auth/signup", json=GOOD)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "email_taken"

    make.user(email="other@example.com", handle="ada_l")
    response = client.post("/api/auth/signup", json={**GOOD, "email": "new@example.com"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "handle_taken"


def test_duplicate_email_in_form_is_a_field_error(client, make):
    make.user(email="ada@example.com")
    response = signup_form(client)
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_api_signup_returns_a_token_that_works(client):
    response = client.post("/api/auth/signup", json=GOOD)
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"]["roles"] == ["student"]
    me = client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.get_json()["email"] == "ada@example.com"


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", '{"email": 5, "password": [], "name": {}, "handle": 1}'])
def test_api_signup_rejects_malformed_bodies(client, payload):
    response = client.post("/api/auth/signup", data=payload, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert user_count() == 0


def test_terms_and_refund_pages_exist(client):
    assert "Terms of service" in client.get("/terms").get_data(as_text=True)
    assert "Refund policy" in client.get("/refund-policy").get_data(as_text=True)


def test_signup_rings_the_bell_with_a_welcome(client):
    from peerloop.notifications.models import Notification

    client.post("/api/auth/signup", json=GOOD)
    note = db.session.scalar(sa.select(Notification))
    assert note.type == "account.welcome" and note.action_url == "/courses"
