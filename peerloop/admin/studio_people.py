"""The creator's people and money in /studio: their students (/studio/students/), their
Student-Teachers (/studio/teachers/) and their earnings (/studio/earnings/).

Read-only pages, scoped to the creator's own courses (``courses.creator_id``). Each page reads a
fixed number of statements whatever the number of rows, and reuses the rules that already exist:
progress from ``enrollment.progress.progress_of``, session counts from
``scheduling.services.session_counts`` (its delivered and upcoming rules), ratings from
``catalog.services.teacher_ratings``, and money as sums of the ledger rows that
``payments.services.balances`` and ``monthly_earnings`` add up, per course instead of per person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import flash, request
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy.orm import aliased

from peerloop import clock
from peerloop.accounts.models import User
from peerloop.admin.base import RoleGate
from peerloop.catalog.models import Course
from peerloop.catalog.services import teacher_ratings
from peerloop.certification.models import Certificate, CertificateType, StudentTeacher
from peerloop.db import parse_uuid
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.enrollment.progress import NO_PROGRESS, Progress, progress_of
from peerloop.extensions import db
from peerloop.payments.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    Payout,
    PayoutStatus,
    Refund,
    RefundStatus,
    Transaction,
)
from peerloop.payments.services import LINE_LABELS
from peerloop.scheduling.models import TutoringSession
from peerloop.scheduling.services import SessionCounts, _delivered_condition, _upcoming_condition, session_counts

PER_PAGE = 25
MAX_PAGE = 10_000  # a huge ?page= would overflow the database's OFFSET

STATUS_LABELS = {
    EnrollmentStatus.enrolled: "Enrolled",
    EnrollmentStatus.in_progress: "In progress",
    EnrollmentStatus.completed: "Completed",
    EnrollmentStatus.frozen: "On hold (payment dispute)",
}

# What the creator earned, as /earnings' monthly chart counts it: royalties and released teaching
# shares, less refunds (a refund the platform absorbed gives the creator's part back).
EARNED_KINDS = (LedgerKind.creator_royalty, LedgerKind.teaching_release, LedgerKind.refund, LedgerKind.absorbed)
ON_ITS_WAY = (PayoutStatus.requested, PayoutStatus.approved, PayoutStatus.processing)


# --- the query string: the course filter and the page ---------------------------------------


@dataclass(frozen=True)
class Pages:
    page: int
    pages: int
    total: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * PER_PAGE


def _requested_page() -> int:
    raw = request.args.get("page", "")
    return min(int(raw), MAX_PAGE) if raw.isascii() and raw.isdigit() and int(raw) >= 1 else 1


def _pages(total: int) -> Pages:
    pages = max(1, -(-total // PER_PAGE))
    return Pages(page=min(_requested_page(), pages), pages=pages, total=total)


def _own_courses(creator_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """The creator's courses for the filter's select, by title."""
    return [
        (row.id, row.title)
        for row in db.session.execute(
            sa.select(Course.id, Course.title).where(Course.creator_id == creator_id).order_by(Course.title)
        )
    ]


def _chosen_course(courses: list[tuple[uuid.UUID, str]]) -> uuid.UUID | None:
    """The ?course= of the filter when it is one of the creator's courses; anything else shows all
    (with a flash, so a stale or tampered link says why)."""
    raw = request.args.get("course", "").strip()
    if not raw:
        return None
    chosen = parse_uuid(raw[:64])
    if chosen is None or chosen not in {course_id for course_id, _ in courses}:
        flash("That course is not one of yours: showing all your courses.", "error")
        return None
    return chosen


class PeopleView(RoleGate, BaseView):
    """A read-only studio page of the creator's courses, all of them or the one ``?course=`` names."""

    required_role = "creator"
    template = ""

    def page_context(self, chosen: uuid.UUID | None) -> dict:
        raise NotImplementedError

    @expose("/")
    def index(self):
        courses = _own_courses(current_user.id)
        chosen = _chosen_course(courses)
        return self.render(self.template, courses=courses, chosen=chosen, **self.page_context(chosen))


def _scoped(query, course_column, creator_id: uuid.UUID, chosen: uuid.UUID | None):
    """``query`` limited to the creator's courses (and to ``chosen``, one of them, when given)."""
    query = query.where(course_column.in_(sa.select(Course.id).where(Course.creator_id == creator_id)))
    return query.where(course_column == chosen) if chosen else query


# --- students --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentRow:
    enrollment: Enrollment
    student: User
    course_title: str
    course_slug: str
    teacher: User | None
    progress: Progress
    sessions: SessionCounts
    certificate: Certificate | None

    @property
    def status(self) -> str:
        return STATUS_LABELS.get(self.enrollment.status, self.enrollment.status.value.replace("_", " "))

    @property
    def sessions_done(self) -> int:
        return self.sessions.delivered

    @property
    def sessions_booked(self) -> int:
        return self.sessions.upcoming

    @property
    def sessions_left(self) -> int:
        # The booking rules' count: what is delivered or booked is used (My courses says the same).
        return max(0, self.enrollment.session_count - self.sessions.used)


def _certificates(enrollments: list[Enrollment]) -> dict[tuple, Certificate]:
    """The student's live certificate of each (student, course), mastery over completion."""
    if not enrollments:
        return {}
    pairs = {(e.student_id, e.course_id) for e in enrollments}
    found: dict[tuple, Certificate] = {}
    rank = {CertificateType.mastery: 2, CertificateType.completion: 1}
    for certificate in db.session.scalars(
        sa.select(Certificate).where(
            Certificate.user_id.in_({student for student, _ in pairs}),
            Certificate.course_id.in_({course for _, course in pairs}),
            Certificate.type.in_(list(rank)),
            Certificate.revoked_at.is_(None),
        )
    ):
        key = (certificate.user_id, certificate.course_id)
        if key in pairs and rank[certificate.type] > rank.get(getattr(found.get(key), "type", None), 0):
            found[key] = certificate
    return found


def student_rows(creator_id: uuid.UUID, chosen: uuid.UUID | None) -> tuple[list[StudentRow], Pages]:
    """One page of the enrollments of the creator's courses (not cancelled), newest first, in five
    statements: the count, the page, progress, session counts and certificates."""
    live = Enrollment.status != EnrollmentStatus.cancelled
    counted = sa.select(sa.func.count(Enrollment.id)).where(live)
    total = db.session.scalar(_scoped(counted, Enrollment.course_id, creator_id, chosen))
    pages = _pages(int(total or 0))
    student, teacher = aliased(User), aliased(User)
    query = (
        sa.select(Enrollment, student, Course.title, Course.slug, teacher)
        .join(Course, Course.id == Enrollment.course_id)
        .join(student, student.id == Enrollment.student_id)
        .outerjoin(teacher, teacher.id == Enrollment.student_teacher_id)
        .where(live)
        .order_by(Enrollment.enrolled_at.desc(), Enrollment.id)
        .offset(pages.offset)
        .limit(PER_PAGE)
    )
    found = db.session.execute(_scoped(query, Enrollment.course_id, creator_id, chosen)).all()
    enrollments = [row[0] for row in found]
    ids = [e.id for e in enrollments]
    progress = progress_of(ids)
    counts = session_counts(ids)
    certificates = _certificates(enrollments)
    rows = [
        StudentRow(
            enrollment=enrollment,
            student=who,
            course_title=title,
            course_slug=slug,
            teacher=taught_by,
            progress=progress.get(enrollment.id, NO_PROGRESS),
            sessions=counts.get(enrollment.id, SessionCounts()),
            certificate=certificates.get((enrollment.student_id, enrollment.course_id)),
        )
        for enrollment, who, title, slug, taught_by in found
    ]
    return rows, pages


class StudioStudentsView(PeopleView):
    template = "admin/studio_people/students.html"

    def page_context(self, chosen) -> dict:
        rows, pages = student_rows(current_user.id, chosen)
        return {"rows": rows, "pages": pages}


# --- Student-Teachers ------------------------------------------------------------------------


@dataclass(frozen=True)
class TeacherActivity:
    last_30_days: int = 0
    upcoming: int = 0
    last_session: object = None  # the start of the last delivered session


@dataclass(frozen=True)
class TeacherRow:
    student_teacher: StudentTeacher
    user: User
    course_title: str
    course_slug: str
    rating: float | None
    activity: TeacherActivity


def _activity(pairs: set[tuple], *, now) -> dict[tuple, TeacherActivity]:
    """Per (course, teacher): sessions delivered in the last 30 days, upcoming ones and the last
    delivered one, by the booking rules' delivered and upcoming conditions, in one grouped query."""
    if not pairs:
        return {}
    delivered = _delivered_condition()
    recent = sa.func.sum(
        sa.case((sa.and_(delivered, TutoringSession.scheduled_start >= now - timedelta(days=30)), 1), else_=0)
    )
    upcoming = sa.func.sum(sa.case((_upcoming_condition(), 1), else_=0))
    last = sa.func.max(sa.case((delivered, TutoringSession.scheduled_start), else_=None))
    rows = db.session.execute(
        sa.select(TutoringSession.course_id, TutoringSession.teacher_id, recent, upcoming, last)
        .where(
            TutoringSession.course_id.in_({course for course, _ in pairs}),
            TutoringSession.teacher_id.in_({teacher for _, teacher in pairs}),
        )
        .group_by(TutoringSession.course_id, TutoringSession.teacher_id)
    ).all()
    return {
        (course, teacher): TeacherActivity(int(r or 0), int(u or 0), at)
        for course, teacher, r, u, at in rows
        if (course, teacher) in pairs
    }


def teacher_rows(creator_id: uuid.UUID, chosen: uuid.UUID | None, *, now) -> tuple[list[TeacherRow], Pages]:
    """One page of the Student-Teachers of the creator's courses, active first, by name, in four
    statements: the count, the page, ratings and session activity."""
    counted = sa.select(sa.func.count(StudentTeacher.id))
    total = db.session.scalar(_scoped(counted, StudentTeacher.course_id, creator_id, chosen))
    pages = _pages(int(total or 0))
    query = (
        sa.select(StudentTeacher, User, Course.title, Course.slug)
        .join(User, User.id == StudentTeacher.user_id)
        .join(Course, Course.id == StudentTeacher.course_id)
        .order_by(StudentTeacher.is_active.desc(), User.name, Course.title, StudentTeacher.id)
        .offset(pages.offset)
        .limit(PER_PAGE)
    )
    found = db.session.execute(_scoped(query, StudentTeacher.course_id, creator_id, chosen)).all()
    pairs = {(st.course_id, st.user_id) for st, *_ in found}
    ratings = teacher_ratings(pairs)
    activity = _activity(pairs, now=now)
    rows = [
        TeacherRow(
            student_teacher=st,
            user=user,
            course_title=title,
            course_slug=slug,
            rating=ratings.get((st.course_id, st.user_id)),
            activity=activity.get((st.course_id, st.user_id), TeacherActivity()),
        )
        for st, user, title, slug in found
    ]
    return rows, pages


class StudioTeachersView(PeopleView):
    """The course's Student-Teachers. Each active row ends in an empty ``st-actions`` cell (the
    template's ``st_actions`` block), kept for a Deactivate button."""

    template = "admin/studio_people/teachers.html"

    def page_context(self, chosen) -> dict:
        rows, pages = teacher_rows(current_user.id, chosen, now=clock.now())
        return {"rows": rows, "pages": pages}


# --- earnings --------------------------------------------------------------------------------


@dataclass
class CourseMoney:
    """One course's money in one currency, in cents."""

    course_id: uuid.UUID | None
    title: str
    currency: str
    sales: int = 0  # how many payments
    gross_cents: int = 0  # what students paid
    refunded_cents: int = 0  # what went back to them
    share_cents: int = 0  # the creator's earnings: royalties and shares taught, less refunds
    pending_cents: int = 0  # held in the teaching pool for sessions the creator is still to teach
    available_cents: int = 0  # released to the creator, not yet in a payout
    in_payout_cents: int = 0  # in a payout on its way
    paid_cents: int = 0  # paid out

    def add(self, other: CourseMoney) -> None:
        for name in (
            "sales",
            "gross_cents",
            "refunded_cents",
            "share_cents",
            "pending_cents",
            "available_cents",
            "in_payout_cents",
            "paid_cents",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Earnings:
    courses: list[CourseMoney] = field(default_factory=list)
    totals: list[CourseMoney] = field(default_factory=list)  # one per currency, main first


def course_earnings(creator_id: uuid.UUID, chosen: uuid.UUID | None = None) -> Earnings:
    """The creator's money per course and currency, and in total per currency, from the ledger in
    four grouped statements. The figures are the sums /earnings shows (``payments.services.balances``
    and ``monthly_earnings``), attributed to courses through each row's transaction: held = the pool
    of the creator's own students; available = their earnings rows; paid / on its way = their payout
    rows by the payout's status; the share = royalties and released shares less refunds.
    Money the creator earns teaching someone else's course is not here (it is on /earnings)."""
    own = sa.select(Course.id).where(Course.creator_id == creator_id)
    if chosen:
        own = own.where(Course.id == chosen)
    titles = dict(db.session.execute(own.add_columns(Course.title)).all())
    by_key: dict[tuple, CourseMoney] = {}

    def line(course_id, currency) -> CourseMoney:
        key = (course_id, currency)
        if key not in by_key:
            by_key[key] = CourseMoney(course_id=course_id, title=titles.get(course_id, ""), currency=currency)
        return by_key[key]

    for course_id, currency, count, cents in db.session.execute(
        sa.select(
            Transaction.course_id,
            Transaction.currency,
            sa.func.count(Transaction.id),
            sa.func.sum(Transaction.amount_cents),
        )
        .where(Transaction.course_id.in_(own))
        .group_by(Transaction.course_id, Transaction.currency)
    ):
        entry = line(course_id, currency)
        entry.sales, entry.gross_cents = int(count), int(cents or 0)

    for course_id, currency, cents in db.session.execute(
        sa.select(Transaction.course_id, Refund.currency, sa.func.sum(Refund.amount_cents))
        .join(Transaction, Transaction.id == Refund.transaction_id)
        .where(Transaction.course_id.in_(own), Refund.status != RefundStatus.failed)
        .group_by(Transaction.course_id, Refund.currency)
    ):
        line(course_id, currency).refunded_cents = int(cents or 0)

    for course_id, currency, account, kind, payout_status, cents in db.session.execute(
        sa.select(
            Transaction.course_id,
            LedgerEntry.currency,
            LedgerEntry.account,
            LedgerEntry.kind,
            Payout.status,
            sa.func.sum(LedgerEntry.amount_cents),
        )
        .join(Transaction, Transaction.id == LedgerEntry.transaction_id)
        .outerjoin(Payout, Payout.id == LedgerEntry.payout_id)
        .where(
            Transaction.course_id.in_(own),
            LedgerEntry.recipient_id == creator_id,
            LedgerEntry.account.in_([LedgerAccount.earnings, LedgerAccount.payout]),
        )
        .group_by(Transaction.course_id, LedgerEntry.currency, LedgerEntry.account, LedgerEntry.kind, Payout.status)
    ):
        entry, cents = line(course_id, currency), int(cents or 0)
        if account == LedgerAccount.earnings:
            entry.available_cents += cents
            if kind in EARNED_KINDS:
                entry.share_cents += cents
        elif payout_status == PayoutStatus.paid:
            entry.paid_cents += cents
        elif payout_status in ON_ITS_WAY:
            entry.in_payout_cents += cents

    for course_id, currency, cents in db.session.execute(
        sa.select(Transaction.course_id, LedgerEntry.currency, sa.func.sum(LedgerEntry.amount_cents))
        .join(Transaction, Transaction.id == LedgerEntry.transaction_id)
        .join(Enrollment, Enrollment.id == LedgerEntry.enrollment_id)
        .where(
            Transaction.course_id.in_(own),
            Enrollment.student_teacher_id == creator_id,
            LedgerEntry.account == LedgerAccount.pool,
        )
        .group_by(Transaction.course_id, LedgerEntry.currency)
    ):
        line(course_id, currency).pending_cents = int(cents or 0)

    courses = sorted(by_key.values(), key=lambda m: (-m.gross_cents, m.title, m.currency))
    totals: dict[str, CourseMoney] = {}
    for entry in courses:
        totals.setdefault(entry.currency, CourseMoney(None, "All your courses", entry.currency)).add(entry)
    return Earnings(courses=courses, totals=sorted(totals.values(), key=lambda m: (-m.gross_cents, m.currency)))


@dataclass(frozen=True)
class MoneyLine:
    at: object
    label: str
    course_title: str
    student_name: str | None
    amount_cents: int
    currency: str


def earning_lines(creator_id: uuid.UUID, chosen: uuid.UUID | None) -> tuple[list[MoneyLine], Pages]:
    """One page of the creator's earnings rows on their courses, newest first (/earnings' lines,
    with the student and limited to the studio's courses), in two statements."""
    where = [
        LedgerEntry.recipient_id == creator_id,
        LedgerEntry.account == LedgerAccount.earnings,
        LedgerEntry.amount_cents != 0,
    ]
    total = db.session.scalar(
        _scoped(
            sa.select(sa.func.count(LedgerEntry.id)).join(Transaction, Transaction.id == LedgerEntry.transaction_id),
            Transaction.course_id,
            creator_id,
            chosen,
        ).where(*where)
    )
    pages = _pages(int(total or 0))
    query = (
        sa.select(LedgerEntry, Course.title, User.name)
        .join(Transaction, Transaction.id == LedgerEntry.transaction_id)
        .join(Course, Course.id == Transaction.course_id)
        .join(User, User.id == Transaction.student_id)
        .where(*where)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id)
        .offset(pages.offset)
        .limit(PER_PAGE)
    )
    lines = [
        MoneyLine(
            at=row.created_at,
            label=LINE_LABELS.get(row.kind, row.kind.value.replace("_", " ").capitalize()),
            course_title=title,
            student_name=None if row.kind in (LedgerKind.payout, LedgerKind.payout_returned) else name,
            amount_cents=row.amount_cents,
            currency=row.currency,
        )
        for row, title, name in db.session.execute(_scoped(query, Transaction.course_id, creator_id, chosen)).all()
    ]
    return lines, pages


class StudioEarningsView(PeopleView):
    template = "admin/studio_people/earnings.html"

    def page_context(self, chosen) -> dict:
        lines, pages = earning_lines(current_user.id, chosen)
        return {"earnings": course_earnings(current_user.id, chosen), "lines": lines, "pages": pages}
