"""`flask seed-demo` fills the certification flywheel of Intro to Claude Code (Gabriel's course): Sarah
is mid-way, Ben was recommended by Aisha after his Certification Assessment (nine days ago, so
Brian's overview flags it), Chloe is certified and has applied to teach, and Leo has every module
done with the rest to walk from the pages. Loading twice adds nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop import create_app
from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.certification.models import (
    Certificate,
    CertificateType,
    CertificationRequest,
    DecisionStatus,
    StudentTeacher,
    TeachApplication,
)
from peerloop.db import utcnow
from peerloop.demo import CERTIFICATION, DEMO_PASSWORD
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.enrollment.progress import progress_of
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.scheduling import services as scheduling
from peerloop.scheduling.models import SessionKind, SessionStatus, TutoringSession
from tests.conftest import AuthActions, IsolatedClient, base_config, csrf_from
from tests.test_migrations import flask

COUNTED = (CertificationRequest, TeachApplication, Certificate, StudentTeacher, TutoringSession, Notification)
COURSE = "intro-to-claude-code"


@dataclass
class Seeded:
    url: str
    first: dict[str, int]
    second: dict[str, int]


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.scalar(sa.select(sa.func.count()).select_from(model.__table__))
            for model in COUNTED
        }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    """seed-demo run twice on an empty database, as scripts/run runs it (as tests/test_demo_payments.py does)."""
    from config import normalise_database_url

    url = os.environ.get("TEST_DATABASE_URL")
    admin = name = None
    if url:
        name = f"peerloop_demo_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = url.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('demo-certification') / 'demo.db'}"
    engine = sa.create_engine(normalise_database_url(url))
    try:
        upgrade = flask("db", "upgrade", database_url=url)
        assert upgrade.returncode == 0, upgrade.stderr
        first = flask("seed-demo", database_url=url)
        assert first.returncode == 0, first.stderr
        after_first = _counts(engine)
        second = flask("seed-demo", database_url=url)
        assert second.returncode == 0, second.stderr
        assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0]
        yield Seeded(url=normalise_database_url(url), first=after_first, second=_counts(engine))
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


@pytest.fixture
def demo_app(seeded, tmp_path_factory):
    app = create_app({**base_config(tmp_path_factory), "SQLALCHEMY_DATABASE_URI": seeded.url, "REDIS_URL": None})
    app.test_client_class = IsolatedClient
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _enrollment(email: str) -> Enrollment:
    course = db.session.scalar(sa.select(Course).where(Course.slug == COURSE))
    return db.session.scalar(
        sa.select(Enrollment).where(Enrollment.student_id == _user(email).id, Enrollment.course_id == course.id)
    )


def _assessments(enrollment: Enrollment) -> list[TutoringSession]:
    return db.session.scalars(
        sa.select(TutoringSession).where(
            TutoringSession.enrollment_id == enrollment.id,
            TutoringSession.kind == SessionKind.certification_assessment,
        )
    ).all()


def _requests(enrollment: Enrollment) -> list[CertificationRequest]:
    return db.session.scalars(
        sa.select(CertificationRequest).where(CertificationRequest.enrollment_id == enrollment.id)
    ).all()


def _api_login(client, email: str) -> dict:
    response = client.post("/api/auth/login", json={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_a_second_seed_demo_adds_no_certification_rows(seeded):
    assert seeded.first["certification_requests"] == len(CERTIFICATION)
    assert seeded.first["teach_applications"] == 1
    assert seeded.second == seeded.first


def test_sarah_is_mid_way_through_the_course(demo_app):
    enrollment = _enrollment("sarah@example.com")
    progress = progress_of([enrollment.id])[enrollment.id]
    assert 0 < progress.done < progress.total
    assert _requests(enrollment) == [] and _assessments(enrollment) == []


def test_ben_was_recommended_by_aisha_after_his_assessment_nine_days_ago(demo_app):
    enrollment, aisha = _enrollment("ben@example.com"), _user("aisha@example.com")
    assert progress_of([enrollment.id])[enrollment.id].all_done
    [assessment] = _assessments(enrollment)
    assert assessment.teacher_id == aisha.id == enrollment.student_teacher_id
    assert assessment.status == SessionStatus.completed and assessment.number is None
    [request] = _requests(enrollment)
    assert request.status == DecisionStatus.pending and request.recommended_by == aisha.id
    assert "assessment" in request.note
    assert assessment.scheduled_end < request.created_at
    # Older than 7 days: what Brian's overview counts as waiting too long.
    assert timedelta(days=9) <= utcnow() - request.created_at < timedelta(days=9, hours=2)
    # The assessment is no paid session: both of Ben's are delivered, their shares released.
    assert scheduling.delivered_count(enrollment.id) == enrollment.session_count == 2


def test_chloe_is_certified_and_her_application_to_teach_waits(demo_app):
    chloe, enrollment = _user("chloe@example.com"), _enrollment("chloe@example.com")
    [assessment] = _assessments(enrollment)
    [request] = _requests(enrollment)
    assert assessment.teacher_id == request.recommended_by == _user("marcus@example.com").id
    assert request.status == DecisionStatus.approved and request.decided_by == _user("gabriel@example.com").id
    certificate = db.session.get(Certificate, request.certificate_id)
    assert certificate.type == CertificateType.completion and certificate.revoked_at is None
    assert certificate.user_id == chloe.id
    assert certificate.issued_at - request.created_at == timedelta(days=2)
    assert enrollment.status == EnrollmentStatus.completed and enrollment.completed_at == certificate.issued_at
    [application] = db.session.scalars(sa.select(TeachApplication).where(TeachApplication.user_id == chloe.id)).all()
    assert application.status == DecisionStatus.pending and application.course_id == enrollment.course_id
    assert "beginners" in application.message
    assert application.created_at > certificate.issued_at
    assert db.session.scalar(sa.select(StudentTeacher.id).where(StudentTeacher.user_id == chloe.id)) is None


def test_leo_has_every_module_done_and_nothing_booked_yet(demo_app):
    enrollment = _enrollment("leo@example.com")
    assert progress_of([enrollment.id])[enrollment.id].all_done
    assert enrollment.student_teacher_id == _user("aisha@example.com").id
    assert _assessments(enrollment) == [] and _requests(enrollment) == []
    assert db.session.scalar(sa.select(Certificate.id).where(Certificate.user_id == enrollment.student_id)) is None


def test_the_services_told_gabriel_and_the_students(demo_app):
    told = {
        (user_id, kind): url
        for user_id, kind, url in db.session.execute(
            sa.select(Notification.user_id, Notification.type, Notification.action_url)
        )
    }
    gabriel, ben, chloe = (_user(f"{who}@example.com").id for who in ("gabriel", "ben", "chloe"))
    assert told[(gabriel, "certification_requested")] == "/studio/certifications/"
    assert told[(gabriel, "teach_application")] == "/studio/applications/"
    assert (ben, "certification_recommended") in told
    assert told[(chloe, "certificate_issued")].startswith("/certificates/")


def test_gabriels_studio_queues_hold_ben_and_chloe(demo_app):
    db.session.remove()  # end the read (on SQLite it holds the write lock the login needs)
    client = demo_app.test_client()
    assert AuthActions(client).login("gabriel@example.com", DEMO_PASSWORD).status_code == 302
    requests = client.get("/studio/certifications/")
    html = requests.get_data(as_text=True)
    assert requests.status_code == 200
    assert html.count('class="queue-item"') == 1
    assert "Ben Carter" in html and "Aisha Patel" in html and "7 of 7 modules" in html
    assert "fixed a broken script on his own" in html and "Chloe" not in html
    applications = client.get("/studio/applications/")
    html = applications.get_data(as_text=True)
    assert applications.status_code == 200
    assert html.count('class="queue-item"') == 1
    assert "Chloe Dubois" in html and "help other beginners" in html


def test_the_api_queues_for_gabriel_brian_and_another_creator(demo_app):
    db.session.remove()
    client = demo_app.test_client()
    for email, sees in (("gabriel@example.com", True), ("brian@example.com", True), ("priya@example.com", False)):
        headers = _api_login(client, email)
        requests = client.get("/api/certification-requests", headers=headers).get_json()
        applications = client.get("/api/teach-applications", headers=headers).get_json()
        if not sees:
            assert requests["total"] == applications["total"] == 0, email
            continue
        [request] = requests["items"]
        assert request["student"]["name"] == "Ben Carter" and request["recommended_by"]["name"] == "Aisha Patel"
        assert request["progress"] == {"done": 7, "total": 7} and request["course"]["slug"] == COURSE
        [application] = applications["items"]
        assert application["applicant"]["name"] == "Chloe Dubois" and application["message"]


def test_chloes_certificate_verifies_without_login(demo_app):
    certificate_id = db.session.scalar(
        sa.select(Certificate.id).where(
            Certificate.user_id == _user("chloe@example.com").id, Certificate.type == CertificateType.completion
        )
    )
    db.session.remove()
    client = demo_app.test_client()
    verified = client.get(f"/api/certificates/{certificate_id}")
    assert verified.status_code == 200
    assert verified.get_json()["holder"]["name"] == "Chloe Dubois" and verified.get_json()["revoked"] is False
    assert client.get(f"/certificates/{certificate_id}").status_code == 200


def test_leo_walks_the_rest_of_the_flywheel(demo_app):
    """Last (it changes the demo): Leo books his assessment with Aisha, Aisha recommends him,
    Gabriel certifies him in the studio, Leo applies to teach, Gabriel approves."""
    now = utcnow()
    leo, aisha = _user("leo@example.com"), _user("aisha@example.com")
    enrollment = _enrollment("leo@example.com")
    free = scheduling.free_slots_for([aisha.id], now=now, student_id=leo.id)[aisha.id]
    course_id, aisha_id, leo_id, enrollment_id = enrollment.course_id, aisha.id, leo.id, enrollment.id
    db.session.remove()
    client = demo_app.test_client()
    leo_api = _api_login(client, "leo@example.com")
    booked = client.post(
        "/api/sessions",
        json={
            "course_id": str(course_id),
            "teacher_id": str(aisha_id),
            "start": free[0].isoformat(),
            "kind": "certification_assessment",
        },
        headers=leo_api,
    )
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["kind"] == "certification_assessment"
    recommended = client.post(
        f"/api/enrollments/{enrollment_id}/recommend",
        json={"note": "Leo passed the assessment."},
        headers=_api_login(client, "aisha@example.com"),
    )
    assert recommended.status_code == 201, recommended.get_json()

    auth = AuthActions(client)
    assert auth.login("gabriel@example.com", DEMO_PASSWORD).status_code == 302
    html = client.get("/studio/certifications/").get_data(as_text=True)
    assert "Leo Martins" in html and "Ben Carter" in html
    certified = client.post(
        "/studio/certifications/decide/",
        data={"csrf_token": csrf_from(html), "one": recommended.get_json()["id"]},
        follow_redirects=True,
    )
    assert "Certified 1." in certified.get_data(as_text=True)

    applied = client.post(f"/api/courses/{COURSE}/teach-applications", json={"message": "Me too!"}, headers=leo_api)
    assert applied.status_code == 201, applied.get_json()
    html = client.get("/studio/applications/").get_data(as_text=True)
    assert "Leo Martins" in html and "Chloe Dubois" in html
    approved = client.post(
        "/studio/applications/decide/",
        data={"csrf_token": csrf_from(html), "one": applied.get_json()["id"]},
        follow_redirects=True,
    )
    assert "Approved 1." in approved.get_data(as_text=True)
    assert "student_teacher" in client.get("/api/me", headers=leo_api).get_json()["roles"]
    assert db.session.scalar(
        sa.select(StudentTeacher.is_active).where(
            StudentTeacher.user_id == leo_id, StudentTeacher.course_id == course_id
        )
    )
