"""Deactivation races on PostgreSQL (real threads, each with its own connection, real commits, every
row deleted afterwards): two deactivations at once act once; a student's accept and decline at once
(or twice over) leave one answer, and each session either moved or cancelled, never both."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.certification import deactivation
from peerloop.certification.models import StudentTeacher, TeacherChange, TeacherChangeStatus
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.scheduling import services
from peerloop.scheduling.models import SessionStatus, TutoringSession
from tests import factories
from tests.conftest import ON_POSTGRES, run_jobs
from tests.scheduling import test_booking_concurrency as booking
from tests.scheduling.conftest import at, week

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks are a PostgreSQL matter: set TEST_DATABASE_URL"),
]


@pytest.fixture
def committed(app):
    made: list = []

    def build(work) -> dict:
        with app.app_context():
            ids = work()
            made.extend(ids["users"])
            db.session.remove()
        return ids

    with app.app_context():
        db.session.rollback()
        before = booking._counts()
    try:
        yield build
    finally:
        with app.app_context():
            db.session.rollback()
            run_jobs(app)
            courses = sa.select(Course.id).where(Course.creator_id.in_(made))
            db.session.execute(sa.delete(TeacherChange).where(TeacherChange.course_id.in_(courses)))
            db.session.commit()
            booking._cleanup(made)
            assert booking._counts() == before
            db.session.remove()


def _world(now) -> dict:
    creator = factories.creator()
    course = factories.course(creator=creator, session_count=4)
    marcus, olive = factories.user(), factories.user()
    for teacher in (marcus, olive):
        factories.student_teacher(teacher, course)
        week(teacher, now=now)
    student = factories.user()
    enrollment = factories.enrollment(student, course)
    sessions = [
        services.book(student, course_id=course.id, teacher_id=marcus.id, start=start, now=now).id
        for start in (at(2, 10), at(3, 10))
    ]
    row = db.session.scalar(sa.select(StudentTeacher.id).where(StudentTeacher.user_id == marcus.id))
    return {
        "users": [creator.id, marcus.id, olive.id, student.id],
        "creator": creator.id,
        "olive": olive.id,
        "student": student.id,
        "enrollment": enrollment.id,
        "row": row,
        "sessions": sessions,
    }


def _as(user_id, action):
    def work():
        return action(db.session.get(User, user_id))

    return work


@pytest.mark.committed
def test_two_deactivations_at_once_act_once(app, committed, now):
    ids = committed(lambda: _world(now))

    def deactivate(user):
        return deactivation.deactivate(user, ids["row"], reason="Moved abroad", now=now)

    outcomes = booking.race(app, [_as(ids["creator"], deactivate), _as(ids["creator"], deactivate)])
    assert sorted(code for code, _ in outcomes) == ["already_inactive", "ok"], outcomes
    with app.app_context():
        statuses = list(
            db.session.scalars(sa.select(TutoringSession.status).where(TutoringSession.id.in_(ids["sessions"])))
        )
        assert statuses == [SessionStatus.cancelled] * 2
        cancelled_notices = db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.user_id == ids["student"], Notification.type == "session_cancelled"
            )
        )
        assert cancelled_notices == 2  # one per session, not one per deactivation
        db.session.remove()


@pytest.mark.committed
def test_accept_and_decline_at_once_leave_one_answer(app, committed, now):
    ids = committed(lambda: _world(now))
    with app.app_context():
        deactivation.deactivate(
            db.session.get(User, ids["creator"]),
            ids["row"],
            plan={str(ids["enrollment"]): str(ids["olive"])},
            reason="Moved abroad",
            now=now,
        )
        change_id = db.session.scalar(sa.select(TeacherChange.id))
        db.session.remove()

    def accept(user):
        return deactivation.accept(user, change_id, now=now).status

    def decline(user):
        return deactivation.decline(user, change_id, now=now).status

    works = [_as(ids["student"], accept), _as(ids["student"], decline), _as(ids["student"], accept)]
    outcomes = booking.race(app, works)
    assert sorted(code for code, _ in outcomes) == ["already_answered", "already_answered", "ok"], outcomes
    with app.app_context():
        change = db.session.get(TeacherChange, change_id)
        sessions = list(db.session.scalars(sa.select(TutoringSession).where(TutoringSession.id.in_(ids["sessions"]))))
        if change.status == TeacherChangeStatus.accepted:
            assert {(s.status, s.teacher_id) for s in sessions} == {(SessionStatus.scheduled, ids["olive"])}
        else:
            assert change.status == TeacherChangeStatus.declined
            assert {s.status for s in sessions} == {SessionStatus.cancelled}
        db.session.remove()
