"""Booking test helpers: a teaching week, a course with a Student-Teacher and an enrolled student.

The default ``now`` is Monday 2026-11-23 12:00 UTC. ``week`` gives a teacher Monday to Friday
09:00-17:00 UTC, hour-long sessions, no buffer, 4 hours' notice, 14 days ahead: so the first free
slot is Monday 16:00 and Tuesday's slots are 09:00, 10:00 … 16:00 (``at(1, 9)`` is Tuesday 09:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.enrollment.models import Enrollment
from peerloop.extensions import db
from peerloop.scheduling import services
from peerloop.scheduling.models import TutoringSession

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WEEKDAYS = [{"day_of_week": d, "start": "09:00", "end": "17:00"} for d in range(1, 6)]  # 1 Monday … 5 Friday


def at(days: int, hour: int, minute: int = 0) -> datetime:
    """``days`` after Monday 2026-11-23, at ``hour``:``minute`` UTC."""
    return MONDAY + timedelta(days=days, hours=hour, minutes=minute)


def z(moment: datetime) -> str:
    return services.iso_z(moment)


def week(user: User, *, now: datetime, **overrides) -> dict:
    """Give ``user`` a teaching week (see the module docstring); ``overrides`` in the API's shape."""
    data = {
        "timezone": "UTC",
        "weekly": WEEKDAYS,
        "blocked_dates": [],
        "session_minutes": 60,
        "buffer_minutes": 0,
        "min_notice_hours": 4,
        "max_window_days": 14,
        **overrides,
    }
    return services.set_availability(user, data, now=now)


@dataclass
class World:
    creator: User
    course: Course
    teacher: User  # an active S-T of the course, with a week
    student: User
    enrollment: Enrollment

    def book(self, start: datetime, *, now: datetime, student: User | None = None, teacher: User | None = None):
        return services.book(
            student or self.student,
            course_id=self.course.id,
            teacher_id=(teacher or self.teacher).id,
            start=start,
            now=now,
        )


@pytest.fixture
def world(make, now) -> World:
    creator = make.creator(name="Cora Creator")
    course = make.course(creator=creator, session_count=2, title="Intro to Python", details=True)
    teacher = make.user(name="Marcus Teacher")
    make.student_teacher(teacher, course)
    week(teacher, now=now)
    student = make.user(name="Ana Student")
    enrollment = make.enrollment(student, course)
    return World(creator, course, teacher, student, enrollment)


@pytest.fixture
def enrolled(make, world):
    """Another student enrolled in the world's course."""

    def _student(**overrides):
        student = make.user(**overrides)
        make.enrollment(student, world.course)
        return student

    return _student


@pytest.fixture
def business_time(now, monkeypatch):
    """The API reads business time: pin it to the tests' ``now``."""
    monkeypatch.setattr("peerloop.clock.now", lambda: now)


def sessions_of(enrollment_id) -> list[TutoringSession]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(TutoringSession)
            .where(TutoringSession.enrollment_id == enrollment_id)
            .order_by(TutoringSession.scheduled_start)
        )
    )


def error_of(response) -> dict:
    return response.get_json()["error"]
