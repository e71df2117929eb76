"""Payments test helpers: a purchase through the real services and the sandbox gateway."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import current_app

from peerloop.extensions import db
from peerloop.payments import sandbox, services
from peerloop.payments.models import LedgerAccount, LedgerEntry, Transaction
from tests.conftest import run_jobs


def buy(student, course, *, now, teacher=None):
    """Start a checkout and pay it in the sandbox: the signed event goes through the webhook path."""
    checkout = services.start_checkout(student, course.id, student_teacher_id=teacher and teacher.id, now=now)
    sandbox.pay(checkout.gateway_session_id, now=now)
    run_jobs(current_app)  # on the Redis run the event waits in the queue
    db.session.refresh(checkout)
    return checkout.enrollment


def FakeSession(session_id, enrollment_id, teacher_id, *, now=None):  # noqa: N802  (was a stand-in class)
    """A delivered (completed) session of the enrollment with ``teacher_id``, as booking makes them:
    what release_teaching_share is given. The same id twice is the same session."""
    from datetime import UTC, datetime, timedelta

    from peerloop.enrollment.models import Enrollment
    from peerloop.extensions import db
    from peerloop.scheduling.models import SessionStatus, TutoringSession

    existing = db.session.get(TutoringSession, session_id)
    if existing is not None:
        return existing
    enrollment = db.session.get(Enrollment, enrollment_id)
    start = (now or datetime(2026, 11, 20, 15, tzinfo=UTC)) - timedelta(hours=2)
    session = TutoringSession(
        id=session_id,
        enrollment_id=enrollment_id,
        course_id=enrollment.course_id,
        teacher_id=teacher_id,
        student_id=enrollment.student_id,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        status=SessionStatus.completed,
    )
    db.session.add(session)
    db.session.flush()
    return session


def pay(session_id: str, *, now) -> str:
    """The sandbox's Pay button, and the queued event processed (inline already, or by a burst worker)."""
    target = sandbox.pay(session_id, now=now)
    run_jobs(current_app)
    return target


def ledger_sum(transaction_id) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0)).where(
                LedgerEntry.transaction_id == transaction_id
            )
        )
    )


def account_sum(transaction_id, account: LedgerAccount, recipient_id=None) -> int:
    where = [LedgerEntry.transaction_id == transaction_id, LedgerEntry.account == account]
    if recipient_id is not None:
        where.append(LedgerEntry.recipient_id == recipient_id)
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0)).where(*where)))


def transaction_for(enrollment) -> Transaction:
    return db.session.scalar(sa.select(Transaction).where(Transaction.enrollment_id == enrollment.id))


def paid(app, student, course, *, now, teacher=None):
    """A real paid enrollment: checkout, the sandbox's Pay, the webhook path (its job run on Redis)."""
    checkout = services.start_checkout(student, course.id, student_teacher_id=teacher and teacher.id, now=now)
    sandbox.pay(checkout.gateway_session_id, now=now)
    run_jobs(app)
    db.session.expire_all()
    return checkout.enrollment


@pytest.fixture
def business_time(now, monkeypatch):
    """Jobs and the API read business time: pin it to the tests' ``now``."""
    monkeypatch.setattr("peerloop.clock.now", lambda: now)


@pytest.fixture
def purchase(now):
    def _buy(student, course, teacher=None, at=None):
        return buy(student, course, now=at or now, teacher=teacher)

    return _buy
