"""Brian's Teaching → Certifications: every creator's waiting recommendations and applications with
the creator to nudge (no approve button: deciding is the creator's), and revoking a certificate."""

from __future__ import annotations

import sqlalchemy as sa

from peerloop.certification import services
from peerloop.certification.models import Certificate
from peerloop.extensions import db
from tests.certification.test_flow import Course


def test_brian_sees_every_queue_and_can_only_nudge(client, make, login_as, now):
    first, second = Course(make), Course(make)
    for c in (first, second):
        c.finish_modules()
    services.recommend(first.teacher, first.enrollment.id, note="Ready.", now=now)
    request = services.recommend(second.teacher, second.enrollment.id, now=now)
    services.approve_certification(second.creator, request.id, now=now)
    services.apply_to_teach(second.student, second.course.id, message="Let me teach", now=now)

    login_as(make.user(is_admin=True))
    html = client.get("/admin/certifications/").get_data(as_text=True)
    assert 'id="requests-count">1<' in html and 'id="applications-count">1<' in html
    assert "“Ready.”" in html and "“Let me teach”" in html
    assert first.creator.email in html and second.creator.email in html
    assert "Approve" not in html and "Certify" not in html


def test_brian_revokes_a_certificate_with_a_reason(client, make, login_as, auth, now):
    c = Course(make)
    c.finish_modules()
    request = services.recommend(c.teacher, c.enrollment.id, now=now)
    services.approve_certification(c.creator, request.id, now=now)
    certificate = db.session.scalar(sa.select(Certificate))
    login_as(make.user(is_admin=True))
    page = client.get(f"/admin/certifications/?certificate={certificate.id}").get_data(as_text=True)
    assert f'id="certificate-{certificate.id}"' in page and "Revoke" in page
    assert "No certificate has that ID." in client.get("/admin/certifications/?certificate=nope").get_data(as_text=True)
    token = auth.csrf("/admin/certifications/")
    missing = client.post(
        "/admin/certifications/revoke/",
        data={"csrf_token": token, "certificate_id": str(certificate.id), "reason": " "},
        follow_redirects=True,
    )
    assert "Say why." in missing.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).revoked_at is None
    done = client.post(
        "/admin/certifications/revoke/",
        data={"csrf_token": token, "certificate_id": str(certificate.id), "reason": "Plagiarised project"},
        follow_redirects=True,
    )
    assert "Revoked Ana Student&#39;s certificate for Intro to Python." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).revoke_reason == "Plagiarised project"
    again = client.post(
        "/admin/certifications/revoke/",
        data={"csrf_token": token, "certificate_id": str(certificate.id), "reason": "Twice"},
        follow_redirects=True,
    )
    assert "already revoked" in again.get_data(as_text=True)


def test_only_admins_reach_it(client, make, login_as, auth):
    assert client.get("/admin/certifications/").status_code == 302
    for user in (make.user(), make.creator()):
        login_as(user)
        assert client.get("/admin/certifications/").status_code == 403
        auth.logout()
