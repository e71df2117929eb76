"""The bell's full list and marking notifications read."""

from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.accounts.access import safe_next
from peerloop.accounts.forms import ActionForm
from peerloop.db import parse_uuid
from peerloop.notifications import services

bp = Blueprint("notifications", __name__)
PER_PAGE = 20


@bp.get("/notifications")
@login_required
def index():
    try:
        page = min(max(1, int(request.args.get("page", 1))), 10_000)
    except ValueError:
        page = 1
    items, total = services.list_page(current_user.id, page, PER_PAGE)
    return render_template(
        "notifications/index.html",
        items=items,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        form=ActionForm(),
    )


@bp.post("/notifications/<notification_id>/open")
@login_required
def open_notification(notification_id: str):
    """Mark one notification read and go where it points (inside the site only)."""
    form = ActionForm()
    target = None
    if form.validate_on_submit():
        uid = parse_uuid(notification_id)
        target = services.open_notification(current_user.id, uid, now=clock.now()) if uid else None
    return redirect(safe_next(target) or url_for("notifications.index"))


@bp.post("/notifications/read")
@login_required
def mark_read():
    form = ActionForm()
    if form.validate_on_submit():
        raw_id = request.form.get("id")
        ids = None
        if raw_id:
            uid = parse_uuid(raw_id)
            ids = [uid] if uid else []
        services.mark_read(current_user.id, ids, now=clock.now())
        if ids is None:
            flash("All notifications marked read.", "info")
        target = safe_next(request.form.get("next"))
        if target:
            return redirect(target)
    return redirect(url_for("notifications.index"))
