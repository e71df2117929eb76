"""The /api blueprint: JSON in, JSON out, errors in one shape (see errors.py).

Requests carrying a bearer token need no CSRF token. Browser scripts using the
session cookie must send ``X-CSRFToken`` on unsafe methods.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError as WTFValidationError

from peerloop.accounts.access import bearer_token
from peerloop.errors import Unauthorized, ValidationError
from peerloop.extensions import csrf

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def create_blueprint(*parts: Blueprint) -> Blueprint:
    """The /api blueprint holding the domain API blueprints, made anew for each app.

    (A blueprint that has been registered cannot take more children, so a
    module-level parent would allow only one app per process.)
    """
    api = Blueprint("api", __name__, url_prefix="/api")
    api.before_request(check_auth_and_csrf)
    for part in parts:
        csrf.exempt(part)  # checked by check_auth_and_csrf instead
        api.register_blueprint(part)
    csrf.exempt(api)
    return api


def check_auth_and_csrf():
    token = bearer_token()
    if token:
        # Resolve the token now so a bad one is a 401 even on public endpoints.
        if not current_user.is_authenticated:
            raise Unauthorized("That API token is invalid, expired or revoked.", code="invalid_token")
        return
    if request.method in UNSAFE_METHODS and current_user.is_authenticated:
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except (CSRFError, WTFValidationError) as exc:
            raise ValidationError(
                "Send the X-CSRFToken header with cookie-authenticated requests.", code="csrf_failed"
            ) from exc


def json_body() -> dict:
    """The request's JSON object.

    :raise ValidationError: the body is not a JSON object.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("Send a JSON object with Content-Type: application/json.", code="invalid_json")
    return data


def page_args(args, *, default_per_page: int = 20) -> tuple[int, int]:
    """``page`` and ``per_page`` from the query string (API.md: per_page at most 100).

    :raise ValidationError: either is not a whole number in range.
    """
    fields, values = {}, {}
    for name, default, high in (("page", 1, 10_000), ("per_page", default_per_page, 100)):
        raw = args.get(name, default)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            fields[name] = "Must be a whole number."
            continue
        if not 1 <= value <= high:
            fields[name] = f"Must be between 1 and {high}."
        values[name] = value
    if fields:
        raise ValidationError(fields=fields)
    return values["page"], values["per_page"]


def paginated(items: list, *, page: int, per_page: int, total: int, **extra):
    return jsonify({"items": items, "page": page, "per_page": per_page, "total": total, **extra})


def api_token() -> str | None:
    return g.get("api_token")
