"""Ticks at the same moment (real threads, each with its own connection, real commits, every row
deleted afterwards): the same module ticked ten times at once is one row, and every tick answers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.enrollment import progress
from peerloop.enrollment.models import ModuleProgress
from peerloop.extensions import db
from tests import factories
from tests.scheduling.test_booking_concurrency import committed, race  # noqa: F401

TICKS = 10


@pytest.mark.committed
def test_ten_ticks_of_one_module_at_once_are_one_row(app, committed, now):  # noqa: F811
    def setup():
        creator = factories.creator()
        course = factories.course(creator=creator, details=True)
        student = factories.user()
        enrollment = factories.enrollment(student, course)
        module = min(course.modules, key=lambda m: m.module_order)
        return {
            "users": [creator.id, student.id],
            "student": student.id,
            "enrollment": enrollment.id,
            "module": module.id,
        }

    ids = committed(setup)

    def tick():
        student = db.session.get(User, ids["student"])
        return progress.mark_module(student, ids["enrollment"], ids["module"], complete=True, now=now).id

    outcomes = race(app, [tick] * TICKS)

    assert [code for code, _ in outcomes] == ["ok"] * TICKS, outcomes
    with app.app_context():
        rows = db.session.scalars(
            sa.select(ModuleProgress).where(ModuleProgress.enrollment_id == ids["enrollment"])
        ).all()
        assert [(r.module_id, r.is_complete, r.completed_at) for r in rows] == [(ids["module"], True, now)]
        assert {result for _, result in outcomes} == {rows[0].id}
        assert progress.progress_of([ids["enrollment"]])[ids["enrollment"]] == progress.Progress(1, 4)
        db.session.remove()
