"""Domain exceptions, and how they become HTML pages and JSON error bodies.

Services raise these; views, the API and the consoles turn them into answers.
Under /api every error is JSON: {"error": {"code", "message", "fields"?}}.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, jsonify, make_response, render_template, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    status = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationError(DomainError):
    status = 400
    code = "invalid_input"
    message = "Some fields need attention."


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    message = "Log in to continue."


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    message = "You are not allowed to do that."


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "Not found."


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "That conflicts with the current state."


class RuleViolation(DomainError):
    status = 422
    code = "not_allowed"
    message = "That is not possible right now."


class ProviderUnavailable(DomainError):
    status = 503
    code = "provider_unavailable"
    message = "An outside service is unavailable. Try again shortly."


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "not_allowed",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

HTTP_MESSAGES = {
    400: "The request could not be understood.",
    401: "Log in to continue.",
    403: "You are not allowed to do that.",
    404: "Not found.",
    405: "That method is not allowed here.",
    413: "That request is too large.",
    429: "Too many attempts. Wait a moment and try again.",
    500: "Something went wrong on our side.",
}


BUSY_MESSAGE = "We are busy for a moment. Try again in a few seconds."
BUSY_RETRY_AFTER_SECONDS = 2
# PostgreSQL: lock_not_available, serialization_failure, deadlock_detected.
LOCK_SQLSTATES = {"55P03", "40001", "40P01"}


def is_lock_timeout(error: sa.exc.DBAPIError) -> bool:
    """Whether the database refused because someone else held the lock (worth retrying)."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) in LOCK_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database table is locked" in text


def json_error(status: int, code: str, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


def come_back_later(status: int, code: str, message: str, retry_after_seconds: int):
    """A 429 or 503 that says when to try again: ``Retry-After``, and the message, as JSON or a page."""
    if wants_json():
        response = json_error(status, code, message)
    else:
        response = make_response(render_template("errors/error.html", status=status, message=message), status)
    response.headers["Retry-After"] = str(retry_after_seconds)
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api" or request.path.startswith("/webhooks/")


def register_error_handlers(app: Flask) -> None:
    from peerloop.http import reject_unusable_input

    app.before_request(reject_unusable_input)

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        if wants_json():
            return json_error(error.status, error.code, error.message, error.fields)
        return render_template("errors/error.html", status=error.status, message=error.message), error.status

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limited(error: RateLimitExceeded):
        """429 that says when to come back: in Retry-After and in words, on pages and in JSON."""
        from peerloop.accounts.ratelimits import rate_limited_message, retry_after_seconds

        seconds = retry_after_seconds(error)
        return come_back_later(429, "rate_limited", rate_limited_message(seconds), seconds)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        status = error.code or 500
        if wants_json():
            message = HTTP_MESSAGES.get(status) or error.description or error.name
            if isinstance(error, CSRFError):
                message = error.description
            return json_error(status, HTTP_CODES.get(status, "error"), message)
        if isinstance(error, CSRFError):
            message = "Your form expired or was sent from elsewhere. Reload the page and try again."
        else:
            message = HTTP_MESSAGES.get(status) or error.description
        response = error.get_response()
        response.set_data(render_template("errors/error.html", status=status, message=message))
        response.content_type = "text/html; charset=utf-8"
        return response

    @app.errorhandler(sa.exc.OperationalError)
    def handle_busy_database(error: sa.exc.OperationalError):
        """The database was too busy to take our lock in time: ask the client to come back, never a 500."""
        if not is_lock_timeout(error):
            return handle_unexpected(error)
        from peerloop.extensions import db

        app.logger.warning("database busy on %s %s: %s", request.method, request.path, error.orig)
        db.session.rollback()
        return come_back_later(503, "busy", BUSY_MESSAGE, BUSY_RETRY_AFTER_SECONDS)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        from peerloop.extensions import db

        db.session.rollback()
        if wants_json():
            return json_error(500, "internal_error", HTTP_MESSAGES[500])
        return render_template("errors/error.html", status=500, message=HTTP_MESSAGES[500]), 500
