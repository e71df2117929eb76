"""The teacher's pages: Teaching (today, upcoming, past, requests, students), availability, and the
private calendar feed (for everyone, students too).

The availability form is the API's shape in form clothes: one text box of windows per day
("09:00-12:00, 14:00-17:00"), rows for blocked dates and extra hours. The view turns the form into
``services.set_availability``'s JSON shape and turns its field errors (``weekly.3.end``) back into
the box they came from, so nothing typed is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.errors import Forbidden, ValidationError
from peerloop.scheduling import feeds, requests, services
from peerloop.scheduling.models import OPEN_REQUEST_STATUSES, RequestStatus, SessionStatus
from peerloop.scheduling.views import bp
from peerloop.timezones import picker_choices, zone_for

DAYS = services.DAY_NAMES  # 0 Sunday … 6 Saturday, as the API numbers them
SESSION_LENGTHS = (30, 45, 60)
NOT_A_TEACHER = (
    "Only Student-Teachers and creators have teaching hours. "
    "Once a creator approves you to teach a course, this page is yours."
)
_PIECE_SPLIT = re.compile(r"[,;\n]+")
_DASH = re.compile(r"\s*[-–—]\s*|\s+to\s+")
_SHORT_HOUR = re.compile(r"^(\d):(\d\d)$")


# --- who sees what ----------------------------------------------------------------------


def viewer_can_teach() -> bool:
    """Whether the viewer has teaching pages (``services.can_teach``): Teaching in the nav.
    Asked up to three times a page (header, menu, phone bar): one query a request."""
    if not current_user.is_authenticated:
        return False
    if "can_teach" not in g:
        g.can_teach = services.can_teach(current_user)
    return g.can_teach


@bp.app_context_processor
def _teaching_globals() -> dict:
    return {"can_teach": viewer_can_teach}  # a function: pages that never ask pay no query


def _teacher_required() -> None:
    if not viewer_can_teach():
        raise Forbidden(NOT_A_TEACHER, code="not_a_teacher")


# --- the availability form ↔ the API shape ----------------------------------------------


def _hhmm(text: str) -> str:
    """ "9:00" → "09:00": the one shorthand people type; the service checks the rest."""
    text = text.strip()
    short = _SHORT_HOUR.match(text)
    return f"0{short.group(1)}:{short.group(2)}" if short else text


def windows_text(windows: list[dict]) -> str:
    return ", ".join(f"{w['start']}-{w['end']}" for w in windows)


@dataclass
class AvailabilityForm:
    """What the page shows: the values (as typed) and an error per box."""

    timezone: str
    days: list[str]  # one text per day, Sunday first
    session_minutes: str
    buffer_minutes: str
    min_notice_hours: str
    max_window_days: str
    paused: bool
    blocked: list[dict]  # {date, remove}
    blocked_add: str = ""
    overrides: list[dict] = field(default_factory=list)  # {date, start, end, remove}; the last one blank
    errors: dict = field(default_factory=dict)  # "day.3", "timezone", "blocked.0", "override.1", "overrides" …

    @classmethod
    def from_saved(cls, saved: dict, *, today: date) -> AvailabilityForm:
        by_day: dict[int, list[dict]] = {d: [] for d in range(7)}
        for w in saved["weekly"]:
            by_day[w["day_of_week"]].append(w)
        # Dates already over do nothing: they are not shown (saving the form drops them).
        cutoff = (today - timedelta(days=1)).isoformat()
        return cls(
            timezone=saved["timezone"],
            days=[windows_text(by_day[d]) for d in range(7)],
            session_minutes=str(saved["session_minutes"]),
            buffer_minutes=str(saved["buffer_minutes"]),
            min_notice_hours=str(saved["min_notice_hours"]),
            max_window_days=str(saved["max_window_days"]),
            paused=bool(saved["paused"]),
            blocked=[{"date": d, "remove": False} for d in saved["blocked_dates"] if d >= cutoff],
            overrides=[{**o, "remove": False} for o in saved["overrides"] if o["date"] >= cutoff]
            + [{"date": "", "start": "", "end": "", "remove": False}],
        )

    @classmethod
    def from_request(cls, form) -> AvailabilityForm:
        blocked = []
        for i in range(_count(form.get("blocked_count"))):
            value = (form.get(f"blocked-{i}") or "").strip()
            if value:
                blocked.append({"date": value, "remove": bool(form.get(f"blocked-{i}-remove"))})
        overrides = []
        for i in range(_count(form.get("override_count"))):
            row = {k: (form.get(f"override-{i}-{k}") or "").strip() for k in ("date", "start", "end")}
            if any(row.values()):
                overrides.append({**row, "remove": bool(form.get(f"override-{i}-remove"))})
        return cls(
            timezone=(form.get("timezone") or "").strip(),
            days=[(form.get(f"day-{d}") or "").strip() for d in range(7)],
            session_minutes=(form.get("session_minutes") or "").strip(),
            buffer_minutes=(form.get("buffer_minutes") or "").strip(),
            min_notice_hours=(form.get("min_notice_hours") or "").strip(),
            max_window_days=(form.get("max_window_days") or "").strip(),
            paused=bool(form.get("paused")),
            blocked=blocked,
            blocked_add=(form.get("blocked_add") or "").strip(),
            overrides=overrides,
        )

    def to_api(self) -> tuple[dict, dict]:
        """The API shape, and where each item came from (to put its error back next to its box)."""
        weekly, weekly_from = [], []
        for day, text in enumerate(self.days):
            for piece in _PIECE_SPLIT.split(text):
                piece = piece.strip()
                if not piece:
                    continue
                parts = _DASH.split(piece, maxsplit=1)
                start, end = (parts + [""])[:2]
                weekly.append({"day_of_week": day, "start": _hhmm(start), "end": _hhmm(end)})
                weekly_from.append((day, piece, len(parts) == 2))
        blocked, blocked_from = [], []
        for i, row in enumerate(self.blocked):
            if not row["remove"]:
                blocked.append(row["date"])
                blocked_from.append(f"blocked.{i}")
        if self.blocked_add:
            blocked.append(self.blocked_add)
            blocked_from.append("blocked_add")
        overrides, overrides_from = [], []
        for i, row in enumerate(self.overrides):
            if not row["remove"]:
                overrides.append({"date": row["date"], "start": _hhmm(row["start"]), "end": _hhmm(row["end"])})
                overrides_from.append(f"override.{i}")
        data = {
            "timezone": self.timezone,
            "weekly": weekly,
            "blocked_dates": blocked,
            "overrides": overrides,
            "session_minutes": self.session_minutes,
            "buffer_minutes": self.buffer_minutes,
            "min_notice_hours": self.min_notice_hours,
            "max_window_days": self.max_window_days,
            "paused": self.paused,
        }
        return data, {"weekly": weekly_from, "blocked": blocked_from, "overrides": overrides_from}

    def place_errors(self, fields: dict, origins: dict) -> None:
        """``weekly.3.end`` → the box of the day window 3 came from, and so on."""
        errors: dict[str, list[str]] = {}

        def add(key: str, message: str) -> None:
            errors.setdefault(key, [])
            if message not in errors[key]:
                errors[key].append(message)

        for name, message in fields.items():
            parts = name.split(".")
            head = parts[0]
            if head == "weekly" and len(parts) >= 2 and parts[1].isascii() and parts[1].isdigit():
                index = int(parts[1])
                if index < len(origins["weekly"]):
                    day, piece, has_dash = origins["weekly"][index]
                    if not has_dash:
                        message = "Write each window as start-end, e.g. 09:00-12:00."
                    add(f"day.{day}", f"“{piece}”: {message}")
                    continue
            if head == "weekly":
                day = next((d for d, n in enumerate(DAYS) if message.startswith(n + " ")), None)
                add(f"day.{day}" if day is not None else "weekly", message)
                continue
            if head == "blocked_dates" and len(parts) >= 2 and parts[1].isascii() and parts[1].isdigit():
                index = int(parts[1])
                if index < len(origins["blocked"]):
                    add(origins["blocked"][index], message)
                    continue
            if head == "overrides" and len(parts) >= 2 and parts[1].isascii() and parts[1].isdigit():
                index = int(parts[1])
                if index < len(origins["overrides"]):
                    what = {"date": "Date", "start": "Start", "end": "End"}.get(parts[2] if len(parts) > 2 else "", "")
                    add(origins["overrides"][index], f"{what}: {message}" if what else message)
                    continue
            add(head, message)
        self.errors = {key: " ".join(messages) for key, messages in errors.items()}


def _count(value) -> int:
    return min(int(value), 500) if isinstance(value, str) and value.isascii() and value.isdigit() else 0


def _teacher_today() -> date:
    saved_zone = services.availability_json(current_user)["timezone"]
    return clock.now().astimezone(zone_for(saved_zone)).date()


def _date_label(text: str) -> str:
    """ "2026-12-24" → "Thu 24 Dec 2026" (as typed when it is not a date)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    return f"{day:%a} {day.day} {day:%b %Y}"


def _availability_page(form: AvailabilityForm, *, status: int = 200, message: str | None = None):
    saved = services.availability_json(current_user)
    for row in form.blocked:
        row["label"] = _date_label(row["date"])
    return render_template(
        "scheduling/availability.html",
        form=form,
        days=DAYS,
        lengths=SESSION_LENGTHS,
        zones=picker_choices(form.timezone, now=clock.now()),
        is_set=saved["is_set"],
        message=message,
    ), status


@bp.route("/availability", methods=["GET", "POST"])
@login_required
def availability():
    """:raise 403: not a teacher anywhere. A form with mistakes comes back (400) with every box as typed."""
    _teacher_required()
    if request.method == "GET":
        form = AvailabilityForm.from_saved(services.availability_json(current_user), today=_teacher_today())
        return _availability_page(form)
    form = AvailabilityForm.from_request(request.form)
    data, origins = form.to_api()
    try:
        services.set_availability(current_user, data, now=clock.now())
    except ValidationError as error:
        form.place_errors(error.fields or {"weekly": error.message}, origins)
        if not form.overrides or any(form.overrides[-1].values()):
            form.overrides.append({"date": "", "start": "", "end": "", "remove": False})
        return _availability_page(form, status=400, message=error.message)
    flash(
        "Availability saved. Students see the new times now; sessions already booked stay booked."
        + (" Bookings are paused until you switch the pause off." if form.paused else ""),
        "success",
    )
    return redirect(url_for("scheduling.availability"), code=303)


# --- Teaching ---------------------------------------------------------------------------------


@dataclass
class StudentRow:
    student: object
    course: object
    enrollment: object
    done: int = 0
    booked: int = 0
    next_start: datetime | None = None
    progress: object = None  # peerloop.enrollment.progress.Progress: modules done of the course's
    may_view_learning: bool = False  # the enrollment's S-T or the course's creator opens its learning page


def _students(sessions, *, now: datetime) -> list[StudentRow]:
    """Distinct students (per course) of the teacher's sessions, with the enrollment's counts."""
    rows: dict[tuple, StudentRow] = {}
    for s in sessions:
        key = (s.student_id, s.course_id)
        row = rows.get(key)
        if row is None:
            row = rows[key] = StudentRow(student=s.student, course=s.course, enrollment=s.enrollment)
        if s.status == SessionStatus.scheduled and s.scheduled_start > now and row.next_start is None:
            row.next_start = s.scheduled_start
    from peerloop.enrollment.progress import NO_PROGRESS, progress_of

    enrollment_ids = [r.enrollment.id for r in rows.values() if r.enrollment]
    counts = services.session_counts(enrollment_ids)
    modules = progress_of(enrollment_ids)  # every student's, in one query
    for row in rows.values():
        if row.enrollment is not None:
            c = counts[row.enrollment.id]
            row.done, row.booked = c.delivered, c.upcoming
            row.progress = modules.get(row.enrollment.id, NO_PROGRESS)
            row.may_view_learning = current_user.id in (row.enrollment.student_teacher_id, row.course.creator_id)
    return sorted(rows.values(), key=lambda r: ((r.student.name or "").casefold(), r.course.title.casefold()))


@bp.get("/teaching")
@login_required
def teaching():
    """:raise 403: not a teacher anywhere."""
    _teacher_required()
    now = clock.now()
    zone = zone_for(current_user.timezone)
    today = now.astimezone(zone).date()
    # Everything from today on (however many), and the latest of the past: two bounded queries.
    start_of_today = datetime.combine(today, time(), tzinfo=zone)
    coming = services.sessions_of(current_user, role="teacher", ends_after=start_of_today, limit=500)
    earlier = services.sessions_of(
        current_user, role="teacher", starts_before=start_of_today, newest_first=True, limit=30
    )
    sessions = [*coming, *earlier]
    today_list, upcoming, past = [], [], []
    for s in sessions:
        local_day = s.scheduled_start.astimezone(zone).date()
        if local_day == today:
            today_list.append(s)
        elif s.status == SessionStatus.cancelled or s.scheduled_start < now:
            past.append(s)
        else:
            upcoming.append(s)
    past.sort(key=lambda s: s.scheduled_start, reverse=True)
    all_requests = requests.requests_for(current_user, role="teacher")
    pending = [r for r in all_requests if r.status == RequestStatus.pending]
    countered = [r for r in all_requests if r.status == RequestStatus.countered]
    answered = [r for r in all_requests if r.status not in OPEN_REQUEST_STATUSES][:10]
    saved = services.availability_json(current_user)
    students = _students(sessions, now=now)
    from peerloop.certification.services import flywheel_steps

    return render_template(
        "scheduling/teaching.html",
        today=today_list,
        today_label=f"{today:%A} {today.day} {today:%B}",
        upcoming=upcoming,
        past=past[:20],
        pending=pending,
        countered=countered,
        answered=answered,
        students=students,
        steps=flywheel_steps([row.enrollment for row in students if row.enrollment], now=now),
        availability=saved,
        has_hours=bool(saved["weekly"] or saved["overrides"]),
        now=now,
        earliest_counter=(now + timedelta(hours=2)).astimezone(zone).strftime("%Y-%m-%dT%H:00"),
    )


# --- the private calendar feed -------------------------------------------------------------------


def _calendar_page(urls: dict | None = None, *, status: int = 200):
    response = make_response(
        render_template("scheduling/calendar_settings.html", feed=feeds.live_feed(current_user), urls=urls), status
    )
    if urls:  # the address is shown once: never cached, never restored from history
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/settings/calendar")
@login_required
def calendar_settings():
    return _calendar_page()


@bp.post("/settings/calendar")
@login_required
def calendar_create():
    """A new private address (any old one stops working). Shown on this response only: we keep its hash."""
    token = feeds.create_feed(current_user, now=clock.now())
    return _calendar_page(services.feed_urls(token))


@bp.post("/settings/calendar/revoke")
@login_required
def calendar_revoke():
    if feeds.revoke_feeds(current_user, now=clock.now()):
        flash("Feed turned off: calendars subscribed to the old address stop updating.", "success")
    else:
        flash("There was no feed to turn off.", "info")
    return redirect(url_for("scheduling.calendar_settings"), code=303)
