"""Security headers: a CSP that refuses framing, nosniff, a referrer policy, HSTS only in production."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from peerloop import security


def _directives(header: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2] for part in header.split(";") if part.strip()}


def _assert_common(response) -> dict[str, str]:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in headers  # the test app is not production
    csp = _directives(headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == "'none'"
    return csp


def test_site_pages_allow_only_our_own_scripts(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = _assert_common(response)
    assert csp["script-src"] == "'self'"
    assert "'unsafe-inline'" in csp["style-src"]  # style= attributes (course thumbnails)
    assert csp["object-src"] == "'none'"


def test_settings_with_its_delete_form_cannot_be_framed(client, make, login_as):
    login_as(make.user())
    response = client.get("/settings")
    assert response.status_code == 200
    _assert_common(response)


def test_no_site_template_carries_an_inline_script(client):
    body = client.get("/signup").get_data(as_text=True)
    assert "<script>" not in body and "javascript:" not in body
    assert re.search(r'<script src="/static/js/signup\.js\?v=[0-9a-f]{10}" defer></script>', body)


def test_error_pages_and_redirects_carry_the_headers(client):
    for response in (client.get("/no-such-page"), client.get("/settings")):
        assert response.status_code in (404, 302)
        assert _assert_common(response)["script-src"] == "'self'"
    assert "javascript:" not in client.get("/no-such-page").get_data(as_text=True)


def test_api_answers_forbid_loading_anything(client):
    for response in (client.get("/api/courses"), client.get("/api/me")):
        assert response.status_code in (200, 401)
        csp = _assert_common(response)
        assert csp["default-src"] == "'none'"


def test_the_consoles_keep_their_inline_scripts_but_refuse_framing(client, make, login_as):
    login_as(make.user(is_admin=True))
    for path in ("/admin/", "/admin/console_users/"):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = _assert_common(response)
        assert csp["script-src"] == "'self' 'unsafe-inline'"
        assert csp["object-src"] == "'none'"


def test_the_studio_gets_the_console_policy(client, make, login_as):
    login_as(make.user(is_creator=True))
    response = client.get("/studio/")
    assert response.status_code == 200
    assert _assert_common(response)["script-src"] == "'self' 'unsafe-inline'"


def test_a_console_prefix_does_not_loosen_a_lookalike_path():
    assert security.policy_for("/administrators", "text/html") == security.SITE_POLICY
    assert security.policy_for("/admin", "text/html") == security.CONSOLE_POLICY
    assert security.policy_for("/studio/courses/", "text/html") == security.CONSOLE_POLICY


@pytest.mark.parametrize(("env", "hsts"), [("production", True), ("development", False), ("test", False)])
def test_hsts_only_in_production(env, hsts):
    app = Flask(__name__)
    app.config["PEERLOOP_ENV"] = env
    security.init_app(app)
    app.add_url_rule("/", "home", lambda: "<p>hi</p>")
    response = app.test_client().get("/")
    if hsts:
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in response.headers
    assert _directives(response.headers["Content-Security-Policy"])["frame-ancestors"] == "'none'"


def test_a_production_app_sends_hsts(app, tmp_path):
    """The real factory in production mode (its checks satisfied) sends HSTS on a page."""
    from peerloop import create_app
    from peerloop.extensions import db, limiter

    enabled = limiter.enabled
    production = create_app(
        {
            "TESTING": True,
            "PEERLOOP_ENV": "production",
            "SECRET_KEY": "p" * 40,
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}",
        }
    )
    limiter.enabled = enabled
    try:
        response = production.test_client().get("/terms")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        with production.app_context():
            db.engine.dispose()
