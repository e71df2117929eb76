"""The Join button's target: into the room (a new tab), or back to the session page with why not."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.errors import DomainError
from peerloop.video import services

bp = Blueprint("video", __name__)


@bp.post("/sessions/<session_id>/join")
@login_required
def join(session_id: str):
    try:
        url = services.join(current_user, session_id, now=clock.now())
    except DomainError as error:
        if error.status in (403, 404):
            abort(404)
        flash(error.message, "error")
        return redirect(url_for("scheduling.session_page", session_id=session_id), code=303)
    # The provider's address from our own configuration (never from the request): the room.
    return redirect(url, code=303)
