"""Absolute links come from PUBLIC_URL, never from the request's Host (issue 5, item 1)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from peerloop import create_app
from peerloop.catalog import management
from peerloop.extensions import db
from peerloop.notifications.models import OutboundEmail
from peerloop.urls import absolute, external_url, site_path
from tests.conftest import run_jobs

LINK = re.compile(r"https?://[^\s/]+/[^\s<>\"]*")


def links_to(address: str) -> list[str]:
    from flask import current_app

    run_jobs(current_app)
    bodies = db.session.scalars(sa.select(OutboundEmail.text_body).where(OutboundEmail.to_address == address))
    return [link for body in bodies for link in LINK.findall(body)]


@pytest.mark.parametrize("headers", [{"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example"}])
def test_a_reset_link_ignores_the_host_the_caller_sends(client, make, headers):
    victim = make.user()
    response = client.post("/api/auth/password-reset", json={"email": victim.email}, headers=headers)
    assert response.status_code == 202
    links = links_to(victim.email)
    assert links and all(link.startswith("http://peerloop.test/reset-password/") for link in links), links


def test_a_signup_verification_link_ignores_the_host(client):
    response = client.post(
        "/api/auth/signup",
        json={
            "email": "newbie@example.com",
            "password": "a long pass phrase",
            "name": "Newbie",
            "handle": "newbie",
            "accept_terms": True,
        },
        headers={"Host": "evil.example"},
    )
    assert response.status_code == 201
    links = links_to("newbie@example.com")
    assert links and all(link.startswith("http://peerloop.test/verify-email/") for link in links), links


def test_behind_a_trusted_proxy_x_forwarded_host_still_does_not_choose_the_link(tmp_path):
    """Production trusts one router hop (ProxyFix): the forwarded host must not reach the email either."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x" * 32,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.db'}",
            "PUBLIC_URL": "https://peerloop.example",
            "TRUSTED_PROXY_HOPS": 1,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "RATELIMIT_ENABLED": False,
            "REDIS_URL": None,
        }
    )
    with app.app_context():
        db.create_all()
        from tests import factories

        email = factories.user().email
        db.session.commit()  # end the read: this test's session must not hold SQLite's write lock
        client = app.test_client()
        response = client.post(
            "/api/auth/password-reset",
            json={"email": email},
            headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http", "X-Forwarded-For": "1.2.3.4"},
            buffered=True,
        )
        assert response.status_code == 202
        body = db.session.scalar(sa.select(OutboundEmail.text_body).where(OutboundEmail.to_address == email))
        assert "https://peerloop.example/reset-password/" in body and "evil.example" not in body
        db.session.remove()
        db.engine.dispose()


def test_links_are_built_without_a_request(app):
    """The RQ worker and the sweep have an app context and no request."""
    with app.app_context():
        assert external_url("accounts.reset_password", token="abc") == "http://peerloop.test/reset-password/abc"
        assert site_path("catalog.course", slug="x") == "/courses/x"
        assert absolute("/courses/x?tab=1") == "http://peerloop.test/courses/x?tab=1"
        with pytest.raises(ValueError):
            absolute("https://evil.example/")
        with pytest.raises(ValueError):
            absolute("//evil.example/")


def test_an_email_rendered_in_a_job_carries_an_absolute_public_url_link(make, now):
    """Publishing from a console action (or a job) emails the creator a link a mail client can open."""
    creator = make.creator()
    course = make.course(creator=creator, is_active=False)
    assert management.set_courses_active([course.id], True, now=now) == 1
    links = links_to(creator.email)
    assert f"http://peerloop.test/courses/{course.slug}" in links, links
    body = db.session.scalar(sa.select(OutboundEmail.text_body).where(OutboundEmail.to_address == creator.email))
    assert f"Open it here: /courses/{course.slug}" not in body
