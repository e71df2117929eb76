"""Deactivating a Student-Teacher: their students' upcoming sessions move to another teacher only
when the student agrees; declined, unanswered or not offered, they are cancelled and never used up.

The world (tests/scheduling/conftest.py): Monday 2026-11-23 12:00 UTC; Marcus teaches Ana, who has
two paid sessions; Olive is another S-T of the course with the same week."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from peerloop.certification import deactivation
from peerloop.certification.models import StudentTeacher, TeacherChange, TeacherChangeStatus
from peerloop.cli import run_sweep
from peerloop.enrollment.models import Enrollment
from peerloop.errors import Conflict, NotFound, ValidationError
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.scheduling.services import course_teacher_ids, used_count
from tests.scheduling.conftest import at, error_of, week

pytestmark = pytest.mark.usefixtures("business_time")


@pytest.fixture
def olive(make, world, now):
    olive = make.user(name="Olive Other")
    make.student_teacher(olive, world.course)
    week(olive, now=now)
    return olive


@pytest.fixture
def booked(world, now):
    """Ana's two sessions with Marcus: Wednesday and Thursday 10:00."""
    return [world.book(at(2, 10), now=now), world.book(at(3, 10), now=now)]


def st_row(world) -> StudentTeacher:
    return db.session.scalar(
        sa.select(StudentTeacher).where(
            StudentTeacher.user_id == world.teacher.id, StudentTeacher.course_id == world.course.id
        )
    )


def fresh(session) -> TutoringSession:
    db.session.expire_all()
    return db.session.get(TutoringSession, session.id)


def kinds_for(user) -> list[str]:
    return list(db.session.scalars(sa.select(Notification.type).where(Notification.user_id == user.id)))


def test_offered_and_accepted_the_sessions_move_with_their_times(world, olive, booked, now):
    outcome = deactivation.deactivate(
        world.creator,
        st_row(world).id,
        plan={str(world.enrollment.id): str(olive.id)},
        reason="Moved abroad",
        now=now,
    )
    assert (outcome.offered, outcome.cancelled) == (1, 0)
    db.session.expire_all()
    assert st_row(world).is_active is False
    assert world.teacher.id not in course_teacher_ids(world.course)
    assert "student_teacher_deactivated" in kinds_for(world.teacher)
    assert "teacher_change_offered" in kinds_for(world.student)
    assert "teacher_change_proposed" in kinds_for(olive)
    change = db.session.scalar(sa.select(TeacherChange))
    assert change.expires_at == at(2, 9)  # an hour before the first session it covers
    # Until the student answers, the sessions keep their teacher.
    assert {fresh(s).teacher_id for s in booked} == {world.teacher.id}

    deactivation.accept(world.student, change.id, now=now)
    moved = [fresh(s) for s in booked]
    assert [(s.teacher_id, s.status, s.scheduled_start) for s in moved] == [
        (olive.id, SessionStatus.scheduled, at(2, 10)),
        (olive.id, SessionStatus.scheduled, at(3, 10)),
    ]
    assert all(s.sequence == 1 for s in moved)  # the .ics updates
    assert db.session.get(Enrollment, world.enrollment.id).student_teacher_id == olive.id
    assert db.session.get(TeacherChange, change.id).status == TeacherChangeStatus.accepted
    assert kinds_for(olive).count("session_teacher_changed") == 2
    with pytest.raises(Conflict):
        deactivation.decline(world.student, change.id, now=now)


def test_not_offered_the_sessions_are_cancelled_and_not_used_up(world, booked, now):
    outcome = deactivation.deactivate(world.creator, st_row(world).id, reason="Stopped answering", now=now)
    assert (outcome.offered, outcome.cancelled) == (0, 2)
    for session in booked:
        session = fresh(session)
        assert session.status == SessionStatus.cancelled and session.late_cancellation is False
        assert session.cancelled_by == world.creator.id
        assert "no longer teaches" in session.cancel_reason
    enrollment = db.session.get(Enrollment, world.enrollment.id)
    assert used_count(enrollment.id) == 0  # both paid sessions can be booked again
    assert enrollment.student_teacher_id is None  # the next booking sets their new S-T
    assert "session_cancelled" in kinds_for(world.student)


def test_declined_or_unanswered_offers_cancel_the_sessions(world, olive, booked, make, now):
    deactivation.deactivate(
        world.creator, st_row(world).id, plan={str(world.enrollment.id): str(olive.id)}, reason="r", now=now
    )
    change = db.session.scalar(sa.select(TeacherChange))
    deactivation.decline(world.student, change.id, now=now)
    assert [fresh(s).status for s in booked] == [SessionStatus.cancelled] * 2
    assert db.session.get(TeacherChange, change.id).status == TeacherChangeStatus.declined
    assert "teacher_change_closed" in kinds_for(olive)


def test_the_sweep_lapses_an_unanswered_offer(world, olive, booked, now):
    deactivation.deactivate(
        world.creator, st_row(world).id, plan={str(world.enrollment.id): str(olive.id)}, reason="r", now=now
    )
    change = db.session.scalar(sa.select(TeacherChange))
    assert run_sweep(at(2, 8))["teacher_changes_expired"] == 0  # not yet
    assert run_sweep(at(2, 9))["teacher_changes_expired"] == 1
    assert run_sweep(at(2, 9, 5))["teacher_changes_expired"] == 0  # once
    db.session.expire_all()
    assert db.session.get(TeacherChange, change.id).status == TeacherChangeStatus.expired
    assert [fresh(s).status for s in booked] == [SessionStatus.cancelled] * 2
    with pytest.raises(Conflict):
        deactivation.accept(world.student, change.id, now=at(2, 9, 10))


def test_a_session_too_close_to_ask_about_is_cancelled_at_once(world, olive, now):
    soon = world.book(at(0, 16), now=now)
    later = world.book(at(3, 10), now=now)
    close = at(0, 14, 30)  # the deactivation comes 90 minutes before the first session
    outcome = deactivation.deactivate(
        world.creator, st_row(world).id, plan={str(world.enrollment.id): str(olive.id)}, reason="r", now=close
    )
    assert (outcome.offered, outcome.cancelled) == (1, 1)
    assert fresh(soon).status == SessionStatus.cancelled and fresh(later).status == SessionStatus.scheduled
    change = db.session.scalar(sa.select(TeacherChange))
    assert change.expires_at == at(3, 9)


def test_a_time_the_new_teacher_filled_meanwhile_is_cancelled_the_rest_move(world, olive, booked, enrolled, now):
    deactivation.deactivate(
        world.creator, st_row(world).id, plan={str(world.enrollment.id): str(olive.id)}, reason="r", now=now
    )
    world.book(at(3, 10), now=now, student=enrolled(name="Ben"), teacher=olive)  # Thursday 10:00 taken
    change = db.session.scalar(sa.select(TeacherChange))
    deactivation.accept(world.student, change.id, now=now)
    wednesday, thursday = (fresh(s) for s in booked)
    assert (wednesday.teacher_id, wednesday.status) == (olive.id, SessionStatus.scheduled)
    assert thursday.status == SessionStatus.cancelled and "not free" in thursday.cancel_reason


def test_who_may_deactivate_and_bad_input(world, olive, booked, make, now):
    row_id = st_row(world).id
    for stranger in (make.creator(), world.student, olive):
        with pytest.raises(NotFound):
            deactivation.deactivate(stranger, row_id, reason="r", now=now)
    with pytest.raises(ValidationError) as missing:
        deactivation.deactivate(world.creator, row_id, reason="  ", now=now)
    assert "reason" in missing.value.fields
    for bad in ("not-an-id", str(world.teacher.id), str(world.student.id), str(make.user().id)):
        with pytest.raises(ValidationError) as wrong:
            deactivation.deactivate(world.creator, row_id, plan={str(world.enrollment.id): bad}, reason="r", now=now)
        assert f"plan.{world.enrollment.id}" in wrong.value.fields
    db.session.expire_all()
    assert st_row(world).is_active and [fresh(s).status for s in booked] == [SessionStatus.scheduled] * 2

    admin = make.user(is_admin=True)
    deactivation.deactivate(admin, row_id, reason="Reported by students", now=now)
    with pytest.raises(Conflict) as twice:
        deactivation.deactivate(world.creator, row_id, reason="r", now=now)
    assert twice.value.code == "already_inactive"


def test_only_the_student_answers_an_offer(world, olive, booked, make, now):
    deactivation.deactivate(
        world.creator, st_row(world).id, plan={str(world.enrollment.id): str(olive.id)}, reason="r", now=now
    )
    change = db.session.scalar(sa.select(TeacherChange))
    for other in (olive, world.creator, make.user()):
        with pytest.raises(NotFound):
            deactivation.accept(other, change.id, now=now)


def test_the_api(client, world, olive, booked, api_token, make, now):
    path = f"/api/student-teachers/{st_row(world).id}/deactivate"
    assert client.post(path, json={"reason": "r"}, headers=api_token(make.creator())).status_code == 404
    bad = client.post(path, json={"reason": "r", "plan": "olive"}, headers=api_token(world.creator))
    assert bad.status_code == 400 and "plan" in error_of(bad)["fields"]
    done = client.post(
        path,
        json={"reason": "Moved abroad", "plan": {str(world.enrollment.id): str(olive.id)}},
        headers=api_token(world.creator),
    )
    assert done.status_code == 200
    assert done.get_json() == {"is_active": False, "students_offered": 1, "sessions_cancelled": 0}

    student = api_token(world.student)
    items = client.get("/api/teacher-changes", headers=student).get_json()["items"]
    assert len(items) == 1 and items[0]["to_teacher"]["name"] == "Olive Other"
    assert [s["start"] for s in items[0]["sessions"]] == ["2026-11-25T10:00:00Z", "2026-11-26T10:00:00Z"]
    change_id = items[0]["id"]
    assert client.post(f"/api/teacher-changes/{change_id}/maybe", headers=student).status_code == 404
    assert client.post(f"/api/teacher-changes/{change_id}/accept", headers=api_token(olive)).status_code == 404
    accepted = client.post(f"/api/teacher-changes/{change_id}/accept", headers=student)
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    again = client.post(f"/api/teacher-changes/{change_id}/decline", headers=student)
    assert again.status_code == 409 and error_of(again)["code"] == "already_answered"
    assert client.get("/api/teacher-changes", headers=student).get_json()["items"] == []


def test_the_studio_page_and_the_students_answer_page(client, world, olive, booked, login_as, auth, now):
    row = st_row(world)
    login_as(world.creator)
    listing = client.get("/studio/teachers/").get_data(as_text=True)
    assert f'href="/studio/deactivate/{row.id}"' in listing
    page = client.get(f"/studio/deactivate/{row.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Deactivate Marcus Teacher" in html and "Ana Student" in html and "Offer to Olive Other" in html
    assert "Offer to Cora Creator (you)" in html
    token = auth.csrf(f"/studio/deactivate/{row.id}")
    missing = client.post(f"/studio/deactivate/{row.id}", data={"csrf_token": token, "reason": ""})
    assert missing.status_code == 200 and "is-invalid" in missing.get_data(as_text=True)
    db.session.expire_all()
    assert st_row(world).is_active
    done = client.post(
        f"/studio/deactivate/{row.id}",
        data={"csrf_token": token, "reason": "Moved abroad", f"plan.{world.enrollment.id}": str(olive.id)},
        follow_redirects=True,
    )
    assert "Marcus Teacher no longer teaches this course. 1 student asked to accept a new teacher." in done.get_data(
        as_text=True
    )
    assert "no longer teaches this course" in client.get(f"/studio/deactivate/{row.id}").get_data(as_text=True)
    assert f'href="/studio/deactivate/{row.id}"' not in client.get("/studio/teachers/").get_data(as_text=True)
    auth.logout()

    change = db.session.scalar(sa.select(TeacherChange))
    login_as(world.student)
    answer = client.get(f"/teacher-changes/{change.id}").get_data(as_text=True)
    assert "Accept Olive Other" in answer and "Decline and cancel them" in answer
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert f"/teacher-changes/{change.id}" in dashboard
    token = auth.csrf(f"/teacher-changes/{change.id}")
    client.post(f"/teacher-changes/{change.id}", data={"csrf_token": token, "answer": "accept"})
    assert {fresh(s).teacher_id for s in booked} == {olive.id}
    assert "You accepted" in client.get(f"/teacher-changes/{change.id}").get_data(as_text=True)
    auth.logout()
    login_as(olive)
    assert client.get(f"/teacher-changes/{change.id}").status_code == 404
