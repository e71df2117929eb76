"""`flask seed-demo` gives every teacher hours, a delivered history whose teaching shares are paid,
Sarah's upcoming sessions with Marcus, and open time requests; loading twice adds nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop import create_app
from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.db import utcnow
from peerloop.demo import AVAILABILITY, COURSES, DEMO_PASSWORD, HISTORY, STUDENT_TEACHERS
from peerloop.enrollment.models import Enrollment
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.payments.models import LedgerEntry
from peerloop.payments.services import _released_count
from peerloop.scheduling import services as scheduling
from peerloop.scheduling.models import (
    AvailabilitySettings,
    BlockedDate,
    DateOverride,
    NoShowBy,
    RequestStatus,
    SessionKind,
    SessionRequest,
    SessionStatus,
    TutoringSession,
    WeeklyWindow,
)
from tests.conftest import AuthActions, IsolatedClient, base_config
from tests.test_migrations import flask

COUNTED = (
    AvailabilitySettings,
    WeeklyWindow,
    BlockedDate,
    DateOverride,
    TutoringSession,
    SessionRequest,
    LedgerEntry,
    Notification,
)


@dataclass
class Seeded:
    url: str
    first: dict[str, int]
    second: dict[str, int]


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.scalar(sa.select(sa.func.count()).select_from(model.__table__))
            for model in COUNTED
        }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    """seed-demo run twice on an empty database (as tests/test_demo_payments.py does)."""
    from config import normalise_database_url

    url = os.environ.get("TEST_DATABASE_URL")
    admin = name = None
    if url:
        name = f"peerloop_demo_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = url.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('demo-sessions') / 'demo.db'}"
    engine = sa.create_engine(normalise_database_url(url))
    try:
        upgrade = flask("db", "upgrade", database_url=url)
        assert upgrade.returncode == 0, upgrade.stderr
        first = flask("seed-demo", database_url=url)
        assert first.returncode == 0, first.stderr
        after_first = _counts(engine)
        second = flask("seed-demo", database_url=url)
        assert second.returncode == 0, second.stderr
        yield Seeded(url=normalise_database_url(url), first=after_first, second=_counts(engine))
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


@pytest.fixture
def demo_app(seeded, tmp_path_factory):
    app = create_app({**base_config(tmp_path_factory), "SQLALCHEMY_DATABASE_URI": seeded.url, "REDIS_URL": None})
    app.test_client_class = IsolatedClient
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _course(slug: str) -> Course:
    return db.session.scalar(sa.select(Course).where(Course.slug == slug))


def test_a_second_seed_demo_adds_no_booking_rows(seeded):
    assert seeded.first["availability_settings"] == len(AVAILABILITY)
    assert seeded.first["availability"] > 0
    assert seeded.first["sessions"] >= sum(len(plan) for plan in HISTORY.values()) + 2
    assert seeded.first["session_requests"] == 2
    assert seeded.second == seeded.first


def test_every_demo_enrollment_released_one_share_per_delivered_session(demo_app):
    enrollments = db.session.scalars(sa.select(Enrollment)).all()
    counts = scheduling.session_counts([e.id for e in enrollments])
    for enrollment in enrollments:
        delivered = scheduling.delivered_count(enrollment.id)
        assert _released_count(enrollment.id) == delivered, enrollment.id
        assert counts[enrollment.id].used <= enrollment.session_count, enrollment.id
    assert sum(c.delivered for c in counts.values()) == sum(len(plan) for plan in HISTORY.values())
    # Each earnings row of a release belongs to a delivered session, paid to its teacher.
    releases = db.session.execute(
        sa.select(LedgerEntry.recipient_id, TutoringSession.teacher_id)
        .join(TutoringSession, TutoringSession.id == LedgerEntry.session_id)
        .where(LedgerEntry.kind == "teaching_release", LedgerEntry.account == "earnings")
    ).all()
    assert releases and all(recipient == teacher for recipient, teacher in releases)


def test_the_history_has_a_student_no_show_and_a_student_late_cancellation(demo_app):
    sessions = db.session.scalars(sa.select(TutoringSession).where(TutoringSession.scheduled_start < utcnow())).all()
    no_shows = [s for s in sessions if s.status == SessionStatus.no_show]
    late = [s for s in sessions if s.status == SessionStatus.cancelled and s.late_cancellation]
    assert [s.no_show_by for s in no_shows] == [NoShowBy.student]
    assert len(late) == 1 and late[0].cancelled_by == late[0].student_id
    # Each paid session counts ("Session 2 of 6"); a Certification Assessment takes no number.
    assert all(s.number for s in sessions if s.kind == SessionKind.regular)
    assert all(s.number is None for s in sessions if s.kind == SessionKind.certification_assessment)
    assert any(s.status == SessionStatus.completed for s in sessions)


def test_sarah_has_upcoming_sessions_with_marcus(demo_app):
    sarah, marcus = _user("sarah@example.com"), _user("marcus@example.com")
    upcoming = db.session.scalars(
        sa.select(TutoringSession)
        .where(
            TutoringSession.student_id == sarah.id,
            TutoringSession.status == SessionStatus.scheduled,
            TutoringSession.scheduled_start > utcnow(),
        )
        .order_by(TutoringSession.scheduled_start)
    ).all()
    assert len(upcoming) == 2
    assert {s.teacher_id for s in upcoming} == {marcus.id}
    assert [s.number for s in upcoming] == [1, 2]
    assert all(s.agenda for s in upcoming)
    enrollment = db.session.get(Enrollment, upcoming[0].enrollment_id)
    assert scheduling.used_count(enrollment.id) == enrollment.session_count
    # Booked through the booking service: both people were told.
    told = db.session.scalars(sa.select(Notification.user_id).where(Notification.type == "session_booked")).all()
    assert told.count(sarah.id) == 2 and told.count(marcus.id) == 2


def test_every_demo_teacher_has_hours_and_every_course_day_view_has_days(demo_app):
    teachers = {st["user"] for st in STUDENT_TEACHERS} | {c["creator"] for c in COURSES}
    zones = set()
    for email in teachers:
        user = _user(email)
        settings = db.session.get(AvailabilitySettings, user.id)
        assert settings is not None, email
        assert settings.timezone == user.timezone
        zones.add(settings.timezone)
        assert db.session.scalar(sa.select(sa.func.count()).where(WeeklyWindow.user_id == user.id)) > 0, email
    assert len(zones) >= 3
    now = utcnow()
    for data in COURSES:
        if data.get("is_active") is False:
            continue
        view = scheduling.course_day_view(_course(data["slug"]), day=None, timezone="America/New_York", now=now)
        assert view.days_with_slots, data["slug"]
        assert view.teachers, data["slug"]
    intro = scheduling.course_day_view(_course("intro-to-claude-code"), day=None, timezone="America/New_York", now=now)
    assert len(intro.days_with_slots) >= 10  # dots most days of the next two weeks
    assert max(intro.days_with_slots) <= (now + timedelta(days=15)).date()


def test_a_pending_and_a_countered_request_are_on_both_sides(demo_app):
    tom, diego = _user("tom@example.com"), _user("diego@example.com")
    requests = db.session.scalars(sa.select(SessionRequest).order_by(SessionRequest.proposed_start)).all()
    assert [r.status for r in requests] == [RequestStatus.pending, RequestStatus.countered]
    assert {(r.student_id, r.teacher_id) for r in requests} == {(tom.id, diego.id)}
    assert requests[1].counter_start is not None
    db.session.remove()  # end the read (on SQLite it holds the write lock the login needs)

    client = demo_app.test_client()
    auth = AuthActions(client)
    assert auth.login("tom@example.com", DEMO_PASSWORD).status_code == 302
    mine = client.get("/api/session-requests?role=student").get_json()["items"]
    assert sorted(item["status"] for item in mine) == ["countered", "pending"]
    auth.logout()
    assert auth.login("diego@example.com", DEMO_PASSWORD).status_code == 302
    asked = client.get("/api/session-requests?role=teacher").get_json()["items"]
    assert sorted(item["status"] for item in asked) == ["countered", "pending"]
    assert client.get("/teaching").status_code == 200
