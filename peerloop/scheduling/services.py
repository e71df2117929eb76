"""Booking: availability, free slots, sessions (book, hold, cancel, reschedule), and the counting rules.

Locks. Every write that checks for a clash takes its locks first, in one fixed
order: the enrollment (when there is one), then the users involved (teacher and
student) by id, through ``peerloop.db.for_update`` (row locks on PostgreSQL,
the write lock on SQLite). The payments services lock enrollment → transaction
→ users in the same order, so the two cannot deadlock. On PostgreSQL an
exclusion constraint (``models.EXCLUSION_CONSTRAINTS``) is the backstop: its
violation is the same 409 ``slot_unavailable``.

Counting (one place, used by booking, the refund quote, ``sessions_used`` and the dashboards):

- **delivered** = completed + the student's no-shows + the student's late cancellations;
- **used** = delivered + scheduled + in progress.

A teacher's cancellation or no-show, and an on-time cancellation, free the place.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.certification.models import StudentTeacher
from peerloop.db import for_update, parse_uuid
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.errors import Conflict, Forbidden, NotFound, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.scheduling import slots
from peerloop.scheduling.models import (
    AvailabilitySettings,
    BlockedDate,
    DateOverride,
    NoShowBy,
    SessionKind,
    SessionStatus,
    TutoringSession,
    WeeklyWindow,
)
from peerloop.timezones import is_valid_timezone, zone_for

SLOT_TAKEN = "This time is no longer available. Select another."
LATE_CANCELLATION = timedelta(hours=24)
BOOKABLE_ENROLLMENT = (EnrollmentStatus.enrolled, EnrollmentStatus.in_progress, EnrollmentStatus.completed)
AGENDA_MAX = 2000
REASON_MAX = 2000
MAX_WEEKLY_WINDOWS = 50
MAX_BLOCKED_DATES = 366
MAX_OVERRIDES = 100
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def slot_taken() -> Conflict:
    return Conflict(SLOT_TAKEN, code="slot_unavailable", fields={"start": SLOT_TAKEN})


# --- parsing -----------------------------------------------------------------

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_instant(value, *, field: str = "start") -> datetime:
    """An ISO 8601 instant with its offset ("2026-12-03T15:00:00Z", "…+05:30") as UTC.

    :raise ValidationError: missing, malformed, or naive (a time without its zone is ambiguous).
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(fields={field: "Give a time, e.g. 2026-12-03T15:00:00Z."})
    text = value.strip()
    if len(text) > 40:
        raise ValidationError(fields={field: "That is not a time."})
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValidationError(fields={field: "That is not a time: use ISO 8601, e.g. 2026-12-03T15:00:00Z."}) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(
            fields={field: "Give the time with its zone offset (…Z or …+05:30): a bare local time is ambiguous."}
        )
    if not 2000 <= moment.year <= 2100:  # also keeps the arithmetic below clear of datetime's limits
        raise ValidationError(fields={field: "Give a time between the years 2000 and 2100."})
    return moment.astimezone(UTC)


def parse_hhmm(value, *, allow_24: bool) -> int:
    """'HH:MM' as minutes after midnight ('24:00' = 1440 only as an end).

    :raise ValueError: with the message to show.
    """
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError("Use HH:MM, e.g. 09:30.")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 1440 or (minutes == 1440 and not allow_24):
        raise ValueError("24:00 is allowed only as an end." if minutes == 1440 else "Use HH:MM, up to 24:00.")
    return minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_day(value, *, field: str) -> date:
    if not isinstance(value, str):
        raise ValidationError(fields={field: "Use YYYY-MM-DD."})
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(fields={field: "Use YYYY-MM-DD."}) from None


def parse_timezone(value, *, field: str = "tz") -> str:
    if not is_valid_timezone(value):
        raise ValidationError(fields={field: "Unknown time zone: use an IANA name such as America/New_York."})
    return value


# --- who teaches what --------------------------------------------------------


def can_teach(user: User) -> bool:
    """Someone with availability to set: a creator, or an active S-T of any course."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_creator:
        return True
    return (
        db.session.scalar(
            sa.select(StudentTeacher.id).where(StudentTeacher.user_id == user.id, StudentTeacher.is_active.is_(True))
        )
        is not None
    )


def teaches_course(teacher_id: uuid.UUID, course: Course) -> bool:
    """An active S-T of the course, or its creator."""
    if teacher_id == course.creator_id:
        return True
    return (
        db.session.scalar(
            sa.select(StudentTeacher.id)
            .join(User, User.id == StudentTeacher.user_id)
            .where(
                StudentTeacher.user_id == teacher_id,
                StudentTeacher.course_id == course.id,
                StudentTeacher.is_active.is_(True),
                User.deleted_at.is_(None),
            )
        )
        is not None
    )


def course_teacher_ids(course: Course) -> list[uuid.UUID]:
    """The course's active S-Ts and, when they have set availability, its creator (one query)."""
    sts = (
        sa.select(StudentTeacher.user_id.label("uid"))
        .join(User, User.id == StudentTeacher.user_id)
        .where(StudentTeacher.course_id == course.id, StudentTeacher.is_active.is_(True))
        .where(User.is_student_teacher.is_(True))
    )
    creator = sa.select(AvailabilitySettings.user_id.label("uid")).where(
        AvailabilitySettings.user_id == course.creator_id
    )
    union = sa.union(sts, creator).subquery()
    return list(
        db.session.scalars(
            sa.select(User.id).join(union, union.c.uid == User.id).where(User.deleted_at.is_(None)).order_by(User.id)
        )
    )


# --- availability ------------------------------------------------------------


def _to_python_weekday(day_of_week: int) -> int:
    """0 Sunday (the API, the seeds) → 0 Monday (Python, ``slots``)."""
    return (day_of_week - 1) % 7


def load_availability(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, slots.Availability]:
    """The slot engine's view of each teacher who has settings, in four queries whatever their number."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    settings = {
        s.user_id: s
        for s in db.session.scalars(sa.select(AvailabilitySettings).where(AvailabilitySettings.user_id.in_(ids)))
    }
    if not settings:
        return {}
    weekly: dict[uuid.UUID, list] = {}
    for w in db.session.scalars(sa.select(WeeklyWindow).where(WeeklyWindow.user_id.in_(list(settings)))):
        weekly.setdefault(w.user_id, []).append(
            slots.WeeklyWindow(_to_python_weekday(w.day_of_week), w.start_minute, w.end_minute)
        )
    blocked: dict[uuid.UUID, set] = {}
    for b in db.session.scalars(sa.select(BlockedDate).where(BlockedDate.user_id.in_(list(settings)))):
        blocked.setdefault(b.user_id, set()).add(b.day)
    extra: dict[uuid.UUID, list] = {}
    for o in db.session.scalars(sa.select(DateOverride).where(DateOverride.user_id.in_(list(settings)))):
        extra.setdefault(o.user_id, []).append(slots.DateWindow(o.day, o.start_minute, o.end_minute))
    return {
        uid: slots.Availability(
            timezone=s.timezone,
            weekly=tuple(sorted(weekly.get(uid, ()))),
            extra=tuple(sorted(extra.get(uid, ()))),
            blocked=frozenset(blocked.get(uid, ())),
            paused=s.is_paused,
            session_minutes=s.session_minutes,
            buffer_minutes=s.buffer_minutes,
            notice=timedelta(hours=s.min_notice_hours),
            window=timedelta(days=s.max_window_days),
        )
        for uid, s in settings.items()
    }


def availability_json(user: User) -> dict:
    """``GET /api/me/availability``: the defaults (in the person's own zone) when nothing is set yet."""
    settings = db.session.get(AvailabilitySettings, user.id)
    weekly = db.session.scalars(
        sa.select(WeeklyWindow)
        .where(WeeklyWindow.user_id == user.id)
        .order_by(WeeklyWindow.day_of_week, WeeklyWindow.start_minute)
    )
    blocked = db.session.scalars(
        sa.select(BlockedDate.day).where(BlockedDate.user_id == user.id).order_by(BlockedDate.day)
    )
    overrides = db.session.scalars(
        sa.select(DateOverride)
        .where(DateOverride.user_id == user.id)
        .order_by(DateOverride.day, DateOverride.start_minute)
    )
    defaults = AvailabilitySettings.__table__.c
    return {
        "timezone": settings.timezone if settings else (user.timezone or "UTC"),
        "weekly": [
            {"day_of_week": w.day_of_week, "start": format_hhmm(w.start_minute), "end": format_hhmm(w.end_minute)}
            for w in weekly
        ],
        "blocked_dates": [d.isoformat() for d in blocked],
        "overrides": [
            {"date": o.day.isoformat(), "start": format_hhmm(o.start_minute), "end": format_hhmm(o.end_minute)}
            for o in overrides
        ],
        "session_minutes": settings.session_minutes if settings else defaults.session_minutes.default.arg,
        "buffer_minutes": settings.buffer_minutes if settings else defaults.buffer_minutes.default.arg,
        "min_notice_hours": settings.min_notice_hours if settings else defaults.min_notice_hours.default.arg,
        "max_window_days": settings.max_window_days if settings else defaults.max_window_days.default.arg,
        "paused": settings.is_paused if settings else False,
        "is_set": settings is not None,
    }


@dataclass
class AvailabilityInput:
    timezone: str
    weekly: list[tuple[int, int, int]]  # (day_of_week 0 = Sunday, start, end)
    blocked: list[date]
    overrides: list[tuple[date, int, int]]
    session_minutes: int
    buffer_minutes: int
    min_notice_hours: int
    max_window_days: int
    paused: bool


def _overlaps(windows: list[tuple]) -> list[tuple]:
    """Pairs of windows ``(key, start, end, index)`` with the same key that overlap; touching ends are fine."""
    found = []
    ordered = sorted(windows)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before[0] == after[0] and after[1] < before[2]:
            found.append((before, after))
    return found


def _whole(data: dict, name: str, low: int, high: int, fields: dict, *, allowed: tuple | None = None) -> int | None:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())
        else:
            fields[name] = "Must be a whole number."
            return None
    if allowed is not None and value not in allowed:
        fields[name] = "Choose " + ", ".join(map(str, allowed[:-1])) + f" or {allowed[-1]}."
        return None
    if not low <= value <= high:
        fields[name] = f"Must be between {low} and {high}."
        return None
    return value


def parse_availability(data: dict, current: dict, *, today: date) -> AvailabilityInput:
    """The availability a person sent (keys left out keep their current value).

    :raise ValidationError: with a message per field (``weekly.2.end``, ``blocked_dates.0`` …).
    """
    if not isinstance(data, dict):
        raise ValidationError("Send a JSON object.", code="invalid_json")
    merged = {**current, **{k: v for k, v in data.items() if k in current}}
    fields: dict[str, str] = {}
    timezone = merged["timezone"]
    if not is_valid_timezone(timezone):
        fields["timezone"] = "Unknown time zone: use an IANA name such as America/New_York."
    weekly: list[tuple[int, int, int]] = []
    raw_weekly = merged["weekly"]
    if not isinstance(raw_weekly, list):
        fields["weekly"] = "Send a list of {day_of_week, start, end}."
        raw_weekly = []
    elif len(raw_weekly) > MAX_WEEKLY_WINDOWS:
        fields["weekly"] = f"At most {MAX_WEEKLY_WINDOWS} weekly windows."
        raw_weekly = []
    for i, item in enumerate(raw_weekly):
        where = f"weekly.{i}"
        if not isinstance(item, dict):
            fields[where] = "Send {day_of_week, start, end}."
            continue
        day = item.get("day_of_week")
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            fields[f"{where}.day_of_week"] = "0 (Sunday) to 6 (Saturday)."
            continue
        parsed = _window(item, where, fields)
        if parsed:
            weekly.append((day, *parsed, i))
    for before, after in _overlaps(weekly):
        fields[f"weekly.{after[3]}"] = fields["weekly"] = (
            f"{DAY_NAMES[after[0]]} {format_hhmm(after[1])}-{format_hhmm(after[2])} overlaps "
            f"{format_hhmm(before[1])}-{format_hhmm(before[2])}."
        )
    blocked: list[date] = []
    raw_blocked = merged["blocked_dates"]
    if not isinstance(raw_blocked, list) or len(raw_blocked) > MAX_BLOCKED_DATES:
        fields["blocked_dates"] = f"Send a list of at most {MAX_BLOCKED_DATES} dates (YYYY-MM-DD)."
        raw_blocked = []
    for i, item in enumerate(raw_blocked):
        try:
            day = parse_day(item, field=f"blocked_dates.{i}")
        except ValidationError as error:
            fields.update(error.fields)
            continue
        if day >= today - timedelta(days=1) and day not in blocked:  # past days off are let go
            blocked.append(day)
    overrides: list[tuple[date, int, int]] = []
    raw_overrides = merged["overrides"]
    if not isinstance(raw_overrides, list) or len(raw_overrides) > MAX_OVERRIDES:
        fields["overrides"] = f"Send a list of at most {MAX_OVERRIDES} {{date, start, end}}."
        raw_overrides = []
    for i, item in enumerate(raw_overrides):
        where = f"overrides.{i}"
        if not isinstance(item, dict):
            fields[where] = "Send {date, start, end}."
            continue
        try:
            day = parse_day(item.get("date"), field=f"{where}.date")
        except ValidationError as error:
            fields.update(error.fields)
            continue
        parsed = _window(item, where, fields)
        if parsed and day >= today - timedelta(days=1):  # past extra hours are let go
            overrides.append((day, *parsed, i))
    for before, after in _overlaps(overrides):
        fields[f"overrides.{after[3]}"] = fields["overrides"] = (
            f"{after[0].isoformat()} {format_hhmm(after[1])}-{format_hhmm(after[2])} overlaps "
            f"{format_hhmm(before[1])}-{format_hhmm(before[2])}."
        )
    numbers = {
        "session_minutes": _whole(merged, "session_minutes", 30, 60, fields, allowed=slots.SESSION_LENGTHS),
        "buffer_minutes": _whole(merged, "buffer_minutes", 0, 120, fields),
        "min_notice_hours": _whole(merged, "min_notice_hours", 0, 336, fields),
        "max_window_days": _whole(merged, "max_window_days", 1, 90, fields),
    }
    paused = merged["paused"]
    if not isinstance(paused, bool):
        fields["paused"] = "true or false."
    if fields:
        raise ValidationError("Check the highlighted availability.", fields=fields)
    return AvailabilityInput(
        timezone=timezone,
        weekly=[w[:3] for w in weekly],
        blocked=blocked,
        overrides=[o[:3] for o in overrides],
        paused=paused,
        **numbers,
    )


def _window(item: dict, where: str, fields: dict) -> tuple[int, int] | None:
    try:
        start = parse_hhmm(item.get("start"), allow_24=False)
    except ValueError as error:
        fields[f"{where}.start"] = str(error)
        return None
    try:
        end = parse_hhmm(item.get("end"), allow_24=True)
    except ValueError as error:
        fields[f"{where}.end"] = str(error)
        return None
    if end <= start:
        fields[f"{where}.end"] = "A window ends after it starts (24:00 for midnight)."
        return None
    return start, end


def set_availability(user: User, data: dict, *, now: datetime) -> dict:
    """Replace the person's availability with ``data`` (API shape; keys left out are kept). Commits.

    Sessions already booked stay booked.

    :raise Forbidden: not a teacher anywhere.
    :raise ValidationError: per field.
    """
    if not can_teach(user):
        raise Forbidden("Only Student-Teachers and creators set availability.", code="not_a_teacher")
    current = availability_json(user)
    zone = data.get("timezone") if isinstance(data, dict) and is_valid_timezone(data.get("timezone")) else None
    today = now.astimezone(zone_for(zone or current["timezone"])).date()  # "today" where the teacher is
    parsed = parse_availability(data, current, today=today)
    db.session.scalar(for_update(sa.select(User.id).where(User.id == user.id)))
    settings = db.session.get(AvailabilitySettings, user.id)
    if settings is None:
        settings = AvailabilitySettings(user_id=user.id, created_at=now)
        db.session.add(settings)
    settings.timezone = parsed.timezone
    settings.session_minutes = parsed.session_minutes
    settings.buffer_minutes = parsed.buffer_minutes
    settings.min_notice_hours = parsed.min_notice_hours
    settings.max_window_days = parsed.max_window_days
    settings.is_paused = parsed.paused
    settings.updated_at = now
    for model in (WeeklyWindow, BlockedDate, DateOverride):
        db.session.execute(sa.delete(model).where(model.user_id == user.id))
    db.session.add_all(
        WeeklyWindow(user_id=user.id, day_of_week=d, start_minute=s, end_minute=e) for d, s, e in parsed.weekly
    )
    db.session.add_all(BlockedDate(user_id=user.id, day=d) for d in parsed.blocked)
    db.session.add_all(
        DateOverride(user_id=user.id, day=d, start_minute=s, end_minute=e) for d, s, e in parsed.overrides
    )
    db.session.commit()
    return availability_json(user)


# --- busy time and free slots -------------------------------------------------


def _busy_condition(now: datetime):
    """A session that occupies its time: booked or running, or held by a checkout that is still open."""
    return sa.or_(
        TutoringSession.status.in_([SessionStatus.scheduled, SessionStatus.in_progress]),
        sa.and_(TutoringSession.status == SessionStatus.held, TutoringSession.hold_expires_at > now),
    )


def busy_intervals(
    *,
    teacher_ids: Iterable[uuid.UUID] = (),
    student_id: uuid.UUID | None = None,
    start: datetime,
    end: datetime,
    now: datetime,
    exclude_session_id: uuid.UUID | None = None,
) -> tuple[dict[uuid.UUID, list[tuple[datetime, datetime]]], list[tuple[datetime, datetime]]]:
    """Busy time overlapping [start, end): per teacher, and the student's own (one query)."""
    teacher_ids = list(teacher_ids)
    who = []
    if teacher_ids:
        who.append(TutoringSession.teacher_id.in_(teacher_ids))
        who.append(TutoringSession.student_id.in_(teacher_ids))  # a teacher learning elsewhere is busy then
    if student_id is not None:
        who.append(TutoringSession.student_id == student_id)
        who.append(TutoringSession.teacher_id == student_id)  # a student who also teaches is busy then
    if not who:
        return {}, []
    query = sa.select(
        TutoringSession.teacher_id,
        TutoringSession.student_id,
        TutoringSession.scheduled_start,
        TutoringSession.scheduled_end,
    ).where(
        sa.or_(*who),
        _busy_condition(now),
        TutoringSession.scheduled_end > start,
        TutoringSession.scheduled_start < end,
    )
    if exclude_session_id is not None:
        query = query.where(TutoringSession.id != exclude_session_id)
    teachers: dict[uuid.UUID, list] = {}
    own: list = []
    wanted = set(teacher_ids)
    for teacher_id, row_student, s, e in db.session.execute(query):
        for person in {teacher_id, row_student} & wanted:
            teachers.setdefault(person, []).append((s, e))
        if student_id is not None and student_id in (row_student, teacher_id):
            own.append((s, e))
    return teachers, own


def free_slots_for(
    teacher_ids: Iterable[uuid.UUID], *, now: datetime, student_id: uuid.UUID | None = None
) -> dict[uuid.UUID, list[datetime]]:
    """Free start instants per teacher (UTC), clear of their sessions and the student's own.

    A fixed number of queries however many teachers: four for availability, one for busy time.
    """
    availability = load_availability(teacher_ids)
    if not availability:
        return {}
    horizon = now + max(a.window for a in availability.values()) + timedelta(days=1)
    busy, own = busy_intervals(
        teacher_ids=list(availability), student_id=student_id, start=now - timedelta(hours=3), end=horizon, now=now
    )
    result = {}
    for uid, rules in availability.items():
        if uid == student_id:
            continue
        result[uid] = slots.free_slots(rules, busy=[*busy.get(uid, ()), *own], now=now)
    return result


def session_minutes_of(teacher_id: uuid.UUID) -> int:
    settings = db.session.get(AvailabilitySettings, teacher_id)
    return settings.session_minutes if settings else 60


# --- counting ------------------------------------------------------------------


def _delivered_condition():
    # Only the enrollment's paid sessions count: a Certification Assessment is neither delivered nor used.
    return sa.and_(TutoringSession.kind == SessionKind.regular, _delivered_outcome())


def _delivered_outcome():
    return sa.or_(
        TutoringSession.status == SessionStatus.completed,
        sa.and_(TutoringSession.status == SessionStatus.no_show, TutoringSession.no_show_by == NoShowBy.student),
        sa.and_(
            TutoringSession.status == SessionStatus.cancelled,
            TutoringSession.late_cancellation.is_(True),
            TutoringSession.cancelled_by == TutoringSession.student_id,
        ),
    )


def _open_condition():
    """Booked and not over, of any kind (what the student's lists show)."""
    return TutoringSession.status.in_([SessionStatus.scheduled, SessionStatus.in_progress])


def _upcoming_condition(kind: SessionKind = SessionKind.regular):
    return sa.and_(
        TutoringSession.kind == kind,
        TutoringSession.status.in_([SessionStatus.scheduled, SessionStatus.in_progress]),
    )


@dataclass(frozen=True)
class SessionCounts:
    delivered: int = 0
    upcoming: int = 0

    @property
    def used(self) -> int:
        return self.delivered + self.upcoming


def session_counts(enrollment_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, SessionCounts]:
    """Delivered and upcoming sessions of each enrollment, in one query."""
    ids = list(enrollment_ids)
    if not ids:
        return {}
    delivered = sa.func.sum(sa.case((_delivered_condition(), 1), else_=0))
    upcoming = sa.func.sum(sa.case((_upcoming_condition(), 1), else_=0))
    rows = db.session.execute(
        sa.select(TutoringSession.enrollment_id, delivered, upcoming)
        .where(TutoringSession.enrollment_id.in_(ids))
        .group_by(TutoringSession.enrollment_id)
    )
    counts = {eid: SessionCounts(int(d or 0), int(u or 0)) for eid, d, u in rows}
    return {eid: counts.get(eid, SessionCounts()) for eid in ids}


def delivered_count(enrollment_id: uuid.UUID) -> int:
    return session_counts([enrollment_id])[enrollment_id].delivered


def used_count(enrollment_id: uuid.UUID) -> int:
    return session_counts([enrollment_id])[enrollment_id].used


def renumber_sessions(enrollment_id: uuid.UUID) -> None:
    """Number the enrollment's counted sessions 1, 2, … by start ("Session 1 of 2"); others get none."""
    sessions = db.session.scalars(
        sa.select(TutoringSession)
        .where(TutoringSession.enrollment_id == enrollment_id)
        .order_by(TutoringSession.scheduled_start, TutoringSession.created_at)
    )
    number = 0
    counted = sa.or_(_delivered_condition(), _upcoming_condition())
    counted_ids = set(
        db.session.scalars(sa.select(TutoringSession.id).where(TutoringSession.enrollment_id == enrollment_id, counted))
    )
    for session in sessions:
        if session.id in counted_ids:
            number += 1
            if session.number != number:
                session.number = number
        elif session.number is not None:
            session.number = None


# --- locks ---------------------------------------------------------------------


def lock_enrollment(enrollment_id: uuid.UUID) -> Enrollment | None:
    return db.session.scalar(
        for_update(sa.select(Enrollment).where(Enrollment.id == enrollment_id)).execution_options(
            populate_existing=True
        )
    )


def lock_users(*user_ids: uuid.UUID) -> None:
    """Row-lock users in id order (after any enrollment lock): the fixed order every booking takes."""
    for uid in sorted(set(user_ids), key=str):
        db.session.scalar(for_update(sa.select(User.id).where(User.id == uid)))


# --- checking a time -------------------------------------------------------------


def _check_time(
    teacher_id: uuid.UUID,
    start: datetime,
    *,
    student_id: uuid.UUID,
    now: datetime,
    within_availability: bool = True,
    exclude_session_id: uuid.UUID | None = None,
    length_minutes: int | None = None,
) -> datetime:
    """Whether the teacher can be booked at ``start`` by the student; returns the end.

    Call with the teacher and student locked. Errors, in the order a person needs them:
    past → 422 ``too_soon``; outside the teacher's hours → 422 ``outside_availability``;
    notice → ``too_soon``; window → ``too_far``; clashing with a session (the buffer
    included) → 409 ``slot_unavailable``.
    """
    if start <= now:
        raise RuleViolation("That time has passed. Select another.", code="too_soon", fields={"start": "In the past."})
    rules = load_availability([teacher_id]).get(teacher_id)
    length = timedelta(minutes=length_minutes or (rules.session_minutes if rules else 60))
    buffer = timedelta(minutes=rules.buffer_minutes) if rules else timedelta(0)
    if within_availability:
        if rules is None or rules.paused:
            raise RuleViolation(
                "This teacher is not taking bookings right now.",
                code="outside_availability",
                fields={"start": "Not bookable."},
            )
        if start < now + rules.notice:
            hours = int(rules.notice.total_seconds() // 3600)
            raise RuleViolation(
                f"Book at least {hours} hours ahead.",
                code="too_soon",
                fields={"start": f"At least {hours} hours ahead."},
            )
        if start > now + rules.window:
            raise RuleViolation(
                f"Book at most {rules.window.days} days ahead.",
                code="too_far",
                fields={"start": f"At most {rules.window.days} days ahead."},
            )
        open_slots = slots.free_slots(rules, now=now)  # the published slots, ignoring bookings
        if start not in set(open_slots):
            raise RuleViolation(
                "That time is not one of this teacher's available times.",
                code="outside_availability",
                fields={"start": "Pick one of the times shown."},
            )
    end = start + length
    busy, own = busy_intervals(
        teacher_ids=[teacher_id],
        student_id=student_id,
        start=start - buffer - timedelta(hours=2),
        end=end + buffer + timedelta(hours=2),
        now=now,
        exclude_session_id=exclude_session_id,
    )
    for b_start, b_end in busy.get(teacher_id, []):
        if b_start - buffer < end and start < b_end + buffer:
            raise slot_taken()
    for b_start, b_end in own:  # the buffer too, as the offered slots keep it
        if b_start - buffer < end and start < b_end + buffer:
            raise Conflict(
                "You already have a session at that time.",
                code="slot_unavailable",
                fields={"start": "You have another session then."},
            )
    return end


def _lapse_stale_holds(teacher_id: uuid.UUID, student_id: uuid.UUID, *, now: datetime) -> None:
    """Mark holds whose checkout ran out as lapsed, so the exclusion constraint stops counting them."""
    db.session.execute(
        sa.update(TutoringSession)
        .where(
            sa.or_(TutoringSession.teacher_id == teacher_id, TutoringSession.student_id == student_id),
            TutoringSession.status == SessionStatus.held,
            TutoringSession.hold_expires_at <= now,
        )
        .values(status=SessionStatus.lapsed, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _insert(session: TutoringSession) -> TutoringSession:
    """Flush a new or moved busy session; the PostgreSQL exclusion constraint's refusal is a 409."""
    try:
        with db.session.begin_nested():
            db.session.add(session)
            db.session.flush()
    except sa.exc.IntegrityError as error:
        if "ex_sessions_" in str(error.orig) or "exclusion" in str(error.orig).lower():
            db.session.rollback()
            raise slot_taken() from error
        raise
    return session


# --- booking -------------------------------------------------------------------


def optional_text(value, *, field: str, limit: int) -> str | None:
    """A person's optional note (an agenda, a reason, a message): stripped, None when empty.

    :raise ValidationError: not text, or longer than ``limit``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(fields={field: f"Write the {field} as text."})
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(fields={field: f"At most {limit} characters."})
    return value or None


def _course(course_id) -> Course:
    uid = parse_uuid(course_id)
    course = db.session.get(Course, uid) if uid else None
    if course is None:
        raise NotFound("No such course.")
    return course


def takes_new_students(teacher: User, course: Course) -> bool:
    """The "Available as Student-Teacher" toggle: off, an S-T is hidden from new bookings (their
    booked sessions stay). A creator teaching their own course has no such switch."""
    return teacher.id == course.creator_id or teacher.is_student_teacher


def _teacher(teacher_id, course: Course, *, student: User, new_booking: bool = True) -> User:
    """The course's teacher a student books. ``new_booking=False`` when the teacher agreed to the time
    themselves (they accepted a request or countered it): the toggle is theirs to overrule."""
    uid = parse_uuid(teacher_id)
    teacher = db.session.get(User, uid) if uid else None
    if teacher is None or teacher.deleted_at is not None or teacher.id == student.id or not teaches_course(uid, course):
        raise RuleViolation(
            "Choose one of this course's Student-Teachers.",
            code="not_a_teacher",
            fields={"teacher_id": "Not a Student-Teacher of this course."},
        )
    if new_booking and not takes_new_students(teacher, course):
        raise RuleViolation(
            f"{teacher.name} is not taking new bookings right now. Choose another Student-Teacher.",
            code="not_a_teacher",
            fields={"teacher_id": "Not taking new bookings."},
        )
    return teacher


def student_enrollment(student: User, course: Course) -> Enrollment:
    """The student's bookable enrollment in the course.

    :raise RuleViolation: ``not_enrolled`` (none, cancelled, or frozen by a dispute).
    """
    enrollment = db.session.scalar(
        sa.select(Enrollment)
        .where(Enrollment.student_id == student.id, Enrollment.course_id == course.id)
        .where(Enrollment.status != EnrollmentStatus.cancelled)
    )
    if enrollment is None:
        raise RuleViolation("Enroll in this course to book its sessions.", code="not_enrolled")
    if enrollment.status not in BOOKABLE_ENROLLMENT:
        raise RuleViolation(
            "This enrollment is on hold while a payment question is settled: booking is paused.", code="not_enrolled"
        )
    return enrollment


def _check_sessions_left(enrollment: Enrollment) -> int:
    used = used_count(enrollment.id)
    if used >= enrollment.session_count:
        raise RuleViolation(
            f"All {enrollment.session_count} sessions of this course are booked or done.", code="no_sessions_left"
        )
    return used


def _check_assessment(enrollment: Enrollment, teacher: User) -> None:
    """The Certification Assessment: every module done, with the student's own S-T (or the creator
    who teaches them), one at a time."""
    from peerloop.enrollment.progress import all_modules_done

    if not all_modules_done(enrollment):
        raise RuleViolation(
            "Tick off every module first: the assessment comes after the course.", code="modules_incomplete"
        )
    own = enrollment.student_teacher_id or enrollment.course.creator_id
    if teacher.id != own:
        raise RuleViolation("Book the assessment with your own Student-Teacher.", code="not_your_teacher")
    waiting = db.session.scalar(
        sa.select(TutoringSession.id).where(
            TutoringSession.enrollment_id == enrollment.id,
            TutoringSession.kind == SessionKind.certification_assessment,
            _upcoming_condition(kind=SessionKind.certification_assessment),
        )
    )
    if waiting is not None:
        raise RuleViolation("Your Certification Assessment is already booked.", code="assessment_booked")


def _after_booking(enrollment: Enrollment, session: TutoringSession, *, now: datetime) -> None:
    if enrollment.status == EnrollmentStatus.enrolled:
        enrollment.status = EnrollmentStatus.in_progress
    if enrollment.student_teacher_id is None:
        enrollment.student_teacher_id = session.teacher_id
    enrollment.deferred_at = None
    enrollment.updated_at = now
    db.session.flush()
    renumber_sessions(enrollment.id)


def _earlier_booking(student: User, idempotency_key: str | None) -> TutoringSession | None:
    """The student's booking made with this Idempotency-Key, if any."""
    if idempotency_key is None:
        return None
    return db.session.scalar(
        sa.select(TutoringSession).where(
            TutoringSession.student_id == student.id, TutoringSession.idempotency_key == idempotency_key
        )
    )


def book(
    student: User,
    *,
    course_id,
    teacher_id,
    start,
    agenda=None,
    now: datetime,
    idempotency_key: str | None = None,
    within_availability: bool = True,
    commit: bool = True,
    kind: SessionKind | str = SessionKind.regular,
) -> TutoringSession:
    """Book a session: checks, locks (enrollment → users by id), inserts, notifies both people, commits.

    ``kind="certification_assessment"``: the Certification Assessment, with the student's own S-T once
    every module is done; it uses up none of the paid sessions (and pays no share), one at a time.

    :raise ValidationError: a malformed or naive ``start``, a bad agenda, an unknown kind.
    :raise NotFound: no such course.
    :raise RuleViolation: ``not_enrolled``, ``not_a_teacher``, ``outside_availability``, ``too_soon``,
        ``too_far``, ``no_sessions_left``; for an assessment ``modules_incomplete``, ``not_your_teacher``,
        ``assessment_booked``.
    :raise Conflict: ``slot_unavailable`` (taken meanwhile, or the student is busy then).
    """
    try:
        kind = SessionKind(kind)
    except ValueError:
        raise ValidationError(
            "Unknown kind of session.", fields={"kind": "regular or certification_assessment."}
        ) from None
    start_at = start if isinstance(start, datetime) else parse_instant(start)
    agenda = optional_text(agenda, field="agenda", limit=AGENDA_MAX)
    earlier = _earlier_booking(student, idempotency_key)
    if earlier is not None:
        return earlier
    course = _course(course_id)
    enrollment = student_enrollment(student, course)
    # A time outside the published slots is one the teacher agreed to (an accepted request).
    teacher = _teacher(teacher_id, course, student=student, new_booking=within_availability)
    enrollment = lock_enrollment(enrollment.id)
    lock_users(teacher.id, student.id)
    # Again under the locks: a repeat sent while the first request was still running waited for it here.
    earlier = _earlier_booking(student, idempotency_key)
    if earlier is not None:
        return earlier
    if enrollment.status not in BOOKABLE_ENROLLMENT:
        raise RuleViolation("This enrollment can no longer book sessions.", code="not_enrolled")
    if kind is SessionKind.certification_assessment:
        _check_assessment(enrollment, teacher)
    else:
        _check_sessions_left(enrollment)
    end = _check_time(teacher.id, start_at, student_id=student.id, now=now, within_availability=within_availability)
    _lapse_stale_holds(teacher.id, student.id, now=now)
    session = _insert(
        TutoringSession(
            enrollment_id=enrollment.id,
            course_id=course.id,
            teacher_id=teacher.id,
            student_id=student.id,
            scheduled_start=start_at,
            scheduled_end=end,
            status=SessionStatus.scheduled,
            kind=kind,
            agenda=agenda,
            idempotency_key=idempotency_key,
            booked_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    _after_booking(enrollment, session, now=now)
    from peerloop.scheduling import notices

    notices.booked(session, now=now)
    if commit:
        db.session.commit()
    return session


# --- holds (a visitor picks a time before paying) -------------------------------------


def hold_time(
    student: User, course: Course, teacher_id: uuid.UUID, start, *, until: datetime, now: datetime
) -> TutoringSession:
    """Keep a time for a checkout: a held session the no-double-booking rule counts until ``until``.

    Commits (the gateway is called after, with no lock held). The checkout links itself with
    ``attach_hold``; ``release_holds`` lets go.

    :raise ValidationError, RuleViolation, Conflict: as ``book``.
    """
    start_at = start if isinstance(start, datetime) else parse_instant(start)
    teacher = _teacher(teacher_id, course, student=student)
    lock_users(teacher.id, student.id)
    # A student's earlier holds for this course are let go: one held time per checkout.
    db.session.execute(
        sa.update(TutoringSession)
        .where(
            TutoringSession.student_id == student.id,
            TutoringSession.course_id == course.id,
            TutoringSession.status == SessionStatus.held,
        )
        .values(status=SessionStatus.lapsed, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    end = _check_time(teacher.id, start_at, student_id=student.id, now=now)
    _lapse_stale_holds(teacher.id, student.id, now=now)
    hold = _insert(
        TutoringSession(
            course_id=course.id,
            teacher_id=teacher.id,
            student_id=student.id,
            scheduled_start=start_at,
            scheduled_end=end,
            status=SessionStatus.held,
            hold_expires_at=until,
            created_at=now,
            updated_at=now,
        )
    )
    db.session.commit()
    return hold


def detach_holds(checkout_id: uuid.UUID, *, keep: uuid.UUID | None = None, now: datetime) -> None:
    """The student chose again in this checkout (another time, or Schedule Later): its other held
    times are let go for good, so paying never books a time they gave up. Does not commit."""
    query = sa.update(TutoringSession).where(
        TutoringSession.checkout_id == checkout_id, TutoringSession.enrollment_id.is_(None)
    )
    if keep is not None:
        query = query.where(TutoringSession.id != keep)
    db.session.execute(
        query.values(
            status=sa.case(
                (TutoringSession.status == SessionStatus.held, SessionStatus.lapsed.value),
                else_=TutoringSession.status,
            ),
            checkout_id=None,
            updated_at=now,
        ).execution_options(synchronize_session=False)
    )


def release_holds(checkout_id: uuid.UUID, *, now: datetime) -> None:
    """The checkout ended unpaid (or failed to start): its held time is free again. Does not commit."""
    db.session.execute(
        sa.update(TutoringSession)
        .where(TutoringSession.checkout_id == checkout_id, TutoringSession.status == SessionStatus.held)
        .values(status=SessionStatus.lapsed, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def lapse_expired_holds(now: datetime) -> int:
    """Sweep step: holds whose checkout time ran out are let go (booking already ignores them; this
    keeps the table and PostgreSQL's exclusion constraint tidy). Returns how many."""
    result = db.session.execute(
        sa.update(TutoringSession)
        .where(TutoringSession.status == SessionStatus.held, TutoringSession.hold_expires_at <= now)
        .values(status=SessionStatus.lapsed, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def _live_first():
    """A checkout's holds, the one that still counts (booked, or held) before those let go, then the
    latest: a student who picks another time leaves a lapsed hold behind, and under a frozen test
    clock (or within one clock tick) both have the same ``created_at``."""
    live = TutoringSession.status.in_([SessionStatus.scheduled, SessionStatus.in_progress, SessionStatus.held])
    return (sa.case((live, 0), else_=1), TutoringSession.created_at.desc())


def held_session(checkout_id: uuid.UUID) -> TutoringSession | None:
    return db.session.scalar(
        sa.select(TutoringSession).where(TutoringSession.checkout_id == checkout_id).order_by(*_live_first())
    )


def confirm_hold(checkout, enrollment: Enrollment, *, now: datetime) -> TutoringSession | None:
    """Payment completed: book the checkout's held time in the same transaction as the enrollment.

    The hold may have lapsed (the checkout outlived it); the time is then booked if still free.
    Returns the session, or None when the time was taken meanwhile (the enrollment stands; the
    return page sends the student to the day view). Does not commit.
    """
    hold = db.session.scalar(
        sa.select(TutoringSession)
        .where(TutoringSession.checkout_id == checkout.id, TutoringSession.enrollment_id.is_(None))
        .order_by(*_live_first())
    )
    if hold is None:
        return None
    lock_users(hold.teacher_id, hold.student_id)
    db.session.refresh(hold)
    if hold.status not in (SessionStatus.held, SessionStatus.lapsed) or hold.enrollment_id is not None:
        return None
    # Someone else's hold that ran out (not yet swept) no longer keeps the time: let it go first, or
    # PostgreSQL's exclusion constraint would still count it and refuse a time that is free.
    _lapse_stale_holds(hold.teacher_id, hold.student_id, now=now)
    try:
        with db.session.begin_nested():
            _check_time(
                hold.teacher_id,
                hold.scheduled_start,
                student_id=hold.student_id,
                now=now,
                within_availability=False,
                exclude_session_id=hold.id,
            )
            hold.status = SessionStatus.scheduled
            hold.enrollment_id = enrollment.id
            hold.hold_expires_at = None
            hold.booked_at = hold.updated_at = now
            db.session.flush()
    except (Conflict, RuleViolation):
        db.session.refresh(hold)
        hold.status = SessionStatus.lapsed
        hold.updated_at = now
        db.session.flush()
        return None
    except sa.exc.IntegrityError:
        db.session.refresh(hold)
        hold.status = SessionStatus.lapsed
        db.session.flush()
        return None
    _after_booking(enrollment, hold, now=now)
    from peerloop.scheduling import notices

    notices.booked(hold, now=now)
    return hold


# --- a participant's session -------------------------------------------------------


def participant_session(user: User, session_id, *, lock: bool = False, allow_admin: bool = False) -> TutoringSession:
    """The session, for one of its two people (or an admin when allowed).

    :raise NotFound: no such session, or not theirs (404, never 403: its existence is private).
    """
    uid = parse_uuid(session_id)
    session = db.session.get(TutoringSession, uid) if uid else None
    if session is None or session.status in (SessionStatus.held, SessionStatus.lapsed):
        raise NotFound("No such session.")
    if user.id not in (session.teacher_id, session.student_id) and not (allow_admin and user.is_admin):
        raise NotFound("No such session.")
    if lock:
        if session.enrollment_id:
            lock_enrollment(session.enrollment_id)
        lock_users(session.teacher_id, session.student_id)
        session = db.session.scalar(
            for_update(sa.select(TutoringSession).where(TutoringSession.id == session.id)).execution_options(
                populate_existing=True
            )
        )
    return session


def is_late(session: TutoringSession, now: datetime) -> bool:
    return session.scheduled_start - now < LATE_CANCELLATION


def cancel(user: User, session_id, *, reason=None, now: datetime) -> TutoringSession:
    """Cancel a scheduled session (either participant). Less than 24 hours before its start a reason
    is required and it is a late cancellation: the student's uses the session up (the teacher is
    paid their share), the teacher's never does. Commits; both people are told.

    :raise NotFound: not theirs. :raise Conflict: ``not_cancellable`` (not scheduled any more).
    :raise ValidationError: a late cancellation without a reason.
    """
    reason = optional_text(reason, field="reason", limit=REASON_MAX)
    session = participant_session(user, session_id, lock=True)
    if session.status != SessionStatus.scheduled:
        raise Conflict("This session can no longer be cancelled.", code="not_cancellable")
    if session.scheduled_start <= now:  # what happened in the room decides now (completed, no-show)
        raise Conflict("This session has already started: it can no longer be cancelled.", code="not_cancellable")
    late = is_late(session, now)
    if late and not reason:
        raise ValidationError(
            "Less than 24 hours before the start, say why you cancel.",
            fields={"reason": "Required less than 24 hours before the start."},
        )
    session.status = SessionStatus.cancelled
    session.cancelled_at = now
    session.cancelled_by = user.id
    session.cancel_reason = reason
    session.late_cancellation = late
    session.sequence += 1
    session.updated_at = now
    db.session.flush()
    if session.enrollment_id:
        renumber_sessions(session.enrollment_id)
    if late and user.id == session.student_id:
        from peerloop.payments.services import release_teaching_share

        release_teaching_share(session, now=now, commit=False)
    from peerloop.scheduling import notices

    notices.cancelled(session, by=user, now=now)
    db.session.commit()
    return session


def reschedule(user: User, session_id, *, start, reason=None, now: datetime) -> TutoringSession:
    """Move a scheduled session to another free time of the teacher's. Atomic: when the new time is
    taken the old one is kept. A student may move a session up to 24 hours before it; the teacher
    at any time before it, with a reason inside 24 hours. Commits; both people are told.

    :raise RuleViolation: ``too_late_to_reschedule`` and the booking rules.
    :raise Conflict: ``slot_unavailable``, ``not_reschedulable``.
    """
    start_at = start if isinstance(start, datetime) else parse_instant(start)
    reason = optional_text(reason, field="reason", limit=REASON_MAX)
    session = participant_session(user, session_id, lock=True)
    if session.status != SessionStatus.scheduled:
        raise Conflict("This session can no longer be moved.", code="not_reschedulable")
    if session.scheduled_start <= now:
        raise Conflict("This session has already started: it can no longer be moved.", code="not_reschedulable")
    if session.enrollment is not None and session.enrollment.status not in BOOKABLE_ENROLLMENT:
        raise RuleViolation("This enrollment can no longer book sessions.", code="not_enrolled")
    if is_late(session, now):
        if user.id == session.student_id:
            raise RuleViolation(
                "Less than 24 hours before a session it can only be cancelled (which uses it), "
                "or your Student-Teacher can move it.",
                code="too_late_to_reschedule",
            )
        if not reason:
            raise ValidationError(
                "Less than 24 hours before the start, say why you move it.",
                fields={"reason": "Required less than 24 hours before the start."},
            )
    if start_at == session.scheduled_start:
        return session
    end = _check_time(
        session.teacher_id,
        start_at,
        student_id=session.student_id,
        now=now,
        exclude_session_id=session.id,
        length_minutes=int((session.scheduled_end - session.scheduled_start).total_seconds() // 60),
    )
    _lapse_stale_holds(session.teacher_id, session.student_id, now=now)
    previous = session.scheduled_start
    try:
        with db.session.begin_nested():
            session.scheduled_start = start_at
            session.scheduled_end = end
            session.sequence += 1
            session.booked_at = session.updated_at = now
            session.reminder_stage = 0  # the new time is reminded afresh
            db.session.flush()
    except sa.exc.IntegrityError as error:
        db.session.rollback()
        raise slot_taken() from error
    if session.enrollment_id:
        renumber_sessions(session.enrollment_id)
    from peerloop.scheduling import notices

    notices.rescheduled(session, previous_start=previous, by=user, reason=reason, now=now)
    db.session.commit()
    return session


def cancel_future_sessions(enrollment: Enrollment, now: datetime) -> int:
    """An enrollment ended (a refund, a lost dispute): its upcoming sessions are cancelled, not late,
    with a notice to both people. Runs inside the caller's transaction (the payments seam)."""
    upcoming = list(
        db.session.scalars(
            sa.select(TutoringSession).where(
                TutoringSession.enrollment_id == enrollment.id,
                TutoringSession.status == SessionStatus.scheduled,
                TutoringSession.scheduled_start > now,
            )
        )
    )
    from peerloop.scheduling import notices

    for session in upcoming:
        session.status = SessionStatus.cancelled
        session.cancelled_at = now
        session.cancel_reason = "The enrollment ended."
        session.sequence += 1
        session.updated_at = now
        db.session.flush()
        notices.cancelled(session, by=None, now=now)
    if upcoming:
        renumber_sessions(enrollment.id)
    return len(upcoming)


# --- reads for pages and the API ------------------------------------------------------


def sessions_of(
    user: User,
    *,
    role: str | None = None,
    statuses: Iterable[SessionStatus] | None = None,
    limit: int = 200,
    ends_after: datetime | None = None,
    starts_before: datetime | None = None,
    newest_first: bool = False,
    offset: int = 0,
) -> list[TutoringSession]:
    """The person's sessions (as student, teacher, or either), soonest first (or newest first)."""
    query = _sessions_query(user, role=role, statuses=statuses, ends_after=ends_after, starts_before=starts_before)
    order = TutoringSession.scheduled_start.desc() if newest_first else TutoringSession.scheduled_start
    query = query.options(
        joinedload(TutoringSession.course),
        joinedload(TutoringSession.teacher),
        joinedload(TutoringSession.student),
        joinedload(TutoringSession.enrollment),
    )
    return list(db.session.scalars(query.order_by(order, TutoringSession.id).offset(offset).limit(limit)).unique())


def count_sessions(user: User, *, role: str | None = None, statuses: Iterable[SessionStatus] | None = None) -> int:
    query = _sessions_query(user, role=role, statuses=statuses)
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())))


def _sessions_query(user: User, *, role=None, statuses=None, ends_after=None, starts_before=None):
    query = sa.select(TutoringSession)
    if role == "student":
        query = query.where(TutoringSession.student_id == user.id)
    elif role == "teacher":
        query = query.where(TutoringSession.teacher_id == user.id)
    else:
        query = query.where(sa.or_(TutoringSession.student_id == user.id, TutoringSession.teacher_id == user.id))
    wanted = (
        list(statuses)
        if statuses
        else [s for s in SessionStatus if s not in (SessionStatus.held, SessionStatus.lapsed)]
    )
    query = query.where(TutoringSession.status.in_(wanted))
    if ends_after is not None:
        query = query.where(TutoringSession.scheduled_end > ends_after)
    if starts_before is not None:
        query = query.where(TutoringSession.scheduled_start < starts_before)
    return query


def uid_domain() -> str:
    """The domain of calendar UIDs: the configured public host, stable across deployments."""
    return urlsplit(current_app.config["PUBLIC_URL"]).hostname or "peerloop"


def feed_urls(token: str) -> dict:
    """A calendar feed's addresses: https (to download) and webcal (to subscribe)."""
    from peerloop.urls import external_url

    url = external_url("scheduling.calendar_feed", token=token)
    return {"url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]}


def join_opens_at(session: TutoringSession) -> datetime:
    return session.scheduled_start - timedelta(minutes=current_app.config.get("JOIN_OPENS_MINUTES", 15))


# --- teacher cards and the day view ------------------------------------------------------


def _viewer_id(viewer) -> uuid.UUID | None:
    return viewer.id if viewer is not None and getattr(viewer, "is_authenticated", False) else None


def fill_slots(cards: list, *, now: datetime, viewer=None, limit: int = 6) -> None:
    """Give each catalog ``TeacherCard`` its next free times (and ``next_available``)."""
    free = free_slots_for([c.user.id for c in cards], now=now, student_id=_viewer_id(viewer))
    for card in cards:
        times = free.get(card.user.id, [])
        card.slots = times[:limit]
        card.next_available = iso_z(times[0]) if times else None


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DayView:
    """The booking flow's day view: every teacher of the course free on ``day`` (in ``timezone``)."""

    course: Course
    day: date
    timezone: str
    teachers: list  # catalog TeacherCards whose ``slots`` are that day's free starts
    days_with_slots: list[date]  # the days (in ``timezone``) with at least one free slot: the calendar's dots
    session_minutes: dict[uuid.UUID, int]

    @property
    def has_any(self) -> bool:
        return bool(self.days_with_slots)


def course_day_view(
    course: Course, *, day: date | None, timezone: str, now: datetime, viewer=None, only_teacher=None
) -> DayView:
    """The teachers of ``course`` with free slots on ``day`` (the first day with any when None);
    ``only_teacher`` keeps one (the Certification Assessment is booked with one's own S-T).

    A fixed number of queries whatever the number of teachers.
    """
    from peerloop.catalog.services import course_teachers

    zone = zone_for(timezone)
    cards = course_teachers(course)
    if only_teacher is not None:
        cards = [card for card in cards if card.user.id == only_teacher]
    free = free_slots_for([c.user.id for c in cards], now=now, student_id=_viewer_id(viewer))
    by_day: dict[date, dict[uuid.UUID, list[datetime]]] = {}
    for uid, times in free.items():
        for moment in times:
            by_day.setdefault(moment.astimezone(zone).date(), {}).setdefault(uid, []).append(moment)
    days = sorted(by_day)
    if day is None:
        day = days[0] if days else now.astimezone(zone).date()
    today = by_day.get(day, {})
    shown = []
    for card in cards:
        if today.get(card.user.id):
            card.slots = today[card.user.id]
            card.next_available = iso_z(card.slots[0])
            shown.append(card)
    lengths = (
        {
            s.user_id: s.session_minutes
            for s in db.session.scalars(
                sa.select(AvailabilitySettings).where(AvailabilitySettings.user_id.in_([c.user.id for c in shown]))
            )
        }
        if shown
        else {}
    )
    return DayView(
        course=course, day=day, timezone=timezone, teachers=shown, days_with_slots=days, session_minutes=lengths
    )


@dataclass
class StudentSessions:
    upcoming: list[TutoringSession]
    past: list[TutoringSession]


def student_sessions(user: User, *, now: datetime, past_limit: int = 20) -> StudentSessions:
    """My courses' sessions: upcoming (soonest first) and past (latest first), in two queries."""
    options = (
        joinedload(TutoringSession.course),
        joinedload(TutoringSession.teacher),
        joinedload(TutoringSession.enrollment),
    )
    upcoming = db.session.scalars(
        sa.select(TutoringSession)
        .options(*options)
        .where(TutoringSession.student_id == user.id, _open_condition(), TutoringSession.scheduled_end > now)
        .order_by(TutoringSession.scheduled_start)
    ).unique()
    past = db.session.scalars(
        sa.select(TutoringSession)
        .options(*options)
        .where(
            TutoringSession.student_id == user.id,
            sa.or_(
                TutoringSession.status.in_([SessionStatus.completed, SessionStatus.no_show, SessionStatus.cancelled]),
                sa.and_(_open_condition(), TutoringSession.scheduled_end <= now),
            ),
        )
        .order_by(TutoringSession.scheduled_start.desc())
        .limit(past_limit)
    ).unique()
    return StudentSessions(upcoming=list(upcoming), past=list(past))
