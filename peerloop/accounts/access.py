"""Who may do what: one decorator per role, the login redirect, bearer tokens.

Anonymous visitors go to the login page with a ``next`` that stays inside the
site; a logged-in user without the role gets a 403; someone else's object is a
404 (services scope their queries to the caller).
"""

from __future__ import annotations

import functools
from urllib.parse import urlparse

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from peerloop.db import parse_uuid, utcnow
from peerloop.errors import Forbidden, Unauthorized, wants_json
from peerloop.extensions import login_manager

ROLE_CHECKS = {
    "admin": lambda user: user.is_admin,
    "creator": lambda user: user.is_creator,
    "moderator": lambda user: user.is_moderator or user.is_admin,
}


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    target = target.strip()
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


def login_url_for_current_request() -> str:
    path = request.full_path if request.query_string else request.path
    return url_for("accounts.login", next=safe_next(path))


def log_in(user, *, remember: bool = False) -> None:
    """Log a browser in: a new server-side login session, a fresh CSRF token, then Flask-Login."""
    from peerloop.accounts.services import start_login_session

    start_login_session(user, now=utcnow())
    # The token issued before login must not carry over into the logged-in session.
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)
    login_user(user, remember=remember)


def log_out() -> None:
    """End this browser's login server-side (its session and remember-me cookies die with it)."""
    from peerloop.accounts.services import end_login_session

    if current_user.is_authenticated:
        end_login_session(current_user.login_session_id, now=utcnow())
    logout_user()


def has_role(user, role: str) -> bool:
    return bool(user.is_authenticated and ROLE_CHECKS[role](user))


def role_required(*roles: str):
    """Require a logged-in user holding any of ``roles`` (admin, creator, moderator)."""
    for role in roles:
        if role not in ROLE_CHECKS:
            raise ValueError(f"unknown role {role!r}")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not any(has_role(current_user, role) for role in roles):
                if wants_json():
                    raise Forbidden()
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def init_app(app: Flask) -> None:
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str):
        from peerloop.accounts.services import user_for_login_session

        if bearer_token() and request.path.startswith("/api/"):
            return None  # a bearer token decides who calls the API, not the cookie
        user_id, _, login_id = (session_id or "").partition(":")
        uid, lid = parse_uuid(user_id), parse_uuid(login_id)
        if uid is None or lid is None:
            return None
        return user_for_login_session(uid, lid, now=utcnow())

    @login_manager.request_loader
    def load_user_from_bearer(req):
        from peerloop.accounts.services import user_for_api_token

        token = bearer_token()
        if not token or not req.path.startswith("/api/"):
            return None  # API tokens open the API only, never pages or consoles
        user = user_for_api_token(token, now=utcnow())
        if user is not None:
            g.api_token = token
        return user

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            raise Unauthorized()
        flash("Log in to continue.", "info")
        return redirect(login_url_for_current_request())
