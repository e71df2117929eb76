"""The public certificate page: anyone can open it to verify a certificate."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.certification import pdf, services
from peerloop.errors import DomainError
from peerloop.timezones import format_local
from peerloop.urls import external_url

bp = Blueprint("certification", __name__)

TYPE_WORDS = {
    "completion": "Certificate of Completion",
    "mastery": "Certificate of Mastery",
    "teaching": "Certified Student-Teacher",
}


def linkedin_url(certificate) -> str:
    """LinkedIn's add-to-profile address for a certification (its documented query parameters)."""
    issued = certificate.issued_at
    query = {
        "startTask": "CERTIFICATION_NAME",
        "name": f"{TYPE_WORDS[certificate.type.value]}: {certificate.course.title}",
        "organizationName": "PeerLoop",
        "issueYear": issued.year,
        "issueMonth": issued.month,
        "certUrl": external_url("certification.certificate_page", certificate_id=certificate.id),
        "certId": str(certificate.id),
    }
    return "https://www.linkedin.com/profile/add?" + urlencode(query)


@bp.get("/certificates/<certificate_id>")
def certificate_page(certificate_id: str):
    try:
        found = services.certificate(certificate_id[:64])
    except DomainError:
        abort(404)
    return render_template(
        "certification/certificate.html",
        certificate=found,
        title=TYPE_WORDS[found.type.value],
        linkedin=linkedin_url(found) if found.revoked_at is None else None,
        verify_url=external_url("certification.certificate_page", certificate_id=found.id),
    ), (410 if found.revoked_at is not None else 200)


@bp.get("/certificates/<certificate_id>.pdf")
def certificate_pdf(certificate_id: str):
    """The certificate as a PDF, public like its page; a revoked one says REVOKED (and answers 410)."""
    try:
        found = services.certificate(certificate_id[:64])
    except DomainError:
        abort(404)
    revoked = found.revoked_at is not None
    body = pdf.render(
        type_words=TYPE_WORDS[found.type.value],
        course_title=found.course.title,
        holder_name=found.user.name,
        holder_handle=found.user.handle,
        issued=format_local(found.issued_at, "UTC", style="date"),
        issued_by=found.issuer.name,
        certificate_id=str(found.id),
        verify_url=external_url("certification.certificate_page", certificate_id=found.id),
        revoked=format_local(found.revoked_at, "UTC", style="date") if revoked else None,
        revoke_reason=found.revoke_reason,
        compress=not current_app.testing,
    )
    response = Response(body, status=410 if revoked else 200, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="peerloop-certificate-{found.id}.pdf"'
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/dashboard/student-teacher")
@login_required
def set_available():
    """The dashboard's "Available as Student-Teacher" switch (a checkbox: absent means off)."""
    available = request.form.get("available") == "on"
    try:
        services.set_available(current_user, available, now=clock.now())
    except DomainError as error:
        flash(error.message, "error")
    else:
        if available:
            flash("You're available as a Student-Teacher: students can book you.", "success")
        else:
            flash("You're hidden from new bookings. Your booked sessions stay as they are.", "success")
    return redirect(url_for("payments.dashboard"))


# --- a deactivated S-T's student answers the offer of another teacher ----------------------------


@bp.route("/teacher-changes/<change_id>", methods=["GET", "POST"])
@login_required
def teacher_change_page(change_id: str):
    from peerloop.certification import deactivation

    now = clock.now()
    try:
        change = deactivation.teacher_change(current_user, change_id[:64])
    except DomainError:
        abort(404)
    if request.method == "POST":
        answer = request.form.get("answer")
        if answer not in ("accept", "decline"):
            flash("Choose Accept or Decline.", "error")
            return redirect(url_for("certification.teacher_change_page", change_id=change.id))
        try:
            if answer == "accept":
                deactivation.accept(current_user, change.id, now=now)
                flash(f"Done: your sessions are now with {change.to_teacher.name}.", "success")
            else:
                deactivation.decline(current_user, change.id, now=now)
                flash("Your sessions were cancelled and are not used up: book another teacher when you're ready.")
        except DomainError as error:
            flash(error.message, "error")
        return redirect(url_for("payments.dashboard"))
    return render_template(
        "certification/teacher_change.html",
        change=change,
        sessions=deactivation.sessions_covered(change, now=now) if change.status.value == "pending" else [],
        open=change.status.value == "pending" and change.expires_at > now,
    )


# --- the S-T recommends from Teaching; the certified student applies to teach ----------------------


@bp.post("/teaching/students/<enrollment_id>/recommend")
@login_required
def recommend(enrollment_id: str):
    try:
        item = services.recommend(current_user, enrollment_id[:64], note=request.form.get("note"), now=clock.now())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(
            f"You recommended {item.student.name} for certification: {item.course.creator.name}, the course's "
            "creator, decides next.",
            "success",
        )
    return redirect(url_for("scheduling.teaching", _anchor="students-heading"))


@bp.route("/courses/<slug>/teach", methods=["GET", "POST"])
@login_required
def apply_to_teach(slug: str):
    from peerloop.catalog.services import get_course

    course = get_course(slug[:200], viewer=current_user, with_details=False)
    if course is None:
        abort(404)
    certificate = services.valid_certificate(current_user.id, course.id)
    error = None
    if request.method == "POST":
        try:
            services.apply_to_teach(current_user, course.id, message=request.form.get("message"), now=clock.now())
        except DomainError as problem:
            error = problem.message
        else:
            flash(f"Your application to teach {course.title} is waiting for {course.creator.name}.", "success")
            return redirect(url_for("payments.dashboard"))
    return render_template(
        "certification/apply.html",
        course=course,
        certificate=certificate,
        message=request.form.get("message", ""),
        error=error,
    ), (400 if error else 200)
