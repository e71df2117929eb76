"""Reminders 24 hours and 30 minutes before, feedback prompts after: each person once per session
(and again for a moved session's new time), skipped when their moment had passed at booking,
sent once however many sweeps run."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.extensions import db
from peerloop.notifications.models import Notification, OutboundEmail
from peerloop.scheduling import services as scheduling
from peerloop.video.feedback import leave_feedback
from peerloop.video.outcomes import mark_by_teacher
from peerloop.video.reminders import send_feedback_prompts, send_reminders
from tests.scheduling.conftest import at

FRI9 = at(4, 9)  # Friday 09:00, booked on Monday noon: both reminders are due in time


def kinds(user, *wanted) -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(
            sa.select(Notification.type).where(Notification.user_id == user.id, Notification.type.in_(wanted))
        )
    )


@pytest.fixture
def booked(world, now):
    return world.book(FRI9, now=now)


def test_both_reminders_reach_both_people_once_with_the_calendar_file(world, booked):
    assert send_reminders(FRI9 - timedelta(hours=24, minutes=1)) == 0
    assert send_reminders(FRI9 - timedelta(hours=24)) == 2
    assert send_reminders(FRI9 - timedelta(hours=23)) == 0  # a second sweep, an hour on
    assert send_reminders(FRI9 - timedelta(minutes=30)) == 2
    assert send_reminders(FRI9 - timedelta(minutes=29)) == 0
    for person in (world.student, world.teacher):
        assert kinds(person, "reminder_24h", "reminder_30m") == ["reminder_24h", "reminder_30m"]
    email = db.session.scalar(
        sa.select(OutboundEmail).where(
            OutboundEmail.to_address == world.student.email, OutboundEmail.subject.like("In 30 minutes%")
        )
    )
    assert email is not None and f"/sessions/{booked.id}" in email.text_body
    assert email.attachments and email.attachments[0]["filename"].endswith(".ics")


def test_a_moved_session_is_reminded_again_for_its_new_time(world, booked):
    send_reminders(FRI9 - timedelta(hours=24))
    moved = at(4, 14)
    scheduling.reschedule(world.teacher, booked.id, start=moved, reason="A clash", now=FRI9 - timedelta(hours=23))
    assert send_reminders(moved - timedelta(hours=24)) == 2  # moved 28 hours ahead: told again for 14:00
    assert send_reminders(moved - timedelta(minutes=30)) == 2
    assert kinds(world.student, "reminder_24h", "reminder_30m") == ["reminder_24h", "reminder_24h", "reminder_30m"]


def test_a_reminder_whose_moment_had_passed_at_booking_is_skipped(world, make, now):
    soon = at(1, 9)  # booked Monday noon for Tuesday 09:00: 21 hours ahead
    session = world.book(soon, now=now)
    assert send_reminders(now + timedelta(minutes=1)) == 0
    assert send_reminders(soon - timedelta(minutes=30)) == 2
    assert kinds(world.student, "reminder_24h", "reminder_30m") == ["reminder_30m"]
    assert session.id


def test_two_overlapping_sweeps_send_once(world, booked):
    moment = FRI9 - timedelta(minutes=30)
    assert send_reminders(moment) + send_reminders(moment) == 2
    assert len(kinds(world.teacher, "reminder_30m")) == 1


def test_feedback_prompts_an_hour_after_and_once_more_to_whoever_has_not_rated(world, booked):
    end = booked.scheduled_end
    mark_by_teacher(world.teacher, booked.id, "completed", now=end)
    assert send_feedback_prompts(end + timedelta(minutes=59)) == 0
    assert send_feedback_prompts(end + timedelta(hours=1)) == 2
    assert send_feedback_prompts(end + timedelta(hours=2)) == 0
    leave_feedback(world.student, booked.id, rating=5, comment="Great", now=end + timedelta(hours=3))
    assert send_feedback_prompts(end + timedelta(hours=48)) == 1  # only the teacher is asked again
    assert send_feedback_prompts(end + timedelta(hours=50)) == 0
    assert send_feedback_prompts(end + timedelta(hours=73)) == 0
    assert kinds(world.teacher, "feedback_prompt", "feedback_prompt_2") == ["feedback_prompt", "feedback_prompt_2"]
    assert kinds(world.student, "feedback_prompt", "feedback_prompt_2") == ["feedback_prompt"]


def test_a_full_batch_moves_on_to_later_sessions_on_the_next_pass(world, enrolled, now, monkeypatch):
    monkeypatch.setattr("peerloop.video.reminders.BATCH", 2)
    students = [world.student, enrolled(), enrolled()]
    sessions = [world.book(at(4, 9 + n), now=now, student=s) for n, s in enumerate(students)]
    moment = at(3, 12)  # all three are due their day-before reminder
    assert send_reminders(moment) == 4  # the first two sessions, both people each
    assert send_reminders(moment + timedelta(minutes=1)) == 2  # then the third
    assert send_reminders(moment + timedelta(minutes=2)) == 0
    assert all(kinds(s, "reminder_24h") == ["reminder_24h"] for s in students) and len(sessions) == 3
