"""The creator's queues in /studio as a creator uses them: one in two clicks, several at once, a
rejection needs a note; other creators and students cannot reach them."""

from __future__ import annotations

import sqlalchemy as sa

from peerloop.certification import services
from peerloop.certification.models import Certificate, DecisionStatus, StudentTeacher
from peerloop.extensions import db
from tests.certification.test_flow import Course
from tests.conftest import csrf_from


def requests_for(c, make, now, n=2):
    """``n`` students of the course, each done and recommended by the S-T."""
    made = []
    for i in range(n):
        student = make.user(name=f"Student {i}")
        c.student, c.enrollment = student, make.enrollment(student, c.course, student_teacher_id=c.teacher.id)
        c.finish_modules()
        made.append(services.recommend(c.teacher, c.enrollment.id, note=f"Note {i}", now=now))
    return made


def test_the_creator_certifies_one_in_two_clicks_and_several_at_once(client, make, login_as, now):
    c = Course(make)
    first, second, third = requests_for(c, make, now, n=3)
    login_as(c.creator)
    page = client.get("/studio/certifications/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Student 0" in html and "4 of 4 modules" in html and "Note 1" in html
    one = client.post(
        "/studio/certifications/decide/",
        data={"csrf_token": csrf_from(html), "one": str(first.id), "request_id": [str(second.id)]},
        follow_redirects=True,
    )
    assert "Certified 1." in one.get_data(as_text=True)
    db.session.expire_all()
    assert [r.status for r in (first, second)] == [DecisionStatus.approved, DecisionStatus.pending]
    rejected = client.post(
        "/studio/certifications/decide/",
        data={"csrf_token": csrf_from(html), "action": "reject", "request_id": [str(second.id)]},
        follow_redirects=True,
    )
    assert "Say why." in rejected.get_data(as_text=True)
    bulk = client.post(
        "/studio/certifications/decide/",
        data={
            "csrf_token": csrf_from(html),
            "action": "approve",
            "type": "mastery",
            "request_id": [str(second.id), str(third.id), str(first.id)],
        },
        follow_redirects=True,
    )
    text = bulk.get_data(as_text=True)
    assert "Certified 2." in text and "already decided" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 3


def test_applications_are_approved_from_the_studio(client, make, login_as, now):
    c = Course(make)
    [request] = requests_for(c, make, now, n=1)
    services.approve_certification(c.creator, request.id, now=now)
    application = services.apply_to_teach(c.student, c.course.id, message="Let me teach", now=now)
    login_as(c.creator)
    html = client.get("/studio/applications/").get_data(as_text=True)
    assert "Let me teach" in html
    done = client.post(
        "/studio/applications/decide/",
        data={"csrf_token": csrf_from(html), "one": str(application.id)},
        follow_redirects=True,
    )
    assert "Approved 1." in done.get_data(as_text=True)
    assert db.session.scalar(sa.select(StudentTeacher.is_active).where(StudentTeacher.user_id == c.student.id))


def test_other_people_cannot_reach_the_queues_or_decide(client, make, login_as, now, auth):
    c = Course(make)
    [request] = requests_for(c, make, now, n=1)
    other = make.creator()
    login_as(other)
    html = client.get("/studio/certifications/").get_data(as_text=True)
    assert str(request.id) not in html and "Nothing is waiting for you." in html
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    refused = client.post(
        "/studio/certifications/decide/", data={"csrf_token": token, "one": str(request.id)}, follow_redirects=True
    )
    assert "No such certification request." in refused.get_data(as_text=True)
    db.session.expire_all()
    assert request.status == DecisionStatus.pending
    auth.logout()
    login_as(c.teacher)
    assert client.get("/studio/certifications/").status_code == 403
    auth.logout()
    assert client.get("/studio/applications/").status_code in (302, 303)
