"""/api/notifications: the bell."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user, login_required

from peerloop.accounts.serializers import iso
from peerloop.api import json_body
from peerloop.db import parse_uuid, utcnow
from peerloop.errors import ValidationError
from peerloop.notifications import services

bp = Blueprint("notifications_api", __name__)


def _page_args() -> tuple[int, int]:
    fields = {}
    values = {}
    for name, default, high in (("page", 1, 10_000), ("per_page", 20, 100)):
        raw = request.args.get(name, default)
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


def notification_json(n) -> dict:
    return {
        "id": str(n.id),
        "type": n.type,
        "title": n.title,
        "body": n.body,
        "action_url": n.action_url,
        "is_read": n.is_read,
        "created_at": iso(n.created_at),
    }


@bp.get("/notifications")
@login_required
def index():
    page, per_page = _page_args()
    items, total = services.list_page(current_user.id, page, per_page)
    return jsonify(
        {
            "items": [notification_json(n) for n in items],
            "page": page,
            "per_page": per_page,
            "total": total,
            "unread": services.unread_count(current_user.id),
        }
    )


@bp.post("/notifications/read")
@login_required
def mark_read():
    data = request.get_json(silent=True) if request.data else {}
    if data is None or not isinstance(data, dict):
        data = json_body()
    ids = None
    if "ids" in data:
        if not isinstance(data["ids"], list):
            raise ValidationError(fields={"ids": "Send a list of notification ids."})
        ids = [parse_uuid(i) for i in data["ids"]]
        if any(i is None for i in ids):
            raise ValidationError(fields={"ids": "Every id must be a notification id."})
    count = services.mark_read(current_user.id, ids, now=utcnow())
    return jsonify({"marked": count, "unread": services.unread_count(current_user.id)})
