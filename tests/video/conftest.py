"""Video tests reuse the booking world (a course, a teacher with a week, an enrolled student)."""

from __future__ import annotations

import pytest

from tests.scheduling.conftest import world  # noqa: F401  (a fixture)


@pytest.fixture
def clock(monkeypatch):
    """clock(moment): business time (what the API reads) is ``moment`` from now on."""

    def _set(moment):
        monkeypatch.setattr("peerloop.clock.now", lambda: moment)

    return _set


@pytest.fixture
def paid_world(app, make, now):
    """The booking world with a real purchase (the sandbox's checkout and its webhook), so a delivered
    session has a pool to release from; plus an admin to be told of no-shows and contests."""
    from tests.payments.conftest import buy
    from tests.scheduling.conftest import World, week

    creator = make.creator(name="Cora Creator")
    course = make.course(creator=creator, session_count=2, title="Intro to Python", details=True)
    teacher = make.user(name="Marcus Teacher")
    make.student_teacher(teacher, course)
    week(teacher, now=now)
    student = make.user(name="Ana Student")
    enrollment = buy(student, course, now=now, teacher=teacher)
    paid = World(creator, course, teacher, student, enrollment)
    paid.admin = make.admin(name="Brian Admin")
    return paid
