"""Links that must die, privacy on course pages, deletion, tokens outside /api, resaving settings, NUL bytes."""

from __future__ import annotations

import sqlalchemy as sa

from peerloop.accounts import services
from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.db import utcnow
from peerloop.extensions import db
from peerloop.notifications.models import OutboundEmail
from tests.accounts.test_tokens_and_settings import last_link_to, post_settings, token_from
from tests.factories import PASSWORD


def test_an_old_signup_link_cannot_switch_the_email_back(client):
    client.post(
        "/api/auth/signup",
        json={
            "email": "old@example.com",
            "password": "a long pass phrase",
            "name": "O",
            "handle": "oldie",
            "accept_terms": True,
        },
    )
    signup_link = last_link_to("old@example.com")
    user = db.session.scalar(sa.select(User).where(User.email == "old@example.com"))
    services.request_email_change(user, password="a long pass phrase", new_email="new@example.com", now=utcnow())
    assert client.get(last_link_to("new@example.com")).status_code == 302
    assert client.get(signup_link).status_code == 400
    db.session.refresh(user)
    assert user.email == "new@example.com"


def test_only_the_latest_email_change_link_works(client, make):
    user = make.user()
    services.request_email_change(user, password=PASSWORD, new_email="typo@exmaple.com", now=utcnow())
    typo_link = last_link_to("typo@exmaple.com")
    services.request_email_change(user, password=PASSWORD, new_email="right@example.com", now=utcnow())
    assert client.get(typo_link).status_code == 400
    assert client.get(last_link_to("right@example.com")).status_code == 302
    db.session.refresh(user)
    assert user.email == "right@example.com"


def test_using_one_reset_link_ends_the_others(client, make):
    user = make.user()
    client.post("/api/auth/password-reset", json={"email": user.email})
    first = token_from(last_link_to(user.email))
    client.post("/api/auth/password-reset", json={"email": user.email})
    second = token_from(last_link_to(user.email))
    assert first != second
    ok = client.post("/api/auth/password-reset/confirm", json={"token": second, "password": "winner pass phrase"})
    assert ok.status_code == 204
    late = client.post("/api/auth/password-reset/confirm", json={"token": first, "password": "loser pass phrase"})
    assert late.status_code == 400


def test_changing_the_password_ends_open_reset_links(client, make):
    user = make.user()
    client.post("/api/auth/password-reset", json={"email": user.email})
    token = token_from(last_link_to(user.email))
    services.change_password(user, current_password=PASSWORD, new_password="changed pass phrase", now=utcnow())
    response = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "sneaky pass phrase"})
    assert response.status_code == 400


def test_same_mailbox_in_another_unicode_form_is_the_same_account(client):
    body = {"password": "a long pass phrase", "name": "Z", "accept_terms": True}
    assert (
        client.post("/api/auth/signup", json={**body, "email": "zoe\u0301@example.com", "handle": "zoe1"}).status_code
        == 201
    )
    again = client.post("/api/auth/signup", json={**body, "email": "ZO\u00c9@example.com", "handle": "zoe2"})
    assert again.status_code == 409


def test_private_creator_shows_only_name_handle_avatar_on_course_pages(client, make):
    creator = make.creator(name="Quiet Quinn", title="Secret Title", bio_short="Secret bio", privacy_public=False)
    course = make.course(creator=creator)
    html = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    assert "Quiet Quinn" in html and "Secret Title" not in html and "Secret bio" not in html
    creator_json = client.get(f"/api/courses/{course.slug}").get_json()["creator"]
    assert set(creator_json) == {"id", "name", "handle", "avatar_url"}


def test_deleting_a_creator_retires_their_courses_and_scrubs_emails(client, make):
    creator = make.creator()
    course = make.course(creator=creator)
    services.request_password_reset(creator.email, now=utcnow())
    services.delete_account(creator, password=PASSWORD, now=utcnow())
    db.session.expire_all()
    assert db.session.get(Course, course.id).is_listed is False
    assert client.get(f"/courses/{course.slug}").status_code == 404
    row = db.session.get(User, creator.id)
    assert not (row.is_creator or row.is_admin or row.is_moderator) and row.last_login_at is None
    for email in db.session.scalars(sa.select(OutboundEmail).where(OutboundEmail.user_id == creator.id)):
        assert email.to_address == row.email and email.text_body == "[deleted]"


def test_an_api_token_does_not_open_pages_or_consoles(client, make, api_token):
    admin = make.admin()
    headers = api_token(admin)
    assert client.get("/api/me", headers=headers).status_code == 200
    assert client.get("/settings", headers=headers).status_code == 302
    assert client.get("/admin/", headers=headers).status_code == 302


def test_saving_settings_twice_with_the_same_interests_works(client, make, login_as):
    user = login_as(make.user())
    for _ in range(2):
        response = post_settings(client, "/settings", None, name="Ada", timezone="UTC", interests="ai, rust")
        assert response.status_code == 302
    db.session.refresh(user)
    assert sorted(i.tag for i in user.interests) == ["ai", "rust"]


def test_nul_bytes_are_bad_input_everywhere(client, make):
    for path in ["/courses?q=%00", "/courses/%00", "/@%00", "/api/users/%00", "/api/courses?q=a%00b"]:
        assert client.get(path).status_code == 400, path
    response = client.post("/api/auth/login", json={"email": "a\u0000@x.com", "password": "x"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_input"


def test_huge_page_numbers_do_not_break_lists(client, make, login_as):
    login_as(make.admin())
    assert client.get("/notifications?page=99999999999999999999").status_code == 200
    assert client.get("/admin/console_users/?page=99999999999999999999").status_code == 200
