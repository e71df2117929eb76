"""Brian's view of the certification work at /admin/certifications/ (Teaching → Certifications).

Deciding is the course creator's alone (seed 000: "Creator, NOT Brian"), so this page only shows
every pending recommendation and application to teach, with the creator to nudge and how long it has
waited, and lets Brian revoke a certificate with a reason (``certification.services.revoke``): a
certificate is found by its id (from its public page) or among the latest issued.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy.orm import joinedload

from peerloop import clock
from peerloop.admin.base import RoleGate
from peerloop.admin.studio_queues import PostForm
from peerloop.certification import services
from peerloop.certification.models import Certificate
from peerloop.db import parse_uuid
from peerloop.errors import DomainError
from peerloop.extensions import db

LATEST = 30


def _certificates(query: str) -> list[Certificate]:
    statement = (
        sa.select(Certificate)
        .options(joinedload(Certificate.user), joinedload(Certificate.course), joinedload(Certificate.issuer))
        .order_by(Certificate.issued_at.desc(), Certificate.id)
    )
    wanted = parse_uuid(query) if query else None
    if query:
        if wanted is None:
            return []
        statement = statement.where(Certificate.id == wanted)
    return list(db.session.scalars(statement.limit(LATEST)))


class CertificationOverviewView(RoleGate, BaseView):
    required_role = "admin"

    @expose("/")
    def index(self):
        query = (request.args.get("certificate") or "").strip()[:64]
        now = clock.now()
        return self.render(
            "admin/certifications.html",
            requests=services.certification_requests(current_user),
            applications=services.teach_applications(current_user),
            certificates=_certificates(query),
            query=query,
            now=now,
            form=PostForm(formdata=None),
        )

    @expose("/revoke/", methods=["POST"])
    def revoke(self):
        certificate_id = (request.form.get("certificate_id") or "")[:64]
        back = redirect(url_for(".index", certificate=certificate_id or None))
        if not PostForm().validate_on_submit():
            flash("The form expired. Reload the page and try again.", "error")
            return back
        try:
            found = services.revoke(current_user, certificate_id, reason=request.form.get("reason"), now=clock.now())
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return back
        flash(f"Revoked {found.user.name}'s certificate for {found.course.title}. They were told why.", "success")
        return back
