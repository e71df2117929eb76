"""Sweep steps: reminders before a session and feedback prompts after it.

Each goes to each person once (notify's dedupe key holds the scheduled start, so a moved session is
reminded again for its new time); a reminder whose moment had already passed when the time was
booked is skipped. The session's stage marks (``reminder_stage``, ``prompt_stage``) let each pass
pick only sessions with something due, so a busy day never starves later ones; two sweeps at once
send once, as the keys are unique per person.
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

DAY_BEFORE, HALF_HOUR = timedelta(hours=24), timedelta(minutes=30)
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


def _booked_by(session: TutoringSession, moment: datetime) -> bool:
    booked = session.booked_at or session.created_at
    return booked is None or booked <= moment


def send_reminders(now: datetime) -> int:
    """Reminders 24 hours and 30 minutes before, to both people. Returns how many were sent.

    A session starting within the half hour gets the half-hour one (never a late "day before");
    one booked after a reminder's moment skips that reminder."""
    sessions = list(
        db.session.scalars(
            _with_people(
                sa.select(TutoringSession)
                .where(
                    TutoringSession.status == SessionStatus.scheduled,
                    TutoringSession.scheduled_start > now,
                    TutoringSession.scheduled_start <= now + DAY_BEFORE,
                    sa.or_(
                        TutoringSession.reminder_stage < 1,
                        sa.and_(TutoringSession.reminder_stage < 2, TutoringSession.scheduled_start <= now + HALF_HOUR),
                    ),
                )
                .order_by(TutoringSession.scheduled_start, TutoringSession.id)
                .limit(BATCH)
            )
        ).unique()
    )
    due, stages = [], {}
    for session in sessions:
        if session.scheduled_start <= now + HALF_HOUR:
            stages[session.id] = (session, 2)
            if _booked_by(session, session.scheduled_start - HALF_HOUR):
                due.append((session, "reminder_30m"))
        else:
            stages[session.id] = (session, 1)
            if _booked_by(session, session.scheduled_start - DAY_BEFORE):
                due.append((session, "reminder_24h"))
    return _send(due, notices.remind, stages, "reminder_stage", now=now)


def send_feedback_prompts(now: datetime) -> int:
    """An hour after a completed session, each person who has not rated it is asked; 48 hours
    after, once more (until 72 hours after). Returns how many were sent."""
    sessions = list(
        db.session.scalars(
            _with_people(
                sa.select(TutoringSession)
                .where(
                    TutoringSession.status == SessionStatus.completed,
                    TutoringSession.scheduled_end <= now - FIRST_PROMPT,
                    TutoringSession.scheduled_end > now - PROMPTS_UNTIL,
                    sa.or_(
                        TutoringSession.prompt_stage < 1,
                        sa.and_(TutoringSession.prompt_stage < 2, TutoringSession.scheduled_end <= now - SECOND_PROMPT),
                    ),
                )
                .order_by(TutoringSession.scheduled_end, TutoringSession.id)
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
    due, stages, people = [], {}, {}
    for session in sessions:
        second = now >= session.scheduled_end + SECOND_PROMPT
        stages[session.id] = (session, 2 if second else 1)
        unrated = [p for p in (session.student, session.teacher) if (session.id, p.id) not in rated]
        if unrated:
            due.append((session, "feedback_prompt_2" if second else "feedback_prompt"))
            people[session.id] = unrated
    return _send(due, notices.prompt_feedback, stages, "prompt_stage", now=now, people=people)


def _send(due, tell, stages: dict, column: str, *, now: datetime, people=None) -> int:
    sent = sent_keys([notices.reminder_key(kind, session) for session, kind in due])
    count = 0
    for session, kind in due:
        key = notices.reminder_key(kind, session)
        for person in people[session.id] if people else (session.student, session.teacher):
            if (person.id, key) not in sent:
                tell(session, person, kind, now=now)
                count += 1
    stage = getattr(TutoringSession, column)
    for session, value in stages.values():
        # Only for the time we saw: a session moved meanwhile is reminded afresh.
        db.session.execute(
            sa.update(TutoringSession)
            .where(
                TutoringSession.id == session.id,
                TutoringSession.scheduled_start == session.scheduled_start,
                stage < value,
            )
            .values({column: value})
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return count
