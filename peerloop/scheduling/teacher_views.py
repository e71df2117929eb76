"""The teacher's pages: Teaching (today, upcoming, past, requests, students), availability, calendar feed."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from peerloop.scheduling import requests, services
from peerloop.scheduling.views import bp


@bp.get("/teaching")
@login_required
def teaching():
    return render_template(
        "scheduling/teaching.html",
        sessions=services.sessions_of(current_user, role="teacher"),
        requests=requests.requests_for(current_user, role="teacher"),
    )
