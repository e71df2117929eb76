"""Domain exceptions, and how they become HTML pages and JSON error bodies.

Services raise these; views, the API and the consoles turn them into answers.
Under /api every error is JSON: {"error": {"code", "message", "fields"?}}.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
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
    429: "Too many attempts. Wait a moment and try again.",
    500: "Something went wrong on our side.",
}


def json_error(status: int, code: str, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api" or request.path.startswith("/webhooks/")


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def reject_nul_bytes():
    """PostgreSQL cannot store NUL in text: refuse such input up front, as bad input."""
    sources = [request.path, request.args.to_dict(flat=False), request.view_args or {}]
    if request.method in {"POST", "PUT", "PATCH", "DELETE"}:
        sources.append(request.form.to_dict(flat=False))
        if request.is_json:
            sources.append(request.get_json(silent=True))
    if any(_has_nul(source) for source in sources):
        raise ValidationError("Text cannot contain NUL characters.", code="invalid_input")


def register_error_handlers(app: Flask) -> None:
    app.before_request(reject_nul_bytes)

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        if wants_json():
            return json_error(error.status, error.code, error.message, error.fields)
        return render_template("errors/error.html", status=error.status, message=error.message), error.status

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

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        from peerloop.extensions import db

        db.session.rollback()
        if wants_json():
            return json_error(500, "internal_error", HTTP_MESSAGES[500])
        return render_template("errors/error.html", status=500, message=HTTP_MESSAGES[500]), 500
