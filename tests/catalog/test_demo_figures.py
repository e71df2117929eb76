"""The demo data agrees with itself: every figure a page shows is counted from rows that exist."""

from __future__ import annotations

import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.catalog.models import Course, CourseTestimonial
from peerloop.certification.models import StudentTeacher
from peerloop.demo import USERS, load_demo
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.extensions import db


def _live_enrollments(**where) -> int:
    query = sa.select(sa.func.count(Enrollment.id)).where(Enrollment.status != EnrollmentStatus.cancelled)
    for name, value in where.items():
        query = query.where(getattr(Enrollment, name) == value)
    return db.session.scalar(query)


def _students_ratings(course_id) -> tuple[int, float | None]:
    from peerloop.scheduling.models import TutoringSession
    from peerloop.video.models import Assessment

    count, average = db.session.execute(
        sa.select(sa.func.count(Assessment.id), sa.func.avg(Assessment.rating))
        .join(TutoringSession, TutoringSession.id == Assessment.session_id)
        .where(TutoringSession.course_id == course_id, Assessment.assessor_id == TutoringSession.student_id)
    ).one()
    return count, average


def _taught(course_id, teacher_id) -> int:
    from peerloop.scheduling.models import SessionKind, SessionStatus, TutoringSession

    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(TutoringSession.student_id))).where(
            TutoringSession.course_id == course_id,
            TutoringSession.teacher_id == teacher_id,
            TutoringSession.status == SessionStatus.completed,
            TutoringSession.kind == SessionKind.regular,  # an assessment teaches no one
        )
    )


def test_demo_figures_match_the_rows(client, now):
    load_demo(now=now)
    load_demo(now=now)  # idempotent: the second load counts the same

    courses = db.session.scalars(sa.select(Course)).all()
    assert len(courses) == 8
    rated = 0
    for course in courses:
        assert course.student_count == _live_enrollments(course_id=course.id), course.slug
        # A rating is its students' session ratings, nothing invented.
        count, average = _students_ratings(course.id)
        assert (course.rating_count or 0) == count, course.slug
        assert (course.rating is None) == (count == 0), course.slug
        if count:
            assert abs(float(course.rating) - float(average)) < 0.01, course.slug
            rated += 1
    assert rated > 0

    for st in db.session.scalars(sa.select(StudentTeacher)):
        assert st.students_taught == _taught(st.course_id, st.user_id)

    intro = next(course for course in courses if course.slug == "intro-to-claude-code")
    html = client.get("/courses/intro-to-claude-code").get_data(as_text=True)
    assert f"{_live_enrollments(course_id=intro.id)} students" in html


def test_testimonials_are_signed_by_people_who_finished_or_by_outsiders(now):
    load_demo(now=now)
    first_names = {u["name"].split()[0]: u["email"] for u in USERS}
    checked = 0
    for testimonial in db.session.scalars(sa.select(CourseTestimonial)):
        email = first_names.get(testimonial.student_name)
        if email is None:
            continue  # someone who is not a demo login
        user = db.session.scalar(sa.select(User).where(User.email == email))
        finished = db.session.scalar(
            sa.select(Enrollment.id).where(
                Enrollment.student_id == user.id,
                Enrollment.course_id == testimonial.course_id,
                Enrollment.status == EnrollmentStatus.completed,
            )
        )
        assert finished is not None, f"{testimonial.student_name} ({testimonial.student_role}) has not finished"
        checked += 1
    assert checked > 0
