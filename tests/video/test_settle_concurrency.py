"""Concurrent joins make one room and one stay; a webhook, two sweeps and the teacher's hand settling
one session at once pay its share once (PostgreSQL row locks, real threads, real commits, every row
deleted afterwards)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.certification.models import StudentTeacher
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.payments.models import LedgerAccount, LedgerEntry, LedgerKind
from peerloop.scheduling.models import AvailabilitySettings, SessionStatus, TutoringSession, WeeklyWindow
from peerloop.video import outcomes
from peerloop.video.models import Attendance
from peerloop.video.services import join
from tests import factories
from tests.conftest import ON_POSTGRES, run_jobs
from tests.payments.test_payout_concurrency import _cleanup, _counts, stamp  # noqa: F401  (a fixture)
from tests.scheduling.test_booking_concurrency import race

pytestmark = [
    pytest.mark.committed,
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks are a PostgreSQL matter: set TEST_DATABASE_URL"),
]


@pytest.fixture
def booked(app, stamp):  # noqa: F811
    """A paid enrollment (the sandbox checkout and its webhook) and its first session, tomorrow 10:00."""
    from peerloop.payments import sandbox, services
    from peerloop.scheduling.services import book
    from tests.scheduling.conftest import week

    user_ids: list = []
    with app.app_context():
        db.session.rollback()
        before = _counts()
    try:
        with app.app_context():
            creator = factories.creator()
            course = factories.course(creator=creator, session_count=2)
            teacher, student = factories.user(), factories.user()
            user_ids += [creator.id, teacher.id, student.id]
            factories.student_teacher(teacher, course)
            weekly = [{"day_of_week": d, "start": "00:00", "end": "24:00"} for d in range(7)]
            week(teacher, now=stamp, weekly=weekly)
            checkout = services.start_checkout(student, course.id, student_teacher_id=teacher.id, now=stamp)
            sandbox.pay(checkout.gateway_session_id, now=stamp)
            run_jobs(app)
            start = (stamp + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
            session = book(student, course_id=course.id, teacher_id=teacher.id, start=start, now=stamp)
            ids = {"session": session.id, "teacher": teacher.id, "student": student.id, "start": start}
            db.session.remove()
        yield ids
    finally:
        with app.app_context():
            db.session.rollback()
            run_jobs(app)
            sessions = sa.select(TutoringSession.id).where(TutoringSession.student_id.in_(user_ids))
            db.session.execute(sa.delete(Attendance).where(Attendance.session_id.in_(sessions)))
            db.session.execute(sa.delete(LedgerEntry).where(LedgerEntry.session_id.in_(sessions.scalar_subquery())))
            db.session.execute(sa.delete(TutoringSession).where(TutoringSession.student_id.in_(user_ids)))
            db.session.execute(sa.delete(StudentTeacher).where(StudentTeacher.user_id.in_(user_ids)))
            db.session.execute(sa.delete(WeeklyWindow).where(WeeklyWindow.user_id.in_(user_ids)))
            db.session.execute(sa.delete(AvailabilitySettings).where(AvailabilitySettings.user_id.in_(user_ids)))
            db.session.commit()
            _cleanup(user_ids, stamp)
            assert _counts() == before
            db.session.remove()


def _join(user_id, session_id, moment):
    def work():
        return join(db.session.get(User, user_id), session_id, now=moment)

    return work


def test_joins_at_once_make_one_room_and_one_stay_each(app, booked):
    moment = booked["start"] - timedelta(minutes=1)
    works = [_join(booked["student"], booked["session"], moment) for _ in range(4)]
    works += [_join(booked["teacher"], booked["session"], moment) for _ in range(2)]
    results = race(app, works)
    assert [code for code, _ in results] == ["ok"] * 6, results
    assert len({url for _, url in results}) == 1
    with app.app_context():
        session = db.session.get(TutoringSession, booked["session"])
        assert session.status == SessionStatus.in_progress and session.video_room_id
        stays = db.session.scalars(sa.select(Attendance.user_id).where(Attendance.session_id == session.id)).all()
        assert sorted(map(str, stays)) == sorted([str(booked["student"]), str(booked["teacher"])])
        db.session.remove()


def test_webhook_sweeps_and_the_teacher_at_once_settle_once_and_pay_once(app, booked):
    start, session_id = booked["start"], booked["session"]
    with app.app_context():
        join(db.session.get(User, booked["student"]), session_id, now=start)
        join(db.session.get(User, booked["teacher"]), session_id, now=start)
        db.session.remove()
    later = start + timedelta(hours=2, minutes=5)

    def webhook():
        result = outcomes.settle_from_attendance(session_id, source=outcomes.OutcomeSource.webhook, now=later)
        db.session.commit()
        return result

    def sweep():
        return outcomes.settle_ended_sessions(later)

    def teacher():
        return outcomes.mark_by_teacher(db.session.get(User, booked["teacher"]), session_id, "completed", now=later)

    results = race(app, [webhook, webhook, sweep, sweep, teacher])
    assert all(code in ("ok", "already_settled") for code, _ in results), results
    with app.app_context():
        session = db.session.get(TutoringSession, session_id)
        assert session.status == SessionStatus.completed
        paid = db.session.scalars(
            sa.select(LedgerEntry).where(
                LedgerEntry.session_id == session_id,
                LedgerEntry.kind == LedgerKind.teaching_release,
                LedgerEntry.account == LedgerAccount.earnings,
            )
        ).all()
        if session.outcome_source == "teacher":
            assert paid == [] and session.release_after is not None  # the hand won: it waits 48 hours
        else:
            assert len(paid) == 1 and session.release_after is None
        told = db.session.scalar(
            sa.select(sa.func.count()).where(
                Notification.user_id == booked["student"], Notification.type == "session_outcome"
            )
        )
        assert told == 1
        db.session.remove()
