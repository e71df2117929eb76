"""notify() rings and emails once per dedupe key, and can join the caller's transaction (issue 5, item 11)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from peerloop.accounts.models import LoginSession, User
from peerloop.extensions import db
from peerloop.notifications import services
from peerloop.notifications.models import Notification, OutboundEmail
from tests import factories


def count(model, **filters) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(**filters))


def ring(user, key, now, **kwargs):
    return services.notify(
        user,
        "session.reminder",
        title="Your session starts in 30 minutes",
        body="With Marcus",
        action_url="/notifications",
        email_template="notification",
        dedupe_key=key,
        now=now,
        **kwargs,
    )


def test_the_same_key_twice_rings_and_emails_once(make, now, jobs):
    user = make.user()
    first = ring(user, "reminder:session-1", now)
    again = ring(user, "reminder:session-1", now)
    jobs.run()
    assert again.id == first.id
    assert count(Notification, user_id=user.id) == 1
    assert count(OutboundEmail, user_id=user.id) == 1


def test_keys_are_per_user(make, now):
    one, two = make.user(), make.user()
    ring(one, "welcome", now)
    ring(two, "welcome", now)
    assert count(Notification, user_id=one.id) == count(Notification, user_id=two.id) == 1


def test_notify_joins_the_callers_transaction(make, now):
    """A use case and its notifications commit together or not at all."""
    user = make.user()
    user.title = "changed by the use case"
    ring(user, "joined:1", now, commit=False)
    db.session.rollback()  # the use case failed after notifying
    assert count(Notification, user_id=user.id) == 0
    assert count(OutboundEmail, user_id=user.id) == 0
    assert db.session.get(User, user.id).title != "changed by the use case"

    user.title = "changed again"
    ring(user, "joined:1", now, commit=False)
    db.session.commit()
    assert count(Notification, user_id=user.id) == 1 and count(OutboundEmail, user_id=user.id) == 1
    assert db.session.get(User, user.id).title == "changed again"


def test_a_replayed_step_reruns_its_notifies_harmlessly(make, now, jobs):
    """A crash between the use case and its notify: the replay notifies once, never twice, never zero."""
    user = make.user()
    ring(user, "checkout:cs_1", now)
    jobs.run()
    for _ in range(3):  # replays of the event
        ring(user, "checkout:cs_1", now)
    jobs.run()
    assert count(Notification, user_id=user.id) == 1
    emails = db.session.scalars(sa.select(OutboundEmail).filter_by(user_id=user.id)).all()
    assert len(emails) == 1 and emails[0].attempts == 1


def test_a_job_must_give_a_dedupe_key(app, make, now):
    from rq import Queue

    user = make.user()
    queue = Queue("dedupe-check", connection=app.extensions["rq_queue"].connection, is_async=False)
    job = queue.enqueue(services.notify, user, "x", title="t", body="b", dedupe_key=None, now=now)
    assert job.is_failed
    assert "needs a dedupe_key" in job.latest_result().exc_string


@pytest.mark.committed
def test_two_threads_with_the_same_key_notify_once(app, now):
    """Two sweeps (or a job and its retry) at the same moment, on real connections: one row, one email."""
    with app.app_context():
        user = factories.user()
        user_id = user.id
        db.session.remove()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep_step():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                ring(db.session.get(User, user_id), "race:reminder", now)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweep_step) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert errors == []
        with app.app_context():
            assert count(Notification, user_id=user_id) == 1
            assert count(OutboundEmail, user_id=user_id) == 1
    finally:
        with app.app_context():
            for model in (OutboundEmail, Notification, LoginSession):
                db.session.execute(sa.delete(model).where(model.user_id == user_id))
            db.session.execute(sa.delete(User).where(User.id == user_id))
            db.session.commit()
