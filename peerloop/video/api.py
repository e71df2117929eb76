"""POST /api/video/token: a participant's way into the session's room; POST /api/sessions/:id/feedback:
how it went, once per participant (API.md); POST /api/sessions/:id/outcome (the teacher, after the end)
and /contest (the student, within 48 hours of the teacher's marking)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.api import json_body
from peerloop.errors import ValidationError
from peerloop.scheduling.services import iso_z
from peerloop.video import feedback, outcomes, services

bp = Blueprint("video_api", __name__)


@bp.post("/video/token")
@login_required
def token():
    data = json_body()
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not session_id.strip():
        raise ValidationError("Say which session to join.", fields={"session_id": "Required."})
    return jsonify(join_url=services.join(current_user, session_id.strip()[:64], now=clock.now()))


def feedback_json(assessment) -> dict:
    return {
        "id": str(assessment.id),
        "session_id": str(assessment.session_id),
        "rating": assessment.rating,
        "comment": assessment.comment,
        "created_at": iso_z(assessment.created_at),
    }


@bp.post("/sessions/<session_id>/feedback")
@login_required
def leave_feedback(session_id):
    data = json_body()
    assessment = feedback.leave_feedback(
        current_user, session_id[:64], rating=data.get("rating"), comment=data.get("comment"), now=clock.now()
    )
    return jsonify(feedback_json(assessment)), 201


def _session_json(session):
    from peerloop.scheduling.api import session_json

    return session_json(session, viewer=current_user)


@bp.post("/sessions/<session_id>/outcome")
@login_required
def mark_outcome(session_id):
    """``{outcome: completed|student_no_show}`` → 200 the session; 403 ``not_teacher``, 422 ``not_finished``,
    409 ``already_settled``."""
    data = json_body()
    session = outcomes.mark_by_teacher(current_user, session_id[:64], data.get("outcome"), now=clock.now())
    return jsonify(_session_json(session))


@bp.post("/sessions/<session_id>/contest")
@login_required
def contest_outcome(session_id):
    """``{reason}`` → 200 the session; 403 ``not_student``, 422 ``not_contestable``."""
    data = json_body()
    session = outcomes.contest(current_user, session_id[:64], data.get("reason"), now=clock.now())
    return jsonify(_session_json(session))
