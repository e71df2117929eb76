"""Email verification, password reset, change of password and email, profile, deletion."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from peerloop.accounts import services
from peerloop.accounts.models import AccountToken, ApiToken, User, UserInterest
from peerloop.db import utcnow
from peerloop.enrollment.models import Enrollment
from peerloop.errors import ValidationError
from peerloop.extensions import db
from peerloop.notifications.models import OutboundEmail
from tests.conftest import csrf_from, run_jobs
from tests.factories import PASSWORD

LINK_RE = re.compile(r"http://peerloop\.test(/\S+)")


def last_link_to(address: str) -> str:
    """The newest link emailed to ``address``, once the queued jobs have run (as a worker would)."""
    run_jobs(current_app)
    email = db.session.scalars(
        sa.select(OutboundEmail).where(OutboundEmail.to_address == address).order_by(OutboundEmail.created_at.desc())
    ).first()
    assert email is not None, f"no email to {address}"
    return LINK_RE.search(email.text_body).group(1)


def token_from(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


# --- verification -----------------------------------------------------------


def test_verification_link_confirms_the_address_once(client, make):
    client.post(
        "/api/auth/signup",
        json={
            "email": "v@example.com",
            "password": "a long pass phrase",
            "name": "V",
            "handle": "vee",
            "accept_terms": True,
        },
    )
    link = last_link_to("v@example.com")
    assert client.get(link).status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "v@example.com"))
    assert user.email_verified
    again = client.get(link)
    assert again.status_code == 400
    assert "didn" in again.get_data(as_text=True)


def test_resend_verification_sends_a_new_link(client, make, login_as):
    user = login_as(make.user(email_verified=False))
    page = client.get("/settings").get_data(as_text=True)
    response = client.post("/verify-email/resend", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert last_link_to(user.email).startswith("/verify-email/")


def test_verification_link_expires(client, make):
    user = make.user(email_verified=False)
    services.resend_verification(user, now=utcnow() - timedelta(hours=48, seconds=1))
    link = last_link_to(user.email)
    assert client.get(link).status_code == 400
    db.session.refresh(user)
    assert not user.email_verified


# --- password reset -----------------------------------------------------------


def test_reset_link_works_once_and_ends_other_sessions_and_tokens(client, make, api_token, app):
    user = make.user()
    headers = api_token(user)
    other_browser = app.test_client()
    other_browser.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": csrf_from(other_browser.get("/login").get_data(as_text=True)),
        },
    )
    assert other_browser.get("/settings").status_code == 200

    assert client.post("/api/auth/password-reset", json={"email": user.email.upper()}).status_code == 202
    token = token_from(last_link_to(user.email))
    new_password = "a brand new passphrase"
    assert (
        client.post("/api/auth/password-reset/confirm", json={"token": token, "password": new_password}).status_code
        == 204
    )

    reused = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "another passphrase"})
    assert reused.status_code == 400
    assert reused.get_json()["error"]["code"] == "invalid_token"
    assert client.post("/api/auth/login", json={"email": user.email, "password": new_password}).status_code == 200
    assert client.get("/api/me", headers=headers).status_code == 401  # API token revoked
    assert other_browser.get("/settings").status_code == 302  # other session ended


def test_reset_link_expires(client, make):
    user = make.user()
    services.request_password_reset(user.email, now=utcnow() - timedelta(minutes=60, seconds=1))
    token = token_from(last_link_to(user.email))
    response = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "new pass phrase"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_reset_with_weak_password_keeps_the_token_usable(client, make):
    user = make.user()
    client.post("/api/auth/password-reset", json={"email": user.email})
    token = token_from(last_link_to(user.email))
    weak = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "short"})
    assert weak.status_code == 400
    assert "password" in weak.get_json()["error"]["fields"]
    ok = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "long enough phrase"})
    assert ok.status_code == 204


def test_reset_for_unknown_email_answers_the_same_and_sends_nothing(client):
    response = client.post("/api/auth/password-reset", json={"email": "ghost@example.com"})
    assert response.status_code == 202
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboundEmail)) == 0


def test_reset_token_is_stored_hashed(client, make):
    user = make.user()
    client.post("/api/auth/password-reset", json={"email": user.email})
    token = token_from(last_link_to(user.email))
    stored = db.session.scalar(sa.select(AccountToken.token_hash))
    assert token not in stored and len(stored) == 64


def test_reset_through_the_pages(client, make):
    user = make.user()
    page = client.get("/forgot-password").get_data(as_text=True)
    response = client.post("/forgot-password", data={"email": user.email, "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    link = last_link_to(user.email)
    form = client.get(link).get_data(as_text=True)
    response = client.post(link, data={"password": "fresh pass phrase", "csrf_token": csrf_from(form)})
    assert response.headers["Location"] == "/login"
    again = client.post(link, data={"password": "other pass phrase", "csrf_token": csrf_from(form)})
    assert again.headers["Location"] == "/forgot-password"


# --- settings -------------------------------------------------------------------


def post_settings(client, path, prefix, **fields):
    page = client.get("/settings").get_data(as_text=True)
    data = {f"{prefix}-{k}" if prefix else k: v for k, v in fields.items()}
    data[f"{prefix}-csrf_token" if prefix else "csrf_token"] = csrf_from(page)
    return client.post(path, data=data)


def test_change_password_keeps_this_browser_and_logs_out_others(client, make, login_as, api_token, app):
    user = make.user()
    headers = api_token(user)
    login_as(user)
    response = post_settings(
        client, "/settings/password", "pw", current_password=PASSWORD, new_password="my new pass phrase"
    )
    assert response.status_code == 302
    assert client.get("/settings").status_code == 200  # still logged in here
    assert client.get("/api/me", headers=headers).status_code == 401


def test_change_password_with_wrong_current_password_is_a_form_error(client, make, login_as):
    login_as(make.user())
    response = post_settings(
        client, "/settings/password", "pw", current_password="wrong one here", new_password="my new pass phrase"
    )
    assert response.status_code == 400
    assert "not your current password" in response.get_data(as_text=True)


def test_change_email_switches_only_when_the_new_address_confirms(client, make, login_as):
    user = login_as(make.user(email="old@example.com"))
    response = post_settings(client, "/settings/email", "em", new_email="New@Example.com", password=PASSWORD)
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.email == "old@example.com"
    client.get(last_link_to("new@example.com"))
    db.session.refresh(user)
    assert user.email == "new@example.com" and user.email_verified


def test_change_email_to_a_taken_address_is_refused(client, make, login_as):
    make.user(email="taken@example.com")
    login_as(make.user())
    response = post_settings(client, "/settings/email", "em", new_email="taken@example.com", password=PASSWORD)
    assert response.status_code == 400
    assert "another account" in response.get_data(as_text=True)


def test_profile_settings_save_and_validate(client, make, login_as):
    user = login_as(make.user())
    response = post_settings(
        client,
        "/settings",
        None,
        name="Ada",
        title="Engineer",
        bio_short="Hi",
        bio="Long bio",
        avatar_url="",
        website="https://ada.example",
        timezone="Europe/London",
        interests="AI, Rust, ai",
        privacy_public="y",
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.timezone == "Europe/London" and user.privacy_public
    assert sorted(i.tag for i in user.interests) == ["ai", "rust"]

    bad = post_settings(
        client, "/settings", None, name="Ada", website="not a url", timezone="Mars/Olympus", bio_short="x" * 161
    )
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "160 characters" in html and "Not a valid choice" in html
    db.session.refresh(user)
    assert user.timezone == "Europe/London"


def test_update_profile_rejects_unknown_timezone(make, now):
    user = make.user()
    with pytest.raises(ValidationError) as error:
        services.update_profile(user, {"timezone": "Mars/Olympus"}, now=now)
    assert "timezone" in error.value.fields


def test_delete_account_anonymises_and_keeps_money_records(client, make, login_as):
    user = login_as(make.user(bio="secret bio", website="https://me.example"))
    user.interests = [UserInterest(tag="ai")]
    db.session.commit()
    course = make.course()
    enrollment = make.enrollment(user, course)
    response = post_settings(client, "/settings/delete", "del", password=PASSWORD, confirm="y")
    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(User, user.id)
    assert row.deleted_at is not None
    assert row.name == "Deleted user" and row.bio is None and row.website is None
    assert row.email.endswith("@deleted.invalid")
    assert row.interests == []
    assert db.session.get(Enrollment, enrollment.id) is not None
    assert client.get("/settings").status_code == 302
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
        == 0
    )


def test_delete_account_needs_the_password(client, make, login_as):
    user = login_as(make.user())
    response = post_settings(client, "/settings/delete", "del", password="wrong pass", confirm="y")
    assert response.status_code == 400
    db.session.refresh(user)
    assert user.deleted_at is None


def test_forms_without_csrf_token_are_rejected(client, make, login_as):
    user = login_as(make.user())
    response = client.post("/settings", data={"name": "Hacked"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.name != "Hacked"
    assert client.post("/signup", data={"email": "x@example.com"}).status_code == 400


def test_cookie_authenticated_api_writes_need_the_csrf_header(client, make, login_as):
    login_as(make.user())
    refused = client.post("/api/notifications/read", json={})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    assert client.post("/api/notifications/read", json={}, headers={"X-CSRFToken": token}).status_code == 200


def test_opening_a_used_reset_link_goes_to_the_forgot_page(client, make):
    user = make.user()
    client.post("/api/auth/password-reset", json={"email": user.email})
    link = last_link_to(user.email)
    assert client.get(link).status_code == 200
    client.post("/api/auth/password-reset/confirm", json={"token": token_from(link), "password": "new pass phrase"})
    response = client.get(link)
    assert response.headers["Location"] == "/forgot-password"
    assert client.get("/reset-password/not-a-token").headers["Location"] == "/forgot-password"
