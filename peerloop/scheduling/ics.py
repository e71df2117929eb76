"""Sessions as iCalendar (RFC 5545): one session's file (the email attachment, the export) and the
private calendar feed.

Pure: everything comes in as arguments (the session with its course, teacher, student and
enrollment loaded, the viewer, the links); nothing here queries the database or reads a request.
The ``icalendar`` library writes every line, so user text (titles, names, agendas) is escaped and
folded as RFC 5545 requires.

One session is one event everywhere: its UID (``session-<id>@<uid_domain>``) never changes, and
its SEQUENCE is ``TutoringSession.sequence``, bumped on every change, so a calendar that already
has the event (from the email, the export or the feed) updates it in place. A cancelled session
stays in the files as ``STATUS:CANCELLED`` under ``METHOD:PUBLISH`` (calendars then strike it out
or drop it); ``METHOD:CANCEL`` belongs to iTIP scheduling with organizers and attendees, which we
do not use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from icalendar import Alarm, Calendar, Event, vDuration

from peerloop.accounts.models import User
from peerloop.notifications.interfaces import Attachment
from peerloop.scheduling.models import SessionStatus, TutoringSession

PRODID = "-//PeerLoop//Sessions//EN"
FEED_NAME = "PeerLoop sessions"
FEED_REFRESH = timedelta(hours=1)  # how often a subscribed calendar should fetch the feed again
REMINDER_BEFORE = timedelta(minutes=15)
ATTACHMENT_FILENAME = "peerloop-session.ics"
ATTACHMENT_CONTENT_TYPE = "text/calendar; charset=utf-8; method=PUBLISH"

# A held time is a checkout still open; a lapsed one ended unpaid (gone, as a cancellation is).
_EVENT_STATUS = {
    SessionStatus.held: "TENTATIVE",
    SessionStatus.cancelled: "CANCELLED",
    SessionStatus.lapsed: "CANCELLED",
}


def session_uid(session: TutoringSession, uid_domain: str) -> str:
    """The event's UID: stable for the session's whole life, whatever changes."""
    return f"session-{session.id}@{uid_domain}"


def session_calendar(session: TutoringSession, *, viewer: User, url: str, uid_domain: str) -> bytes:
    """One session as a calendar file, seen by ``viewer`` (named with the other participant).

    :raise ValueError: ``viewer`` is neither the session's teacher nor its student.
    """
    calendar = _calendar()
    calendar.add_component(_event(session, viewer=viewer, url=url, uid_domain=uid_domain))
    return calendar.to_ical()


def feed_calendar(
    sessions: Iterable[TutoringSession],
    *,
    viewer: User,
    url_for_session: Callable[[TutoringSession], str],
    uid_domain: str,
    name: str = FEED_NAME,
) -> bytes:
    """A person's sessions as one subscribable calendar, one event per session.

    :raise ValueError: ``viewer`` is not a participant of one of the sessions.
    """
    calendar = _calendar()
    calendar.add("name", name)  # RFC 7986
    calendar.add("x-wr-calname", name)  # what Apple, Google and Outlook read
    calendar.add("refresh-interval", vDuration(FEED_REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(FEED_REFRESH))
    for session in sessions:
        calendar.add_component(_event(session, viewer=viewer, url=url_for_session(session), uid_domain=uid_domain))
    return calendar.to_ical()


def session_attachment(session: TutoringSession, *, viewer: User, url: str, uid_domain: str) -> Attachment:
    """The .ics attached to a booking, move or cancellation email."""
    body = session_calendar(session, viewer=viewer, url=url, uid_domain=uid_domain)
    return Attachment(
        filename=ATTACHMENT_FILENAME,
        content_type=ATTACHMENT_CONTENT_TYPE,
        content=body.decode("utf-8"),
    )


# --- the parts --------------------------------------------------------------------------------


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    return calendar


def _other(session: TutoringSession, viewer: User) -> User:
    if viewer.id == session.student_id:
        return session.teacher
    if viewer.id == session.teacher_id:
        return session.student
    raise ValueError(f"{viewer!r} is not a participant of session {session.id}")


def _number_label(session: TutoringSession) -> str | None:
    """The number part, "session 1 of 2" ("session 1" with no enrollment to count from); None unnumbered."""
    if not session.number:
        return None
    enrollment = session.enrollment
    if enrollment is not None and enrollment.session_count:
        return f"session {session.number} of {enrollment.session_count}"
    return f"session {session.number}"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime in a session")
    return value.astimezone(UTC)


def _plain(text: str) -> str:
    """User text with one kind of line break (the library escapes the rest)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _event(session: TutoringSession, *, viewer: User, url: str, uid_domain: str) -> Event:
    other = _other(session, viewer)
    course = session.course.title
    number = _number_label(session)
    summary = f"{course}: {number} with {other.name}" if number else f"{course} with {other.name}"
    status = _EVENT_STATUS.get(session.status, "CONFIRMED")
    # DTSTAMP is required: the last change (a session not yet flushed has no timestamps).
    stamp = session.updated_at or session.created_at or session.scheduled_start

    description = [f"Course: {course}"]
    if number:
        description.append(number[0].upper() + number[1:])
    description.append(f"With: {other.name}")
    if status == "CANCELLED":
        description.append("This session was cancelled.")
    if session.agenda and session.agenda.strip():
        description.append(f"Agenda: {_plain(session.agenda)}")
    description.append(f"Session page (join here): {url}")

    event = Event()
    event.add("uid", session_uid(session, uid_domain))
    event.add("sequence", session.sequence or 0)
    event.add("dtstamp", _utc(stamp))
    event.add("last-modified", _utc(stamp))
    event.add("dtstart", _utc(session.scheduled_start))
    event.add("dtend", _utc(session.scheduled_end))
    event.add("summary", summary)
    event.add("description", "\n".join(description))
    event.add("url", url)
    event.add("status", status)
    event.add("transp", "TRANSPARENT" if status == "CANCELLED" else "OPAQUE")
    if status != "CANCELLED":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -REMINDER_BEFORE)
        event.add_component(alarm)
    return event
