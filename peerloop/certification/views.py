"""The public certificate page: anyone can open it to verify a certificate."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, render_template

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
