"""What both people are told when a session is booked, moved or cancelled: a bell, an email with the
.ics, each in their own zone. Called inside the use case's transaction (``commit=False``)."""

from __future__ import annotations

from datetime import datetime

from peerloop.accounts.models import User
from peerloop.notifications.services import notify
from peerloop.scheduling.models import TutoringSession
from peerloop.scheduling.services import uid_domain
from peerloop.timezones import format_local
from peerloop.urls import external_url, site_path


def _label(session: TutoringSession) -> str:
    course = session.course.title
    if session.number and session.enrollment is not None:
        return f"{course}, session {session.number} of {session.enrollment.session_count}"
    return course


def _send(session: TutoringSession, kind: str, *, title_for, body_for, key: str, now: datetime) -> None:
    from peerloop.scheduling.ics import session_attachment

    url = external_url("scheduling.session_page", session_id=session.id)
    for viewer, other in ((session.student, session.teacher), (session.teacher, session.student)):
        when = format_local(session.scheduled_start, viewer.timezone)
        notify(
            viewer,
            kind,
            title=title_for(other, when),
            body=body_for(other, when),
            dedupe_key=f"{kind}:{session.id}:{key}",
            now=now,
            action_url=site_path("scheduling.session_page", session_id=session.id),
            email_template="session_change",
            email_context={"session": session, "other": other, "when": when, "label": _label(session)},
            attachments=[session_attachment(session, viewer=viewer, url=url, uid_domain=uid_domain())],
            commit=False,
        )


def booked(session: TutoringSession, *, now: datetime) -> None:
    agenda = f' Agenda: "{session.agenda}".' if session.agenda else ""
    _send(
        session,
        "session_booked",
        title_for=lambda other, when: f"Booked: {_label(session)} with {other.name}, {when}",
        body_for=lambda other, when: f"{_label(session)} with {other.name} on {when}.{agenda} "
        "The calendar file is attached; the Join button is on the session's page.",
        key="booked",
        now=now,
    )


def rescheduled(
    session: TutoringSession, *, previous_start: datetime, by: User, reason: str | None, now: datetime
) -> None:
    why = f' Reason: "{reason}".' if reason else ""
    _send(
        session,
        "session_rescheduled",
        title_for=lambda other, when: f"Moved: {_label(session)} is now {when}",
        body_for=lambda other, when: f"{by.name} moved {_label(session)} to {when}.{why} "
        "The attached calendar file updates your calendar.",
        key=f"moved-{session.sequence}",
        now=now,
    )


def cancelled(session: TutoringSession, *, by: User | None, now: datetime) -> None:
    who = by.name if by else "PeerLoop"
    why = f' Reason: "{session.cancel_reason}".' if session.cancel_reason else ""

    def body(other, when):
        text = f"{who} cancelled {_label(session)} ({when}).{why}"
        if session.late_cancellation and by is not None and by.id == session.student_id:
            text += " It was less than 24 hours before the start, so the session counts as used."
        elif by is not None:
            text += " The session is not used up: book another time when you are ready."
        return text

    _send(
        session,
        "session_cancelled",
        title_for=lambda other, when: f"Cancelled: {_label(session)}, {when}",
        body_for=body,
        key="cancelled",
        now=now,
    )


def teacher_changed(session: TutoringSession, *, previous: User, now: datetime) -> None:
    """The student agreed to a new teacher in place of a deactivated one: the time stays."""
    _send(
        session,
        "session_teacher_changed",
        title_for=lambda other, when: f"New teacher: {_label(session)}, {when}",
        body_for=lambda other, when: f"{_label(session)} on {when} is now with {session.teacher.name} "
        f"(instead of {previous.name}). The attached calendar file updates your calendar.",
        key=f"teacher-{session.sequence}",
        now=now,
    )
