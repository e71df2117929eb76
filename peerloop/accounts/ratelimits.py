"""Rate-limit keys and limits for the account endpoints (shared by pages and API)."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address

from peerloop.extensions import limiter


def _posted_email() -> str:
    email = request.form.get("email")
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return str(email or "").strip().lower()


def email_key() -> str:
    """The email tried; forms without one fall back to the client address."""
    email = _posted_email()
    return "email:" + email if email else get_remote_address()


def _failed(response) -> bool:
    return response.status_code in (400, 401)


def login_limits(view):
    """Per client address, and per email tried counting failures only: neither
    spraying nor guessing works, and a person's own successful logins never count."""
    view = limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=get_remote_address, methods=["POST"])(
        view
    )
    return limiter.limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=email_key, methods=["POST"], deduct_when=_failed
    )(view)


def signup_limits(view):
    return limiter.limit(
        lambda: current_app.config["SIGNUP_RATE_LIMIT"], key_func=get_remote_address, methods=["POST"]
    )(view)


def reset_limits(view):
    view = limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], key_func=get_remote_address, methods=["POST"])(
        view
    )
    return limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], key_func=email_key, methods=["POST"])(view)
