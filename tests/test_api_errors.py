"""Every /api error is JSON in one shape, with the right status; never an HTML page, never a 500."""

from __future__ import annotations

import pytest


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status
    assert response.is_json, response.get_data(as_text=True)[:200]
    error = response.get_json()["error"]
    assert set(error) <= {"code", "message", "fields"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/does-not-exist", 404, "not_found"),
        ("get", "/api", 404, "not_found"),
        ("delete", "/api/courses", 405, "method_not_allowed"),
        ("get", "/api/me", 401, "unauthorized"),
        ("post", "/api/auth/logout", 401, "unauthorized"),
        ("get", "/api/notifications", 401, "unauthorized"),
        ("get", "/api/users/nobody", 404, "not_found"),
        ("get", "/api/courses/not-a-course", 404, "not_found"),
    ],
)
def test_error_statuses_and_codes(client, method, path, status, code):
    assert_error(getattr(client, method)(path), status, code)


def test_bad_bearer_token_is_401_even_on_public_endpoints(client):
    assert_error(client.get("/api/courses", headers={"Authorization": "Bearer nope"}), 401, "invalid_token")


@pytest.mark.parametrize(
    "path", ["/api/auth/login", "/api/auth/signup", "/api/auth/password-reset", "/api/auth/password-reset/confirm"]
)
def test_non_json_bodies_are_400(client, path):
    error = assert_error(client.post(path, data="email=x", content_type="application/x-www-form-urlencoded"), 400)
    assert error["code"] == "invalid_json"


def test_password_reset_needs_an_email(client):
    error = assert_error(client.post("/api/auth/password-reset", json={}), 400)
    assert "email" in error["fields"]


def test_html_pages_get_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert "We couldn" in response.get_data(as_text=True)
