"""The learn-teach-earn flywheel in numbers, and the decisions left waiting: read only, nothing here writes.

``flywheel(course_ids)`` counts, per course and overall, the students at each step of the funnel

    enrolled → all modules done → certified → applied → teaching

and the two rates seed 002 sets targets for. ``stale_requests(now)`` lists the certification
requests and teach applications still pending after a week, with the creator to nudge (only a
course's creator decides them, never Brian).

Both run a fixed number of statements however many courses there are: one aggregate statement
grouped by course for the funnel, two for the waiting list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from peerloop.accounts.models import User
from peerloop.catalog.models import Course, Module
from peerloop.certification.models import (
    Certificate,
    CertificateType,
    CertificationRequest,
    DecisionStatus,
    StudentTeacher,
    TeachApplication,
)
from peerloop.enrollment.models import Enrollment, EnrollmentStatus, ModuleProgress
from peerloop.extensions import db

CERTIFIED_TYPES = (CertificateType.completion, CertificateType.mastery)
STALE_AFTER = timedelta(days=7)
STALE_SHOWN = 20


# --- targets (seed 002, "Key Metrics") ----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A rate's target: at least ``low``, and at most ``high`` when there is an upper end."""

    label: str
    low: float
    high: float | None = None

    def verdict(self, rate: float | None) -> str | None:
        """``"met"``, ``"below"``, ``"above"`` (past the top of a range), or None with no data."""
        if rate is None:
            return None
        if rate < self.low:
            return "below"
        if self.high is not None and rate > self.high:
            return "above"
        return "met"


COMPLETION_TARGET = Target("at least 75%", 0.75)
CONVERSION_TARGET = Target("10–20%", 0.10, 0.20)


# --- the funnel ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    count: int
    share: float  # of the first step (enrolled), 0..1: the bar's length


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Funnel:
    """Distinct students at each step; each step counts only people also in the step before.

    ``certified_unticked`` sits outside the funnel: students certified (or completed) without
    every module ticked, e.g. certified by hand. They are not counted as certified (a funnel never
    widens), and are shown so the gap in the data is visible.
    """

    enrolled: int = 0
    modules_done: int = 0
    certified: int = 0
    applied: int = 0
    teaching: int = 0
    certified_unticked: int = 0

    @property
    def completion_rate(self) -> float | None:
        """Certified / enrolled; None with nobody enrolled."""
        return _rate(self.certified, self.enrolled)

    @property
    def conversion_rate(self) -> float | None:
        """Teaching / certified (seed 002's Student-to-Teacher Conversion); None with nobody certified."""
        return _rate(self.teaching, self.certified)

    @property
    def completion_verdict(self) -> str | None:
        return COMPLETION_TARGET.verdict(self.completion_rate)

    @property
    def conversion_verdict(self) -> str | None:
        return CONVERSION_TARGET.verdict(self.conversion_rate)

    @property
    def steps(self) -> tuple[Step, ...]:
        counts = (
            ("enrolled", "Enrolled", self.enrolled),
            ("modules_done", "All modules done", self.modules_done),
            ("certified", "Certified", self.certified),
            ("applied", "Applied to teach", self.applied),
            ("teaching", "Teaching", self.teaching),
        )
        return tuple(Step(key, label, count, _rate(count, self.enrolled) or 0.0) for key, label, count in counts)

    def __add__(self, other: Funnel) -> Funnel:
        return Funnel(*(getattr(self, name) + getattr(other, name) for name in Funnel.__dataclass_fields__))


@dataclass(frozen=True)
class CourseFunnel:
    course_id: uuid.UUID
    title: str
    slug: str
    funnel: Funnel


@dataclass(frozen=True)
class Flywheel:
    """Every course asked for (title order, courses nobody bought included) and their sum.

    ``overall`` adds the courses up: a student in two courses counts in both (the funnel is per
    student and course, as the certificates and the right to teach are).
    """

    courses: tuple[CourseFunnel, ...]
    overall: Funnel
    completion_target: ClassVar[Target] = COMPLETION_TARGET
    conversion_target: ClassVar[Target] = CONVERSION_TARGET


def flywheel(course_ids: Iterable[uuid.UUID] | None = None) -> Flywheel:
    """The funnel per course and overall, for ``course_ids`` (None: every course). One statement.

    The rules, per course, each counting distinct students:

    - **enrolled**: a live enrollment, i.e. any status but ``cancelled`` (``frozen``, under a
      payment dispute, still counts). A student who cancelled and bought again counts once.
    - **all modules done**: enrolled, and that enrollment has every module of the course ticked
      (``enrollment.progress``'s rule: a course without modules has nothing left to tick).
    - **certified**: all modules done, and certified-or-completed: a live (not revoked)
      completion or mastery certificate of the course, or a ``completed`` enrollment with no such
      certificate at all (completed outside the certification flow, e.g. by hand). A revoked
      certificate withdraws it even if the enrollment still says ``completed``; a teaching
      certificate alone does not count.
    - **applied**: certified, and a teach application of the course in any state, or a
      ``StudentTeacher`` row (the right to teach is granted on request: a row made without an
      application, by hand or by the demo, counts as one).
    - **teaching**: applied, and an active ``StudentTeacher`` row for the course.

    Completion rate = certified / enrolled; S-T conversion = teaching / certified; None when the
    denominator is 0. Students certified without ticking every module are counted apart
    (``certified_unticked``), never as certified.
    """
    wanted = None if course_ids is None else list(dict.fromkeys(course_ids))
    if wanted == []:
        return Flywheel(courses=(), overall=Funnel())

    student, course = Enrollment.student_id, Enrollment.course_id
    module_total = (
        sa.select(sa.func.count(Module.id)).where(Module.course_id == course).correlate(Enrollment).scalar_subquery()
    )
    modules_ticked = (
        sa.select(sa.func.count(ModuleProgress.id))
        .join(Module, Module.id == ModuleProgress.module_id)
        .where(
            ModuleProgress.enrollment_id == Enrollment.id,
            ModuleProgress.is_complete.is_(True),
            Module.course_id == course,
        )
        .correlate(Enrollment)
        .scalar_subquery()
    )

    def certificate(*where) -> sa.Exists:
        return sa.exists().where(
            Certificate.user_id == student,
            Certificate.course_id == course,
            Certificate.type.in_(CERTIFIED_TYPES),
            *where,
        )

    modules_done = modules_ticked >= module_total
    certified_or_completed = sa.or_(
        certificate(Certificate.revoked_at.is_(None)),
        sa.and_(Enrollment.status == EnrollmentStatus.completed, ~certificate()),
    )
    student_teacher = sa.exists().where(StudentTeacher.user_id == student, StudentTeacher.course_id == course)
    applied = sa.or_(
        sa.exists().where(TeachApplication.user_id == student, TeachApplication.course_id == course),
        student_teacher,
    )
    teaching = student_teacher.where(StudentTeacher.is_active.is_(True))

    def students(*conditions) -> sa.ColumnElement[int]:
        return sa.func.count(sa.distinct(sa.case((sa.and_(*conditions), student))))

    live = sa.and_(Enrollment.course_id == Course.id, Enrollment.status != EnrollmentStatus.cancelled)
    query = (
        sa.select(
            Course.id,
            Course.title,
            Course.slug,
            sa.func.count(sa.distinct(student)),
            students(modules_done),
            students(modules_done, certified_or_completed),
            students(modules_done, certified_or_completed, applied),
            students(modules_done, certified_or_completed, applied, teaching),
            students(~modules_done, certified_or_completed),
        )
        .outerjoin(Enrollment, live)
        .group_by(Course.id, Course.title, Course.slug)
        .order_by(Course.title, Course.id)
    )
    if wanted is not None:
        query = query.where(Course.id.in_(wanted))
    rows = tuple(
        CourseFunnel(course_id, title, slug, Funnel(*(int(n or 0) for n in counts)))
        for course_id, title, slug, *counts in db.session.execute(query)
    )
    overall = sum((row.funnel for row in rows), Funnel())
    return Flywheel(courses=rows, overall=overall)


# --- decisions left waiting ---------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingDecision:
    """A pending certification request or teach application, and the creator who decides it."""

    kind: str  # "certification" or "teaching"
    id: uuid.UUID
    student_name: str
    course_title: str
    course_slug: str
    creator_name: str
    creator_email: str
    created_at: datetime
    days_waiting: int


@dataclass(frozen=True)
class Waiting:
    items: tuple[WaitingDecision, ...]  # oldest first, at most ``limit``
    total: int  # all of them, shown or not
    older_than: timedelta

    @property
    def days(self) -> int:
        return self.older_than.days


def stale_requests(now: datetime, older_than: timedelta = STALE_AFTER, *, limit: int = STALE_SHOWN) -> Waiting:
    """Certification requests and teach applications still ``pending`` whose ``created_at`` is more
    than ``older_than`` before ``now``, oldest first (at most ``limit``), with their total. Two
    statements.

    ``days_waiting`` is whole days since the request was made (8 days and 3 hours: 8).
    """
    cutoff = now - older_than
    creator = aliased(User, name="creator")
    student = aliased(User, name="student")

    def pending(model, kind: str, student_column):
        return (
            sa.select(
                sa.literal(kind).label("kind"),
                model.id.label("id"),
                student.name.label("student_name"),
                Course.title.label("course_title"),
                Course.slug.label("course_slug"),
                creator.name.label("creator_name"),
                creator.email.label("creator_email"),
                model.created_at.label("created_at"),
            )
            .join(student, student.id == student_column)
            .join(Course, Course.id == model.course_id)
            .join(creator, creator.id == Course.creator_id)
            .where(model.status == DecisionStatus.pending, model.created_at < cutoff)
        )

    both = sa.union_all(
        pending(CertificationRequest, "certification", CertificationRequest.student_id),
        pending(TeachApplication, "teaching", TeachApplication.user_id),
    ).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(both))
    if not total:
        return Waiting(items=(), total=0, older_than=older_than)
    rows = db.session.execute(sa.select(both).order_by(both.c.created_at, both.c.id).limit(limit)).mappings()
    items = tuple(WaitingDecision(**row, days_waiting=(now - row["created_at"]).days) for row in rows)
    return Waiting(items=items, total=total, older_than=older_than)
