"""Video tests reuse the booking world (a course, a teacher with a week, an enrolled student)."""

from __future__ import annotations

import pytest

from tests.scheduling.conftest import enrolled, world  # noqa: F401  (fixtures)


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


@pytest.fixture
def enrolled_paid(paid_world, make, now):
    """Another student who bought the paid world's course (the sandbox checkout) from its teacher."""
    from tests.payments.conftest import buy

    def _student(**overrides):
        student = make.user(**overrides)
        buy(student, paid_world.course, now=now, teacher=paid_world.teacher)
        return student

    return _student
