"""The learning page: a course's modules by live session, ticked off by the student.

The page works without JavaScript (a form per module posts here and comes back to its anchor);
``static/js/learn.js`` sends the same change to the JSON API instead and moves the bar in place.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.enrollment import progress
from peerloop.errors import NotFound, RuleViolation

bp = Blueprint("enrollment", __name__)


@bp.get("/learn/<enrollment_id>")
@login_required
def learn(enrollment_id: str):
    """:raise 404: not the enrollment's student or teacher."""
    try:
        page = progress.learning_page(current_user, enrollment_id)
    except NotFound:
        abort(404)
    return render_template("enrollment/learn.html", page=page)


@bp.post("/learn/<enrollment_id>/modules/<module_id>")
@login_required
def mark(enrollment_id: str, module_id: str):
    """The no-JavaScript form: ``complete`` present (the ticked checkbox) marks done, absent undoes.

    :raise 404: not the student's enrollment, or not a module of its course.
    """
    try:
        progress.mark_module(
            current_user, enrollment_id, module_id, complete=bool(request.form.get("complete")), now=clock.now()
        )
    except NotFound:
        abort(404)
    except RuleViolation as error:
        flash(error.message, "error")
        return redirect(url_for("enrollment.learn", enrollment_id=enrollment_id), code=303)
    return redirect(url_for("enrollment.learn", enrollment_id=enrollment_id, _anchor=f"module-{module_id}"), code=303)
