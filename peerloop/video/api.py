"""POST /api/video/token: a participant's way into the session's room (API.md)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.api import json_body
from peerloop.errors import ValidationError
from peerloop.video import services

bp = Blueprint("video_api", __name__)


@bp.post("/video/token")
@login_required
def token():
    data = json_body()
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not session_id.strip():
        raise ValidationError("Say which session to join.", fields={"session_id": "Required."})
    return jsonify(join_url=services.join(current_user, session_id.strip()[:64], now=clock.now()))
