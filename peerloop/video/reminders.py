"""Sweep steps: reminders before a session and feedback prompts after it.

Each goes to each person once (notify's dedupe key holds the scheduled start, so a moved session is
reminded again for its new time); a reminder whose moment had already passed when the time was
booked is skipped. Two sweeps at once send once: the keys are unique per person.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from peerloop.extensions import db
from peerloop.notifications.services import sent_keys
from peerloop.scheduling.models import SessionStatus, TutoringSession
from peerloop.video import notices
from peerloop.video.models import Assessment

REMINDERS = (("reminder_24h", timedelta(hours=24)), ("reminder_30m", timedelta(minutes=30)))
FIRST_PROMPT = timedelta(hours=1)  # after the end
SECOND_PROMPT = timedelta(hours=48)  # still unrated then: one more ask
PROMPTS_UNTIL = timedelta(hours=72)
BATCH = 500


def _with_people(query):
    return query.options(
        joinedload(TutoringSession.teacher),
        joinedload(TutoringSession.student),
        joinedload(TutoringSession.course),
        joinedload(TutoringSession.enrollment),
    )


def _due_reminder(session: TutoringSession, now: datetime) -> str | None:
    """The reminder due now, if any: the nearest moment passed, not passed before it was booked."""
    due = None
    for kind, ahead in REMINDERS:  # the 30-minute one last: when both are due it wins
        moment = session.scheduled_start - ahead
        booked = session.booked_at or session.created_at
        if now >= moment and (booked is None or booked <= moment):
            due = kind
        elif now >= moment:
            due = None  # this moment passed before the booking: skip it, and the earlier one is past too
    return due


def send_reminders(now: datetime) -> int:
    """Reminders 24 hours and 30 minutes before, to both people. Returns how many were sent."""
    sessions = list(
        db.session.scalars(
            _with_people(
                sa.select(TutoringSession)
                .where(
                    TutoringSession.status == SessionStatus.scheduled,
                    TutoringSession.scheduled_start > now,
                    TutoringSession.scheduled_start <= now + REMINDERS[0][1],
                )
                .order_by(TutoringSession.scheduled_start)
                .limit(BATCH)
            )
        ).unique()
    )
    due = [(session, kind) for session in sessions if (kind := _due_reminder(session, now))]
    return _send(due, notices.remind, now=now)


def send_feedback_prompts(now: datetime) -> int:
    """An hour after a completed session, each person who has not rated it is asked; 48 hours
    after, once more. Returns how many were sent."""
    sessions = list(
        db.session.scalars(
            _with_people(
                sa.select(TutoringSession)
                .where(
                    TutoringSession.status == SessionStatus.completed,
                    TutoringSession.scheduled_end <= now - FIRST_PROMPT,
                    TutoringSession.scheduled_end > now - PROMPTS_UNTIL,
                )
                .order_by(TutoringSession.scheduled_end)
                .limit(BATCH)
            )
        ).unique()
    )
    if not sessions:
        return 0
    rated = set(
        db.session.execute(
            sa.select(Assessment.session_id, Assessment.assessor_id).where(
                Assessment.session_id.in_([s.id for s in sessions])
            )
        ).all()
    )
    due = []
    for session in sessions:
        kind = "feedback_prompt_2" if now >= session.scheduled_end + SECOND_PROMPT else "feedback_prompt"
        unrated = [p for p in (session.student, session.teacher) if (session.id, p.id) not in rated]
        if unrated:
            due.append((session, kind, unrated))
    return _send([(s, k) for s, k, _ in due], notices.prompt_feedback, now=now, people={s.id: u for s, _, u in due})


def _send(due, tell, *, now: datetime, people=None) -> int:
    sent = sent_keys([notices.reminder_key(kind, session) for session, kind in due])
    count = 0
    for session, kind in due:
        key = notices.reminder_key(kind, session)
        for person in people[session.id] if people else (session.student, session.teacher):
            if (person.id, key) not in sent:
                tell(session, person, kind, now=now)
                count += 1
    db.session.commit()
    return count
