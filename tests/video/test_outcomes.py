"""How sessions end without webhooks (link rooms, the embedded default) and by hand: the sweep
settles from attendance, pays the teacher's share once, hands nobody-came sessions to the teacher,
and a hand-marked outcome waits 48 hours in which the student may contest it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.cli import run_sweep
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.payments.models import LedgerAccount, LedgerEntry, LedgerKind
from peerloop.scheduling import services as scheduling
from peerloop.scheduling.models import NoShowBy, SessionStatus, TutoringSession
from peerloop.video import outcomes
from peerloop.video.models import Attendance
from peerloop.video.services import join
from tests.scheduling.conftest import at

TUE9 = at(1, 9)
END = TUE9 + timedelta(hours=1)


@pytest.fixture
def booked(paid_world, now):
    return paid_world.book(TUE9, now=now)


def releases(session_id) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            sa.select(LedgerEntry).where(
                LedgerEntry.session_id == session_id,
                LedgerEntry.kind == LedgerKind.teaching_release,
                LedgerEntry.account == LedgerAccount.earnings,
            )
        )
    )


def fresh(session_id) -> TutoringSession:
    db.session.expire_all()
    return db.session.get(TutoringSession, session_id)


def notes(user, kind) -> list[Notification]:
    return list(
        db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id, Notification.type == kind))
    )


def test_both_joined_a_link_room_the_sweep_completes_it_an_hour_after_and_pays_once(paid_world, booked):
    join(paid_world.student, booked.id, now=TUE9 - timedelta(minutes=3))
    join(paid_world.teacher, booked.id, now=TUE9 + timedelta(minutes=1))
    assert run_sweep(END + timedelta(minutes=59))["sessions_settled"]["settled"] == 0  # not yet
    assert fresh(booked.id).status == SessionStatus.in_progress
    result = run_sweep(END + timedelta(hours=1))
    assert result["sessions_settled"]["settled"] == 1
    run_sweep(END + timedelta(hours=1, minutes=1))  # a second pass, or an overlapping one
    session = fresh(booked.id)
    assert (session.status, session.outcome_source, session.ended_at) == (SessionStatus.completed, "sweep", END)
    paid = releases(booked.id)
    assert len(paid) == 1 and paid[0].recipient_id == paid_world.teacher.id and paid[0].amount_cents > 0
    stays = db.session.scalars(sa.select(Attendance).where(Attendance.session_id == booked.id)).all()
    assert sorted(s.duration_seconds for s in stays) == [59 * 60, 63 * 60]  # closed at the booked end
    assert len(notes(paid_world.student, "session_outcome")) == 1
    assert len(notes(paid_world.teacher, "session_outcome")) == 1


def test_only_the_teacher_came_is_the_students_no_show_and_still_pays(paid_world, booked):
    join(paid_world.teacher, booked.id, now=TUE9)
    run_sweep(END + timedelta(hours=1))
    session = fresh(booked.id)
    assert (session.status, session.no_show_by) == (SessionStatus.no_show, NoShowBy.student)
    assert len(releases(booked.id)) == 1
    assert scheduling.delivered_count(paid_world.enrollment.id) == 1


def test_only_the_student_came_is_the_teachers_no_show_the_session_goes_back_and_brian_is_told(paid_world, booked):
    join(paid_world.student, booked.id, now=TUE9)
    run_sweep(END + timedelta(hours=1))
    session = fresh(booked.id)
    assert (session.status, session.no_show_by, session.number) == (SessionStatus.no_show, NoShowBy.teacher, None)
    assert releases(booked.id) == []
    assert scheduling.used_count(paid_world.enrollment.id) == 0  # both sessions are the student's again
    told = notes(paid_world.admin, "teacher_no_show")
    assert len(told) == 1 and "Marcus Teacher" in told[0].title
    student_note = notes(paid_world.student, "session_outcome")[0]
    assert "goes back to you" in student_note.body


def test_nobody_came_the_teacher_is_asked_once_and_after_seven_days_it_is_their_no_show(paid_world, booked):
    run_sweep(END + timedelta(hours=1))
    run_sweep(END + timedelta(hours=2))
    assert len(notes(paid_world.teacher, "settle_session")) == 1
    assert fresh(booked.id).status == SessionStatus.scheduled
    result = run_sweep(END + timedelta(days=7))
    assert result["sessions_settled"]["expired"] == 1
    session = fresh(booked.id)
    assert (session.status, session.no_show_by) == (SessionStatus.no_show, NoShowBy.teacher)
    assert releases(booked.id) == []


def test_the_teacher_marks_it_completed_and_the_share_waits_48_hours(paid_world, booked):
    with pytest.raises(outcomes.RuleViolation):
        outcomes.mark_by_teacher(paid_world.teacher, booked.id, "completed", now=END - timedelta(minutes=1))
    with pytest.raises(outcomes.Forbidden):
        outcomes.mark_by_teacher(paid_world.student, booked.id, "completed", now=END)
    with pytest.raises(outcomes.ValidationError):
        outcomes.mark_by_teacher(paid_world.teacher, booked.id, "teacher_no_show", now=END)
    outcomes.mark_by_teacher(paid_world.teacher, booked.id, "completed", now=END + timedelta(minutes=5))
    session = fresh(booked.id)
    assert session.status == SessionStatus.completed and session.outcome_source == "teacher"
    assert session.release_after == END + timedelta(minutes=5, hours=48)
    assert releases(booked.id) == []
    # Delivered meanwhile: the refund quote counts it.
    assert scheduling.delivered_count(paid_world.enrollment.id) == 1
    with pytest.raises(outcomes.Conflict):
        outcomes.mark_by_teacher(paid_world.teacher, booked.id, "student_no_show", now=END + timedelta(minutes=6))
    run_sweep(END + timedelta(hours=48))
    assert releases(booked.id) == []
    run_sweep(END + timedelta(hours=48, minutes=5))
    run_sweep(END + timedelta(hours=48, minutes=6))
    assert len(releases(booked.id)) == 1 and fresh(booked.id).release_after is None


def test_a_contest_holds_the_share_until_brian_decides(paid_world, booked):
    outcomes.mark_by_teacher(paid_world.teacher, booked.id, "student_no_show", now=END)
    with pytest.raises(outcomes.Forbidden):
        outcomes.contest(paid_world.teacher, booked.id, "no", now=END + timedelta(hours=1))
    with pytest.raises(outcomes.ValidationError):
        outcomes.contest(paid_world.student, booked.id, "   ", now=END + timedelta(hours=1))
    outcomes.contest(paid_world.student, booked.id, "I was there, the link did not work", now=END + timedelta(hours=1))
    assert len(notes(paid_world.admin, "session_contested")) == 1
    assert [s.id for s in db.session.scalars(outcomes.contested_sessions())] == [booked.id]
    run_sweep(END + timedelta(hours=49))
    assert releases(booked.id) == []  # held while contested
    outcomes.resolve_contest(paid_world.admin, booked.id, "returned", now=END + timedelta(hours=50))
    session = fresh(booked.id)
    assert (session.status, session.no_show_by, session.contest_resolution) == (
        SessionStatus.no_show,
        NoShowBy.teacher,
        "returned",
    )
    assert releases(booked.id) == [] and scheduling.used_count(paid_world.enrollment.id) == 0
    with pytest.raises(outcomes.Conflict):
        outcomes.resolve_contest(paid_world.admin, booked.id, "teacher_paid", now=END + timedelta(hours=51))


def test_brian_can_side_with_the_teacher_which_pays_now(paid_world, booked):
    outcomes.mark_by_teacher(paid_world.teacher, booked.id, "completed", now=END)
    outcomes.contest(paid_world.student, booked.id, "It was ten minutes long", now=END + timedelta(hours=47))
    with pytest.raises(outcomes.Forbidden):
        outcomes.resolve_contest(paid_world.teacher, booked.id, "teacher_paid", now=END + timedelta(hours=50))
    outcomes.resolve_contest(paid_world.admin, booked.id, "teacher_paid", now=END + timedelta(hours=50))
    assert len(releases(booked.id)) == 1
    assert fresh(booked.id).status == SessionStatus.completed


def test_a_contest_after_the_window_is_refused(paid_world, booked):
    outcomes.mark_by_teacher(paid_world.teacher, booked.id, "completed", now=END)
    with pytest.raises(outcomes.RuleViolation):
        outcomes.contest(paid_world.student, booked.id, "late", now=END + timedelta(hours=48))


def test_the_api_marks_and_contests_with_clear_errors(client, paid_world, booked, api_token, clock):
    teacher, student = api_token(paid_world.teacher), api_token(paid_world.student)
    path = f"/api/sessions/{booked.id}"
    clock(END - timedelta(minutes=1))
    early = client.post(f"{path}/outcome", json={"outcome": "completed"}, headers=teacher)
    assert early.status_code == 422 and early.get_json()["error"]["code"] == "not_finished"
    clock(END + timedelta(minutes=2))
    wrong = client.post(f"{path}/outcome", json={"outcome": "finished"}, headers=teacher)
    assert wrong.status_code == 400 and "outcome" in wrong.get_json()["error"]["fields"]
    by_student = client.post(f"{path}/outcome", json={"outcome": "completed"}, headers=student)
    assert by_student.status_code == 403 and by_student.get_json()["error"]["code"] == "not_teacher"
    marked = client.post(f"{path}/outcome", json={"outcome": "completed"}, headers=teacher)
    body = marked.get_json()
    assert marked.status_code == 200 and body["status"] == "completed" and body["outcome_source"] == "teacher"
    assert body["release_after"] is not None and body["contested"] is False
    again = client.post(f"{path}/outcome", json={"outcome": "completed"}, headers=teacher)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_settled"
    empty = client.post(f"{path}/contest", json={}, headers=student)
    assert empty.status_code == 400 and "reason" in empty.get_json()["error"]["fields"]
    contested = client.post(f"{path}/contest", json={"reason": "It did not happen"}, headers=student)
    assert contested.status_code == 200 and contested.get_json()["contested"] is True
    twice = client.post(f"{path}/contest", json={"reason": "Again"}, headers=student)
    assert twice.status_code == 422 and twice.get_json()["error"]["code"] == "not_contestable"


def test_old_sessions_waiting_for_their_teacher_never_crowd_out_newer_ones(paid_world, enrolled_paid, monkeypatch):
    monkeypatch.setattr(outcomes, "SWEEP_BATCH", 2)
    waiting = [paid_world.book(at(1, hour), now=at(0, 9)) for hour in (9, 11)]  # nobody will come
    other = enrolled_paid()
    attended_one = paid_world.book(at(1, 13), now=at(0, 9), student=other)
    join(paid_world.teacher, attended_one.id, now=at(1, 13))
    join(other, attended_one.id, now=at(1, 13))
    first = run_sweep(at(1, 16))  # the two old ones fill the batch: their teacher is asked
    assert first["sessions_settled"]["asked"] == 2
    second = run_sweep(at(1, 16, 1))
    assert second["sessions_settled"]["settled"] == 1
    assert fresh(attended_one.id).status == SessionStatus.completed
    assert {fresh(s.id).status for s in waiting} == {SessionStatus.scheduled}


def test_the_teacher_cannot_hand_mark_a_session_the_room_saw_them_miss(paid_world, booked):
    join(paid_world.student, booked.id, now=TUE9)
    with pytest.raises(outcomes.RuleViolation) as refused:
        outcomes.mark_by_teacher(paid_world.teacher, booked.id, "completed", now=END + timedelta(minutes=5))
    assert refused.value.code == "attendance_disagrees"


def test_a_failing_sweep_step_does_not_stop_the_others(paid_world, booked, monkeypatch):
    def broken(now):
        raise RuntimeError("the reminders broke")

    monkeypatch.setattr("peerloop.video.reminders.send_reminders", broken)
    join(paid_world.student, booked.id, now=TUE9)
    join(paid_world.teacher, booked.id, now=TUE9)
    result = run_sweep(END + timedelta(hours=1))
    assert result["reminders_sent"] == "failed" and result["sessions_settled"]["settled"] == 1
