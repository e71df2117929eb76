"""Deactivating one of the creator's Student-Teachers (/studio/deactivate/<student_teacher_id>): the
page lists their students with sessions still to come, and for each the creator offers another of
the course's teachers or cancels; the reason is told to the S-T. The rules are
``peerloop.certification.deactivation``'s; this page only gathers the choices."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user

from peerloop import clock
from peerloop.admin.base import RoleGate
from peerloop.admin.studio_queues import PostForm
from peerloop.certification import deactivation
from peerloop.errors import DomainError, ValidationError
from peerloop.extensions import db


class DeactivateTeacherView(RoleGate, BaseView):
    required_role = "creator"

    def is_visible(self) -> bool:  # reached from the Student-Teachers page, not the menu
        return False

    def _row(self, student_teacher_id: str):
        try:
            return deactivation.student_teacher_row(current_user, student_teacher_id[:64])
        except DomainError:
            abort(404)

    @expose("/")
    def index(self):
        return redirect(self._back())

    @expose("/<student_teacher_id>", methods=["GET", "POST"])
    def deactivate(self, student_teacher_id: str):
        row = self._row(student_teacher_id)
        now = clock.now()
        errors: dict = {}
        chosen = {key[5:]: value for key, value in request.form.items() if key.startswith("plan.")}
        reason = request.form.get("reason", "")
        if request.method == "POST" and row.is_active:
            if not PostForm().validate_on_submit():
                flash("The form expired. Reload the page and try again.", "error")
            else:
                try:
                    outcome = deactivation.deactivate(current_user, row.id, plan=chosen, reason=reason, now=clock.now())
                except ValidationError as error:
                    db.session.rollback()
                    errors = error.fields or {}
                    flash(error.message, "error")
                except DomainError as error:
                    db.session.rollback()
                    flash(error.message, "error")
                else:
                    flash(_summary(row.user.name, outcome), "success")
                    return redirect(self._back())
        return self.render(
            "admin/studio_deactivate.html",
            row=row,
            affected=deactivation.affected_students(row, now=now) if row.is_active else [],
            teachers=deactivation.replacement_teachers(row.course, instead_of=row.user_id),
            chosen=chosen,
            reason=reason,
            errors=errors,
            back=self._back(),
            form=PostForm(formdata=None),
        )

    def _back(self) -> str:
        return url_for("studio_teachers.index")


def _summary(name: str, outcome: deactivation.Outcome) -> str:
    parts = [f"{name} no longer teaches this course."]
    if outcome.offered:
        parts.append(f"{outcome.offered} student{'s' if outcome.offered != 1 else ''} asked to accept a new teacher.")
    if outcome.cancelled:
        parts.append(f"{outcome.cancelled} session{'s' if outcome.cancelled != 1 else ''} cancelled (not used up).")
    return " ".join(parts)
