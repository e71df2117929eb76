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


class QueueView(RoleGate, BaseView):
    """One queue: its items, and one decision endpoint for a card's button or the ticked ones."""

    required_role = "creator"
    template = ""
    field = ""  # the checkboxes' name
    noun = ""
    approved_word = "Approved"
    # Subclasses set ``approve`` and ``reject``: services taking (user, id, *, now, ...).

    def items(self):
        raise NotImplementedError

    def context(self, items) -> dict:
        return {}

    @expose("/")
    def index(self):
        items = self.items()
        return self.render(self.template, items=items, form=PostForm(formdata=None), **self.context(items))

    def approve_kwargs(self) -> dict:
        return {}

    @expose("/decide/", methods=["POST"])
    def decide(self):
        back = redirect(url_for(".index"))
        if not PostForm().validate_on_submit():
            flash("The form expired. Reload the page and try again.", "error")
            return back
        # A card's own button decides that one; the bar's buttons decide the ticked ones.
        ids = [request.form["one"]] if request.form.get("one") else request.form.getlist(self.field)
        if not ids:
            flash(f"Tick at least one {self.noun}.", "error")
            return back
        if request.form.get("action") == "reject":
            done, errors = _decide(self.reject, ids, note=request.form.get("note"))
            _report(done, errors, "Rejected")
        else:
            done, errors = _decide(self.approve, ids, **self.approve_kwargs())
            _report(done, errors, self.approved_word)
        return back


class CertificationQueueView(QueueView):
    template = "admin/studio_queues/certifications.html"
    field, noun, approved_word = "request_id", "request", "Certified"
    approve = staticmethod(services.approve_certification)
    reject = staticmethod(services.reject_certification)

    def items(self):
        return _own(services.certification_requests(current_user))

    def context(self, items) -> dict:
        progress = progress_of([item.enrollment_id for item in items])
        return {"progress": {item.id: progress.get(item.enrollment_id, NO_PROGRESS) for item in items}}

    def approve_kwargs(self) -> dict:
        return {"kind": request.form.get("type") or "completion"}


class ApplicationQueueView(QueueView):
    template = "admin/studio_queues/applications.html"
    field, noun = "application_id", "application"
    approve = staticmethod(services.approve_application)
    reject = staticmethod(services.reject_application)

    def items(self):
        return _own(services.teach_applications(current_user))
