"""Deactivating a Student-Teacher: the course's creator (or an admin) ends someone's right to teach
a course, and decides for each of their students what happens to the sessions already booked with
them: offered to another of the course's teachers (moved only when the student agrees) or cancelled.

Cancelled sessions are never used up (the student books another time). A student who declines the
offer, or does not answer before an hour ahead of the first session it covers, has those sessions
cancelled the same way; sessions less than two hours away when the S-T is deactivated are cancelled
at once, there is no time to ask. Every use case takes ``now`` and commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.certification.models import StudentTeacher, TeacherChange, TeacherChangeStatus
from peerloop.db import for_update, parse_uuid
from peerloop.enrollment.models import Enrollment
from peerloop.errors import Conflict, DomainError, NotFound, ValidationError
from peerloop.extensions import db
from peerloop.notifications.services import notify
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.timezones import format_local
from peerloop.urls import site_path

TOO_CLOSE_TO_ASK = timedelta(hours=2)
ANSWER_BEFORE = timedelta(hours=1)  # the offer lapses an hour before the first session it covers
REASON_MAX = 2000
CANCEL = ""  # the plan's value for "cancel this student's sessions"


@dataclass
class AffectedStudent:
    enrollment: Enrollment
    sessions: list[TutoringSession] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    offered: int  # students asked to accept another teacher
    cancelled: int  # sessions cancelled


def student_teacher_row(user: User, student_teacher_id) -> StudentTeacher:
    """The S-T row, for the course's creator or an admin; anyone else gets a 404."""
    uid = parse_uuid(student_teacher_id)
    row = db.session.get(StudentTeacher, uid) if uid else None
    if row is None:
        raise NotFound("No such Student-Teacher.")
    if not (user.is_admin or user.id == row.course.creator_id):
        raise NotFound("No such Student-Teacher.")
    return row


def _upcoming(teacher_id: uuid.UUID, course_id: uuid.UUID, now: datetime, *, enrollment_id=None, lock=False):
    query = sa.select(TutoringSession).where(
        TutoringSession.teacher_id == teacher_id,
        TutoringSession.course_id == course_id,
        TutoringSession.status == SessionStatus.scheduled,
        TutoringSession.scheduled_start > now,
    )
    if enrollment_id is not None:
        query = query.where(TutoringSession.enrollment_id == enrollment_id)
    query = query.order_by(TutoringSession.scheduled_start, TutoringSession.id)
    # Locked when they are about to change: a participant cancelling one meanwhile waits for us.
    return for_update(query).execution_options(populate_existing=True) if lock else query


def affected_students(row: StudentTeacher, *, now: datetime, lock: bool = False) -> list[AffectedStudent]:
    """The S-T's students in the course with sessions still to come, each with those sessions."""
    by_enrollment: dict[uuid.UUID, AffectedStudent] = {}
    for session in db.session.scalars(_upcoming(row.user_id, row.course_id, now, lock=lock)):
        if session.enrollment_id is None:
            continue
        item = by_enrollment.get(session.enrollment_id)
        if item is None:
            item = by_enrollment[session.enrollment_id] = AffectedStudent(session.enrollment)
        item.sessions.append(session)
    return sorted(by_enrollment.values(), key=lambda item: (item.sessions[0].scheduled_start, item.enrollment.id))


def replacement_teachers(course: Course, *, instead_of: uuid.UUID) -> list[User]:
    """Who may take the sessions over: the course's other active, available S-Ts, and its creator."""
    rows = db.session.scalars(
        sa.select(User)
        .join(StudentTeacher, StudentTeacher.user_id == User.id)
        .where(
            StudentTeacher.course_id == course.id,
            StudentTeacher.is_active.is_(True),
            User.is_student_teacher.is_(True),
            User.deleted_at.is_(None),
            User.id != instead_of,
            User.id != course.creator_id,
        )
        .order_by(User.name, User.id)
    )
    teachers = list(rows)
    if course.creator_id != instead_of:
        teachers.append(db.session.get(User, course.creator_id))
    return teachers


def _reason(value) -> str:
    if value is not None and not isinstance(value, str):
        raise ValidationError("Send text.", fields={"reason": "Must be text."})
    text = (value or "").strip()
    if not text:
        raise ValidationError("Say why: the Student-Teacher is told.", fields={"reason": "Required."})
    if len(text) > REASON_MAX:
        raise ValidationError("Keep it under 2,000 characters.", fields={"reason": "Too long."})
    return text


def _cancel(session: TutoringSession, *, by: User | None, reason: str, now: datetime) -> None:
    """Cancelled for the student, not by them: never late, never used up."""
    from peerloop.scheduling import notices
    from peerloop.scheduling.services import renumber_sessions

    session.status = SessionStatus.cancelled
    session.cancelled_at = now
    session.cancelled_by = by.id if by else None
    session.cancel_reason = reason
    session.late_cancellation = False
    session.sequence += 1
    session.updated_at = now
    db.session.flush()
    renumber_sessions(session.enrollment_id)
    notices.cancelled(session, by=by, now=now)


def deactivate(user: User, student_teacher_id, *, plan: dict | None = None, reason, now: datetime) -> Outcome:
    """End an S-T's right to teach the course. ``plan`` maps each affected enrollment's id to the
    teacher offered in their place, or to ``""`` to cancel; a student left out is cancelled.

    :raise NotFound (not the creator's S-T), ValidationError (``reason``; a plan naming someone who
        cannot take the sessions), Conflict (``already_inactive``).
    """
    row = student_teacher_row(user, student_teacher_id)
    text = _reason(reason)
    plan = plan or {}
    if not isinstance(plan, dict):
        raise ValidationError("Send the plan as an object.", fields={"plan": 'enrollment id → teacher id or "".'})
    course = row.course
    row = db.session.scalar(
        for_update(sa.select(StudentTeacher).where(StudentTeacher.id == row.id)).execution_options(
            populate_existing=True
        )
    )
    if not row.is_active:
        raise Conflict("This Student-Teacher is already deactivated.", code="already_inactive")
    allowed = {teacher.id: teacher for teacher in replacement_teachers(course, instead_of=row.user_id)}
    affected = affected_students(row, now=now, lock=True)
    choices: dict[uuid.UUID, User | None] = {}
    problems = {}
    for item in affected:
        key = str(item.enrollment.id)
        wanted = plan.get(key, CANCEL)
        if wanted in (CANCEL, None):
            choices[item.enrollment.id] = None
            continue
        teacher = allowed.get(parse_uuid(wanted)) if isinstance(wanted, str) else None
        if teacher is None or teacher.id == item.enrollment.student_id:
            problems[f"plan.{key}"] = "Choose one of the course's other teachers, or cancel."
        choices[item.enrollment.id] = teacher
    if problems:
        raise ValidationError("Some students' choices need attention.", fields=problems)

    teacher = db.session.get(User, row.user_id)
    row.is_active = False
    why = f"{teacher.name} no longer teaches {course.title}."
    offered = cancelled = 0
    for item in affected:
        replacement = choices[item.enrollment.id]
        later = [s for s in item.sessions if s.scheduled_start - now >= TOO_CLOSE_TO_ASK]
        for session in item.sessions:
            if replacement is None or session not in later:
                _cancel(session, by=user, reason=why, now=now)
                cancelled += 1
        if replacement is not None and later:
            _offer(item.enrollment, later, teacher, replacement, by=user, now=now)
            offered += 1
    # Their students book their next session with someone else (the booking sets the new S-T).
    db.session.execute(
        sa.update(Enrollment)
        .where(Enrollment.course_id == course.id, Enrollment.student_teacher_id == teacher.id)
        .values(student_teacher_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(  # a visitor's held time for a checkout is let go; the payment books no session
        sa.update(TutoringSession)
        .where(
            TutoringSession.teacher_id == teacher.id,
            TutoringSession.course_id == course.id,
            TutoringSession.status == SessionStatus.held,
        )
        .values(status=SessionStatus.lapsed, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    notify(
        teacher,
        "student_teacher_deactivated",
        title=f"You no longer teach {course.title}",
        body=f'{user.name} ended your Student-Teacher role for {course.title}. Reason: "{text}". '
        "Sessions you have already taught are still paid.",
        dedupe_key=f"student_teacher_deactivated:{row.id}:{now.isoformat()}",
        now=now,
        email_template="notification",
        commit=False,
    )
    db.session.commit()
    return Outcome(offered=offered, cancelled=cancelled)


def _offer(enrollment, sessions, teacher: User, replacement: User, *, by: User, now: datetime) -> None:
    change = TeacherChange(
        enrollment_id=enrollment.id,
        course_id=enrollment.course_id,
        student_id=enrollment.student_id,
        from_teacher_id=teacher.id,
        to_teacher_id=replacement.id,
        proposed_by=by.id,
        status=TeacherChangeStatus.pending,
        expires_at=sessions[0].scheduled_start - ANSWER_BEFORE,
        created_at=now,
    )
    db.session.add(change)
    db.session.flush()
    student = enrollment.student
    course = enrollment.course.title
    count = f"{len(sessions)} upcoming session{'s' if len(sessions) != 1 else ''}"
    notify(
        student,
        "teacher_change_offered",
        title=f"A new teacher for {course}: {replacement.name}?",
        body=f"{teacher.name} no longer teaches {course}. {replacement.name} can take your {count} at the "
        f"same times. Accept or decline before {format_local(change.expires_at, student.timezone)}; "
        "without an answer the sessions are cancelled (not used up).",
        dedupe_key=f"teacher_change_offered:{change.id}",
        now=now,
        action_url=site_path("certification.teacher_change_page", change_id=change.id),
        email_template="notification",
        commit=False,
    )
    notify(
        replacement,
        "teacher_change_proposed",
        title=f"{student.name} may become your student in {course}",
        body=f"{teacher.name} no longer teaches {course}: {student.name} is asked whether you may take their "
        f"{count}. You will be told when they answer.",
        dedupe_key=f"teacher_change_proposed:{change.id}",
        now=now,
        commit=False,
    )


# --- the student answers ----------------------------------------------------------------------


def teacher_change(user: User, change_id) -> TeacherChange:
    """The student's own offer (anyone else: 404)."""
    uid = parse_uuid(change_id)
    change = db.session.get(TeacherChange, uid) if uid else None
    if change is None or change.student_id != user.id:
        raise NotFound("No such teacher change.")
    return change


def sessions_covered(change: TeacherChange, *, now: datetime, lock: bool = False) -> list[TutoringSession]:
    """The sessions the offer moves: the student's upcoming ones still with the former teacher."""
    return list(
        db.session.scalars(
            _upcoming(change.from_teacher_id, change.course_id, now, enrollment_id=change.enrollment_id, lock=lock)
        )
    )


def _open_change(user: User, change_id, now: datetime) -> TeacherChange:
    from peerloop.scheduling.services import lock_enrollment, lock_users

    change = teacher_change(user, change_id)
    lock_enrollment(change.enrollment_id)  # the booking's lock order: enrollment, then users by id
    lock_users(change.to_teacher_id, change.student_id)
    change = db.session.scalar(
        for_update(sa.select(TeacherChange).where(TeacherChange.id == change.id)).execution_options(
            populate_existing=True
        )
    )
    if change.status != TeacherChangeStatus.pending:
        raise Conflict(f"You already answered: {change.status.value}.", code="already_answered")
    if change.expires_at <= now:
        raise Conflict("This offer has lapsed: its sessions were cancelled.", code="already_answered")
    return change


def accept(user: User, change_id, *, now: datetime) -> TeacherChange:
    """The student takes the new teacher: each covered session moves to them, keeping its time; a time
    the new teacher has since filled is cancelled (not used up) and the student is told.

    :raise NotFound, Conflict (``already_answered``; ``teacher_unavailable``: the new teacher may no
        longer teach the course — the student can still decline).
    """
    from peerloop.scheduling import notices
    from peerloop.scheduling.services import _check_time, teaches_course

    change = _open_change(user, change_id, now)
    course = change.course
    if not teaches_course(change.to_teacher_id, course):
        db.session.rollback()
        raise Conflict(
            f"{change.to_teacher.name} no longer teaches this course: decline, and book someone else.",
            code="teacher_unavailable",
        )
    new_teacher = change.to_teacher
    for session in sessions_covered(change, now=now, lock=True):
        try:
            _check_time(
                new_teacher.id,
                session.scheduled_start,
                student_id=session.student_id,
                now=now,
                within_availability=False,
                exclude_session_id=session.id,
                length_minutes=int((session.scheduled_end - session.scheduled_start).total_seconds() // 60),
            )
        except DomainError:
            _cancel(session, by=None, reason=f"{new_teacher.name} is not free at this time.", now=now)
            continue
        previous = session.teacher
        session.teacher_id = new_teacher.id
        session.sequence += 1
        session.updated_at = now
        db.session.flush()
        db.session.refresh(session, ["teacher"])
        notices.teacher_changed(session, previous=previous, now=now)
    enrollment = db.session.get(Enrollment, change.enrollment_id)
    enrollment.student_teacher_id = new_teacher.id
    enrollment.updated_at = now
    change.status, change.decided_at = TeacherChangeStatus.accepted, now
    db.session.commit()
    return change


def decline(user: User, change_id, *, now: datetime) -> TeacherChange:
    """The student says no: the covered sessions are cancelled (not used up)."""
    change = _open_change(user, change_id, now)
    _close(change, TeacherChangeStatus.declined, reason="You chose not to change teacher.", now=now)
    db.session.commit()
    return change


def _close(change: TeacherChange, status: TeacherChangeStatus, *, reason: str, now: datetime) -> None:
    for session in sessions_covered(change, now=now, lock=True):
        _cancel(session, by=None, reason=f"{change.from_teacher.name} no longer teaches this course. {reason}", now=now)
    change.status, change.decided_at = status, now
    notify(
        change.to_teacher,
        "teacher_change_closed",
        title=f"{change.student.name} keeps looking for a teacher in {change.course.title}",
        body=f"{change.student.name} did not take the sessions: nothing was added to your calendar.",
        dedupe_key=f"teacher_change_closed:{change.id}",
        now=now,
        commit=False,
    )


def expire_unanswered(now: datetime, *, limit: int = 100) -> int:
    """The sweep: offers nobody answered in time lapse, and their sessions are cancelled."""
    ids = list(
        db.session.scalars(
            sa.select(TeacherChange.id)
            .where(TeacherChange.status == TeacherChangeStatus.pending, TeacherChange.expires_at <= now)
            .order_by(TeacherChange.expires_at)
            .limit(limit)
        )
    )
    done = 0
    for change_id in ids:
        change = db.session.scalar(
            for_update(sa.select(TeacherChange).where(TeacherChange.id == change_id)).execution_options(
                populate_existing=True
            )
        )
        if change.status == TeacherChangeStatus.pending:  # another sweep, or the student, got there first
            _close(change, TeacherChangeStatus.expired, reason="No answer came in time.", now=now)
            done += 1
        db.session.commit()
    return done


def pending_changes(user: User) -> list[TeacherChange]:
    """The student's offers waiting for an answer (My courses shows them)."""
    return list(
        db.session.scalars(
            sa.select(TeacherChange)
            .where(TeacherChange.student_id == user.id, TeacherChange.status == TeacherChangeStatus.pending)
            .order_by(TeacherChange.expires_at)
        )
    )
