"""/api/test-clock: read and move the test clock (only when the app runs with TEST_CLOCK=1)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, current_app, jsonify
from flask_login import current_user

from peerloop import clock
from peerloop.api import json_body
from peerloop.errors import Forbidden, NotFound, Unauthorized, ValidationError

bp = Blueprint("clock_api", __name__)
MAX_ADVANCE = timedelta(days=3650)


@bp.before_request
def _only_when_enabled():
    if not current_app.config.get("TEST_CLOCK"):
        raise NotFound()  # as if it did not exist
    if not current_user.is_authenticated:
        raise Unauthorized()
    if not current_user.is_admin:
        raise Forbidden("Only an admin may read or move the test clock.")


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


@bp.get("/test-clock")
def show():
    return jsonify({"now": _iso(clock.now())})


@bp.post("/test-clock")
def move():
    data = json_body()
    chosen = [key for key in ("now", "advance_seconds", "reset") if key in data]
    if len(chosen) != 1:
        raise ValidationError("Send exactly one of now, advance_seconds or reset.", fields={"now": "Send one."})
    key = chosen[0]
    if key == "reset":
        if data["reset"] is not True:
            raise ValidationError(fields={"reset": "Send true to return to real time."})
        return jsonify({"now": _iso(clock.reset())})
    if key == "advance_seconds":
        seconds = data["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValidationError(fields={"advance_seconds": "Send a number of seconds."})
        delta = timedelta(seconds=seconds)
        if abs(delta) > MAX_ADVANCE:
            raise ValidationError(fields={"advance_seconds": "Move at most ten years at a time."})
        return jsonify({"now": _iso(clock.advance(delta))})
    raw = data["now"]
    try:
        instant = datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise ValidationError(fields={"now": "Send an ISO 8601 time with an offset, e.g. 2026-12-01T09:45:00Z."})
    return jsonify({"now": _iso(clock.set_to(instant))})
