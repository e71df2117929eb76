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

Counters that count only some outcomes (failures, accounts created) take their
slot atomically before the view runs and give it back afterwards when the
outcome is not one they count (Flask-Limiter's ``deduct_when`` tests first and
deducts after the view, so a burst of requests in flight together all passed
the test: 17 of 25 concurrent signups got through a 10 limit). A request may
then be refused while others are in flight that later give their slot back;
never the other way round. Counts are exact across processes only with one
shared store: Redis in production, and one gunicorn process in the embedded
default (``scripts/gunicorn_dev.py``).
"""

from __future__ import annotations

import math
import time
from functools import wraps

from flask import current_app, request
from flask_limiter.util import get_remote_address

from peerloop.extensions import limiter


def _posted_email() -> str:
    email = request.form.get("email")
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not email.strip():
        return ""
    from peerloop.accounts.services import normalise_email

    # The stored form: u@ＥＸＡＭＰＬＥ.com and u@example.com are one mailbox, so one counter.
    return normalise_email(email)


def email_key() -> str:
    """The email tried (callers exempt the limit when there is none)."""
    return "email:" + _posted_email()


def email_and_address_key() -> str:
    return f"email:{_posted_email()}|addr:{get_remote_address()}"


def _no_email() -> bool:
    return not _posted_email()


def _failed(status: int) -> bool:
    return status in (400, 401)


def _created(status: int) -> bool:
    # The API answers 201 with a token; the page redirects (302) once logged in.
    return status in (201, 302)


def _status_of(error: BaseException) -> int:
    """The status an exception from a view becomes (the API raises its 400s and 401s)."""
    from flask_limiter import RateLimitExceeded
    from werkzeug.exceptions import HTTPException

    from peerloop.errors import DomainError

    if isinstance(error, RateLimitExceeded):
        return 429
    if isinstance(error, DomainError):
        return error.status
    if isinstance(error, HTTPException):
        return error.code or 500
    return 500


def _config(name: str):
    return lambda: current_app.config[name]


def _give_back(scope: str) -> None:
    """Return the slot this request took in ``scope``'s counters (it did not count after all)."""
    taken = [limit for limit in limiter.current_limits if scope in limit.request_args]
    if not taken:  # nothing counted (limits off, exempt, or refused before this counter)
        return
    storage = limiter.limiter.storage  # the fallback's when Redis is down
    for limit in taken:
        if storage.get(limit.key) > 0:
            storage.incr(limit.key, limit.limit.get_expiry(), amount=-1)


def _counting_only(scope: str, counts):
    """Wrap a view limited in ``scope`` so that a request whose status ``counts`` rejects
    (a refusal by any limit included) gives its slot back."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if request.method != "POST":
                return view(*args, **kwargs)
            try:
                response = current_app.make_response(view(*args, **kwargs))
            except Exception as error:
                if not counts(_status_of(error)):
                    _give_back(scope)
                raise
            if not counts(response.status_code):
                _give_back(scope)
            return response

        return wrapper

    return decorate


def login_limits(view):
    """All attempts per address; failures per email + address. Shared by /login and /api/auth/login."""
    view = limiter.shared_limit(
        _config("LOGIN_EMAIL_RATE_LIMIT"),
        scope="login-failures",
        key_func=email_and_address_key,
        methods=["POST"],
        exempt_when=_no_email,
    )(view)
    view = limiter.shared_limit(
        _config("LOGIN_RATE_LIMIT"), scope="login-attempts", key_func=get_remote_address, methods=["POST"]
    )(view)
    return _counting_only("login-failures", _failed)(view)


def signup_limits(view):
    """Accounts created per address, and a looser cap on every attempt. Shared by /signup and the API."""
    view = limiter.shared_limit(
        _config("SIGNUP_RATE_LIMIT"), scope="signup-created", key_func=get_remote_address, methods=["POST"]
    )(view)
    view = limiter.shared_limit(
        _config("SIGNUP_ATTEMPT_RATE_LIMIT"), scope="signup-attempts", key_func=get_remote_address, methods=["POST"]
    )(view)
    return _counting_only("signup-created", _created)(view)


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
        # Never more than the window itself (reset_at is a whole second, a moving window may round up).
        return min(int(current.limit.get_expiry()), max(1, math.ceil(current.reset_at - time.time())))
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
