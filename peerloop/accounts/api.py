"""/api/auth/*, /api/me, /api/users/:handle."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from peerloop.accounts import services
from peerloop.accounts.access import log_out
from peerloop.accounts.ratelimits import login_limits, reset_limits, signup_limits
from peerloop.accounts.serializers import me_json, public_user_json
from peerloop.api import api_token, json_body
from peerloop.catalog import services as catalog_services
from peerloop.db import utcnow
from peerloop.errors import NotFound, ValidationError

bp = Blueprint("accounts_api", __name__)


def _str_field(data: dict, name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(fields={name: "Must be a string."})
    return value


@bp.post("/auth/signup")
@signup_limits
def signup():
    data = json_body()
    user = services.signup(
        email=_str_field(data, "email"),
        password=_str_field(data, "password"),
        name=_str_field(data, "name"),
        handle=_str_field(data, "handle"),
        accept_terms=data.get("accept_terms") is True,
        timezone=_str_field(data, "timezone") or "UTC",
        now=utcnow(),
    )
    token = services.issue_api_token(user, now=utcnow())
    return jsonify({"token": token, "user": me_json(user)}), 201


@bp.post("/auth/login")
@login_limits
def login():
    data = json_body()
    user = services.authenticate(_str_field(data, "email"), _str_field(data, "password"), now=utcnow())
    token = services.issue_api_token(user, now=utcnow())
    return jsonify({"token": token, "user": me_json(user)})


@bp.post("/auth/logout")
@login_required
def logout():
    token = api_token()
    if token:
        services.revoke_api_token(token, now=utcnow())
    else:
        log_out()
    return "", 204


@bp.post("/auth/password-reset")
@reset_limits("password-reset")
def password_reset():
    data = json_body()
    email = _str_field(data, "email")
    if not email.strip():
        raise ValidationError(fields={"email": "Enter your email address."})
    services.queue_password_reset(email)
    return jsonify({"message": "If that address has an account, a reset link is on its way."}), 202


@bp.post("/auth/password-reset/confirm")
@reset_limits("password-reset-confirm", per_email=False)
def password_reset_confirm():
    data = json_body()
    services.reset_password(_str_field(data, "token"), _str_field(data, "password"), now=utcnow())
    return "", 204


@bp.get("/me")
@login_required
def me():
    return jsonify(me_json(current_user))


@bp.get("/users/<handle>")
def user_profile(handle: str):
    profile = catalog_services.public_profile(handle, viewer=current_user)
    if profile is None:
        raise NotFound("No user with that handle.")
    return jsonify(public_user_json(profile))
