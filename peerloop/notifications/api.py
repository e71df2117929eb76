"""/api/notifications: the bell."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.accounts.serializers import iso
from peerloop.api import json_body, page_args, paginated
from peerloop.db import MAX_BULK, parse_uuid
from peerloop.errors import ValidationError
from peerloop.notifications import services

bp = Blueprint("notifications_api", __name__)


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
    page, per_page = page_args(request.args)
    items, total = services.list_page(current_user.id, page, per_page)
    return paginated(
        [notification_json(n) for n in items],
        page=page,
        per_page=per_page,
        total=total,
        unread=services.unread_count(current_user.id),
    )


@bp.post("/notifications/read")
@login_required
def mark_read():
    data = json_body() if request.data else {}  # an empty body marks everything read
    ids = None
    if "ids" in data:
        if not isinstance(data["ids"], list):
            raise ValidationError(fields={"ids": "Send a list of notification ids."})
        if len(data["ids"]) > MAX_BULK:
            raise ValidationError(fields={"ids": f"Send at most {MAX_BULK} ids at a time."})
        ids = [parse_uuid(i) for i in data["ids"]]
        if any(i is None for i in ids):
            raise ValidationError(fields={"ids": "Every id must be a notification id."})
        ids = list(dict.fromkeys(ids))
    count = services.mark_read(current_user.id, ids, now=clock.now())
    return jsonify({"marked": count, "unread": services.unread_count(current_user.id)})
