"""Booking through the services: every rule and error code of ``book``, cancel and reschedule, the
counting rules, the checkout hold, and the enrollment ending."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.enrollment.models import EnrollmentStatus
from peerloop.errors import Conflict, NotFound, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.payments import sandbox
from peerloop.payments import services as payments
from peerloop.payments.models import LedgerAccount, LedgerEntry, LedgerKind
from peerloop.scheduling import services
from peerloop.scheduling.models import NoShowBy, SessionStatus, TutoringSession
from tests.conftest import run_jobs
from tests.payments.conftest import paid
from tests.scheduling.conftest import at, sessions_of, week, z

TUE9 = at(1, 9)


def code_of(excinfo) -> str:
    return excinfo.value.code


# --- a booking -------------------------------------------------------------------------------


def test_a_booking_is_numbered_starts_the_enrollment_and_assigns_the_teacher(world, now):
    assert world.enrollment.status == EnrollmentStatus.enrolled
    assert world.enrollment.student_teacher_id is None

    session = world.book(TUE9, now=now)

    assert session.status == SessionStatus.scheduled
    assert (session.scheduled_start, session.scheduled_end) == (TUE9, TUE9 + timedelta(hours=1))
    assert (session.teacher_id, session.student_id, session.course_id) == (
        world.teacher.id,
        world.student.id,
        world.course.id,
    )
    assert session.number == 1
    db.session.expire_all()
    assert world.enrollment.status == EnrollmentStatus.in_progress
    assert world.enrollment.student_teacher_id == world.teacher.id
    told = db.session.scalars(sa.select(Notification.user_id).where(Notification.type == "session_booked")).all()
    assert sorted(told, key=str) == sorted([world.teacher.id, world.student.id], key=str)


def test_sessions_are_numbered_by_start(world, now):
    later = world.book(at(3, 9), now=now)
    assert later.number == 1
    sooner = world.book(TUE9, now=now)
    assert [(s.id, s.number) for s in sessions_of(world.enrollment.id)] == [(sooner.id, 1), (later.id, 2)]


def test_an_assigned_teacher_stays_when_another_teaches_a_session(world, make, now):
    other = make.user()
    make.student_teacher(other, world.course)
    week(other, now=now)
    world.enrollment.student_teacher_id = world.teacher.id
    db.session.commit()
    world.book(TUE9, now=now, teacher=other)
    db.session.expire_all()
    assert world.enrollment.student_teacher_id == world.teacher.id


def test_a_completed_enrollment_may_still_book(world, now):
    world.enrollment.status = EnrollmentStatus.completed
    db.session.commit()
    world.book(TUE9, now=now)
    db.session.expire_all()
    assert world.enrollment.status == EnrollmentStatus.completed  # not moved back to in_progress


def test_the_creator_can_be_booked_when_they_have_availability(world, now):
    week(world.creator, now=now)
    session = world.book(TUE9, now=now, teacher=world.creator)
    assert session.teacher_id == world.creator.id


# --- who may book whom ---------------------------------------------------------------------------


def test_not_enrolled(world, make, now):
    with pytest.raises(RuleViolation) as excinfo:
        world.book(TUE9, now=now, student=make.user())
    assert code_of(excinfo) == "not_enrolled"


@pytest.mark.parametrize("status", [EnrollmentStatus.cancelled, EnrollmentStatus.frozen])
def test_a_cancelled_or_frozen_enrollment_cannot_book(world, now, status):
    world.enrollment.status = status
    db.session.commit()
    with pytest.raises(RuleViolation) as excinfo:
        world.book(TUE9, now=now)
    assert code_of(excinfo) == "not_enrolled"
    assert sessions_of(world.enrollment.id) == []


def test_not_a_teacher(world, make, now):
    stranger = make.user()
    week_of_other_course = make.user()
    make.student_teacher(week_of_other_course, make.course())
    week(week_of_other_course, now=now)
    retired = make.user()
    make.student_teacher(retired, world.course, is_active=False)
    for teacher_id in (stranger.id, week_of_other_course.id, retired.id, world.student.id, "not-a-uuid"):
        with pytest.raises(RuleViolation) as excinfo:
            services.book(world.student, course_id=world.course.id, teacher_id=teacher_id, start=TUE9, now=now)
        assert code_of(excinfo) == "not_a_teacher", teacher_id


def test_an_unknown_course_is_404(world, now):
    with pytest.raises(NotFound):
        services.book(world.student, course_id="nope", teacher_id=world.teacher.id, start=TUE9, now=now)


# --- when ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        at(1, 8),  # before the day's window
        at(1, 9, 30),  # inside it but not a slot start
        at(1, 16, 30),  # would end after 17:00
        at(5, 10),  # Saturday
    ],
)
def test_outside_availability(world, now, start):
    with pytest.raises(RuleViolation) as excinfo:
        world.book(start, now=now)
    assert code_of(excinfo) == "outside_availability"


def test_a_paused_teacher_a_blocked_date_and_no_settings_are_outside_availability(world, make, now):
    week(world.teacher, now=now, blocked_dates=["2026-11-24"])
    with pytest.raises(RuleViolation) as excinfo:
        world.book(TUE9, now=now)
    assert code_of(excinfo) == "outside_availability"
    world.book(at(2, 9), now=now)  # Wednesday is fine

    week(world.teacher, now=now, paused=True)
    with pytest.raises(RuleViolation) as excinfo:
        world.book(at(3, 9), now=now)
    assert code_of(excinfo) == "outside_availability"

    unset = make.user()
    make.student_teacher(unset, world.course)
    with pytest.raises(RuleViolation) as excinfo:
        world.book(at(3, 9), now=now, teacher=unset)
    assert code_of(excinfo) == "outside_availability"


def test_too_soon_in_the_past_and_inside_the_notice(world, now):
    for start in (at(0, 9), at(0, 14)):  # Monday 09:00 has passed; 14:00 is inside the 4 hours' notice
        with pytest.raises(RuleViolation) as excinfo:
            world.book(start, now=now)
        assert code_of(excinfo) == "too_soon", start
    assert world.book(at(0, 16), now=now).scheduled_start == at(0, 16)  # exactly 4 hours ahead


def test_too_far(world, now):
    with pytest.raises(RuleViolation) as excinfo:
        world.book(at(15, 9), now=now)  # 15 days ahead, a 14-day window
    assert code_of(excinfo) == "too_far"


@pytest.mark.parametrize(
    "start, message",
    [
        ("2026-11-24T09:00:00", "zone"),  # naive
        ("2026-11-24 nine", "ISO 8601"),
        ("", "Give a time"),
        (None, "Give a time"),
        (1234, "Give a time"),
        ("x" * 100, "not a time"),
    ],
)
def test_naive_or_malformed_times_are_400_with_the_field(world, now, start, message):
    with pytest.raises(ValidationError) as excinfo:
        world.book(start, now=now)
    assert message in excinfo.value.fields["start"]


def test_an_offset_time_is_the_same_instant(world, now):
    session = world.book("2026-11-24T14:30:00+05:30", now=now)
    assert session.scheduled_start == TUE9


# --- sessions left and the counting rules ----------------------------------------------------------


def test_no_sessions_left_against_the_snapshot(world, now):
    world.course.session_count = 10  # a later edit of the course changes nothing sold
    db.session.commit()
    world.book(TUE9, now=now)
    world.book(at(1, 10), now=now)
    with pytest.raises(RuleViolation) as excinfo:
        world.book(at(1, 11), now=now)
    assert code_of(excinfo) == "no_sessions_left"


def _set(session, **values):
    for name, value in values.items():
        setattr(session, name, value)
    db.session.commit()


@pytest.mark.parametrize(
    "outcome, counts",
    [
        ({"status": SessionStatus.completed}, True),
        ({"status": SessionStatus.in_progress}, True),
        ({"status": SessionStatus.no_show, "no_show_by": NoShowBy.student}, True),
        ({"status": SessionStatus.no_show, "no_show_by": NoShowBy.teacher}, False),
        ({"status": SessionStatus.cancelled, "late_cancellation": True, "by": "student"}, True),
        ({"status": SessionStatus.cancelled, "late_cancellation": True, "by": "teacher"}, False),
        ({"status": SessionStatus.cancelled, "late_cancellation": False, "by": "student"}, False),
    ],
)
def test_what_uses_a_session(world, now, outcome, counts):
    outcome = dict(outcome)
    by = outcome.pop("by", None)
    if by:
        outcome["cancelled_by"] = world.student.id if by == "student" else world.teacher.id
    first = world.book(TUE9, now=now)
    _set(first, **outcome)
    world.book(at(1, 10), now=now)
    delivered = 1 if counts and outcome["status"] != SessionStatus.in_progress else 0
    assert services.delivered_count(world.enrollment.id) == delivered
    assert services.used_count(world.enrollment.id) == (2 if counts else 1)
    if counts:
        with pytest.raises(RuleViolation) as excinfo:
            world.book(at(1, 11), now=now)
        assert code_of(excinfo) == "no_sessions_left"
    else:
        world.book(at(1, 11), now=now)


# --- races the locks decide (one process; the threads are in test_booking_concurrency) --------------


def test_a_taken_slot_is_409_slot_unavailable(world, enrolled, now):
    world.book(TUE9, now=now)
    with pytest.raises(Conflict) as excinfo:
        world.book(TUE9, now=now, student=enrolled())
    assert code_of(excinfo) == "slot_unavailable"
    assert excinfo.value.message == "This time is no longer available. Select another."


def test_the_buffer_keeps_slots_clear_of_a_session(world, enrolled, now):
    week(world.teacher, now=now, buffer_minutes=15)  # slots 09:00, 10:15, 11:30, 12:45 …
    # A session off the grid (as an accepted request makes them): 10:40-11:40.
    services.book(
        world.student,
        course_id=world.course.id,
        teacher_id=world.teacher.id,
        start=at(1, 10, 40),
        now=now,
        within_availability=False,
    )
    free = services.free_slots_for([world.teacher.id], now=now)[world.teacher.id]
    assert at(1, 9) in free  # ends 10:00, 40 minutes clear
    assert at(1, 10, 15) not in free and at(1, 11, 30) not in free  # 11:30 is only 10 minutes after 11:40
    assert at(1, 12, 45) in free
    with pytest.raises(Conflict) as excinfo:
        world.book(at(1, 11, 30), now=now, student=enrolled())
    assert code_of(excinfo) == "slot_unavailable"


def test_a_student_cannot_be_in_two_sessions_at_once(world, make, now):
    other_course = make.course(creator=world.creator)
    other_teacher = make.user()
    make.student_teacher(other_teacher, other_course)
    week(other_teacher, now=now)
    make.enrollment(world.student, other_course)
    world.book(TUE9, now=now)
    with pytest.raises(Conflict) as excinfo:
        services.book(world.student, course_id=other_course.id, teacher_id=other_teacher.id, start=TUE9, now=now)
    assert code_of(excinfo) == "slot_unavailable"
    free = services.free_slots_for([other_teacher.id], now=now, student_id=world.student.id)[other_teacher.id]
    assert TUE9 not in free and at(1, 10) in free


def test_an_idempotency_key_returns_the_first_booking(world, now):
    first = services.book(
        world.student, course_id=world.course.id, teacher_id=world.teacher.id, start=TUE9, now=now, idempotency_key="k"
    )
    again = services.book(
        world.student, course_id=world.course.id, teacher_id=world.teacher.id, start=TUE9, now=now, idempotency_key="k"
    )
    assert again.id == first.id
    assert len(sessions_of(world.enrollment.id)) == 1


# --- cancelling --------------------------------------------------------------------------------


def test_an_early_cancellation_needs_no_reason_and_frees_the_slot_and_the_place(world, now):
    session = world.book(at(2, 9), now=now)  # 45 hours ahead
    cancelled = services.cancel(world.student, session.id, now=now)
    assert cancelled.status == SessionStatus.cancelled
    assert cancelled.late_cancellation is False
    assert cancelled.cancelled_by == world.student.id
    assert cancelled.number is None
    assert cancelled.sequence == 1
    assert services.used_count(world.enrollment.id) == 0
    assert at(2, 9) in services.free_slots_for([world.teacher.id], now=now)[world.teacher.id]
    with pytest.raises(Conflict) as excinfo:
        services.cancel(world.student, session.id, now=now)
    assert code_of(excinfo) == "not_cancellable"


def test_a_late_cancellation_needs_a_reason(world, now):
    session = world.book(TUE9, now=now)  # 21 hours ahead
    for reason in (None, "", "   "):
        with pytest.raises(ValidationError) as excinfo:
            services.cancel(world.student, session.id, reason=reason, now=now)
        assert "reason" in excinfo.value.fields
    db.session.expire_all()
    assert db.session.get(TutoringSession, session.id).status == SessionStatus.scheduled


def test_someone_elses_session_is_404(world, make, now):
    session = world.book(TUE9, now=now)
    stranger = make.user()
    for call in (
        lambda: services.cancel(stranger, session.id, reason="x", now=now),
        lambda: services.reschedule(stranger, session.id, start=at(2, 9), now=now),
        lambda: services.participant_session(stranger, session.id),
        lambda: services.participant_session(world.student, "not-a-uuid"),
    ):
        with pytest.raises(NotFound):
            call()
    admin = make.admin()
    assert services.participant_session(admin, session.id, allow_admin=True).id == session.id
    with pytest.raises(NotFound):
        services.participant_session(admin, session.id)


@pytest.fixture
def sold(app, make, now, world):
    """A paid enrollment (a real transaction, so releases have a pool) in the world's course."""
    student = make.user(name="Paying Student")
    enrollment = paid(app, student, world.course, now=now)
    return student, enrollment


def _releases(session_id) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            sa.select(LedgerEntry).where(
                LedgerEntry.session_id == session_id,
                LedgerEntry.kind == LedgerKind.teaching_release,
                LedgerEntry.account == LedgerAccount.earnings,
            )
        )
    )


def test_a_students_late_cancellation_uses_the_session_and_pays_the_teacher(world, sold, now):
    student, enrollment = sold
    session = world.book(TUE9, now=now, student=student)
    services.cancel(student, session.id, reason="Sick", now=now)
    db.session.expire_all()
    session = db.session.get(TutoringSession, session.id)
    assert (session.status, session.late_cancellation, session.cancel_reason) == (
        SessionStatus.cancelled,
        True,
        "Sick",
    )
    assert session.number == 1  # it still counts
    assert services.delivered_count(enrollment.id) == 1
    assert services.used_count(enrollment.id) == 1
    (release,) = _releases(session.id)
    assert release.recipient_id == world.teacher.id and release.amount_cents > 0
    assert payments.delivered_sessions(enrollment) == 1


def test_a_teachers_late_cancellation_never_uses_the_session(world, sold, now):
    student, enrollment = sold
    session = world.book(TUE9, now=now, student=student)
    services.cancel(world.teacher, session.id, reason="Ill", now=now)
    db.session.expire_all()
    session = db.session.get(TutoringSession, session.id)
    assert session.late_cancellation is True and session.cancelled_by == world.teacher.id
    assert session.number is None
    assert services.used_count(enrollment.id) == 0
    assert _releases(session.id) == []
    assert payments.delivered_sessions(enrollment) == 0


# --- rescheduling ------------------------------------------------------------------------------


def test_reschedule_moves_the_session_and_renumbers(world, now):
    first = world.book(at(2, 9), now=now)
    second = world.book(at(3, 9), now=now)
    moved = services.reschedule(world.student, first.id, start=z(at(4, 9)), now=now)
    assert (moved.scheduled_start, moved.scheduled_end) == (at(4, 9), at(4, 10))
    assert moved.sequence == 1
    assert [(s.id, s.number) for s in sessions_of(world.enrollment.id)] == [(second.id, 1), (first.id, 2)]
    free = services.free_slots_for([world.teacher.id], now=now)[world.teacher.id]
    assert at(2, 9) in free and at(4, 9) not in free


def test_reschedule_into_a_taken_slot_keeps_the_old_time(world, enrolled, now):
    mine = world.book(at(2, 9), now=now)
    world.book(at(3, 9), now=now, student=enrolled())
    with pytest.raises(Conflict) as excinfo:
        services.reschedule(world.student, mine.id, start=at(3, 9), now=now)
    assert code_of(excinfo) == "slot_unavailable"
    db.session.rollback()
    db.session.expire_all()
    kept = db.session.get(TutoringSession, mine.id)
    assert (kept.scheduled_start, kept.status, kept.sequence) == (at(2, 9), SessionStatus.scheduled, 0)


def test_reschedule_follows_the_booking_rules(world, now):
    session = world.book(at(2, 9), now=now)
    for start, code in ((at(2, 8), "outside_availability"), (at(0, 13), "too_soon"), (at(20, 9), "too_far")):
        with pytest.raises(RuleViolation) as excinfo:
            services.reschedule(world.student, session.id, start=start, now=now)
        assert code_of(excinfo) == code
    with pytest.raises(ValidationError):
        services.reschedule(world.student, session.id, start="2026-11-26T09:00:00", now=now)


def test_inside_24_hours_only_the_teacher_moves_a_session_and_says_why(world, now):
    session = world.book(TUE9, now=now)
    with pytest.raises(RuleViolation) as excinfo:
        services.reschedule(world.student, session.id, start=at(2, 9), now=now)
    assert code_of(excinfo) == "too_late_to_reschedule"
    with pytest.raises(ValidationError) as excinfo:
        services.reschedule(world.teacher, session.id, start=at(2, 9), now=now)
    assert "reason" in excinfo.value.fields
    moved = services.reschedule(world.teacher, session.id, start=at(2, 9), reason="A clash", now=now)
    assert moved.scheduled_start == at(2, 9)


def test_a_cancelled_session_cannot_be_moved(world, now):
    session = world.book(at(2, 9), now=now)
    services.cancel(world.student, session.id, now=now)
    with pytest.raises(Conflict) as excinfo:
        services.reschedule(world.student, session.id, start=at(3, 9), now=now)
    assert code_of(excinfo) == "not_reschedulable"


# --- the enrollment ending ----------------------------------------------------------------------


def test_a_refund_that_ends_the_enrollment_cancels_its_future_sessions(world, sold, now):
    student, enrollment = sold
    upcoming = world.book(at(2, 9), now=now, student=student)
    past = world.book(at(3, 9), now=now, student=student)
    _set(past, status=SessionStatus.completed)
    later = now + timedelta(hours=1)
    payments.cancel_enrollment(student, enrollment.id, reason=None, now=later)
    db.session.expire_all()
    upcoming = db.session.get(TutoringSession, upcoming.id)
    assert upcoming.status == SessionStatus.cancelled
    assert upcoming.late_cancellation is False and upcoming.cancelled_by is None
    assert upcoming.cancel_reason == "The enrollment ended."
    assert upcoming.sequence == 1
    assert db.session.get(TutoringSession, past.id).status == SessionStatus.completed
    assert at(2, 9) in services.free_slots_for([world.teacher.id], now=later)[world.teacher.id]


def test_cancel_future_sessions_leaves_past_ones(world, now):
    session = world.book(TUE9, now=now)
    assert services.cancel_future_sessions(world.enrollment, at(1, 9, 30)) == 0
    assert services.cancel_future_sessions(world.enrollment, now) == 1
    db.session.expire_all()
    assert db.session.get(TutoringSession, session.id).status == SessionStatus.cancelled


# --- the checkout hold --------------------------------------------------------------------------


def test_a_checkout_holds_the_time_and_paying_books_it(app, world, make, now):
    buyer = make.user()
    checkout = payments.start_checkout(buyer, world.course.id, student_teacher_id=world.teacher.id, start=TUE9, now=now)
    hold = services.held_session(checkout.id)
    assert hold.status == SessionStatus.held and hold.enrollment_id is None
    assert TUE9 not in services.free_slots_for([world.teacher.id], now=now)[world.teacher.id]
    with pytest.raises(Conflict) as excinfo:
        world.book(TUE9, now=now)
    assert code_of(excinfo) == "slot_unavailable"

    sandbox.pay(checkout.gateway_session_id, now=now)
    run_jobs(app)
    db.session.expire_all()
    enrollment = db.session.get(type(world.enrollment), checkout.enrollment_id)
    assert enrollment.status == EnrollmentStatus.in_progress
    assert enrollment.student_teacher_id == world.teacher.id
    (session,) = sessions_of(enrollment.id)
    assert (session.id, session.status, session.number, session.scheduled_start) == (
        hold.id,
        SessionStatus.scheduled,
        1,
        TUE9,
    )
    assert session.hold_expires_at is None


def test_a_hold_that_lapsed_while_the_time_was_taken_leaves_the_enrollment_without_a_session(app, world, make, now):
    buyer = make.user()
    checkout = payments.start_checkout(buyer, world.course.id, student_teacher_id=world.teacher.id, start=TUE9, now=now)
    later = now + timedelta(hours=2)  # past the checkout's hour
    world.book(TUE9, now=later)  # the lapsed hold no longer keeps the time
    sandbox.pay(checkout.gateway_session_id, now=later)
    run_jobs(app)
    db.session.expire_all()
    enrollment = db.session.get(type(world.enrollment), checkout.enrollment_id)
    assert enrollment is not None and enrollment.status == EnrollmentStatus.enrolled
    assert sessions_of(enrollment.id) == []
    assert services.held_session(checkout.id).status == SessionStatus.lapsed


def test_a_lapsed_hold_whose_time_is_still_free_is_booked(app, world, make, now):
    buyer = make.user()
    checkout = payments.start_checkout(buyer, world.course.id, student_teacher_id=world.teacher.id, start=TUE9, now=now)
    later = now + timedelta(hours=2)
    sandbox.pay(checkout.gateway_session_id, now=later)
    run_jobs(app)
    db.session.expire_all()
    (session,) = sessions_of(checkout.enrollment_id)
    assert session.status == SessionStatus.scheduled and session.scheduled_start == TUE9


def test_a_hold_checks_the_time(world, make, now):
    buyer = make.user()
    with pytest.raises(RuleViolation) as excinfo:
        payments.start_checkout(buyer, world.course.id, student_teacher_id=world.teacher.id, start=at(1, 8), now=now)
    assert code_of(excinfo) == "outside_availability"
    with pytest.raises(ValidationError):
        payments.start_checkout(
            buyer, world.course.id, student_teacher_id=world.teacher.id, start="2026-11-24T09:00", now=now
        )


def test_paying_late_books_the_time_when_only_an_expired_hold_of_someone_else_covers_it(app, world, make, now):
    """A's hold lapses; B holds the same time and walks away (B's hold expires, not yet swept); A then
    pays: the time is free, so A gets it (PostgreSQL's exclusion constraint must not count B's dead hold)."""
    first, second = make.user(), make.user()
    checkout = payments.start_checkout(first, world.course.id, student_teacher_id=world.teacher.id, start=TUE9, now=now)
    payments.start_checkout(
        second, world.course.id, student_teacher_id=world.teacher.id, start=TUE9, now=now + timedelta(minutes=90)
    )
    paid_at = now + timedelta(hours=3)  # both holds have run out
    sandbox.pay(checkout.gateway_session_id, now=paid_at)
    run_jobs(app)
    db.session.expire_all()
    (session,) = sessions_of(checkout.enrollment_id)
    assert (session.status, session.scheduled_start, session.number) == (SessionStatus.scheduled, TUE9, 1)


def test_picking_another_time_in_the_same_checkout_books_the_second(app, world, make, now):
    """Both picks at the same ``now`` (a frozen test clock): the live hold is the one paid for."""
    buyer = make.user()
    first = payments.start_checkout(buyer, world.course.id, student_teacher_id=world.teacher.id, start=TUE9, now=now)
    again = payments.start_checkout(
        buyer, world.course.id, student_teacher_id=world.teacher.id, start=at(1, 11), now=now
    )
    assert again.id == first.id  # the open checkout is reused
    free = services.free_slots_for([world.teacher.id], now=now)[world.teacher.id]
    assert TUE9 in free and at(1, 11) not in free
    world.book(TUE9, now=now)  # someone else may take the first time now
    sandbox.pay(again.gateway_session_id, now=now)
    run_jobs(app)
    db.session.expire_all()
    checkout = db.session.get(type(first), first.id)
    (session,) = sessions_of(checkout.enrollment_id)
    assert services.held_session(checkout.id).id == session.id  # what the return page shows
    assert (session.scheduled_start, session.status) == (at(1, 11), SessionStatus.scheduled)


def test_a_session_that_has_started_can_no_longer_be_cancelled_or_moved(world, now):
    session = world.book(TUE9, now=now)
    later = TUE9 + timedelta(minutes=5)
    for call in (
        lambda: services.cancel(world.student, session.id, reason="overslept", now=later),
        lambda: services.cancel(world.teacher, session.id, reason="ran late", now=later),
        lambda: services.reschedule(world.teacher, session.id, start=at(2, 9), reason="sorry", now=later),
    ):
        with pytest.raises(Conflict) as excinfo:
            call()
        assert excinfo.value.code in ("not_cancellable", "not_reschedulable")
    db.session.expire_all()
    assert db.session.get(TutoringSession, session.id).status == SessionStatus.scheduled


def test_a_frozen_enrollment_cannot_move_its_sessions(world, now):
    session = world.book(at(3, 9), now=now)
    world.enrollment.status = EnrollmentStatus.frozen
    db.session.commit()
    with pytest.raises(RuleViolation) as excinfo:
        services.reschedule(world.student, session.id, start=at(4, 9), now=now)
    assert excinfo.value.code == "not_enrolled"
    db.session.expire_all()
    assert db.session.get(TutoringSession, session.id).scheduled_start == at(3, 9)
