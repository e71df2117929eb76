"""Brian's Teaching menu at /admin: booked sessions and session requests, read-only.

Sessions change only through ``peerloop.scheduling.services`` (book, cancel, reschedule,
the sweep); these views list, filter and show them. Checkout holds (``held``, ``lapsed``)
are not sessions anyone booked: they never appear here. Times are in the viewer's zone
(the console's formatters), and the date filter reads its days in that zone too.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import url_for
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter, DateBetweenFilter
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from peerloop import clock, timezones
from peerloop.accounts.models import User
from peerloop.admin import formatting
from peerloop.admin.base import EnumEqualFilter, SecureModelView
from peerloop.catalog.models import Course
from peerloop.db import parse_uuid
from peerloop.extensions import db
from peerloop.scheduling.models import NoShowBy, RequestStatus, SessionRequest, SessionStatus, TutoringSession
from peerloop.templating import viewer_timezone

# Checkout holds: a time kept while a visitor pays, or one whose checkout ended unpaid.
HIDDEN_STATUSES = (SessionStatus.held, SessionStatus.lapsed)
VISIBLE_STATUSES = [s for s in SessionStatus if s not in HIDDEN_STATUSES]
LATE_WINDOW_DAYS = 7

_CHIP = {
    "scheduled": "badge-primary",
    "in_progress": "badge-info",
    "completed": "badge-success",
    "no_show": "badge-warning",
    "cancelled": "badge-secondary",
    "pending": "badge-primary",
    "countered": "badge-info",
    "accepted": "badge-success",
    "declined": "badge-secondary",
    "withdrawn": "badge-light",
}


# --- formatters -------------------------------------------------------------------


def status_chip(value) -> Markup:
    if value is None:
        return Markup("")
    text = value.value
    return Markup('<span class="badge {} status-chip">{}</span>').format(
        _CHIP.get(text, "badge-light"), text.replace("_", " ")
    )


def _chip(view, context, model, name) -> Markup:
    return status_chip(getattr(model, name))


def person_link(user: User | None, *, email: bool = False) -> Markup:
    """A person's name, linked to their console page (with the email on the details page)."""
    if user is None:
        return Markup("")
    link = Markup('<a href="{}">{}</a>').format(url_for("console_users.details_view", id=user.id), user.name)
    if email:
        return Markup("{} <span class='text-muted'>&lt;{}&gt;</span>").format(link, user.email)
    return link


def _person(attr: str, *, email: bool = False):
    return lambda view, context, model, name: person_link(getattr(model, attr), email=email)


def _course(view, context, model, name) -> str:
    return model.course.title if model.course else ""


def number_text(session: TutoringSession) -> str:
    """ "1 of 2" among the enrollment's counted sessions; a session that does not count has none."""
    if session.number is None:
        return "not counted" if session.enrollment_id else ""
    total = session.enrollment.session_count if session.enrollment else None
    return f"{session.number} of {total}" if total else str(session.number)


def cancelled_by_text(session: TutoringSession) -> str:
    """Who cancelled, as their part in the session: the student, the teacher, an admin, or PeerLoop."""
    if session.status != SessionStatus.cancelled:
        return ""
    if session.cancelled_by is None:
        return "PeerLoop"  # the enrollment ended (a refund, a lost dispute)
    if session.cancelled_by == session.student_id:
        return "student"
    if session.cancelled_by == session.teacher_id:
        return "teacher"
    who = session.canceller
    return f"admin ({who.name})" if who else "admin"


def _late(view, context, model, name) -> Markup:
    if not model.late_cancellation:
        return Markup("")
    return Markup('<span class="badge badge-danger">late</span>')


def _late_detail(view, context, model, name) -> Markup | str:
    return _late(view, context, model, name) if model.late_cancellation else "no"


def _reason_short(view, context, model, name) -> str:
    reason = model.cancel_reason or ""
    return reason if len(reason) <= 80 else reason[:79] + "…"


def _pre(text: str | None) -> Markup:
    return Markup('<div style="white-space:pre-wrap">{}</div>').format(text or "")


def _no_show(view, context, model, name) -> str:
    return model.no_show_by.value if model.no_show_by else ""


def _enrollment_detail(view, context, model, name) -> Markup:
    if not model.enrollment_id:
        return Markup("")
    enrollment = model.enrollment
    status = enrollment.status.value.replace("_", " ") if enrollment else ""
    return Markup('{} <a class="ml-2" href="{}">Refund tool…</a>').format(
        status, url_for("console_refunds.refund", enrollment_id=model.enrollment_id)
    )


# --- how it ended, and who was in the room ------------------------------------------------

OUTCOME_SOURCE_TEXT = {
    "webhook": "Automatically: the video room reported who came",
    "sweep": "Automatically: PeerLoop settled it after the end from who was in the room",
    "teacher": "Marked by the teacher",
    "admin": "Decided by an admin (a contest)",
}
RESOLUTION_TEXT = {
    "teacher_paid": "The teacher was paid",
    "returned": "Given back to the student (the teacher's no-show, not paid)",
}


def outcome_source_text(session: TutoringSession) -> str:
    source = session.outcome_source
    return OUTCOME_SOURCE_TEXT.get(source, source.replace("_", " ")) if source else ""


def marked_text(session: TutoringSession) -> str:
    """The outcome in words: "completed", "the student did not come (student no-show)" …"""
    if session.status == SessionStatus.completed:
        return "completed"
    if session.status == SessionStatus.no_show:
        if session.no_show_by == NoShowBy.student:
            return "the student did not come (student no-show)"
        if session.no_show_by == NoShowBy.teacher:
            return "the teacher did not come (teacher no-show)"
        return "no-show"
    return session.status.value.replace("_", " ")


def _release_after_detail(view, context, model, name) -> Markup:
    if model.release_after is None:
        return Markup("")
    when = formatting.datetime_formatter(view, model.release_after, name)
    if model.contested_at is not None and model.contest_resolved_at is None:
        return Markup(
            '{} <span class="text-muted">(held: the student contested it; it waits for a decision)</span>'
        ).format(when)
    return when


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return "not closed yet"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{rest} s"


def attendance_rows(session: TutoringSession) -> list[dict]:
    """Who the room recorded (one row per stay), first join first: who, joined, left, how long."""
    from peerloop.video.models import Attendance

    stays = db.session.scalars(
        sa.select(Attendance)
        .where(Attendance.session_id == session.id)
        .options(selectinload(Attendance.user))
        .order_by(Attendance.joined_at, Attendance.id)
    )
    rows = []
    for stay in stays:
        if stay.user_id == session.teacher_id:
            role = "teacher"
        elif stay.user_id == session.student_id:
            role = "student"
        else:
            role = "someone else"
        rows.append(
            {
                "name": stay.user.name if stay.user else "",
                "role": role,
                "joined_at": stay.joined_at,
                "left_at": stay.left_at,
                "duration": duration_text(stay.duration_seconds),
                "source": "joined through PeerLoop" if stay.source.value == "join" else "reported by the room",
            }
        )
    return rows


# --- filters -----------------------------------------------------------------------


class LocalDateBetweenFilter(DateBetweenFilter):
    """Days picked in the viewer's zone: "2026-11-20 to 2026-11-22" means from the 20th at
    00:00 there to the end of the 22nd there, compared with the UTC column as UTC instants.
    (Flask-Admin's own date filters compare naive dates with our UTC-aware columns.)"""

    def apply(self, query, value, alias=None):
        first, last = value
        zone = timezones.zone_for(viewer_timezone())
        start = datetime.combine(first, time(0), tzinfo=zone)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
        column = self.get_column(alias)
        return query.filter(column >= start, column < end)


class CancelledWithinFilter(BaseSQLAFilter):
    """Cancelled in the last N days, counted back from the business clock's now."""

    def __init__(self, column, name):
        super().__init__(column, name, options=[("7", "7 days"), ("30", "30 days")])

    def validate(self, value) -> bool:
        return value in ("7", "30")

    def clean(self, value) -> int:
        return int(value)

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) >= clock.now() - timedelta(days=value))

    def operation(self):
        return "in the last"


class LiveOptions:
    """Filter options read on every page (Flask-Admin reads a filter's options once, at start-up,
    when there is no database to ask and no teacher yet)."""

    def __init__(self, read):
        self.read = read

    def __bool__(self) -> bool:
        return True

    def __iter__(self):
        return iter(self.read())


class IdEqualFilter(BaseSQLAFilter):
    """A person or a course picked from a list; the URL carries its id (anything else is refused)."""

    def get_options(self, view):
        return LiveOptions(self.options) if callable(self.options) else super().get_options(view)

    def validate(self, value) -> bool:
        return parse_uuid(value) is not None

    def clean(self, value) -> uuid.UUID:
        return parse_uuid(value)

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) == value)

    def operation(self):
        return "is"


def _people_of(column) -> list[tuple[str, str]]:
    ids = sa.select(column).where(TutoringSession.status.not_in(HIDDEN_STATUSES)).distinct()
    people = db.session.scalars(sa.select(User).where(User.id.in_(ids)).order_by(User.name, User.email))
    return [(str(u.id), f"{u.name} ({u.email})") for u in people]


def _courses_with_sessions() -> list[tuple[str, str]]:
    ids = sa.select(TutoringSession.course_id).where(TutoringSession.status.not_in(HIDDEN_STATUSES)).distinct()
    courses = db.session.scalars(sa.select(Course).where(Course.id.in_(ids)).order_by(Course.title))
    return [(str(c.id), c.title) for c in courses]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PeopleSearch:
    """Search the teacher's and the student's name and email: every word must match one of them.

    Flask-Admin's own search would join ``users`` twice through two relations; a subquery
    per word keeps the list and its count simple.
    """

    def init_search(self) -> bool:
        return True  # the search box is on; _apply_search does the work

    def search_placeholder(self) -> str:
        return "Teacher or student name or email"

    def _apply_search(self, query, count_query, joins, count_joins, search):
        for term in search.split():
            pattern = _like(term.lower())
            matching = sa.select(User.id).where(
                sa.or_(sa.func.lower(User.name).like(pattern, escape="\\"), User.email.like(pattern, escape="\\"))
            )
            condition = sa.or_(self.model.teacher_id.in_(matching), self.model.student_id.in_(matching))
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins


class ReadOnlyView(SecureModelView):
    can_create = False
    can_edit = False
    can_delete = False
    list_template = "admin/scheduling/list.html"
    named_filter_urls = True  # ?flt0_late_cancellation_equals=1: links that survive a new filter

    def chip(self, value) -> Markup:
        return status_chip(value)


# --- sessions ------------------------------------------------------------------------


class SessionView(PeopleSearch, ReadOnlyView):
    """Every booked session, newest start first. The details page has everything, with links."""

    list_template = "admin/scheduling/session_list.html"
    details_template = "admin/scheduling/session_details.html"
    column_list = [
        "scheduled_start",
        "course",
        "teacher",
        "student",
        "number",
        "status",
        "late_cancellation",
        "cancelled_by",
        "cancel_reason",
        "no_show_by",
    ]
    column_details_list = [
        "status",
        "scheduled_start",
        "scheduled_end",
        "course",
        "teacher",
        "student",
        "number",
        "enrollment",
        "late_cancellation",
        "cancelled_at",
        "cancelled_by",
        "cancel_reason",
        "no_show_by",
        "started_at",
        "ended_at",
        "outcome_source",
        "release_after",
        "contested_at",
        "contest_reason",
        "contest_resolved_at",
        "contest_resolution",
        "agenda",
        "created_at",
        "updated_at",
        "id",
    ]
    column_labels = {
        "scheduled_start": "Start",
        "scheduled_end": "End",
        "course": "Course",
        "teacher": "Teacher",
        "student": "Student",
        "number": "Session",
        "status": "Status",
        "late_cancellation": "Late cancellation",
        "cancelled_at": "Cancelled",
        "cancelled_by": "Cancelled by",
        "cancel_reason": "Reason",
        "no_show_by": "No-show by",
        "started_at": "Started",
        "ended_at": "Ended",
        "outcome_source": "How it ended",
        "release_after": "Share released after",
        "contested_at": "Contested by the student",
        "contest_reason": "Student's reason",
        "contest_resolved_at": "Contest decided",
        "contest_resolution": "Decision",
        "agenda": "Agenda",
        "enrollment": "Enrollment",
        "created_at": "Booked",
        "updated_at": "Last changed",
        "id": "Session id",
    }
    column_formatters = {
        "course": _course,
        "teacher": _person("teacher"),
        "student": _person("student"),
        "number": lambda v, c, m, n: number_text(m),
        "status": _chip,
        "late_cancellation": _late,
        "cancelled_by": lambda v, c, m, n: cancelled_by_text(m),
        "cancel_reason": _reason_short,
        "no_show_by": _no_show,
    }
    column_formatters_detail = {
        **column_formatters,
        "teacher": _person("teacher", email=True),
        "student": _person("student", email=True),
        "late_cancellation": _late_detail,
        "cancel_reason": lambda v, c, m, n: _pre(m.cancel_reason),
        "agenda": lambda v, c, m, n: _pre(m.agenda),
        "enrollment": _enrollment_detail,
        "outcome_source": lambda v, c, m, n: outcome_source_text(m),
        "release_after": _release_after_detail,
        "contest_reason": lambda v, c, m, n: _pre(m.contest_reason) if m.contest_reason else "",
        "contest_resolution": lambda v, c, m, n: RESOLUTION_TEXT.get(m.contest_resolution or "", m.contest_resolution),
    }
    column_filters = [
        EnumEqualFilter(TutoringSession.status, "Status", VISIBLE_STATUSES),
        BooleanEqualFilter(TutoringSession.late_cancellation, "Late cancellation"),
        CancelledWithinFilter(TutoringSession.cancelled_at, "Cancelled"),
        IdEqualFilter(TutoringSession.teacher_id, "Teacher", options=lambda: _people_of(TutoringSession.teacher_id)),
        IdEqualFilter(TutoringSession.student_id, "Student", options=lambda: _people_of(TutoringSession.student_id)),
        IdEqualFilter(TutoringSession.course_id, "Course", options=_courses_with_sessions),
        LocalDateBetweenFilter(TutoringSession.scheduled_start, "Start date"),
    ]
    column_default_sort = ("scheduled_start", True)
    column_sortable_list = ["scheduled_start", "status", "late_cancellation"]

    def get_query(self):
        return (
            super()
            .get_query()
            .filter(TutoringSession.status.not_in(HIDDEN_STATUSES))
            # Flask-Admin joins the listed relations (course, teacher, student) itself.
            .options(selectinload(TutoringSession.enrollment), selectinload(TutoringSession.canceller))
        )

    def get_count_query(self):
        return super().get_count_query().filter(TutoringSession.status.not_in(HIDDEN_STATUSES))

    def get_one(self, id):
        session = super().get_one(id)
        if session is None or session.status in HIDDEN_STATUSES:
            return None
        return session

    # --- links the templates use ---

    def filter_url(self, **values) -> str:
        """The list with filters set by their names: ``filter_url(**{"Late cancellation": "1"})``."""
        args = {}
        wanted = dict(values)
        for position, (index, flt) in enumerate(
            (i, f) for i, f in enumerate(self._filters or []) if str(f.name) in wanted
        ):
            args[f"flt{position}_{self.get_filter_arg(index, flt)}"] = wanted[str(flt.name)]
        return self.get_url(".index_view", **args)

    def quick_filters(self) -> list[tuple[str, str]]:
        return [
            ("Late cancellations", self.filter_url(**{"Late cancellation": "1"})),
            (
                f"Late, last {LATE_WINDOW_DAYS} days",
                self.filter_url(**{"Late cancellation": "1", "Cancelled": str(LATE_WINDOW_DAYS)}),
            ),
            ("No-shows", self.filter_url(Status="no_show")),
            ("Cancelled", self.filter_url(Status="cancelled")),
        ]

    def attendance(self, session: TutoringSession) -> list[dict]:
        return attendance_rows(session)

    def contest_waiting(self, session: TutoringSession) -> bool:
        return session.contested_at is not None and session.contest_resolved_at is None

    def person_sessions_url(self, session: TutoringSession, role: str) -> str:
        field = "Teacher" if role == "teacher" else "Student"
        return self.filter_url(**{field: str(getattr(session, f"{role}_id"))})


def late_cancellations(now: datetime, *, days: int = LATE_WINDOW_DAYS) -> dict:
    """The console home's card: late cancellations in the last ``days`` days, by whom."""
    since = now - timedelta(days=days)
    by_student = sa.func.sum(sa.case((TutoringSession.cancelled_by == TutoringSession.student_id, 1), else_=0))
    by_teacher = sa.func.sum(sa.case((TutoringSession.cancelled_by == TutoringSession.teacher_id, 1), else_=0))
    total, students, teachers = db.session.execute(
        sa.select(sa.func.count(TutoringSession.id), by_student, by_teacher).where(
            TutoringSession.status == SessionStatus.cancelled,
            TutoringSession.late_cancellation.is_(True),
            TutoringSession.cancelled_at >= since,
        )
    ).one()
    total, students, teachers = int(total or 0), int(students or 0), int(teachers or 0)
    return {
        "days": days,
        "total": total,
        "by_student": students,
        "by_teacher": teachers,
        "by_others": total - students - teachers,
    }


# --- session requests -----------------------------------------------------------------


class SessionRequestView(PeopleSearch, ReadOnlyView):
    """Students asking for a time outside the published slots, and the teachers' answers."""

    details_template = "admin/scheduling/request_details.html"
    column_list = ["created_at", "status", "student", "teacher", "course", "proposed_start", "counter_start"]
    column_details_list = [
        "status",
        "created_at",
        "student",
        "teacher",
        "course",
        "proposed_start",
        "counter_start",
        "message",
        "response_message",
        "responded_at",
        "session",
        "id",
    ]
    column_labels = {
        "created_at": "Created",
        "status": "Status",
        "student": "Student",
        "teacher": "Teacher",
        "course": "Course",
        "proposed_start": "Proposed time",
        "counter_start": "Counter time",
        "message": "Student's message",
        "response_message": "Teacher's answer",
        "responded_at": "Answered",
        "session": "Session",
        "id": "Request id",
    }
    column_formatters = {
        "status": _chip,
        "student": _person("student"),
        "teacher": _person("teacher"),
        "course": _course,
    }
    column_formatters_detail = {
        **column_formatters,
        "student": _person("student", email=True),
        "teacher": _person("teacher", email=True),
        "message": lambda v, c, m, n: _pre(m.message),
        "response_message": lambda v, c, m, n: _pre(m.response_message),
        "session": lambda v, c, m, n: (
            Markup('<a href="{}">The booked session</a>').format(
                url_for("console_sessions.details_view", id=m.session_id)
            )
            if m.session_id and m.session and m.session.status not in HIDDEN_STATUSES
            else ""
        ),
    }
    column_filters = [
        EnumEqualFilter(SessionRequest.status, "Status", RequestStatus),
        IdEqualFilter(SessionRequest.teacher_id, "Teacher", options=lambda: _request_people(SessionRequest.teacher_id)),
        IdEqualFilter(SessionRequest.course_id, "Course", options=lambda: _request_courses()),
        LocalDateBetweenFilter(SessionRequest.created_at, "Created date"),
    ]
    column_default_sort = ("created_at", True)
    column_sortable_list = ["created_at", "status", "proposed_start"]


def _request_people(column) -> list[tuple[str, str]]:
    people = db.session.scalars(
        sa.select(User).where(User.id.in_(sa.select(column).distinct())).order_by(User.name, User.email)
    )
    return [(str(u.id), f"{u.name} ({u.email})") for u in people]


def _request_courses() -> list[tuple[str, str]]:
    ids = sa.select(SessionRequest.course_id).distinct()
    return [(str(c.id), c.title) for c in db.session.scalars(sa.select(Course).where(Course.id.in_(ids)))]
