"""Rate limits for the account endpoints: one counter per purpose, shared by the pages and the API.

Every limit is a ``shared_limit`` with a named scope, so ``/login`` and
``/api/auth/login`` (or ``/signup`` and ``/api/auth/signup``) count in the
same bucket. What each counts:

- login: every attempt per client address (``LOGIN_RATE_LIMIT``), and failed
  attempts per email *and* client address (``LOGIN_EMAIL_RATE_LIMIT``). The
  failure counter is not global per email on purpose: a global one lets anyone
  lock anyone out by failing on their email, and then a correct password is
  refused too. Keyed by email + address, someone else's failures never stop the
  owner logging in from their own address. The cost is that guessing one
  account from many addresses is bounded per address (and by the argon2 cost)
  rather than globally.
- signup: accounts created per address (``SIGNUP_RATE_LIMIT``), so typos and
  refusals do not use it up, and a looser cap on every attempt per address
  (``SIGNUP_ATTEMPT_RATE_LIMIT``), so signup's "already registered" answer
  cannot enumerate emails without limit.
- password reset and the other email-sending endpoints: per client address, and
  per email where the request names one (``RESET_RATE_LIMIT`` each). Endpoints
  with no email field count once per request, by address.

Counters that count only some outcomes (``deduct_when``) are tested before the
view and deducted after it, so requests in flight at the same moment from one
address can pass the edge together; the all-attempt counters are atomic.
Counts are exact across processes only with one shared store: Redis in
production, and one gunicorn process in the embedded default
(``scripts/gunicorn_dev.py``).
"""

from __future__ import annotations

import math
import time

from flask import current_app, request
from flask_limiter.util import get_remote_address

from peerloop.extensions import limiter


def _posted_email() -> str:
    email = request.form.get("email")
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return str(email or "").strip().lower() if isinstance(email, str) else ""


def email_key() -> str:
    """The email tried (callers exempt the limit when there is none)."""
    return "email:" + _posted_email()


def email_and_address_key() -> str:
    return f"email:{_posted_email()}|addr:{get_remote_address()}"


def _no_email() -> bool:
    return not _posted_email()


def _failed(response) -> bool:
    return response.status_code in (400, 401)


def _created(response) -> bool:
    # The API answers 201 with a token; the page redirects (302) once logged in.
    return response.status_code in (201, 302)


def _config(name: str):
    return lambda: current_app.config[name]


def login_limits(view):
    """All attempts per address; failures per email + address. Shared by /login and /api/auth/login."""
    view = limiter.shared_limit(
        _config("LOGIN_EMAIL_RATE_LIMIT"),
        scope="login-failures",
        key_func=email_and_address_key,
        methods=["POST"],
        deduct_when=_failed,
        exempt_when=_no_email,
    )(view)
    return limiter.shared_limit(
        _config("LOGIN_RATE_LIMIT"), scope="login-attempts", key_func=get_remote_address, methods=["POST"]
    )(view)


def signup_limits(view):
    """Accounts created per address, and a looser cap on every attempt. Shared by /signup and the API."""
    view = limiter.shared_limit(
        _config("SIGNUP_RATE_LIMIT"),
        scope="signup-created",
        key_func=get_remote_address,
        methods=["POST"],
        deduct_when=_created,
    )(view)
    return limiter.shared_limit(
        _config("SIGNUP_ATTEMPT_RATE_LIMIT"), scope="signup-attempts", key_func=get_remote_address, methods=["POST"]
    )(view)


def reset_limits(scope: str, *, per_email: bool = True):
    """``RESET_RATE_LIMIT`` per address for ``scope`` (one bucket for its page and API endpoint), and
    per email tried when ``per_email`` and the request names one. Each request counts once per counter."""

    def decorate(view):
        if per_email:
            view = limiter.shared_limit(
                _config("RESET_RATE_LIMIT"),
                scope=f"{scope}-email",
                key_func=email_key,
                methods=["POST"],
                exempt_when=_no_email,
            )(view)
        return limiter.shared_limit(
            _config("RESET_RATE_LIMIT"), scope=f"{scope}-address", key_func=get_remote_address, methods=["POST"]
        )(view)

    return decorate


def retry_after_seconds(error=None) -> int:
    """Seconds until the limit this request tripped lets a request through again (at least 1)."""
    current = limiter.current_limit
    if current is not None and current.breached:
        return max(1, math.ceil(current.reset_at - time.time()))
    limit = getattr(error, "limit", None)
    if limit is not None:
        return max(1, int(limit.limit.get_expiry()))
    return 60


def wait_phrase(seconds: int) -> str:
    """12 -> "12 seconds", 700 -> "12 minutes", 3900 -> "1 hour 5 minutes"."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    phrase = f"{hours} hour{'s' if hours != 1 else ''}"
    return phrase + (f" {minutes} minute{'s' if minutes != 1 else ''}" if minutes else "")


def rate_limited_message(seconds: int) -> str:
    return f"Too many attempts. Try again in {wait_phrase(seconds)}."
