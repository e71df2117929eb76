"""Progress through a course's modules: the student ticks modules off, everyone else reads the numbers.

``progress_of`` is the one definition of "3 of 7 modules done" (My courses, Teaching, the API, the
learning page); ``all_modules_done`` is what recommendations and Certification Assessments ask.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.catalog.models import Course, Module
from peerloop.db import for_update, parse_uuid
from peerloop.enrollment.models import Enrollment, EnrollmentStatus, ModuleProgress
from peerloop.errors import NotFound, RuleViolation
from peerloop.extensions import db


@dataclass(frozen=True)
class Progress:
    """``done`` of the course's ``total`` modules."""

    done: int
    total: int

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0

    @property
    def all_done(self) -> bool:
        """Nothing left to tick (a course without modules has nothing to do)."""
        return self.done >= self.total

    def as_json(self) -> dict:
        return {"done": self.done, "total": self.total, "percent": self.percent}


NO_PROGRESS = Progress(0, 0)


def progress_of(enrollment_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Progress]:
    """Each enrollment's progress, in one statement however many there are.

    ``total`` counts the course's modules; ``done`` the enrollment's completed modules that still
    belong to that course. Unknown ids are left out (callers use ``.get(id, NO_PROGRESS)``).
    """
    ids = list({i for i in (parse_uuid(v) for v in enrollment_ids) if i is not None})
    if not ids:
        return {}
    total = (
        sa.select(sa.func.count(Module.id))
        .where(Module.course_id == Enrollment.course_id)
        .correlate(Enrollment)
        .scalar_subquery()
    )
    done = (
        sa.select(sa.func.count(ModuleProgress.id))
        .join(Module, Module.id == ModuleProgress.module_id)
        .where(
            ModuleProgress.enrollment_id == Enrollment.id,
            ModuleProgress.is_complete.is_(True),
            Module.course_id == Enrollment.course_id,
        )
        .correlate(Enrollment)
        .scalar_subquery()
    )
    rows = db.session.execute(sa.select(Enrollment.id, done, total).where(Enrollment.id.in_(ids)))
    return {eid: Progress(int(d or 0), int(t or 0)) for eid, d, t in rows}


def all_modules_done(enrollment: Enrollment) -> bool:
    """Whether the student has ticked every module of the enrollment's course.

    A course without modules counts as done: there is nothing to tick.
    """
    return progress_of([enrollment.id]).get(enrollment.id, NO_PROGRESS).all_done


def mark_module(user: User, enrollment_id, module_id, *, complete: bool, now: datetime) -> ModuleProgress:
    """The student marks a module of their enrollment done (or not done again). Idempotent.

    ``completed_at`` is when it was first marked done (a repeat keeps it); unmarking clears it.
    The first tick moves an ``enrolled`` enrollment to ``in_progress``. Commits.

    :raise NotFound: not the caller's enrollment, or not a module of its course.
    :raise RuleViolation: ``enrollment_ended``, the enrollment was cancelled.
    """
    eid, mid = parse_uuid(enrollment_id), parse_uuid(module_id)
    if eid is None:
        raise NotFound("No such enrollment.")
    enrollment = db.session.scalar(
        for_update(sa.select(Enrollment).where(Enrollment.id == eid, Enrollment.student_id == user.id))
    )
    if enrollment is None:
        raise NotFound("No such enrollment.")
    module = (
        db.session.scalar(sa.select(Module).where(Module.id == mid, Module.course_id == enrollment.course_id))
        if mid
        else None
    )
    if module is None:
        raise NotFound("No such module in this course.")
    if enrollment.status == EnrollmentStatus.cancelled:
        raise RuleViolation("This enrollment has ended: its modules can no longer be marked.", code="enrollment_ended")

    row = _progress_row(enrollment.id, module.id)
    if row is None:
        row = _insert_row(enrollment.id, module.id)
    if complete and not row.is_complete:
        row.is_complete, row.completed_at = True, now
    elif not complete:
        row.is_complete, row.completed_at = False, None
    if complete and enrollment.status == EnrollmentStatus.enrolled:
        enrollment.status = EnrollmentStatus.in_progress
        enrollment.updated_at = now
    db.session.commit()
    return row


def _progress_row(enrollment_id: uuid.UUID, module_id: uuid.UUID) -> ModuleProgress | None:
    return db.session.scalar(
        sa.select(ModuleProgress).where(
            ModuleProgress.enrollment_id == enrollment_id, ModuleProgress.module_id == module_id
        )
    )


def _insert_row(enrollment_id: uuid.UUID, module_id: uuid.UUID) -> ModuleProgress:
    """A new not-done row, or the twin a concurrent request inserted first (unique on the pair)."""
    row = ModuleProgress(enrollment_id=enrollment_id, module_id=module_id, is_complete=False)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except sa.exc.IntegrityError:
        twin = _progress_row(enrollment_id, module_id)
        if twin is None:
            raise
        return twin
    return row


# --- the learning page -------------------------------------------------------------------------


@dataclass
class SessionGroup:
    """The modules of one live session (``number`` None: the modules not tied to a session)."""

    number: int | None
    starts_at: datetime | None = None
    modules: list[Module] = field(default_factory=list)


@dataclass
class LearningPage:
    enrollment: Enrollment
    course: Course
    student: User
    groups: list[SessionGroup]
    done_ids: set[uuid.UUID]
    progress: Progress
    editable: bool  # the student on a live enrollment; teachers and ended enrollments read only
    viewer_is_student: bool


def learning_page(viewer: User, enrollment_id) -> LearningPage:
    """What the learning page shows ``viewer``: the student (who may tick), or their teacher (the
    enrollment's Student-Teacher or the course's creator), who may only look.

    :raise NotFound: anyone else, or an unknown id.
    """
    from peerloop.scheduling.models import SessionKind, SessionStatus, TutoringSession

    eid = parse_uuid(enrollment_id)
    enrollment = db.session.get(Enrollment, eid) if eid else None
    if enrollment is None:
        raise NotFound("No such enrollment.")
    course = enrollment.course
    is_student = enrollment.student_id == viewer.id
    is_teacher = viewer.id in (enrollment.student_teacher_id, course.creator_id)
    if not (is_student or is_teacher):
        raise NotFound("No such enrollment.")

    modules = db.session.scalars(
        sa.select(Module)
        .where(Module.course_id == course.id)
        .order_by(Module.session_number.is_(None), Module.session_number, Module.module_order, Module.title)
    ).all()
    groups: dict[int | None, SessionGroup] = {}
    for module in modules:
        groups.setdefault(module.session_number, SessionGroup(module.session_number)).modules.append(module)
    numbers = [n for n in groups if n is not None]
    if numbers:
        where = [
            TutoringSession.enrollment_id == enrollment.id,
            TutoringSession.number.in_(numbers),
            TutoringSession.status.in_((SessionStatus.scheduled, SessionStatus.in_progress, SessionStatus.completed)),
            TutoringSession.kind == SessionKind.regular,  # an assessment is no numbered live session
        ]
        booked = db.session.execute(
            sa.select(TutoringSession.number, sa.func.min(TutoringSession.scheduled_start))
            .where(*where)
            .group_by(TutoringSession.number)
        ).all()
        for number, starts_at in booked:
            groups[number].starts_at = starts_at
    done_ids = set(
        db.session.scalars(
            sa.select(ModuleProgress.module_id).where(
                ModuleProgress.enrollment_id == enrollment.id, ModuleProgress.is_complete.is_(True)
            )
        )
    )
    done_ids &= {m.id for m in modules}
    return LearningPage(
        enrollment=enrollment,
        course=course,
        student=enrollment.student,
        groups=list(groups.values()),
        done_ids=done_ids,
        progress=Progress(len(done_ids), len(modules)),
        editable=is_student and enrollment.status != EnrollmentStatus.cancelled,
        viewer_is_student=is_student,
    )
