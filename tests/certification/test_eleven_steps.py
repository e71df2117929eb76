"""Seed 000 §1, the eleven steps from student to Student-Teacher, walked once in order through the
services and the HTTP edges a person uses at each step (the JSON API, the learning page's form, the
studio's queues, the public certificate, the profile, My courses, the availability form, the course
page), with business time moved along as the week goes by. Each refusal is tried at the step where
a person would meet it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.certification.models import (
    Certificate,
    CertificateType,
    CertificationRequest,
    DecisionStatus,
    StudentTeacher,
    TeachApplication,
)
from peerloop.cli import run_sweep
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.extensions import db
from peerloop.notifications.models import Notification, OutboundEmail
from peerloop.payments.models import LedgerEntry
from peerloop.scheduling import services as scheduling
from peerloop.scheduling.models import SessionKind, SessionStatus, TutoringSession
from peerloop.video.services import join
from tests import factories
from tests.conftest import csrf_from
from tests.payments.conftest import buy
from tests.scheduling.conftest import at, week

TUESDAY_9 = at(1, 9)  # the Certification Assessment
WEDNESDAY_NOON = at(2, 12)  # after it: recommended, certified, applied, approved
WEEKDAY_HOURS = {f"day-{d}": "09:00-17:00" for d in range(1, 6)}  # the availability form, Monday to Friday


class BusinessTime:
    """What ``peerloop.clock.now`` answers for the HTTP edges; the services get it passed in."""

    def __init__(self, start):
        self.now = start


@pytest.fixture
def business(monkeypatch, now) -> BusinessTime:
    time = BusinessTime(now)
    monkeypatch.setattr("peerloop.clock.now", lambda: time.now)
    return time


def signed_in(app, user):
    """A client of its own for ``user``, logged in through the real form (each person their own
    browser: one test client's cookie would carry from one person to the next)."""
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"email": user.email, "password": factories.PASSWORD, "csrf_token": csrf_from(html)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def error(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["error"]["code"]


def text(response) -> str:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])
    return response.get_data(as_text=True)


def one(model, *where):
    db.session.expire_all()
    return db.session.scalar(sa.select(model).where(*where))


class Flywheel:
    """Cora's course (four modules, two live sessions), Marcus her S-T with a teaching week, and Ana
    who bought the course with Marcus through the sandbox checkout (so a delivered session would
    release a real teaching share)."""

    def __init__(self, make, now):
        self.creator = make.creator(name="Cora Creator")
        self.course = make.course(creator=self.creator, details=True, title="Intro to Python", session_count=2)
        self.teacher = make.user(name="Marcus Teacher")
        make.student_teacher(self.teacher, self.course)
        week(self.teacher, now=now)
        self.student = make.user(name="Ana Student", handle="ana")
        self.enrollment = buy(self.student, self.course, now=now, teacher=self.teacher)
        self.modules = list(self.course.modules)


@pytest.fixture
def f(make, now) -> Flywheel:
    return Flywheel(make, now)


def test_the_eleven_steps_from_student_to_bookable_student_teacher(app, client, f, api_token, make, business, jobs):
    student_api, teacher_api, creator_api = api_token(f.student), api_token(f.teacher), api_token(f.creator)
    course_id, enrollment_id = str(f.course.id), str(f.enrollment.id)
    assert f.enrollment.status == EnrollmentStatus.enrolled and f.enrollment.session_count == 2
    assert f.enrollment.student_teacher_id == f.teacher.id

    # 1. The student ticks the modules off: three through the JSON API (the learning page's script) …
    for count, module in enumerate(f.modules[:3], start=1):
        ticked = client.put(
            f"/api/enrollments/{enrollment_id}/modules/{module.id}", json={"is_complete": True}, headers=student_api
        )
        assert ticked.status_code == 200, ticked.get_json()
        assert ticked.get_json()["progress"] == {"done": count, "total": 4, "percent": 25 * count}
    assert one(Enrollment, Enrollment.id == f.enrollment.id).status == EnrollmentStatus.in_progress

    # 2, too early: with a module still open the assessment cannot be booked, nor recommended.
    assessment = {
        "course_id": course_id,
        "teacher_id": str(f.teacher.id),
        "start": TUESDAY_9.isoformat(),
        "kind": "certification_assessment",
    }
    assert error(client.post("/api/sessions", json=assessment, headers=student_api)) == (422, "modules_incomplete")
    recommend_path = f"/api/enrollments/{enrollment_id}/recommend"
    assert error(client.post(recommend_path, json={}, headers=teacher_api)) == (422, "modules_incomplete")

    # … and the fourth through the learning page's own form (no JavaScript).
    student_pages = signed_in(app, f.student)
    learn = f"/learn/{enrollment_id}"
    assert "3 of 4 modules done" in text(student_pages.get(learn))
    last = f.modules[3]
    marked = student_pages.post(
        f"{learn}/modules/{last.id}", data={"complete": "1", "csrf_token": csrf_from(text(student_pages.get(learn)))}
    )
    assert marked.status_code == 303 and marked.headers["Location"].endswith(f"{learn}#module-{last.id}")
    page = text(student_pages.get(learn))
    assert "4 of 4 modules done" in page and 'aria-valuenow="4"' in page and "width: 100%" in page
    assert "All modules done" in page
    assert "data-learn-all-done hidden" not in page

    # 2. The Certification Assessment, with her own S-T (another S-T of the course is refused).
    other_teacher = make.user(name="Olga Teacher")
    make.student_teacher(other_teacher, f.course)
    week(other_teacher, now=business.now)
    with_other = {**assessment, "teacher_id": str(other_teacher.id)}
    not_own = client.post("/api/sessions", json=with_other, headers=student_api)
    assert error(not_own) == (422, "not_your_teacher")
    booked = client.post("/api/sessions", json=assessment, headers=student_api)
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["kind"] == "certification_assessment" and booked.get_json()["number"] is None
    session_id = uuid.UUID(booked.get_json()["id"])
    twice = client.post("/api/sessions", json={**assessment, "start": at(1, 11).isoformat()}, headers=student_api)
    assert error(twice) == (422, "assessment_booked")
    assert scheduling.used_count(f.enrollment.id) == 0  # both paid sessions are still to book

    # 3. The session happens: both join the room, the sweep settles it from who came.
    join(f.student, session_id, now=TUESDAY_9 - timedelta(minutes=2))
    join(f.teacher, session_id, now=TUESDAY_9 + timedelta(minutes=1))
    assert run_sweep(TUESDAY_9 + timedelta(hours=2))["sessions_settled"]["settled"] == 1
    run_sweep(TUESDAY_9 + timedelta(hours=50))  # past the 48 hours a delivered session's share waits
    held = one(TutoringSession, TutoringSession.id == session_id)
    assert held.status == SessionStatus.completed and held.kind == SessionKind.certification_assessment
    assert db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.session_id == session_id)) == 0
    assert scheduling.delivered_count(f.enrollment.id) == 0 and scheduling.used_count(f.enrollment.id) == 0

    # 4. The S-T recommends (from Teaching, whose student row says "all done").
    business.now = WEDNESDAY_NOON
    teacher_pages = signed_in(app, f.teacher)
    teaching = text(teacher_pages.get("/teaching"))
    assert "Ana Student" in teaching and "4 of 4 modules" in teaching and "<strong>all done</strong>" in teaching
    note = "Ana explained every module back to me in the assessment."
    recommended = client.post(recommend_path, json={"note": note}, headers=teacher_api)
    assert recommended.status_code == 201, recommended.get_json()
    request_id = recommended.get_json()["id"]
    assert recommended.get_json() == {"id": request_id, "status": "pending", "enrollment_id": enrollment_id}
    assert error(client.post(recommend_path, json={}, headers=teacher_api)) == (409, "already_requested")
    # Not certified yet: applying to teach is refused.
    apply_path = f"/api/courses/{course_id}/teach-applications"
    assert error(client.post(apply_path, json={}, headers=student_api)) == (422, "not_certified")

    # 5. The creator, not Brian, sees it in the studio queue with the progress and the note.
    creator_pages = signed_in(app, f.creator)
    queue = text(creator_pages.get("/studio/certifications/"))
    assert "Ana Student" in queue and "4 of 4 modules" in queue and note in queue
    assert "Marcus Teacher" in queue and f'value="{request_id}">Certify Ana Student</button>' in queue
    told = one(Notification, Notification.user_id == f.creator.id, Notification.type == "certification_requested")
    assert told is not None and told.action_url == "/studio/certifications/"
    brian = api_token(make.admin(name="Brian Admin"))
    approve_path = f"/api/certification-requests/{request_id}/approve"
    assert client.post(approve_path, json={}, headers=brian).status_code == 403

    # 6. The creator approves: the queue's page, then the card's Certify button.
    certified = creator_pages.post(
        "/studio/certifications/decide/", data={"csrf_token": csrf_from(queue), "one": request_id}
    )
    assert certified.status_code == 302
    after = text(creator_pages.get("/studio/certifications/"))
    assert "Certified 1." in after and "Nothing is waiting for you." in after
    decided = one(CertificationRequest, CertificationRequest.id == uuid.UUID(request_id))
    assert decided.status == DecisionStatus.approved and decided.decided_by == f.creator.id
    assert decided.decided_at == WEDNESDAY_NOON
    # Approving twice: the API says 409, the studio says so in words and issues nothing more.
    assert error(client.post(approve_path, json={}, headers=creator_api)) == (409, "already_decided")
    again = creator_pages.post(
        "/studio/certifications/decide/",
        data={"csrf_token": csrf_from(queue), "one": request_id},  # a second tab still open on it
        follow_redirects=True,
    )
    assert "This certification request is already decided." in text(again)

    # 7. A certificate: its fields, its public page and PDF, an email and a notification.
    certificate = one(Certificate, Certificate.user_id == f.student.id)
    assert certificate.id == decided.certificate_id
    assert (certificate.course_id, certificate.type) == (f.course.id, CertificateType.completion)
    assert (certificate.issued_by, certificate.recommended_by) == (f.creator.id, f.teacher.id)
    assert certificate.issued_at == WEDNESDAY_NOON and certificate.revoked_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 1
    anyone = app.test_client()  # no login
    public = text(anyone.get(f"/certificates/{certificate.id}"))
    assert "Certificate of Completion" in public and "Ana Student" in public and "Intro to Python" in public
    assert "Cora Creator" in public
    pdf = anyone.get(f"/certificates/{certificate.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    verified = anyone.get(f"/api/certificates/{certificate.id}").get_json()
    assert verified["holder"] == {"name": "Ana Student", "handle": "ana"} and verified["revoked"] is False
    issued = one(Notification, Notification.user_id == f.student.id, Notification.type == "certificate_issued")
    assert issued.action_url == f"/certificates/{certificate.id}"
    jobs.run()
    subjects = db.session.scalars(sa.select(OutboundEmail.subject).where(OutboundEmail.user_id == f.student.id)).all()
    assert "You are certified: Intro to Python" in subjects
    # The enrollment is completed; its two paid sessions are still there to book.
    enrollment = one(Enrollment, Enrollment.id == f.enrollment.id)
    assert enrollment.status == EnrollmentStatus.completed and enrollment.completed_at == WEDNESDAY_NOON
    mine = client.get("/api/enrollments", headers=student_api).get_json()["items"]
    row = next(item for item in mine if item["id"] == enrollment_id)
    assert (row["status"], row["session_count"], row["sessions_used"]) == ("completed", 2, 0)
    assert (row["modules_done"], row["modules_total"]) == (4, 4)
    regular = {"course_id": course_id, "teacher_id": str(f.teacher.id), "start": at(3, 9).isoformat()}
    after_certificate = client.post("/api/sessions", json=regular, headers=student_api)
    assert after_certificate.status_code == 201, after_certificate.get_json()
    assert after_certificate.get_json()["number"] == 1  # the first of her two paid sessions, still hers

    # 8. The student applies to teach; twice is a 409.
    applied = client.post(apply_path, json={"message": "I'd love to teach it."}, headers=student_api)
    assert applied.status_code == 201 and applied.get_json()["status"] == "pending"
    application_id = applied.get_json()["id"]
    assert error(client.post(apply_path, json={}, headers=student_api)) == (409, "already_applied")
    assert one(Notification, Notification.user_id == f.creator.id, Notification.type == "teach_application")

    # 9. The creator approves the application in /studio/applications/ (two clicks again).
    applications = text(creator_pages.get("/studio/applications/"))
    assert "Ana Student" in applications and "I&#39;d love to teach it." in applications
    granted = creator_pages.post(
        "/studio/applications/decide/", data={"csrf_token": csrf_from(applications), "one": application_id}
    )
    assert granted.status_code == 302
    assert "Nothing is waiting for you." in text(creator_pages.get("/studio/applications/"))
    application = one(TeachApplication, TeachApplication.id == uuid.UUID(application_id))
    assert application.status == DecisionStatus.approved and application.decided_by == f.creator.id
    approve_again = client.post(f"/api/teach-applications/{application_id}/approve", headers=creator_api)
    assert error(approve_again) == (409, "already_decided")
    st = one(StudentTeacher, StudentTeacher.user_id == f.student.id, StudentTeacher.course_id == f.course.id)
    assert st.is_active and st.approved_by == f.creator.id and st.certified_date == WEDNESDAY_NOON.date()
    assert st.students_taught == 0
    kinds = set(db.session.scalars(sa.select(Certificate.type).where(Certificate.user_id == f.student.id)))
    assert kinds == {CertificateType.completion, CertificateType.teaching}
    assert "student_teacher" in client.get("/api/me", headers=student_api).get_json()["roles"]

    # 10. The profile says so; My courses shows the "Available as Student-Teacher" toggle, on.
    # (The badge's wording and the toggle were being built alongside this test, uncommitted when it
    # was written: these four assertions are theirs.)
    profile = text(anyone.get("/@ana"))
    assert '<span class="pill">Certified Student-Teacher</span>' in profile
    dashboard = text(student_pages.get("/dashboard"))
    assert '<label for="available">Available as Student-Teacher</label>' in dashboard
    assert 'id="available" name="available" type="checkbox" role="switch" checked' in dashboard
    assert "Available as Student-Teacher" not in text(signed_in(app, make.user()).get("/dashboard"))

    # 11. Listed as a teacher of the course, but with no free time until she sets her hours …
    assert f.student.id in scheduling.course_teacher_ids(f.course)
    directory = text(anyone.get(f"/courses/{f.course.slug}/teachers"))
    assert "Ana Student" in directory
    day = WEDNESDAY_NOON.date() + timedelta(days=2)  # Friday
    schedule_path = f"/api/courses/{course_id}/schedule?date={day.isoformat()}&tz=UTC"

    def bookable_on_friday() -> list[str]:
        return [item["id"] for item in client.get(schedule_path).get_json()["teachers"]]

    assert str(f.teacher.id) in bookable_on_friday() and str(f.student.id) not in bookable_on_friday()
    assert f"teacher={f.student.id}" not in text(anyone.get(f"/courses/{f.course.slug}"))
    # … which she does on the availability page (Teaching → Availability).
    form = text(student_pages.get("/availability"))
    saved = student_pages.post(
        "/availability",
        data={
            "csrf_token": csrf_from(form),
            "timezone": "UTC",
            **WEEKDAY_HOURS,
            "session_minutes": "60",
            "buffer_minutes": "0",
            "min_notice_hours": "4",
            "max_window_days": "14",
            "blocked_count": "0",
            "override_count": "0",
        },
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)[:500]
    assert str(f.student.id) in bookable_on_friday()
    course_page = text(anyone.get(f"/courses/{f.course.slug}"))
    assert "Ana Student" in course_page and f"teacher={f.student.id}&amp;start=" in course_page
    # Another student, who bought the course without choosing a teacher, books her.
    newcomer = make.user(name="Ben Student")
    buy(newcomer, f.course, now=business.now)
    first = client.post(
        "/api/sessions",
        json={"course_id": course_id, "teacher_id": str(f.student.id), "start": at(4, 10).isoformat()},
        headers=api_token(newcomer),
    )
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["teacher_id"], first.get_json()["number"]) == (str(f.student.id), 1)
    taught = one(TutoringSession, TutoringSession.id == uuid.UUID(first.get_json()["id"]))
    assert taught.kind == SessionKind.regular and taught.enrollment.student_teacher_id == f.student.id


def test_the_recommendation_asks_for_every_module_done_not_for_a_held_assessment(client, f, api_token, business):
    """What the code requires today (seed 000 puts the assessment before the recommendation, but
    services.recommend checks the modules only): a recommendation with no assessment booked or held
    goes through. If the rule tightens, this test is the one to change."""
    for module in f.modules:
        client.put(
            f"/api/enrollments/{f.enrollment.id}/modules/{module.id}",
            json={"is_complete": True},
            headers=api_token(f.student),
        )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TutoringSession)) == 0
    recommended = client.post(f"/api/enrollments/{f.enrollment.id}/recommend", json={}, headers=api_token(f.teacher))
    assert recommended.status_code == 201 and recommended.get_json()["status"] == "pending"
