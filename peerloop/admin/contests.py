"""Brian's contest queue at /admin/contests/ (Teaching → Contests).

A student contested how the teacher hand-marked a session (``peerloop.video.outcomes.contest``);
the teacher's share waits until Brian decides here. The queue lists the undecided contests
(``outcomes.contested_sessions()``), oldest first, with what each side said and who the room
recorded; each has two buttons that post to ``outcomes.resolve_contest``: pay the teacher, or give
the session back to the student. The notifications of a new contest link to this URL.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import flash, redirect, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import HiddenField

from peerloop import clock
from peerloop.admin.base import RoleGate
from peerloop.admin.scheduling import attendance_rows, marked_text
from peerloop.db import parse_uuid
from peerloop.errors import Conflict, DomainError, NotFound
from peerloop.extensions import db
from peerloop.scheduling.models import TutoringSession
from peerloop.video import outcomes

DECISIONS = {
    outcomes.Resolution.teacher_paid.value: "Pay the teacher",
    outcomes.Resolution.returned.value: "Give the session back to the student",
}


class DecideForm(FlaskForm):
    """One contest's decision: the session and the resolution, with the CSRF token."""

    session_id = HiddenField()
    resolution = HiddenField()


def open_contests() -> list[TutoringSession]:
    """The undecided contests, oldest first, with what the page shows loaded up front."""
    query = outcomes.contested_sessions().options(
        selectinload(TutoringSession.course),
        selectinload(TutoringSession.teacher),
        selectinload(TutoringSession.student),
        selectinload(TutoringSession.enrollment),
    )
    return list(db.session.scalars(query))


def open_contest_count() -> int:
    """The console home's card: how many contests wait for a decision."""
    waiting = outcomes.contested_sessions().order_by(None).subquery()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(waiting)) or 0)


def marked_at(session: TutoringSession) -> datetime | None:
    """When the teacher marked it. outcomes.py keeps no such column: a hand-marked outcome that pays
    the teacher gets ``release_after = now + CONTEST_WINDOW``, kept until the contest is decided."""
    if session.release_after is None:
        return None
    return session.release_after - outcomes.CONTEST_WINDOW


class ContestQueueView(RoleGate, BaseView):
    """The queue, and the two decisions as POSTs (CSRF) that flash the result and come back here."""

    @expose("/")
    def index(self):
        contests = open_contests()
        return self.render(
            "admin/contests/queue.html",
            contests=contests,
            attendance={c.id: attendance_rows(c) for c in contests},
            marked_text=marked_text,
            marked_at=marked_at,
            decisions=DECISIONS,
            form=DecideForm(formdata=None),
        )

    @expose("/decide/", methods=["POST"])
    def decide(self):
        back = redirect(url_for(".index"))
        form = DecideForm()
        if not form.validate_on_submit():
            flash("The form expired. Reload the queue and try again.", "error")
            return back
        session_id = parse_uuid(form.session_id.data)
        resolution = form.resolution.data or ""
        if session_id is None or resolution not in DECISIONS:
            flash("That decision could not be read. Use the buttons in the queue.", "error")
            return back
        try:
            session = outcomes.resolve_contest(current_user, session_id, resolution, now=clock.now())
        except Conflict as error:
            db.session.rollback()
            if error.code == "already_resolved":
                flash("This contest was already decided: nothing changed.", "warning")
            else:
                flash(error.message, "error")
            return back
        except NotFound:
            db.session.rollback()
            flash("That contest is not in the queue (no such contested session).", "error")
            return back
        except DomainError as error:  # Forbidden, ValidationError
            db.session.rollback()
            flash(error.message, "error")
            return back
        flash(_decided_message(session, resolution), "success")
        return back


def _decided_message(session: TutoringSession, resolution: str) -> str:
    course = session.course.title if session.course else "the course"
    teacher = session.teacher.name if session.teacher else "the teacher"
    student = session.student.name if session.student else "the student"
    if resolution == outcomes.Resolution.teacher_paid.value:
        return f"Decided: {teacher} is paid for the {course} session with {student}. Both have been told."
    return (
        f"Decided: the {course} session goes back to {student} (it counts as {teacher}'s no-show, not paid). "
        "Both have been told."
    )
