"""Malformed input is a 400 (or 413) in the API's error shape, never a 500 (issue 5, item 4)."""

from __future__ import annotations

import pytest

AUTH_PATHS = [
    "/api/auth/login",
    "/api/auth/signup",
    "/api/auth/password-reset",
    "/api/auth/password-reset/confirm",
]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_api_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.content_type.startswith("application/json")
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    return error


@pytest.mark.parametrize("depth", [900, 100_000])
@pytest.mark.parametrize("path", AUTH_PATHS)
def test_deeply_nested_json_is_a_400(client, path, depth):
    body = '{"email": ' + nested(depth) + "}"
    assert_api_error(client.post(path, data=body, content_type="application/json"), 400)


@pytest.mark.parametrize("depth", [900, 100_000])
def test_deeply_nested_json_to_mark_read_is_a_400(client, make, api_token, depth):
    headers = api_token(make.user())
    body = '{"ids": ' + nested(depth) + "}"
    response = client.post("/api/notifications/read", data=body, content_type="application/json", headers=headers)
    assert_api_error(response, 400)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", '{"email": "\\ud800@example.com", "password": "x"}'),
        ("/api/auth/login", '{"email": "a@example.com", "password": "\\udc00"}'),
        ("/api/auth/password-reset", '{"email": "\\ud800@example.com"}'),
        (
            "/api/auth/signup",
            '{"email": "s@example.com", "password": "a long pass phrase", "name": "\\ud800x",'
            ' "handle": "surrogate", "accept_terms": true}',
        ),
        ("/api/auth/password-reset/confirm", '{"token": "\\udfff", "password": "a long pass phrase"}'),
    ],
)
def test_lone_surrogates_are_a_400(client, path, body):
    error = assert_api_error(client.post(path, data=body, content_type="application/json"), 400)
    assert "Unicode" in error["message"]


def test_reasonable_nesting_is_still_accepted(client):
    response = client.post("/api/auth/login", json={"email": "a@example.com", "password": "x", "extra": [[[1]]]})
    assert response.status_code == 401


def test_an_oversized_body_is_a_413_in_json(client):
    body = '{"email": "' + "a" * (2 * 1024 * 1024) + '"}'
    error = assert_api_error(client.post("/api/auth/login", data=body, content_type="application/json"), 413)
    assert error["code"] == "too_large"


def test_an_oversized_form_is_a_413_page(client):
    response = client.post("/login", data={"email": "a" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.content_type.startswith("text/html")
