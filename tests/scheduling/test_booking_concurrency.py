"""Bookings at the same moment (PostgreSQL row locks, real threads each with its own connection, real
commits, every row deleted afterwards): one slot goes to exactly one student, a student is never in
two sessions at once, a reschedule race keeps the loser's old time; and the exclusion constraint
refuses an overlapping session written past the services."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.catalog.models import Category, Course
from peerloop.certification.models import StudentTeacher
from peerloop.enrollment.models import Enrollment
from peerloop.errors import DomainError
from peerloop.extensions import db
from peerloop.notifications.models import Notification, OutboundEmail
from peerloop.scheduling import services
from peerloop.scheduling.models import (
    AvailabilitySettings,
    BlockedDate,
    DateOverride,
    SessionStatus,
    TutoringSession,
    WeeklyWindow,
)
from tests import factories
from tests.conftest import ON_POSTGRES, run_jobs
from tests.scheduling.conftest import at, week

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks are a PostgreSQL matter: set TEST_DATABASE_URL"),
]

TUE9 = at(1, 9)
STUDENTS = 50


def _counts() -> dict[str, int]:
    return {
        table.name: int(db.session.scalar(sa.select(sa.func.count()).select_from(table)))
        for table in db.metadata.sorted_tables
    }


def _cleanup(user_ids: list) -> None:
    course_ids = list(db.session.scalars(sa.select(Course.id).where(Course.creator_id.in_(user_ids))))
    categories = list(db.session.scalars(sa.select(Course.category_id).where(Course.id.in_(course_ids))))
    for statement in (
        sa.delete(TutoringSession).where(TutoringSession.course_id.in_(course_ids)),
        sa.delete(Enrollment).where(Enrollment.course_id.in_(course_ids)),
        sa.delete(StudentTeacher).where(StudentTeacher.course_id.in_(course_ids)),
        sa.delete(Notification).where(Notification.user_id.in_(user_ids)),
        sa.delete(OutboundEmail).where(OutboundEmail.user_id.in_(user_ids)),
        *(sa.delete(model).where(model.user_id.in_(user_ids)) for model in (WeeklyWindow, BlockedDate, DateOverride)),
        sa.delete(AvailabilitySettings).where(AvailabilitySettings.user_id.in_(user_ids)),
        sa.delete(Course).where(Course.id.in_(course_ids)),
        sa.delete(Category).where(Category.id.in_(categories)),
        sa.delete(User).where(User.id.in_(user_ids)),
    ):
        db.session.execute(statement)
    db.session.commit()


@pytest.fixture
def committed(app, now):
    """Build committed rows with ``build(make) -> dict of ids`` (factories commit); all deleted afterwards.
    Every user made goes in ``ids["users"]``."""
    made: list = []

    def build(work) -> dict:
        with app.app_context():
            ids = work()
            made.extend(ids["users"])
            db.session.remove()
        return ids

    with app.app_context():
        db.session.rollback()
        before = _counts()
    try:
        yield build
    finally:
        with app.app_context():
            db.session.rollback()
            run_jobs(app)  # nothing left queued that points at the rows deleted next
            _cleanup(made)
            assert _counts() == before
            db.session.remove()


def race(app, works: list) -> list:
    """Run each of ``works`` in its own thread, released together; each has its own app context,
    session and connection. Returns each outcome: ("ok", result) or (error code, None)."""
    barrier = threading.Barrier(len(works))
    outcomes: list = [None] * len(works)

    def run(i, work) -> None:
        with app.app_context():
            try:
                barrier.wait()
                outcomes[i] = ("ok", work())
            except DomainError as error:
                outcomes[i] = (error.code, error.message)
            except Exception as error:  # reported by the assertion on outcomes
                outcomes[i] = ("error", repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, work)) for i, work in enumerate(works)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (a deadlock?)"
    return outcomes


def _course_with_teachers(n_teachers: int, *, now):
    creator = factories.creator()
    course = factories.course(creator=creator, session_count=10)
    teachers = []
    for _ in range(n_teachers):
        teacher = factories.user()
        factories.student_teacher(teacher, course)
        week(teacher, now=now)
        teachers.append(teacher)
    return creator, course, teachers


def _book(student_id, course_id, teacher_id, start, now):
    def work():
        student = db.session.get(User, student_id)
        return services.book(student, course_id=course_id, teacher_id=teacher_id, start=start, now=now).id

    return work


@pytest.mark.committed
def test_fifty_students_one_slot_one_booking(app, committed, now):
    def setup():
        creator, course, (teacher,) = _course_with_teachers(1, now=now)
        students = [factories.user() for _ in range(STUDENTS)]
        for student in students:
            factories.enrollment(student, course)
        return {
            "users": [creator.id, teacher.id, *(s.id for s in students)],
            "course": course.id,
            "teacher": teacher.id,
            "students": [s.id for s in students],
        }

    ids = committed(setup)
    outcomes = race(app, [_book(sid, ids["course"], ids["teacher"], TUE9, now) for sid in ids["students"]])

    codes = sorted(code for code, _ in outcomes)
    assert codes == ["ok"] + ["slot_unavailable"] * (STUDENTS - 1), outcomes
    assert {message for code, message in outcomes if code != "ok"} == {
        "This time is no longer available. Select another."
    }
    with app.app_context():
        query = sa.select(TutoringSession).where(TutoringSession.course_id == ids["course"])
        (session,) = db.session.scalars(query).all()
        winner = next(result for code, result in outcomes if code == "ok")
        assert session.id == winner
        assert (session.status, session.number, session.scheduled_start) == (SessionStatus.scheduled, 1, TUE9)
        db.session.remove()


@pytest.mark.committed
def test_without_the_row_locks_the_exclusion_constraint_still_gives_one_winner(app, committed, now, monkeypatch):
    """The backstop under load: with the locks taken away every thread passes the checks, and
    PostgreSQL's exclusion constraint turns all but one insert into 409 slot_unavailable."""

    def setup():
        creator, course, (teacher,) = _course_with_teachers(1, now=now)
        students = [factories.user() for _ in range(10)]
        for student in students:
            factories.enrollment(student, course)
        return {
            "users": [creator.id, teacher.id, *(s.id for s in students)],
            "course": course.id,
            "teacher": teacher.id,
            "students": [s.id for s in students],
        }

    ids = committed(setup)
    monkeypatch.setattr(services, "lock_users", lambda *user_ids: None)
    outcomes = race(app, [_book(sid, ids["course"], ids["teacher"], TUE9, now) for sid in ids["students"]])
    assert sorted(code for code, _ in outcomes) == ["ok"] + ["slot_unavailable"] * 9, outcomes
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count(TutoringSession.id)).where(TutoringSession.course_id == ids["course"])
        )
        assert count == 1
        db.session.remove()


@pytest.mark.committed
def test_one_student_two_teachers_the_same_time_one_session(app, committed, now):
    def setup():
        creator, course, teachers = _course_with_teachers(2, now=now)
        student = factories.user()
        factories.enrollment(student, course)
        return {
            "users": [creator.id, student.id, *(t.id for t in teachers)],
            "course": course.id,
            "teachers": [t.id for t in teachers],
            "student": student.id,
        }

    ids = committed(setup)
    for _ in range(3):  # a few rounds, at different times, to give the race a chance
        start = TUE9 + timedelta(hours=_)
        outcomes = race(app, [_book(ids["student"], ids["course"], tid, start, now) for tid in ids["teachers"]])
        assert sorted(code for code, _ in outcomes) == ["ok", "slot_unavailable"], outcomes
    with app.app_context():
        sessions = db.session.scalars(
            sa.select(TutoringSession)
            .where(TutoringSession.student_id == ids["student"])
            .order_by(TutoringSession.scheduled_start)
        ).all()
        assert [s.scheduled_start for s in sessions] == [TUE9, TUE9 + timedelta(hours=1), TUE9 + timedelta(hours=2)]
        assert [s.number for s in sessions] == [1, 2, 3]
        db.session.remove()


@pytest.mark.committed
def test_two_reschedules_into_one_slot_the_loser_keeps_its_time(app, committed, now):
    def setup():
        creator, course, (teacher,) = _course_with_teachers(1, now=now)
        students = [factories.user(), factories.user()]
        sessions = []
        for student, start in zip(students, (at(2, 9), at(3, 9)), strict=True):
            factories.enrollment(student, course)
            sessions.append(services.book(student, course_id=course.id, teacher_id=teacher.id, start=start, now=now).id)
        return {
            "users": [creator.id, teacher.id, *(s.id for s in students)],
            "students": [s.id for s in students],
            "sessions": sessions,
        }

    ids = committed(setup)
    target = at(4, 9)

    def move(student_id, session_id):
        def work():
            student = db.session.get(User, student_id)
            return services.reschedule(student, session_id, start=target, now=now).id

        return work

    outcomes = race(app, [move(sid, ses) for sid, ses in zip(ids["students"], ids["sessions"], strict=True)])
    assert sorted(code for code, _ in outcomes) == ["ok", "slot_unavailable"], outcomes
    with app.app_context():
        query = sa.select(TutoringSession).where(TutoringSession.id.in_(ids["sessions"]))
        rows = {s.id: s for s in db.session.scalars(query)}
        for (code, _), session_id, old in zip(outcomes, ids["sessions"], (at(2, 9), at(3, 9)), strict=True):
            row = rows[session_id]
            assert row.status == SessionStatus.scheduled
            if code == "ok":
                assert (row.scheduled_start, row.sequence) == (target, 1)
            else:
                assert (row.scheduled_start, row.sequence) == (old, 0)  # the old time kept
        db.session.remove()


# --- the backstop (inside the usual rolled-back transaction) ---------------------------------------------


def test_the_exclusion_constraint_refuses_an_overlapping_session(world, enrolled, now):
    first = world.book(TUE9, now=now)
    other = enrolled()
    other_enrollment = db.session.scalar(
        sa.select(Enrollment).where(Enrollment.student_id == other.id, Enrollment.course_id == world.course.id)
    )

    def overlapping(**values):
        row = TutoringSession(
            enrollment_id=values.pop("enrollment_id", other_enrollment.id),
            course_id=world.course.id,
            teacher_id=values.pop("teacher_id", world.teacher.id),
            student_id=values.pop("student_id", other.id),
            scheduled_start=TUE9 + timedelta(minutes=30),
            scheduled_end=TUE9 + timedelta(minutes=90),
            **values,
        )
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
        return row

    # The teacher twice at once, the student twice at once (with another teacher): refused.
    with pytest.raises(sa.exc.IntegrityError, match="ex_sessions_teacher_overlap"):
        overlapping(status=SessionStatus.scheduled)
    with pytest.raises(sa.exc.IntegrityError, match="ex_sessions_teacher_overlap"):
        overlapping(status=SessionStatus.held, enrollment_id=None)
    third = enrolled()
    another_teacher = db.session.get(User, third.id)  # a user who is not the world's teacher
    with pytest.raises(sa.exc.IntegrityError, match="ex_sessions_student_overlap"):
        overlapping(
            status=SessionStatus.in_progress,
            teacher_id=another_teacher.id,
            student_id=world.student.id,
            enrollment_id=world.enrollment.id,
        )
    # Times that are not busy do not clash; neither do back-to-back sessions.
    overlapping(status=SessionStatus.cancelled)
    overlapping(status=SessionStatus.lapsed, enrollment_id=None)
    row = TutoringSession(
        enrollment_id=other_enrollment.id,
        course_id=world.course.id,
        teacher_id=world.teacher.id,
        student_id=other.id,
        scheduled_start=first.scheduled_end,
        scheduled_end=first.scheduled_end + timedelta(hours=1),
    )
    db.session.add(row)
    db.session.flush()


@pytest.mark.committed
def test_a_repeated_request_at_the_same_moment_returns_the_first_booking(app, committed, now):
    """A client retrying with the same Idempotency-Key while the first request is still running gets
    the first booking back, not a 409 for clashing with itself."""

    def setup():
        creator, course, (teacher,) = _course_with_teachers(1, now=now)
        student = factories.user()
        factories.enrollment(student, course)
        return {
            "users": [creator.id, teacher.id, student.id],
            "course": course.id,
            "teacher": teacher.id,
            "student": student.id,
        }

    ids = committed(setup)

    def work():
        student = db.session.get(User, ids["student"])
        return services.book(
            student, course_id=ids["course"], teacher_id=ids["teacher"], start=TUE9, now=now, idempotency_key="retry"
        ).id

    for _ in range(3):
        outcomes = race(app, [work, work])
        assert [code for code, _ in outcomes] == ["ok", "ok"], outcomes
        assert outcomes[0][1] == outcomes[1][1]
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count(TutoringSession.id)).where(TutoringSession.student_id == ids["student"])
        )
        assert count == 1
        db.session.remove()
