"""The certificate's PDF: public like its page, with the verification link; revoked says REVOKED
(410); any name renders; an unknown id is 404."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from peerloop.certification import pdf
from peerloop.certification.models import Certificate, CertificateType
from peerloop.extensions import db

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def issue(make):
    def issue(name="Ana Student", **overrides):
        creator = make.creator(name="Cora Creator")
        course = make.course(creator=creator, title="Intro to Python")
        holder = make.user(name=name)
        row = Certificate(
            user_id=holder.id,
            course_id=course.id,
            type=CertificateType.completion,
            issued_at=NOW,
            issued_by=creator.id,
            **overrides,
        )
        db.session.add(row)
        db.session.commit()
        return row

    return issue


def test_the_pdf_is_public_and_carries_its_verification_link(client, issue):
    certificate = issue()
    response = client.get(f"/certificates/{certificate.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    body = response.get_data()
    assert body.startswith(b"%PDF")
    url = f"http://peerloop.test/certificates/{certificate.id}".encode()
    assert b"/URI (" + url + b")" in body  # clickable
    assert b"(" + url + b")" in body.replace(b"/URI (", b"")  # and printed
    assert b"Certificate of Completion" in body and b"Intro to Python" in body and b"Cora Creator" in body
    assert str(certificate.id).encode() in body and b"REVOKED" not in body
    assert b"/Count 1" in body  # one page


def test_the_page_links_the_pdf(client, issue):
    certificate = issue()
    page = client.get(f"/certificates/{certificate.id}").get_data(as_text=True)
    assert f'href="/certificates/{certificate.id}.pdf"' in page and "Download PDF" in page


def test_a_revoked_certificate_pdf_is_410_and_says_revoked(client, issue, make):
    certificate = issue(revoked_at=NOW, revoked_by=make.admin().id, revoke_reason="Plagiarised work")
    response = client.get(f"/certificates/{certificate.id}.pdf")
    assert response.status_code == 410 and response.mimetype == "application/pdf"
    body = response.get_data()
    assert body.startswith(b"%PDF") and b"REVOKED on 23 Nov 2026" in body and b"Plagiarised work" in body
    assert b"no longer valid" in body


@pytest.mark.parametrize("name", ["Zoë Łukasz 李", "李小龍", "\u202e\x07 emoji 🎓 Ω", "x" * 100])
def test_any_name_renders(client, issue, name):
    response = client.get(f"/certificates/{issue(name=name).id}.pdf")
    assert response.status_code == 200 and response.get_data().startswith(b"%PDF")


def test_without_a_unicode_font_names_are_transliterated():
    body = pdf.render(
        type_words="Certificate of Mastery",
        course_title="Café 李",
        holder_name="Zoë Łukasz 李",
        holder_handle="zoe",
        issued="23 Nov 2026",
        issued_by="Cora",
        certificate_id="x",
        verify_url="http://peerloop.test/certificates/x",
        compress=False,
        font_path=None,
    )
    assert body.startswith(b"%PDF") and "Zoë Lukasz ?".encode("latin-1") in body
    assert pdf.latin1_text("Łódź Œuvre 李\x07") == "Lódz OEuvre ?"


def test_unknown_or_malformed_ids_are_404(client):
    assert client.get("/certificates/00000000-0000-0000-0000-000000000000.pdf").status_code == 404
    assert client.get("/certificates/not-a-uuid.pdf").status_code == 404
