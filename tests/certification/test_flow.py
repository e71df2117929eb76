"""Learn, certify, teach through the real services and the API (seed 000 §1): the S-T recommends,
the creator (never Brian) certifies, the certificate verifies without login, the certified student
applies to teach and the creator grants it; every bad input gets its code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from peerloop.certification import services
from peerloop.certification.models import Certificate, CertificateType, StudentTeacher
from peerloop.enrollment.models import EnrollmentStatus, ModuleProgress
from peerloop.extensions import db
from peerloop.notifications.models import Notification

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


class Course:
    """A course with four modules, its creator, an S-T, and a student of that S-T."""

    def __init__(self, make):
        self.creator = make.creator(name="Cora Creator")
        self.course = make.course(creator=self.creator, details=True, title="Intro to Python")
        self.teacher = make.user(name="Marcus Teacher")
        make.student_teacher(self.teacher, self.course)
        self.student = make.user(name="Ana Student")
        self.enrollment = make.enrollment(self.student, self.course, student_teacher_id=self.teacher.id)

    def finish_modules(self, count: int | None = None) -> None:
        modules = self.course.modules[:count] if count is not None else self.course.modules
        done = set(
            db.session.scalars(
                sa.select(ModuleProgress.module_id).where(ModuleProgress.enrollment_id == self.enrollment.id)
            )
        )
        for module in (m for m in modules if m.id not in done):
            db.session.add(
                ModuleProgress(
                    enrollment_id=self.enrollment.id, module_id=module.id, is_complete=True, completed_at=NOW
                )
            )
        db.session.commit()


@pytest.fixture
def c(make):
    return Course(make)


def error(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["error"]["code"]


def test_the_flywheel_end_to_end_through_the_api(client, c, api_token, make):
    teacher, creator, student = api_token(c.teacher), api_token(c.creator), api_token(c.student)
    path = f"/api/enrollments/{c.enrollment.id}/recommend"
    # 1. all modules done (here three of four first: refused)
    c.finish_modules(3)
    assert error(client.post(path, json={}, headers=teacher)) == (422, "modules_incomplete")
    c.finish_modules()  # the fourth
    # 4. the S-T recommends
    recommended = client.post(path, json={"note": "Ana built the whole project herself."}, headers=teacher)
    assert recommended.status_code == 201
    request_id = recommended.get_json()["id"]
    assert recommended.get_json() == {"id": request_id, "status": "pending", "enrollment_id": str(c.enrollment.id)}
    assert error(client.post(path, json={}, headers=teacher)) == (409, "already_requested")
    # 5. the creator sees it in their queue, with progress
    queue = client.get("/api/certification-requests", headers=creator).get_json()
    assert queue["total"] == 1 and queue["items"][0]["student"]["name"] == "Ana Student"
    assert queue["items"][0]["progress"] == {"done": 4, "total": 4}
    # Brian sees it and may not decide
    brian = api_token(make.admin())
    assert client.get("/api/certification-requests", headers=brian).get_json()["total"] >= 1
    assert error(client.post(f"/api/certification-requests/{request_id}/approve", json={}, headers=brian))[0] == 403
    # another creator: not theirs (404)
    other = api_token(make.creator())
    assert client.get("/api/certification-requests", headers=other).get_json()["total"] == 0
    assert error(client.post(f"/api/certification-requests/{request_id}/approve", json={}, headers=other))[0] == 404
    # 6-7. the creator approves: a certificate
    approved = client.post(f"/api/certification-requests/{request_id}/approve", json={}, headers=creator)
    assert approved.status_code == 200
    body = approved.get_json()
    assert body["status"] == "approved" and body["certificate"]["type"] == "completion"
    assert error(client.post(f"/api/certification-requests/{request_id}/approve", json={}, headers=creator)) == (
        409,
        "already_decided",
    )
    db.session.expire_all()
    assert c.enrollment.status == EnrollmentStatus.completed and c.enrollment.completed_at is not None
    told = db.session.scalars(sa.select(Notification.type).where(Notification.user_id == c.student.id)).all()
    assert "certificate_issued" in told
    # The certificate verifies without login.
    certificate_id = body["certificate"]["id"]
    public = client.get(f"/api/certificates/{certificate_id}")
    assert public.status_code == 200
    data = public.get_json()
    assert data["holder"] == {"name": "Ana Student", "handle": c.student.handle}
    assert data["course"]["title"] == "Intro to Python" and data["revoked"] is False
    assert data["issued_by"]["name"] == "Cora Creator"
    page = client.get(f"/certificates/{certificate_id}").get_data(as_text=True)
    assert "Certificate of Completion" in page and "Ana Student" in page and "linkedin.com/profile/add" in page
    # 8. the student applies to teach
    applied = client.post(
        f"/api/courses/{c.course.id}/teach-applications", json={"message": "I'd love to"}, headers=student
    )
    assert applied.status_code == 201 and applied.get_json()["status"] == "pending"
    again = client.post(f"/api/courses/{c.course.id}/teach-applications", json={}, headers=student)
    assert error(again) == (409, "already_applied")
    application_id = applied.get_json()["id"]
    assert client.get("/api/teach-applications", headers=creator).get_json()["total"] == 1
    assert error(client.post(f"/api/teach-applications/{application_id}/approve", headers=brian))[0] == 403
    # 9-10. the creator approves: a Student-Teacher with a teaching certificate and the toggle on
    granted = client.post(f"/api/teach-applications/{application_id}/approve", headers=creator)
    assert granted.status_code == 200 and granted.get_json()["status"] == "approved"
    db.session.expire_all()
    row = db.session.scalar(sa.select(StudentTeacher).where(StudentTeacher.user_id == c.student.id))
    assert row.is_active and row.approved_by == c.creator.id and c.student.is_student_teacher
    kinds = set(db.session.scalars(sa.select(Certificate.type).where(Certificate.user_id == c.student.id)))
    assert kinds == {CertificateType.completion, CertificateType.teaching}
    me = client.get("/api/me", headers=student).get_json()
    assert "student_teacher" in me["roles"]


def test_only_the_students_teacher_or_the_creator_may_recommend(client, c, api_token, make):
    c.finish_modules()
    path = f"/api/enrollments/{c.enrollment.id}/recommend"
    stranger = make.user()
    make.student_teacher(stranger, make.course())  # an S-T of another course
    assert error(client.post(path, json={}, headers=api_token(stranger)))[0] == 404
    assert error(client.post(path, json={}, headers=api_token(c.student)))[0] == 404
    assert client.post(path, json={}, headers=api_token(c.creator)).status_code == 201


def test_rejecting_needs_a_note_and_the_student_may_be_recommended_again(c, now):
    c.finish_modules()
    request = services.recommend(c.teacher, c.enrollment.id, now=now)
    with pytest.raises(services.ValidationError):
        services.reject_certification(c.creator, request.id, note="  ", now=now)
    services.reject_certification(c.creator, request.id, note="Let's do one more session first.", now=now)
    assert services.recommend(c.teacher, c.enrollment.id, now=now).status.value == "pending"


def test_applying_without_a_certificate_or_with_a_revoked_one_is_refused(client, c, api_token, now, make):
    student = api_token(c.student)
    path = f"/api/courses/{c.course.id}/teach-applications"
    assert error(client.post(path, json={}, headers=student)) == (422, "not_certified")
    c.finish_modules()
    request = services.recommend(c.teacher, c.enrollment.id, now=now)
    services.approve_certification(c.creator, request.id, kind="mastery", now=now)
    certificate = db.session.scalar(sa.select(Certificate).where(Certificate.user_id == c.student.id))
    assert certificate.type == CertificateType.mastery
    # Revoked by Brian, with a reason: the page says so, the API answers 410.
    brian = api_token(make.admin())
    assert error(client.post(f"/api/certificates/{certificate.id}/revoke", json={}, headers=brian))[0] == 400
    revoked = client.post(f"/api/certificates/{certificate.id}/revoke", json={"reason": "Plagiarised"}, headers=brian)
    assert revoked.status_code == 200
    again = client.post(f"/api/certificates/{certificate.id}/revoke", json={"reason": "Again"}, headers=brian)
    assert error(again) == (409, "already_revoked")
    gone = client.get(f"/api/certificates/{certificate.id}")
    assert gone.status_code == 410 and gone.get_json()["revoked"] is True and gone.get_json()["revoked_at"]
    page = client.get(f"/certificates/{certificate.id}")
    assert page.status_code == 410 and "Revoked" in page.get_data(as_text=True)
    assert "linkedin.com" not in page.get_data(as_text=True)
    assert error(client.post(path, json={}, headers=student)) == (422, "not_certified")
    # Revoked, the student can be recommended and certified again: a completion certificate this
    # time, the revoked mastery one stays revoked.
    again = services.recommend(c.teacher, c.enrollment.id, now=now)
    services.approve_certification(c.creator, again.id, now=now)
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).revoked_at is not None
    assert services.valid_certificate(c.student.id, c.course.id).type == CertificateType.completion
    with pytest.raises(Exception, match="already certified"):
        services.recommend(c.teacher, c.enrollment.id, now=now)
    # The student may not revoke, another creator may not either.
    assert (
        error(client.post(f"/api/certificates/{certificate.id}/revoke", json={"reason": "x"}, headers=student))[0]
        == 403
    )


def test_bad_ids_and_bodies_are_clear_errors(client, c, api_token):
    creator = api_token(c.creator)
    assert client.get("/api/certificates/not-a-uuid").status_code == 404
    assert client.post("/api/certification-requests/nope/approve", json={}, headers=creator).status_code == 404
    assert client.post("/api/certification-requests", json={}, headers=creator).status_code == 405
    assert client.get("/api/certification-requests", headers=api_token(c.student)).status_code == 403
    assert client.post(f"/api/enrollments/{c.enrollment.id}/recommend", json={}).status_code == 401
    bad = client.post(f"/api/enrollments/{c.enrollment.id}/recommend", json={"note": 5}, headers=api_token(c.teacher))
    assert bad.status_code == 400


def test_the_certification_assessment_is_booked_with_ones_own_teacher_once_everything_is_done(
    client, c, api_token, make, now, monkeypatch
):
    """Step 2 of seed 000 §1: it uses up none of the paid sessions and pays no share."""
    monkeypatch.setattr("peerloop.clock.now", lambda: now)  # the API books at business time
    from datetime import timedelta

    from peerloop.cli import run_sweep
    from peerloop.scheduling import services as scheduling
    from peerloop.scheduling.models import SessionStatus
    from peerloop.video.services import join
    from tests.scheduling.conftest import at, week

    week(c.teacher, now=now)
    other = make.user()
    make.student_teacher(other, c.course)
    week(other, now=now)
    body = {
        "course_id": str(c.course.id),
        "teacher_id": str(c.teacher.id),
        "start": at(1, 9).isoformat(),
        "kind": "certification_assessment",
    }
    student = api_token(c.student)
    assert error(client.post("/api/sessions", json=body, headers=student)) == (422, "modules_incomplete")
    c.finish_modules()
    wrong = client.post("/api/sessions", json={**body, "teacher_id": str(other.id)}, headers=student)
    assert error(wrong) == (422, "not_your_teacher")
    assert error(client.post("/api/sessions", json={**body, "kind": "exam"}, headers=student))[0] == 400
    booked = client.post("/api/sessions", json=body, headers=student)
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["kind"] == "certification_assessment"
    assert booked.get_json()["number"] is None
    again = client.post("/api/sessions", json={**body, "start": at(1, 11).isoformat()}, headers=student)
    assert error(again) == (422, "assessment_booked")
    assert scheduling.used_count(c.enrollment.id) == 0  # both paid sessions are still there
    session_id = uuid.UUID(booked.get_json()["id"])
    join(c.student, session_id, now=at(1, 9))
    join(c.teacher, session_id, now=at(1, 9))
    run_sweep(at(1, 11))
    from peerloop.payments.models import LedgerEntry

    db.session.expire_all()
    from peerloop.scheduling.models import TutoringSession

    assert db.session.get(TutoringSession, session_id).status == SessionStatus.completed
    assert db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.session_id == session_id)) == 0
    assert scheduling.delivered_count(c.enrollment.id) == 0
    # Nor does it count as a student taught (the factory's row starts at 3: recounted, it is 0).
    row = db.session.scalar(sa.select(StudentTeacher).where(StudentTeacher.user_id == c.teacher.id))
    assert row.students_taught == 0
    # then the S-T recommends
    assert (
        services.recommend(c.teacher, c.enrollment.id, now=at(1, 11) + timedelta(minutes=5)).status.value == "pending"
    )
