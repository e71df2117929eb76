"""The flywheel's steps as buttons on the pages a person uses: Book your Certification Assessment
(learning page and My courses → the day view with one's own S-T → confirm), Recommend for
Certification on Teaching, and Apply to teach on My courses."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from peerloop.certification import services
from peerloop.certification.models import CertificationRequest, DecisionStatus, TeachApplication
from peerloop.extensions import db
from peerloop.scheduling import services as scheduling
from peerloop.scheduling.models import SessionKind, TutoringSession
from tests.certification.test_flow import Course
from tests.scheduling.conftest import at, week


@pytest.fixture
def c(make, now, monkeypatch):
    monkeypatch.setattr("peerloop.clock.now", lambda: now)
    course = Course(make)
    week(course.teacher, now=now)
    other = make.user(name="Olive Other")
    make.student_teacher(other, course.course)
    week(other, now=now)
    course.other = other
    return course


def page(client, path: str) -> str:
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_the_assessment_is_booked_from_the_pages_with_ones_own_teacher(client, c, login_as, auth):
    login_as(c.student)
    assessment = f"/courses/{c.course.slug}/schedule?for=assessment"
    assert "Book your Certification Assessment" not in page(client, "/dashboard")
    early = page(client, assessment)  # not every module done: back to the ordinary day view
    assert "Tick off every module first" in early and "Book your Certification Assessment" not in early

    c.finish_modules()
    dashboard = page(client, "/dashboard")
    assert "Book your Certification Assessment" in dashboard and "?for=assessment" in dashboard
    assert "?for=assessment" in page(client, f"/learn/{c.enrollment.id}")
    day = page(client, f"{assessment}&date=2026-11-24")
    assert "Book your Certification Assessment" in day and "does not use one of your sessions" in day
    assert "Marcus Teacher" in day and "Olive Other" not in day  # only her own S-T
    assert "for=assessment" in day.split('class="slot"')[1]

    start = "2026-11-24T10:00:00Z"
    wrong = client.get(f"/courses/{c.course.slug}/book?teacher={c.other.id}&start={start}&for=assessment")
    assert wrong.status_code == 302 and "for=assessment" in wrong.location
    confirm = page(client, f"/courses/{c.course.slug}/book?teacher={c.teacher.id}&start={start}&for=assessment")
    assert "Confirm your Certification Assessment" in confirm and 'name="for" value="assessment"' in confirm
    token = auth.csrf(f"/courses/{c.course.slug}/book?teacher={c.teacher.id}&start={start}&for=assessment")
    booked = client.post(
        f"/courses/{c.course.slug}/book",
        data={"csrf_token": token, "teacher": str(c.teacher.id), "start": start, "for": "assessment"},
    )
    assert booked.status_code == 303 and "/sessions/" in booked.location
    session = db.session.scalar(sa.select(TutoringSession).where(TutoringSession.enrollment_id == c.enrollment.id))
    assert session.kind == SessionKind.certification_assessment and session.scheduled_start == at(1, 10)
    assert scheduling.used_count(c.enrollment.id) == 0
    after = page(client, "/dashboard")
    assert "Certification Assessment:" in after and "Book your Certification Assessment" not in after

    twice = client.post(
        f"/courses/{c.course.slug}/book",
        data={"csrf_token": token, "teacher": str(c.teacher.id), "start": "2026-11-24T12:00:00Z", "for": "assessment"},
        follow_redirects=True,
    )
    assert "already booked" in twice.get_data(as_text=True)


def test_the_teacher_recommends_from_teaching(client, c, login_as, auth, now):
    c.book = scheduling.book(c.student, course_id=c.course.id, teacher_id=c.teacher.id, start=at(1, 9), now=now)
    login_as(c.teacher)
    assert "Recommend for Certification" not in page(client, "/teaching")  # modules not done yet
    c.finish_modules()
    teaching = page(client, "/teaching")
    assert "Recommend for Certification" in teaching and f"/teaching/students/{c.enrollment.id}/recommend" in teaching
    done = client.post(
        f"/teaching/students/{c.enrollment.id}/recommend",
        data={"csrf_token": auth.csrf("/teaching"), "note": "Solid on every module."},
        follow_redirects=True,
    )
    html = done.get_data(as_text=True)
    assert "You recommended Ana Student for certification" in html
    assert "waiting for Cora Creator" in html and "Recommend for Certification" not in html
    request = db.session.scalar(sa.select(CertificationRequest))
    assert (request.recommended_by, request.note, request.status) == (
        c.teacher.id,
        "Solid on every module.",
        DecisionStatus.pending,
    )
    again = client.post(
        f"/teaching/students/{c.enrollment.id}/recommend",
        data={"csrf_token": auth.csrf("/teaching")},
        follow_redirects=True,
    )
    assert "already waiting" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(CertificationRequest.id))) == 1


def test_a_stranger_cannot_recommend_through_the_form(client, c, make, login_as, auth):
    c.finish_modules()
    stranger = make.user()
    make.student_teacher(stranger, make.course())
    login_as(stranger)
    response = client.post(
        f"/teaching/students/{c.enrollment.id}/recommend",
        data={"csrf_token": auth.csrf("/teaching")},
        follow_redirects=True,
    )
    assert "No such student." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(CertificationRequest.id))) == 0


def test_the_certified_student_applies_from_my_courses(client, c, login_as, auth, now):
    login_as(c.student)
    refused = page(client, f"/courses/{c.course.slug}/teach")
    assert "Only students certified in this course may apply" in refused and "Send application" not in refused

    c.finish_modules()
    request = services.recommend(c.teacher, c.enrollment.id, now=now)
    services.approve_certification(c.creator, request.id, now=now)
    dashboard = page(client, "/dashboard")
    assert "Apply to teach" in dashboard and f"/courses/{c.course.slug}/teach" in dashboard
    # Certified, the enrollment keeps its paid sessions: still bookable from its card.
    left = c.enrollment.session_count
    assert f"You&#39;re certified; {left} paid session{'s' if left != 1 else ''} still yours to book" in dashboard
    assert f'href="/courses/{c.course.slug}/schedule">Schedule session</a>' in dashboard
    form = page(client, f"/courses/{c.course.slug}/teach")
    assert "Send application" in form and "Cora Creator" in form
    token = auth.csrf(f"/courses/{c.course.slug}/teach")
    sent = client.post(
        f"/courses/{c.course.slug}/teach", data={"csrf_token": token, "message": "I loved it."}, follow_redirects=True
    )
    html = sent.get_data(as_text=True)
    assert "Your application to teach Intro to Python is waiting for Cora Creator." in html
    assert "Apply to teach</a>" not in html
    application = db.session.scalar(sa.select(TeachApplication))
    assert (application.user_id, application.message) == (c.student.id, "I loved it.")
    twice = client.post(f"/courses/{c.course.slug}/teach", data={"csrf_token": token, "message": "Again"})
    assert twice.status_code == 400 and "already waiting" in twice.get_data(as_text=True)
    assert client.get("/courses/no-such-course/teach").status_code == 404
