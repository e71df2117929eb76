"""What people are told about a session's room and its end: reminders, outcomes, feedback prompts,
contests. Each in the reader's own zone, each once (notify's dedupe keys), inside the caller's
transaction (``commit=False``)."""

from __future__ import annotations

from datetime import datetime

from peerloop.accounts.models import User
from peerloop.notifications.services import admins, notify
from peerloop.scheduling.models import TutoringSession
from peerloop.timezones import format_local
from peerloop.urls import site_path

OUTCOME_WORDS = {
    "completed": "completed",
    "student_no_show": "a no-show by the student",
    "teacher_no_show": "a no-show by the Student-Teacher",
}


def _label(session: TutoringSession) -> str:
    course = session.course.title
    if session.number and session.enrollment is not None:
        return f"{course}, session {session.number} of {session.enrollment.session_count}"
    return course


def _page(session: TutoringSession) -> str:
    return site_path("scheduling.session_page", session_id=session.id)


def _tell(
    viewer: User,
    session: TutoringSession,
    kind: str,
    *,
    title: str,
    body: str,
    key: str,
    now: datetime,
    action_url: str | None = None,
    attach_ics: bool = False,
):
    from peerloop.scheduling.ics import session_attachment
    from peerloop.scheduling.services import uid_domain
    from peerloop.urls import external_url

    other = session.teacher if viewer.id == session.student_id else session.student
    attachments = None
    if attach_ics:
        url = external_url("scheduling.session_page", session_id=session.id)
        attachments = [session_attachment(session, viewer=viewer, url=url, uid_domain=uid_domain())]
    return notify(
        viewer,
        kind,
        title=title,
        body=body,
        dedupe_key=key,
        now=now,
        action_url=action_url or _page(session),
        email_template="session_change",
        email_context={
            "session": session,
            "other": other,
            "when": format_local(session.scheduled_start, viewer.timezone),
            "label": _label(session),
        },
        attachments=attachments,
        commit=False,
    )


def _people(session: TutoringSession) -> tuple[User, User]:
    return session.student, session.teacher


# --- reminders and prompts -------------------------------------------------------------------


def reminder_key(kind: str, session: TutoringSession) -> str:
    # The scheduled start is part of the key: a moved session is reminded again for its new time.
    return f"{kind}:{session.id}:{session.scheduled_start.isoformat()}"


def remind(session: TutoringSession, viewer: User, kind: str, *, now: datetime) -> None:
    other = session.teacher if viewer.id == session.student_id else session.student
    when = format_local(session.scheduled_start, viewer.timezone)
    soon = kind == "reminder_30m"
    _tell(
        viewer,
        session,
        kind,
        title=(
            f"In 30 minutes: {_label(session)} with {other.name}"
            if soon
            else f"Coming up: {_label(session)} with {other.name}, {when}"
        ),
        body=(
            f"{_label(session)} with {other.name} starts at {when}. "
            + (
                "The Join button is on the session's page now."
                if soon
                else "The Join button appears on the session's page 15 minutes before the start."
            )
        ),
        key=reminder_key(kind, session),
        now=now,
        attach_ics=True,
    )


def prompt_feedback(session: TutoringSession, viewer: User, kind: str, *, now: datetime) -> None:
    other = session.teacher if viewer.id == session.student_id else session.student
    again = kind == "feedback_prompt_2"
    _tell(
        viewer,
        session,
        kind,
        title=f"{'A last ask: how' if again else 'How'} was your session with {other.name}?",
        body=f"Rate {_label(session)} with {other.name}: one to five stars and a line, on the session's page.",
        key=reminder_key(kind, session),
        now=now,
        action_url=_page(session) + "#feedback",
    )


# --- outcomes --------------------------------------------------------------------------------


def settled(session: TutoringSession, outcome, *, source, now: datetime) -> None:
    words = OUTCOME_WORDS[outcome.value]
    held = session.release_after is not None
    for viewer in _people(session):
        is_student = viewer.id == session.student_id
        if outcome.value == "teacher_no_show":
            extra = (
                " The session goes back to you: book another time when you are ready."
                if is_student
                else " You are not paid for it, and PeerLoop has been told."
            )
        elif held and is_student:
            until = format_local(session.release_after, viewer.timezone)
            extra = f" If that is not what happened, contest it on the session's page before {until}."
        elif held:
            extra = " Your share is released after 48 hours unless your student contests it."
        elif outcome.value == "student_no_show" and is_student:
            extra = " A missed session counts as used."
        else:
            extra = ""
        _tell(
            viewer,
            session,
            "session_outcome",
            title=f"{_label(session)}: {words}",
            body=f"{_label(session)} ({format_local(session.scheduled_start, viewer.timezone)}) was {words}.{extra}",
            key=f"session_outcome:{session.id}:{outcome.value}",
            now=now,
        )
    if outcome.value == "teacher_no_show":
        for admin in admins():
            notify(
                admin,
                "teacher_no_show",
                title=f"Teacher no-show: {session.teacher.name}, {session.course.title}",
                body=(
                    f"{session.teacher.name} did not come to the session of "
                    f"{format_local(session.scheduled_start, admin.timezone)} with {session.student.name}. "
                    "The session went back to the student."
                ),
                dedupe_key=f"teacher_no_show:{session.id}",
                now=now,
                action_url=f"/admin/sessions/details/?id={session.id}",
                commit=False,
            )


def ask_teacher_to_settle(session: TutoringSession, *, now: datetime) -> None:
    """Nobody was recorded in the room: the teacher says how it went (once)."""
    key = f"settle_session:{session.id}:{session.scheduled_start.isoformat()}"
    _tell(
        session.teacher,
        session,
        "settle_session",
        title=f"How did {_label(session)} go?",
        body=(
            "Nobody was recorded in the room. Mark it completed or a no-show by your student on the "
            "session's page; after 7 days it counts as your no-show."
        ),
        key=key,
        now=now,
    )


def contested(session: TutoringSession, *, now: datetime) -> None:
    _tell(
        session.teacher,
        session,
        "session_contested",
        title=f"{session.student.name} contests how {_label(session)} was marked",
        body=f'Your share waits until PeerLoop decides. Their words: "{session.contest_reason}"',
        key=f"session_contested:{session.id}",
        now=now,
    )
    for admin in admins():
        notify(
            admin,
            "session_contested",
            title=f"Contest: {session.course.title}, {session.student.name} vs {session.teacher.name}",
            body=f'"{session.contest_reason}"',
            dedupe_key=f"session_contested:{session.id}",
            now=now,
            action_url="/admin/contests/",
            commit=False,
        )


def contest_resolved(session: TutoringSession, resolution, *, now: datetime) -> None:
    for viewer in _people(session):
        is_student = viewer.id == session.student_id
        if resolution.value == "teacher_paid":
            body = "PeerLoop looked into it: the teacher's account stands."
        elif is_student:
            body = "PeerLoop looked into it: the session goes back to you. Book another time when you are ready."
        else:
            body = "PeerLoop looked into it: the session counts as your no-show and is not paid."
        _tell(
            viewer,
            session,
            "contest_resolved",
            title=f"Decided: {_label(session)}",
            body=body,
            key=f"contest_resolved:{session.id}",
            now=now,
        )
