"""Feedback after a session: 1-5 stars and a comment, once per participant, in both directions.

Each row is an ``Assessment`` (session_assessments). The figures the catalog shows follow from
the rows, recomputed rather than incremented, so running a refresh twice changes nothing and a
missed one is repaired by the next:

- a course's ``rating`` (average, 2 decimals) and ``rating_count``: every assessment of one of the
  course's sessions written by that session's student (student → teacher);
- a teacher's rating on the cards of a course: the same rows for that teacher in that course,
  derived at read time (``peerloop.catalog.services.teacher_ratings``), nothing stored;
- a Student-Teacher's ``students_taught`` in a course: distinct students with at least one
  completed session with them in it (``refresh_teacher_counters``, called by session completion).

A row counts whatever becomes of its session afterwards (a room that ended and was later settled
as a no-show keeps the student's verdict on it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.certification.models import StudentTeacher
from peerloop.db import for_update
from peerloop.errors import Conflict, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.scheduling.models import SessionKind, SessionStatus, TutoringSession
from peerloop.video.models import Assessment
from peerloop.video.services import session_for_participant

MAX_COMMENT = 2000
ALREADY_GIVEN = "You have already left feedback for this session."
NOT_RATEABLE = (SessionStatus.cancelled, SessionStatus.no_show)


def _clean(rating, comment) -> tuple[int, str | None]:
    fields = {}
    if rating is None:
        fields["rating"] = "Required: a whole number of stars from 1 to 5."
    elif isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        fields["rating"] = "Give a whole number of stars from 1 to 5."
    if comment is not None:
        if not isinstance(comment, str):
            fields["comment"] = "Must be text."
        else:
            comment = comment.strip() or None
            if comment is not None and len(comment) > MAX_COMMENT:
                fields["comment"] = f"At most {MAX_COMMENT} characters."
    if fields:
        raise ValidationError(fields=fields)
    return rating, comment


def _check_rateable(session: TutoringSession, now: datetime) -> None:
    if session.status in NOT_RATEABLE:
        raise RuleViolation(
            f"This session was {session.status.value.replace('_', ' ')}: there is nothing to rate.",
            code="not_rateable",
        )
    if session.status == SessionStatus.completed:
        return
    if now < session.scheduled_end:  # scheduled or in progress: the room is not over yet
        raise RuleViolation(
            "You can leave feedback once the session has ended.",
            code="not_finished",
            fields={"ends_at": session.scheduled_end.isoformat()},
        )


def _is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def leave_feedback(user: User, session_id, *, rating, comment=None, now: datetime) -> Assessment:
    """``user`` rates the other person of a session that is over. Commits.

    :raise NotFound: no such session (or a held or lapsed time). :raise Forbidden: ``not_participant``.
    :raise ValidationError: ``rating`` not a whole number 1-5, ``comment`` not text or too long.
    :raise RuleViolation: ``not_finished`` (before the scheduled end), ``not_rateable`` (cancelled, no-show).
    :raise Conflict: ``already_given``, also when a twin request wins the race.
    """
    session = session_for_participant(user, session_id)  # 404, or 403 not_participant
    rating, comment = _clean(rating, comment)
    _check_rateable(session, now)
    # Under the session's lock: its status may be changing (settlement), and two ratings of one
    # session take turns.
    locked = db.session.scalar(
        for_update(sa.select(TutoringSession).where(TutoringSession.id == session.id)).execution_options(
            populate_existing=True
        )
    )
    _check_rateable(locked, now)
    given = db.session.scalar(
        sa.select(Assessment.id).where(Assessment.session_id == locked.id, Assessment.assessor_id == user.id)
    )
    if given is not None:
        db.session.rollback()
        raise Conflict(ALREADY_GIVEN, code="already_given")
    assessee_id = locked.student_id if user.id == locked.teacher_id else locked.teacher_id
    assessment = Assessment(
        session_id=locked.id,
        assessor_id=user.id,
        assessee_id=assessee_id,
        rating=rating,
        comment=comment,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(assessment)
            db.session.flush()
    except sa.exc.IntegrityError as error:
        if not _is_unique_violation(error):
            raise
        db.session.rollback()
        raise Conflict(ALREADY_GIVEN, code="already_given") from error
    if user.id == locked.student_id:
        refresh_ratings(locked.course_id)
    db.session.commit()
    return assessment


def student_assessments(*columns):
    """``SELECT columns`` over student → teacher assessments joined to their sessions (the assessor
    is the session's student, the assessee its teacher): filter on ``TutoringSession`` columns."""
    return (
        sa.select(*columns)
        .select_from(Assessment)
        .join(
            TutoringSession,
            sa.and_(
                TutoringSession.id == Assessment.session_id,
                Assessment.assessor_id == TutoringSession.student_id,
                Assessment.assessee_id == TutoringSession.teacher_id,
            ),
        )
    )


def two_places(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def refresh_ratings(course_id: uuid.UUID) -> None:
    """Recompute the course's ``rating`` and ``rating_count`` from its students' assessments.
    Does not commit.

    The course row is locked first, so two students rating at once count each other (the second
    counts after the first has committed). Teachers' ratings are derived where shown, nothing to store.
    """
    db.session.flush()
    course = db.session.scalar(
        for_update(sa.select(Course).where(Course.id == course_id)).execution_options(populate_existing=True)
    )
    if course is None:
        return
    average, count = db.session.execute(
        student_assessments(sa.func.avg(Assessment.rating), sa.func.count(Assessment.id)).where(
            TutoringSession.course_id == course_id
        )
    ).one()
    course.rating = two_places(average) if count else None
    course.rating_count = int(count)


def refresh_teacher_counters(teacher_id: uuid.UUID, course_id: uuid.UUID) -> None:
    """Recompute ``students_taught`` of the teacher's ``StudentTeacher`` row in the course: distinct
    students with at least one completed session with them in it. Does not commit.

    For the code that completes a session, after it has set the status (pending changes are flushed
    here). No row (the creator teaching their own course): nothing to store, their card counts live.
    """
    db.session.flush()
    row = db.session.scalar(
        for_update(
            sa.select(StudentTeacher).where(StudentTeacher.user_id == teacher_id, StudentTeacher.course_id == course_id)
        ).execution_options(populate_existing=True)
    )
    if row is None:
        return
    taught = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(TutoringSession.student_id))).where(
            TutoringSession.teacher_id == teacher_id,
            TutoringSession.course_id == course_id,
            TutoringSession.status == SessionStatus.completed,
            TutoringSession.kind == SessionKind.regular,  # an assessment teaches no one
        )
    )
    row.students_taught = int(taught or 0)
