"""The room page (device check, timer, the way in, feedback after the end), the Join button's
target, and the forms after a session: rate it, mark how it went (the teacher), contest that (the
student), and the session's recordings."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.errors import DomainError
from peerloop.extensions import db
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.video import feedback, outcomes, services
from peerloop.video.models import Assessment, ResourceType, SessionResource

bp = Blueprint("video", __name__)


def join_open(session: TutoringSession, now) -> bool:
    if session.status not in (SessionStatus.scheduled, SessionStatus.in_progress):
        return False
    opens, closes = services.join_window(session)
    return opens <= now <= closes


@bp.app_template_global("video_join_open")
def video_join_open(session: TutoringSession) -> bool:
    """For dashboards: the Join button lights up from 15 minutes before the start."""
    return join_open(session, clock.now())


def after_session(session: TutoringSession, user, now) -> dict:
    """What the session's page and the room page show once a session has ended."""
    from peerloop.video.recordings import recordings_of

    is_teacher = user.id == session.teacher_id
    is_participant = user.id in (session.teacher_id, session.student_id)
    ended = now >= session.scheduled_end
    mine = (
        db.session.query(Assessment).filter_by(session_id=session.id, assessor_id=user.id).one_or_none()
        if is_participant
        else None
    )
    rateable = (
        is_participant
        and ended
        and session.status not in feedback.NOT_RATEABLE
        and session.status not in (SessionStatus.held, SessionStatus.lapsed)
    )
    return {
        "ended": ended,
        "my_feedback": mine,
        "can_rate": rateable and mine is None,
        "can_mark": is_teacher and ended and not outcomes.is_settled(session),
        "can_contest": user.id == session.student_id and outcomes.can_contest(session, now),
        "recordings": recordings_of(session) if session.status != SessionStatus.scheduled else [],
    }


def _back(session_id: str, anchor: str = ""):
    return redirect(url_for("scheduling.session_page", session_id=session_id) + anchor, code=303)


def _participant_session(session_id: str) -> TutoringSession:
    from peerloop.scheduling.services import participant_session

    try:
        return participant_session(current_user, session_id)
    except DomainError:
        abort(404)


@bp.get("/sessions/<session_id>/room")
@login_required
def room(session_id: str):
    session = _participant_session(session_id)
    now = clock.now()
    opens, closes = services.join_window(session)
    return render_template(
        "video/room.html",
        session=session,
        role="teacher" if current_user.id == session.teacher_id else "student",
        other=session.student if current_user.id == session.teacher_id else session.teacher,
        can_join=join_open(session, now),
        opens_at=opens,
        closes_at=closes,
        now=now,
        **after_session(session, current_user, now),
    )


@bp.post("/sessions/<session_id>/join")
@login_required
def join(session_id: str):
    try:
        url = services.join(current_user, session_id, now=clock.now())
    except DomainError as error:
        if error.status in (403, 404):
            abort(404)
        flash(error.message, "error")
        return redirect(url_for("video.room", session_id=session_id), code=303)
    # The provider's address from our own configuration (never from the request): the room.
    return redirect(url, code=303)


@bp.post("/sessions/<session_id>/feedback")
@login_required
def rate(session_id: str):
    rating = request.form.get("rating", "")
    try:
        feedback.leave_feedback(
            current_user,
            session_id,
            rating=int(rating) if rating.isascii() and rating.isdecimal() else rating,
            comment=request.form.get("comment"),
            now=clock.now(),
        )
    except DomainError as error:
        if error.status in (403, 404):
            abort(404)
        flash(next(iter(error.fields.values()), error.message) if error.fields else error.message, "error")
        return _back(session_id, "#feedback")
    flash("Thank you: your rating is saved.", "success")
    return _back(session_id, "#feedback")


@bp.post("/sessions/<session_id>/outcome")
@login_required
def mark(session_id: str):
    try:
        outcomes.mark_by_teacher(current_user, session_id, request.form.get("outcome", ""), now=clock.now())
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(next(iter(error.fields.values()), error.message) if error.fields else error.message, "error")
        return _back(session_id, "#outcome")
    flash("Saved. Your share is released in 48 hours unless your student contests it.", "success")
    return _back(session_id)


@bp.post("/sessions/<session_id>/contest")
@login_required
def contest(session_id: str):
    try:
        outcomes.contest(current_user, session_id, request.form.get("reason"), now=clock.now())
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(next(iter(error.fields.values()), error.message) if error.fields else error.message, "error")
        return _back(session_id, "#contest")
    flash("Sent to PeerLoop: we look into it and tell you both.", "success")
    return _back(session_id)


@bp.get("/sessions/<session_id>/recordings/<resource_id>")
@login_required
def recording(session_id: str, resource_id: str):
    """A stored recording, for the session's two people (and admins)."""
    from peerloop.db import parse_uuid
    from peerloop.scheduling.services import participant_session
    from peerloop.video.recordings import storage

    try:
        session = participant_session(current_user, session_id, allow_admin=True)
    except DomainError:
        abort(404)
    uid = parse_uuid(resource_id)
    resource = db.session.get(SessionResource, uid) if uid else None
    if (
        resource is None
        or resource.session_id != session.id
        or resource.type != ResourceType.recording
        or not resource.storage_key
    ):
        abort(404)
    store = storage()
    path = store.local_path(resource.storage_key)
    if path is not None:
        return send_file(path, mimetype=resource.mime_type or "video/mp4", conditional=True, max_age=0)
    url = store.url(resource.storage_key)
    if url is None:
        abort(404)
    return redirect(url, code=302)  # a short-lived address of our own bucket, never one from the request
