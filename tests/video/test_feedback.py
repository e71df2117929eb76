"""POST /api/sessions/:id/feedback: who may rate, when, what, once; and the figures that follow from
the rows (the course's rating and rating_count, teachers' ratings on cards and profiles, students taught)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from peerloop.catalog.models import Course
from peerloop.certification.models import StudentTeacher
from peerloop.errors import Conflict
from peerloop.extensions import db
from peerloop.scheduling import services as scheduling
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.video import feedback
from peerloop.video.models import Assessment
from tests.conftest import ON_POSTGRES
from tests.scheduling.conftest import at

TUE9 = at(1, 9)
AFTER = TUE9 + timedelta(hours=1)  # the end of a session booked at TUE9


@pytest.fixture
def booked(world, now):
    return world.book(TUE9, now=now)


def rate(client, api_token, user, session_id, **body):
    return client.post(f"/api/sessions/{session_id}/feedback", json=body, headers=api_token(user))


def another_student(make, world, **overrides):
    """Another student enrolled in the world's course."""
    student = make.user(**overrides)
    make.enrollment(student, world.course)
    return student


def error_of(response) -> dict:
    return response.get_json()["error"]


def assessments(session_id) -> list[Assessment]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(Assessment).where(Assessment.session_id == session_id).order_by(Assessment.rating))
    )


def set_status(session: TutoringSession, status: SessionStatus) -> None:
    session.status = status
    db.session.commit()


def course_of(world) -> Course:
    db.session.expire_all()
    return db.session.get(Course, world.course.id)


def test_both_people_rate_each_other_once_after_the_session(client, world, booked, api_token, clock):
    clock(AFTER)  # the room is over, settlement pending: the session is still scheduled
    by_student = rate(client, api_token, world.student, booked.id, rating=5, comment="  Clear and patient.  ")
    assert by_student.status_code == 201, by_student.get_json()
    body = by_student.get_json()
    assert set(body) == {"id", "session_id", "rating", "comment", "created_at"}
    assert body["session_id"] == str(booked.id) and body["rating"] == 5 and body["comment"] == "Clear and patient."
    assert body["created_at"] == "2026-11-24T10:00:00Z"
    by_teacher = rate(client, api_token, world.teacher, booked.id, rating=4)
    assert by_teacher.status_code == 201 and by_teacher.get_json()["comment"] is None
    rows = assessments(booked.id)
    assert [(r.assessor_id, r.assessee_id, r.rating) for r in rows] == [
        (world.teacher.id, world.student.id, 4),
        (world.student.id, world.teacher.id, 5),
    ]
    again = rate(client, api_token, world.student, booked.id, rating=1)
    assert again.status_code == 409 and error_of(again)["code"] == "already_given"
    assert rate(client, api_token, world.teacher, booked.id, rating=1).status_code == 409
    assert [r.rating for r in assessments(booked.id)] == [4, 5]


def test_a_completed_session_can_be_rated_whenever(client, world, booked, api_token, clock):
    set_status(booked, SessionStatus.completed)
    clock(AFTER + timedelta(days=30))
    assert rate(client, api_token, world.student, booked.id, rating=3).status_code == 201


def test_only_the_two_people_may_rate(client, world, booked, make, api_token, clock):
    clock(AFTER)
    stranger = rate(client, api_token, make.user(), booked.id, rating=5)
    assert stranger.status_code == 403 and error_of(stranger)["code"] == "not_participant"
    assert error_of(stranger)["message"] == "You're not part of this session."
    assert rate(client, api_token, world.creator, booked.id, rating=5).status_code == 403
    assert rate(client, api_token, world.student, "not-a-uuid", rating=5).status_code == 404
    assert rate(client, api_token, world.student, "7c1d7a52-3c4e-4a43-9d0e-5b2a4c1f0e11", rating=5).status_code == 404
    anonymous = client.post(f"/api/sessions/{booked.id}/feedback", json={"rating": 5})
    assert anonymous.status_code == 401
    assert assessments(booked.id) == []


def test_a_hold_or_a_lapsed_time_is_not_found(client, world, booked, api_token, clock):
    clock(AFTER)
    for status in (SessionStatus.held, SessionStatus.lapsed):
        set_status(booked, status)
        assert rate(client, api_token, world.student, booked.id, rating=5).status_code == 404


def test_not_before_the_end(client, world, booked, api_token, clock):
    clock(AFTER - timedelta(seconds=1))  # in the room, a second before the end
    early = rate(client, api_token, world.student, booked.id, rating=5)
    assert early.status_code == 422 and error_of(early)["code"] == "not_finished"
    set_status(booked, SessionStatus.in_progress)
    assert rate(client, api_token, world.teacher, booked.id, rating=5).status_code == 422
    clock(AFTER)
    assert rate(client, api_token, world.teacher, booked.id, rating=5).status_code == 201


def test_a_cancelled_or_no_show_session_is_not_rateable(client, world, booked, api_token, clock, now):
    scheduling.cancel(world.student, booked.id, reason="ill", now=now)
    clock(AFTER)
    cancelled = rate(client, api_token, world.student, booked.id, rating=5)
    assert cancelled.status_code == 422 and error_of(cancelled)["code"] == "not_rateable"
    db.session.expire_all()
    set_status(db.session.get(TutoringSession, booked.id), SessionStatus.no_show)
    no_show = rate(client, api_token, world.teacher, booked.id, rating=2)
    assert no_show.status_code == 422 and error_of(no_show)["code"] == "not_rateable"
    assert assessments(booked.id) == []


@pytest.mark.parametrize("rating", [0, 6, -1, "5", True, False, 4.5, 4.0, None, [5]])
def test_the_rating_is_a_whole_number_of_stars(client, world, booked, api_token, clock, rating):
    clock(AFTER)
    response = rate(client, api_token, world.student, booked.id, rating=rating)
    assert response.status_code == 400 and "rating" in error_of(response)["fields"]
    assert assessments(booked.id) == []


def test_the_rating_is_required_and_the_comment_is_bounded(client, world, booked, api_token, clock):
    clock(AFTER)
    missing = rate(client, api_token, world.student, booked.id, comment="Great")
    assert missing.status_code == 400 and set(error_of(missing)["fields"]) == {"rating"}
    too_long = rate(client, api_token, world.student, booked.id, rating=5, comment="x" * 2001)
    assert too_long.status_code == 400 and set(error_of(too_long)["fields"]) == {"comment"}
    not_text = rate(client, api_token, world.student, booked.id, rating=5, comment=5)
    assert not_text.status_code == 400 and set(error_of(not_text)["fields"]) == {"comment"}
    not_json = client.post(f"/api/sessions/{booked.id}/feedback", data="rating=5", headers=api_token(world.student))
    assert not_json.status_code == 400 and error_of(not_json)["code"] == "invalid_json"
    assert assessments(booked.id) == []
    blank = rate(client, api_token, world.student, booked.id, rating=5, comment=" " * 2001 + "ok")
    assert blank.status_code == 201 and blank.get_json()["comment"] == "ok"  # counted after stripping


def test_a_twin_that_wins_the_race_is_a_409(world, booked):
    """The unique (session, assessor) constraint is the backstop: a row written between our check and
    our insert (another request's) turns into 409 already_given, never a 500."""

    def twin(session, flush_context, instances):
        if any(isinstance(row, Assessment) for row in session.new):
            session.connection().execute(
                sa.insert(Assessment.__table__).values(
                    id=uuid.uuid4(),
                    session_id=booked.id,
                    assessor_id=world.student.id,
                    assessee_id=world.teacher.id,
                    rating=1,
                    created_at=AFTER,
                )
            )

    sa.event.listen(db.session, "before_flush", twin, once=True)
    with pytest.raises(Conflict) as raised:
        feedback.leave_feedback(world.student, booked.id, rating=5, now=AFTER)
    assert raised.value.code == "already_given"


def test_the_course_rating_follows_its_students_ratings(client, world, booked, api_token, clock, now, make):
    second = another_student(make, world, name="Ben Student")
    other = world.book(at(1, 11), now=now, student=second)
    assert course_of(world).rating == Decimal("4.5") and (course_of(world).rating_count or 0) == 0  # invented
    clock(other.scheduled_end)
    assert rate(client, api_token, world.student, booked.id, rating=5).status_code == 201
    course = course_of(world)
    assert course.rating == Decimal("5.00") and course.rating_count == 1
    assert rate(client, api_token, second, other.id, rating=2).status_code == 201
    # The teacher's view of the students does not rate the course.
    assert rate(client, api_token, world.teacher, other.id, rating=1).status_code == 201
    course = course_of(world)
    assert course.rating == Decimal("3.50") and course.rating_count == 2
    summary = client.get(f"/api/courses/{world.course.slug}").get_json()
    assert summary["rating"] == 3.5 and summary["rating_count"] == 2
    # Recomputed from the rows, so running it again changes nothing.
    feedback.refresh_ratings(world.course.id)
    db.session.commit()
    assert course_of(world).rating == Decimal("3.50") and course_of(world).rating_count == 2


def test_the_average_has_two_decimals(world, make, now):
    moments = [at(1, 9), at(1, 10), at(1, 11)]
    students = [world.student, another_student(make, world), another_student(make, world)]
    for moment, student, stars in zip(moments, students, (5, 4, 4), strict=True):
        session = world.book(moment, now=now, student=student)
        feedback.leave_feedback(student, session.id, rating=stars, now=moment + timedelta(hours=1))
    course = course_of(world)
    assert course.rating == Decimal("4.33") and course.rating_count == 3


def test_teacher_cards_carry_their_rating_in_the_course(client, world, booked, make, api_token, clock, now):
    # Ratings of the same teacher in another course do not count here.
    elsewhere = make.course(creator=world.creator)
    make.student_teacher(world.teacher, elsewhere)
    student = make.user()
    make.enrollment(student, elsewhere)
    away = scheduling.book(student, course_id=elsewhere.id, teacher_id=world.teacher.id, start=at(1, 13), now=now)
    unrated = make.user(name="Nina Unrated")
    make.student_teacher(unrated, world.course)
    clock(away.scheduled_end)
    assert rate(client, api_token, world.student, booked.id, rating=4).status_code == 201
    assert rate(client, api_token, world.teacher, booked.id, rating=1).status_code == 201  # about the student
    assert rate(client, api_token, student, away.id, rating=1).status_code == 201
    cards = {c["id"]: c for c in client.get(f"/api/courses/{world.course.id}/sts").get_json()["items"]}
    assert cards[str(world.teacher.id)]["rating"] == 4.0
    assert cards[str(unrated.id)]["rating"] is None
    away_cards = {c["id"]: c for c in client.get(f"/api/courses/{elsewhere.id}/sts").get_json()["items"]}
    assert away_cards[str(world.teacher.id)]["rating"] == 1.0
    page = client.get(f"/courses/{world.course.slug}").get_data(as_text=True)
    assert "★ 4.0" in page and "No ratings yet" in page  # Marcus rated, Nina not yet
    profile = client.get(f"/api/users/{world.teacher.handle}").get_json()
    by_course = {t["course_id"]: t["rating"] for t in profile["teaching"]}
    assert by_course == {str(world.course.id): 4.0, str(elsewhere.id): 1.0}


def test_the_creators_card_is_rated_too(client, world, make, api_token, clock, now):
    from tests.scheduling.conftest import week

    week(world.creator, now=now)
    session = world.book(TUE9, now=now, teacher=world.creator)
    clock(AFTER)
    assert rate(client, api_token, world.student, session.id, rating=5).status_code == 201
    cards = client.get(f"/api/courses/{world.course.id}/sts").get_json()["items"]
    creator = next(c for c in cards if c["is_creator"])
    assert creator["rating"] == 5.0


def test_cards_cost_the_same_queries_whatever_their_number(client, world, booked, make, api_token, clock, app):
    clock(AFTER)
    assert rate(client, api_token, world.student, booked.id, rating=5).status_code == 201

    seen_statements = []

    def statements() -> int:
        from peerloop.catalog import services as catalog

        seen = []
        engine = db.session.get_bind()

        def count(*args):
            if args[2].lstrip().upper().startswith("SELECT"):
                seen.append(args[2][:120])

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            db.session.expire_all()
            catalog.course_teachers(db.session.get(Course, world.course.id))
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        seen_statements.append(seen)
        return len(seen)

    few = statements()
    for _ in range(4):
        make.student_teacher(make.user(), world.course)
    assert statements() == few, seen_statements


def test_students_taught_counts_distinct_students_with_a_completed_session(world, make, now):
    st = db.session.scalar(
        sa.select(StudentTeacher).where(
            StudentTeacher.user_id == world.teacher.id, StudentTeacher.course_id == world.course.id
        )
    )
    assert st.students_taught == 3  # the factory's invented figure
    second, third = another_student(make, world), another_student(make, world)
    first_one = world.book(at(1, 9), now=now)
    first_two = world.book(at(2, 9), now=now)
    seconds = world.book(at(1, 10), now=now, student=second)
    thirds = world.book(at(1, 11), now=now, student=third)
    for session in (first_one, first_two, seconds):
        session.status = SessionStatus.completed
    thirds.status = SessionStatus.no_show
    feedback.refresh_teacher_counters(world.teacher.id, world.course.id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(StudentTeacher, st.id).students_taught == 2  # Ana twice, Ben once; Cleo no-show
    feedback.refresh_teacher_counters(world.teacher.id, world.course.id)  # idempotent
    db.session.commit()
    assert db.session.get(StudentTeacher, st.id).students_taught == 2
    # The creator teaching their own course has no StudentTeacher row: nothing to do, no error.
    feedback.refresh_teacher_counters(world.creator.id, world.course.id)


# --- at the same moment, for real (PostgreSQL row locks, real threads and commits, rows deleted after)


@pytest.fixture
def for_real(app):
    """Build committed rows with ``build(work) -> dict of ids`` (``ids["users"]``: every user made);
    everything is deleted afterwards and the tables are as they were."""
    from tests.conftest import run_jobs
    from tests.scheduling.test_booking_concurrency import _cleanup, _counts

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
            run_jobs(app)
            _cleanup(made)
            assert _counts() == before
            db.session.remove()


def _committed_world(n_students: int, *, now) -> dict:
    from tests import factories
    from tests.scheduling.conftest import week

    creator = factories.creator()
    course = factories.course(creator=creator, session_count=2)
    teacher = factories.user()
    factories.student_teacher(teacher, course)
    week(teacher, now=now)
    students, sessions = [], []
    for hour in range(9, 9 + n_students):
        student = factories.user()
        factories.enrollment(student, course)
        sessions.append(
            scheduling.book(student, course_id=course.id, teacher_id=teacher.id, start=at(1, hour), now=now).id
        )
        students.append(student.id)
    return {
        "users": [creator.id, teacher.id, *students],
        "course": course.id,
        "teacher": teacher.id,
        "students": students,
        "sessions": sessions,
    }


def _leave(user_id, session_id, rating):
    from peerloop.accounts.models import User

    def work():
        user = db.session.get(User, user_id)
        return feedback.leave_feedback(user, session_id, rating=rating, now=at(2, 9)).id

    return work


needs_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="row locks are a PostgreSQL matter: set TEST_DATABASE_URL",
)


@needs_postgres
@pytest.mark.postgres
@pytest.mark.committed
def test_the_same_person_five_times_at_once_gives_one_row(app, for_real, now):
    from tests.scheduling.test_booking_concurrency import race

    ids = for_real(lambda: _committed_world(1, now=now))
    (student,), (session,) = ids["students"], ids["sessions"]
    outcomes = race(app, [_leave(student, session, stars) for stars in (1, 2, 3, 4, 5)])
    assert sorted(code for code, _ in outcomes) == ["already_given"] * 4 + ["ok"], outcomes
    with app.app_context():
        (row,) = db.session.scalars(sa.select(Assessment).where(Assessment.session_id == session)).all()
        course = db.session.get(Course, ids["course"])
        assert course.rating_count == 1 and course.rating == Decimal(row.rating)
        db.session.remove()


@needs_postgres
@pytest.mark.postgres
@pytest.mark.committed
def test_students_rating_at_once_all_count(app, for_real, now):
    """Each recount runs after the course row's lock, so it sees every rating committed before it."""
    from tests.scheduling.test_booking_concurrency import race

    ids = for_real(lambda: _committed_world(8, now=now))
    stars = [5, 4, 4, 3, 5, 2, 5, 4]
    works = [_leave(s, sid, n) for s, sid, n in zip(ids["students"], ids["sessions"], stars, strict=True)]
    works += [_leave(ids["teacher"], sid, 3) for sid in ids["sessions"][:4]]  # the other direction, meanwhile
    outcomes = race(app, works)
    assert [code for code, _ in outcomes] == ["ok"] * 12, outcomes
    with app.app_context():
        course = db.session.get(Course, ids["course"])
        assert course.rating_count == 8 and course.rating == Decimal("4.00")
        db.session.remove()
