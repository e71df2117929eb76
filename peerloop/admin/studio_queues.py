"""The creator's approval queues in /studio (seed 000: the creator certifies and grants teaching, not
Brian): certification requests at /studio/certifications/ and applications to teach at
/studio/applications/. Each lists the creator's own pending items, oldest first, with the student's
progress and the S-T's note; approve or reject one at a time (two clicks) or approve several at
once. Decisions go through ``peerloop.certification.services`` (the notifications link here)."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from peerloop import clock
from peerloop.admin.base import RoleGate
from peerloop.certification import services
from peerloop.enrollment.progress import NO_PROGRESS, progress_of
from peerloop.errors import DomainError
from peerloop.extensions import db


class PostForm(FlaskForm):
    """Only the CSRF token: the fields are read from the form by name."""


def _own(items):
    """A creator's queue: only their courses (an admin who is also a creator sees their own here)."""
    return [item for item in items if item.course.creator_id == current_user.id]


def _decide(action, ids: list[str], **kwargs) -> tuple[int, list[str]]:
    done, errors = 0, []
    for item_id in ids:
        try:
            action(current_user, item_id[:64], now=clock.now(), **kwargs)
            done += 1
        except DomainError as error:
            db.session.rollback()
            errors.append(error.message)
    return done, errors


def _report(done: int, errors: list[str], verb: str) -> None:
    if done:
        flash(f"{verb} {done}.", "success")
    for message in dict.fromkeys(errors):
        flash(message, "error")


class CertificationQueueView(RoleGate, BaseView):
    required_role = "creator"

    @expose("/")
    def index(self):
        items = _own(services.certification_requests(current_user))
        progress = progress_of([item.enrollment_id for item in items])
        return self.render(
            "admin/studio_queues/certifications.html",
            items=items,
            progress={item.id: progress.get(item.enrollment_id, NO_PROGRESS) for item in items},
            form=PostForm(formdata=None),
        )

    @expose("/decide/", methods=["POST"])
    def decide(self):
        back = redirect(url_for(".index"))
        if not PostForm().validate_on_submit():
            flash("The form expired. Reload the page and try again.", "error")
            return back
        # A card's own button decides that one; the bar's buttons decide the ticked ones.
        ids = [request.form["one"]] if request.form.get("one") else request.form.getlist("request_id")
        if not ids:
            flash("Tick at least one request.", "error")
            return back
        if request.form.get("action") == "reject":
            done, errors = _decide(services.reject_certification, ids, note=request.form.get("note"))
            _report(done, errors, "Rejected")
        else:
            kind = request.form.get("type") or "completion"
            done, errors = _decide(services.approve_certification, ids, kind=kind)
            _report(done, errors, "Certified")
        return back


class ApplicationQueueView(RoleGate, BaseView):
    required_role = "creator"

    @expose("/")
    def index(self):
        items = _own(services.teach_applications(current_user))
        return self.render("admin/studio_queues/applications.html", items=items, form=PostForm(formdata=None))

    @expose("/decide/", methods=["POST"])
    def decide(self):
        back = redirect(url_for(".index"))
        if not PostForm().validate_on_submit():
            flash("The form expired. Reload the page and try again.", "error")
            return back
        ids = [request.form["one"]] if request.form.get("one") else request.form.getlist("application_id")
        if not ids:
            flash("Tick at least one application.", "error")
            return back
        if request.form.get("action") == "reject":
            done, errors = _decide(services.reject_application, ids, note=request.form.get("note"))
            _report(done, errors, "Rejected")
        else:
            done, errors = _decide(services.approve_application, ids)
            _report(done, errors, "Approved")
        return back
