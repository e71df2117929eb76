"""How a session ends: completed, the student's no-show or the teacher's, and what follows.

One rule for every path (the room's webhook, the sweep, the teacher's hand, Brian's decision):

- both people were in the room → completed; only the teacher → the student's no-show; only the
  student → the teacher's no-show; nobody → the teacher settles it (7 days after its end, still
  unsettled, it is the teacher's no-show).
- Completed and the student's no-show are delivered sessions: ``release_teaching_share`` pays the
  teacher (the payments service owns that rule). The teacher's no-show is not delivered: the session
  goes back to the student, the teacher is not paid, and every admin is told.
- An outcome the teacher marks by hand that pays them waits ``CONTEST_WINDOW`` before the share is
  released, so the student can contest it; a contest waits for Brian in the console. The status is
  set at once, so the refund quote counts the session as delivered meanwhile.

Every function locks in the booking order (enrollment, then both users, then the session) and
re-reads the status under the lock, so a webhook, the sweep and a hand racing each other settle a
session once.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from peerloop.accounts.models import User
from peerloop.db import for_update, parse_uuid
from peerloop.errors import Conflict, Forbidden, NotFound, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.scheduling.models import NoShowBy, SessionKind, SessionStatus, TutoringSession
from peerloop.video.interfaces import Room, RoomState, VideoError
from peerloop.video.models import Attendance

SETTLE_AFTER = timedelta(hours=1)  # the sweep settles from attendance this long after the end
UNSETTLED_LIMIT = timedelta(days=7)  # nobody settled it by then: the teacher's no-show
CONTEST_WINDOW = timedelta(hours=48)
OPEN_STATUSES = (SessionStatus.scheduled, SessionStatus.in_progress)
REASON_MAX = 2000


class Outcome(enum.StrEnum):
    completed = "completed"
    student_no_show = "student_no_show"
    teacher_no_show = "teacher_no_show"

    @property
    def pays_teacher(self) -> bool:
        return self is not Outcome.teacher_no_show


class OutcomeSource(enum.StrEnum):
    webhook = "webhook"  # the provider said the room finished
    sweep = "sweep"  # an hour past the end, from attendance (or 7 days on, nobody settled it)
    teacher = "teacher"  # marked by hand after the end: the share waits out the contest window
    admin = "admin"  # Brian decided a contest


class Resolution(enum.StrEnum):
    teacher_paid = "teacher_paid"  # the teacher's outcome stands: the share is released now
    returned = "returned"  # the session goes back to the student as the teacher's no-show


# --- reading -------------------------------------------------------------------------------


def room_session_id(room_id: str | None) -> uuid.UUID | None:
    """Our room ids are ``peerloop-<session id>``: the session a provider's event is about."""
    if not room_id or not room_id.startswith("peerloop-"):
        return None
    return parse_uuid(room_id.removeprefix("peerloop-"))


def attended(session: TutoringSession) -> set[uuid.UUID]:
    """Who of the two was recorded in the room."""
    return set(
        db.session.scalars(
            sa.select(Attendance.user_id)
            .where(
                Attendance.session_id == session.id,
                Attendance.user_id.in_([session.teacher_id, session.student_id]),
            )
            .distinct()
        )
    )


def outcome_from_attendance(session: TutoringSession, present: set[uuid.UUID]) -> Outcome | None:
    teacher, student = session.teacher_id in present, session.student_id in present
    if teacher and student:
        return Outcome.completed
    if teacher:
        return Outcome.student_no_show
    if student:
        return Outcome.teacher_no_show
    return None


def is_settled(session: TutoringSession) -> bool:
    return session.status not in OPEN_STATUSES


def awaiting_release(session: TutoringSession) -> bool:
    """A hand-marked outcome still inside its contest window (or contested and undecided)."""
    return session.release_after is not None


def can_contest(session: TutoringSession, now: datetime) -> bool:
    return (
        session.outcome_source == OutcomeSource.teacher
        and session.release_after is not None
        and session.contested_at is None
        and now < session.release_after
    )


# --- locking -------------------------------------------------------------------------------


def lock_session(session_id: uuid.UUID) -> TutoringSession | None:
    """The session under the booking lock order: enrollment, both users, then the session row."""
    from peerloop.scheduling.services import lock_enrollment, lock_users

    session = db.session.get(TutoringSession, session_id)
    if session is None:
        return None
    if session.enrollment_id:
        lock_enrollment(session.enrollment_id)
    lock_users(session.teacher_id, session.student_id)
    return db.session.scalar(
        for_update(sa.select(TutoringSession).where(TutoringSession.id == session_id)).execution_options(
            populate_existing=True
        )
    )


# --- settling ------------------------------------------------------------------------------


def close_open_stays(session: TutoringSession, at: datetime) -> None:
    """Stays still open when the room is over end then (never before they began)."""
    for stay in db.session.scalars(
        sa.select(Attendance).where(Attendance.session_id == session.id, Attendance.left_at.is_(None))
    ):
        stay.left_at = max(stay.joined_at, at)
        stay.duration_seconds = int((stay.left_at - stay.joined_at).total_seconds())


def settle(
    session: TutoringSession,
    outcome: Outcome,
    *,
    source: OutcomeSource,
    now: datetime,
    ended_at: datetime | None = None,
) -> bool:
    """Give a locked, open session its outcome, pay or hold the teacher's share, tell both people
    (and every admin of a teacher's no-show). Does not commit. Returns False when it was already
    settled (a second finished event, an overlapping sweep): nothing changes then."""
    from peerloop.payments.services import release_teaching_share
    from peerloop.scheduling.services import renumber_sessions
    from peerloop.video import notices

    if is_settled(session):
        return False
    from peerloop.video.services import grace

    # The room's own finish when a provider said it (never past the room's closing: a late or
    # retried callback does not stretch the stays); otherwise the booked end.
    end = min(ended_at or session.scheduled_end, now, session.scheduled_end + grace())
    if session.started_at is not None:
        end = max(end, session.started_at)
    close_open_stays(session, end)
    session.ended_at = end
    session.outcome_source = source.value
    session.updated_at = now
    if outcome is Outcome.completed:
        session.status, session.no_show_by = SessionStatus.completed, None
    else:
        session.status = SessionStatus.no_show
        session.no_show_by = NoShowBy.student if outcome is Outcome.student_no_show else NoShowBy.teacher
    if outcome is Outcome.teacher_no_show and session.enrollment_id:
        renumber_sessions(session.enrollment_id)  # it no longer counts: the student books another
    if outcome.pays_teacher and session.kind == SessionKind.regular:  # an assessment pays no share
        if source is OutcomeSource.teacher:
            session.release_after = now + CONTEST_WINDOW
        else:
            db.session.flush()
            release_teaching_share(session, now=now, commit=False)
    _refresh_counters(session)
    notices.settled(session, outcome, source=source, now=now)
    return True


def _refresh_counters(session: TutoringSession) -> None:
    from peerloop.video.feedback import refresh_teacher_counters

    db.session.flush()
    refresh_teacher_counters(session.teacher_id, session.course_id)


def settle_from_attendance(
    session_id: uuid.UUID, *, source: OutcomeSource, now: datetime, ended_at: datetime | None = None
) -> Outcome | None:
    """Settle a session by who was in the room (the room finished, or the sweep's hour passed).
    Nobody recorded: left for the teacher (None). Does not commit."""
    session = lock_session(session_id)
    if session is None or is_settled(session):
        return None
    outcome = outcome_from_attendance(session, attended(session))
    if outcome is None:
        return None
    settle(session, outcome, source=source, now=now, ended_at=ended_at)
    return outcome


# --- by hand -------------------------------------------------------------------------------

TEACHER_CHOICES = {"completed": Outcome.completed, "student_no_show": Outcome.student_no_show}


def mark_by_teacher(user: User, session_id, outcome: str, *, now: datetime) -> TutoringSession:
    """The teacher (never the student) settles a session after its end: completed or the student's
    no-show. The share is released after the contest window. Commits.

    :raise NotFound, Forbidden (``not_teacher``), ValidationError (``outcome``),
        RuleViolation (``not_finished``), Conflict (``already_settled``).
    """
    uid = parse_uuid(session_id)
    found = db.session.get(TutoringSession, uid) if uid else None
    if found is None or found.status in (SessionStatus.held, SessionStatus.lapsed):
        raise NotFound("No such session.")
    if user.id not in (found.teacher_id, found.student_id):
        raise NotFound("No such session.")
    if user.id != found.teacher_id:
        raise Forbidden("Only the teacher marks how a session went.", code="not_teacher")
    choice = TEACHER_CHOICES.get(outcome if isinstance(outcome, str) else "")
    if choice is None:
        raise ValidationError("Say how the session went.", fields={"outcome": "Choose completed or student_no_show."})
    session = lock_session(found.id)
    if now < session.scheduled_end:
        raise RuleViolation("You can mark the session once it has ended.", code="not_finished")
    if is_settled(session):
        raise Conflict("This session is already settled.", code="already_settled")
    if outcome_from_attendance(session, attended(session)) is Outcome.teacher_no_show:
        # The room recorded the student and not the teacher: that is for the sweep (or a contest).
        raise RuleViolation(
            "The room recorded your student but not you, so this session cannot be marked by hand.",
            code="attendance_disagrees",
        )
    settle(session, choice, source=OutcomeSource.teacher, now=now)
    db.session.commit()
    return session


def contest(user: User, session_id, reason, *, now: datetime) -> TutoringSession:
    """The student disputes the teacher's hand-marked outcome within its window: the share stays
    held and the session waits in Brian's contest queue. Commits.

    :raise NotFound, Forbidden (``not_student``), ValidationError (``reason``),
        RuleViolation (``not_contestable``).
    """
    from peerloop.video import notices

    uid = parse_uuid(session_id)
    found = db.session.get(TutoringSession, uid) if uid else None
    if found is None or user.id not in (found.teacher_id, found.student_id):
        raise NotFound("No such session.")
    if user.id != found.student_id:
        raise Forbidden("Only the student contests a session's outcome.", code="not_student")
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError("Say what happened.", fields={"reason": "Required."})
    if len(text) > REASON_MAX:
        raise ValidationError("Keep it under 2,000 characters.", fields={"reason": "Too long."})
    session = lock_session(found.id)
    if not can_contest(session, now):
        raise RuleViolation(
            "This outcome can no longer be contested (48 hours after the teacher marked it).",
            code="not_contestable",
        )
    session.contested_at = now
    session.contest_reason = text
    session.updated_at = now
    notices.contested(session, now=now)
    db.session.commit()
    return session


def resolve_contest(admin: User, session_id: uuid.UUID, resolution: str, *, now: datetime) -> TutoringSession:
    """Brian decides a contest: the teacher's outcome stands (paid now) or the session goes back to
    the student (the teacher's no-show, not paid). Commits.

    :raise NotFound, Forbidden, ValidationError, Conflict (``already_resolved``).
    """
    from peerloop.payments.services import release_teaching_share
    from peerloop.scheduling.services import renumber_sessions
    from peerloop.video import notices

    if not admin.is_admin:
        raise Forbidden("Only an admin decides a contest.")
    try:
        decision = Resolution(resolution)
    except ValueError:
        raise ValidationError("Choose who is right.", fields={"resolution": "teacher_paid or returned."}) from None
    session = lock_session(session_id)
    if session is None or session.contested_at is None:
        raise NotFound("No such contest.")
    if session.contest_resolved_at is not None:
        raise Conflict("This contest is already decided.", code="already_resolved")
    session.contest_resolved_at = now
    session.contest_resolution = decision.value
    session.release_after = None
    session.updated_at = now
    if decision is Resolution.teacher_paid:
        db.session.flush()
        release_teaching_share(session, now=now, commit=False)
    else:
        session.status, session.no_show_by = SessionStatus.no_show, NoShowBy.teacher
        session.outcome_source = OutcomeSource.admin.value
        if session.enrollment_id:
            renumber_sessions(session.enrollment_id)
        _refresh_counters(session)
    notices.contest_resolved(session, decision, now=now)
    db.session.commit()
    return session


# --- sweep steps ---------------------------------------------------------------------------

SWEEP_BATCH = 200


def release_due_shares(now: datetime) -> int:
    """Sweep step: hand-marked outcomes whose contest window passed uncontested pay the teacher."""
    from peerloop.payments.services import release_teaching_share

    due = list(
        db.session.scalars(
            sa.select(TutoringSession.id)
            .where(
                TutoringSession.release_after <= now,
                TutoringSession.contested_at.is_(None),
            )
            .order_by(TutoringSession.release_after)
            .limit(SWEEP_BATCH)
        )
    )
    db.session.rollback()
    released = 0
    for session_id in due:
        session = lock_session(session_id)
        if session is None or session.release_after is None or session.contested_at is not None:
            db.session.rollback()  # an overlapping sweep did it, or the student contested meanwhile
            continue
        session.release_after = None
        session.updated_at = now
        if session.status == SessionStatus.completed or session.no_show_by == NoShowBy.student:
            db.session.flush()
            release_teaching_share(session, now=now, commit=False)
            released += 1
        db.session.commit()
    return released


def settle_ended_sessions(now: datetime) -> dict[str, int]:
    """Sweep step, for the webhooks that never came: sessions past their end are settled from
    attendance once their room reports finished or an hour has passed; those nobody joined are the
    teacher's to settle (they are asked once), and the teacher's no-show 7 days after the end."""
    from peerloop.video import notices
    from peerloop.video.services import provider

    video = provider()
    anyone_came = sa.exists().where(Attendance.session_id == TutoringSession.id)
    # Only sessions with something to do this pass, so old ones waiting for their teacher never
    # crowd out newer ones: 7 days over; an hour over and either attended or not yet asked about;
    # within the hour, rooms the provider can report on.
    due = [
        TutoringSession.scheduled_end <= now - UNSETTLED_LIMIT,
        sa.and_(
            TutoringSession.scheduled_end <= now - SETTLE_AFTER,
            sa.or_(anyone_came, TutoringSession.settle_asked_at.is_(None)),
        ),
    ]
    if video.sends_webhooks:
        due.append(
            sa.and_(
                TutoringSession.scheduled_end > now - SETTLE_AFTER,
                TutoringSession.video_room_id.is_not(None),
                TutoringSession.video_provider == video.name,
            )
        )
    candidates = list(
        db.session.execute(
            sa.select(
                TutoringSession.id,
                TutoringSession.scheduled_end,
                TutoringSession.video_room_id,
                TutoringSession.video_provider,
                TutoringSession.video_room_url,
            )
            .where(
                TutoringSession.status.in_(OPEN_STATUSES),
                TutoringSession.scheduled_end <= now,
                sa.or_(*due),
            )
            .order_by(TutoringSession.scheduled_end, TutoringSession.id)
            .limit(SWEEP_BATCH)
        )
    )
    db.session.rollback()  # no transaction held while a provider is asked about its room
    counts = {"settled": 0, "asked": 0, "expired": 0}
    for session_id, end, room_id, room_provider, room_url in candidates:
        room = Room(room_id=f"peerloop-{session_id}", provider_room_id=room_id, url=room_url) if room_id else None
        if now < end + SETTLE_AFTER and not _room_reports_finished(room, room_provider, video):
            continue  # within the hour only the provider's word settles it
        if now >= end + UNSETTLED_LIMIT:
            locked = lock_session(session_id)
            if locked is not None and not is_settled(locked):
                outcome = outcome_from_attendance(locked, attended(locked)) or Outcome.teacher_no_show
                settle(locked, outcome, source=OutcomeSource.sweep, now=now)
                counts["expired" if outcome is Outcome.teacher_no_show else "settled"] += 1
            db.session.commit()
            continue
        if settle_from_attendance(session_id, source=OutcomeSource.sweep, now=now) is not None:
            counts["settled"] += 1
            db.session.commit()
            continue
        db.session.rollback()
        fresh = lock_session(session_id)
        if fresh is not None and not is_settled(fresh) and now >= end + SETTLE_AFTER and fresh.settle_asked_at is None:
            notices.ask_teacher_to_settle(fresh, now=now)
            fresh.settle_asked_at = now
            counts["asked"] += 1
        db.session.commit()
    return counts


def _room_reports_finished(room: Room | None, room_provider: str | None, video) -> bool:
    """Ask the provider (outside any lock) whether the room is over; link rooms cannot tell."""
    if room is None or not video.sends_webhooks or room_provider != video.name:
        return False
    try:
        status = video.room_status(room)
    except VideoError:
        return False  # try again next pass
    return status.state is RoomState.ended


def contested_sessions():
    """Brian's queue: contests waiting for a decision, oldest first."""
    return (
        sa.select(TutoringSession)
        .where(TutoringSession.contested_at.is_not(None), TutoringSession.contest_resolved_at.is_(None))
        .order_by(TutoringSession.contested_at)
    )
