"""Sessions as .ics: every file parses back, one session keeps one UID while its SEQUENCE follows
its changes, times are UTC, each side sees the other's name, and user text survives escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from peerloop.extensions import db
from peerloop.scheduling.ics import feed_calendar, session_attachment, session_calendar
from peerloop.scheduling.models import SessionStatus, TutoringSession

DOMAIN = "peerloop.test"


@pytest.fixture
def people(make):
    teacher = make.user(name="Marcus Lee")
    student = make.user(name="Ana Souza")
    course = make.course(title="Intro to Python", session_count=2, creator=teacher)
    enrollment = make.enrollment(student, course)
    return teacher, student, course, enrollment


def book(people, start: datetime, **values) -> TutoringSession:
    teacher, student, course, enrollment = people
    row = TutoringSession(
        enrollment=enrollment,
        course=course,
        teacher=teacher,
        student=student,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        **values,
    )
    db.session.add(row)
    db.session.flush()
    return row


def url(session: TutoringSession) -> str:
    return f"http://peerloop.test/sessions/{session.id}"


def parse(body: bytes):
    calendar = Calendar.from_ical(body)
    return calendar, calendar.walk("VEVENT")


def one_event(session: TutoringSession, viewer):
    body = session_calendar(session, viewer=viewer, url=url(session), uid_domain=DOMAIN)
    assert isinstance(body, bytes)
    calendar, events = parse(body)
    assert len(events) == 1
    return calendar, events[0]


def test_one_session_is_a_published_calendar(people, now):
    teacher, student, _, _ = people
    session = book(people, now + timedelta(days=2), number=1, agenda="Loops")
    calendar, event = one_event(session, student)

    assert str(calendar["prodid"]) == "-//PeerLoop//Sessions//EN"
    assert str(calendar["version"]) == "2.0"
    assert str(calendar["method"]) == "PUBLISH"
    assert str(event["uid"]) == f"session-{session.id}@{DOMAIN}"
    assert str(event["summary"]) == "Intro to Python: session 1 of 2 with Marcus Lee"
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["url"]) == url(session)
    description = str(event["description"])
    assert "Intro to Python" in description
    assert "Session 1 of 2" in description
    assert "Agenda: Loops" in description
    assert url(session) in description
    assert event.decoded("dtstamp") == session.updated_at.replace(microsecond=0)  # iCalendar has whole seconds


def test_times_are_utc_and_equal_to_the_stored_ones(people, now):
    _, student, _, _ = people
    session = book(people, datetime(2027, 3, 14, 6, 30, tzinfo=UTC))  # across a DST change in many zones
    body = session_calendar(session, viewer=student, url=url(session), uid_domain=DOMAIN)
    assert b"DTSTART:20270314T063000Z" in body
    assert b"DTEND:20270314T073000Z" in body
    _, event = one_event(session, student)
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start == session.scheduled_start and start.utcoffset() == timedelta(0)
    assert end == session.scheduled_end and end.utcoffset() == timedelta(0)


def test_each_side_sees_the_other_participant(people, now):
    teacher, student, _, _ = people
    session = book(people, now + timedelta(days=1), number=2)
    assert str(one_event(session, student)[1]["summary"]) == "Intro to Python: session 2 of 2 with Marcus Lee"
    assert str(one_event(session, teacher)[1]["summary"]) == "Intro to Python: session 2 of 2 with Ana Souza"


def test_an_unnumbered_session_has_no_number_part(people, now):
    _, student, _, _ = people
    session = book(people, now + timedelta(days=1))
    assert str(one_event(session, student)[1]["summary"]) == "Intro to Python with Marcus Lee"


def test_a_stranger_is_refused(people, make, now):
    session = book(people, now + timedelta(days=1))
    with pytest.raises(ValueError):
        session_calendar(session, viewer=make.user(), url=url(session), uid_domain=DOMAIN)


def test_a_change_keeps_the_uid_and_bumps_the_sequence(people, now):
    _, student, _, _ = people
    session = book(people, now + timedelta(days=3), number=1)
    _, before = one_event(session, student)

    session.scheduled_start += timedelta(days=1)
    session.scheduled_end += timedelta(days=1)
    session.sequence += 1
    session.updated_at = now + timedelta(minutes=5)
    db.session.flush()
    _, after = one_event(session, student)

    assert str(after["uid"]) == str(before["uid"])
    assert int(before["sequence"]) == 0
    assert int(after["sequence"]) == 1
    assert after.decoded("dtstart") == now + timedelta(days=4)
    assert after.decoded("dtstamp") == now + timedelta(minutes=5)


def test_a_cancelled_session_is_status_cancelled_without_a_reminder(people, now):
    _, student, _, _ = people
    session = book(people, now + timedelta(days=3), number=1)
    _, live = one_event(session, student)
    assert len(live.walk("VALARM")) == 1
    alarm = live.walk("VALARM")[0]
    assert str(alarm["action"]) == "DISPLAY"
    assert alarm.decoded("trigger") == timedelta(minutes=-15)

    session.status = SessionStatus.cancelled
    session.cancelled_at = now
    session.sequence += 1
    db.session.flush()
    calendar, event = one_event(session, student)

    assert str(calendar["method"]) == "PUBLISH"
    assert str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == str(live["uid"])
    assert int(event["sequence"]) == 1
    assert event.walk("VALARM") == []


@pytest.mark.parametrize(
    "agenda",
    [
        "Loops, lists; and dicts",
        "Line one\nLine two, with a comma\n\nA; semicolon \\ and a backslash",
        "Ünïcödé, emoji 🐍; and a very long line " + "x" * 200,
    ],
)
def test_agenda_text_round_trips(people, now, agenda):
    teacher, student, _, _ = people
    session = book(people, now + timedelta(days=1), agenda=agenda)
    body = session_calendar(session, viewer=student, url=url(session), uid_domain=DOMAIN)
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))  # folded as RFC 5545 asks
    _, event = one_event(session, student)
    assert f"Agenda: {agenda}" in str(event["description"])


def test_names_and_titles_are_escaped(make, now):
    teacher = make.user(name="Lee, Marcus; Jr.")
    student = make.user(name="Ana\nSouza")
    course = make.course(title="Python: loops, lists; more", session_count=2, creator=teacher)
    session = book((teacher, student, course, make.enrollment(student, course)), now + timedelta(days=1), number=1)
    _, event = one_event(session, student)
    assert str(event["summary"]) == "Python: loops, lists; more: session 1 of 2 with Lee, Marcus; Jr."
    _, event = one_event(session, teacher)
    assert str(event["summary"]).endswith("with Ana\nSouza")


def test_the_feed_lists_every_session(people, now):
    teacher, student, _, _ = people
    sessions = [
        book(people, now + timedelta(days=1), number=1),
        book(people, now + timedelta(days=8), number=2),
        book(people, now + timedelta(days=9), status=SessionStatus.cancelled, cancelled_at=now),
    ]
    body = feed_calendar(sessions, viewer=teacher, url_for_session=url, uid_domain=DOMAIN)
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in body
    assert b"X-PUBLISHED-TTL:PT1H" in body
    calendar, events = parse(body)

    assert str(calendar["x-wr-calname"]) == "PeerLoop sessions"
    assert str(calendar["method"]) == "PUBLISH"
    assert [str(e["uid"]) for e in events] == [f"session-{s.id}@{DOMAIN}" for s in sessions]
    assert [str(e["url"]) for e in events] == [url(s) for s in sessions]
    assert [str(e["status"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert all(str(e["summary"]).endswith("with Ana Souza") for e in events)
    # The same event as in the email: a subscribed calendar updates it in place.
    _, single = one_event(sessions[0], teacher)
    assert str(single["uid"]) == str(events[0]["uid"])
    assert int(single["sequence"]) == int(events[0]["sequence"])


def test_an_empty_feed_is_still_a_calendar(people, now):
    teacher, _, _, _ = people
    body = feed_calendar([], viewer=teacher, url_for_session=url, uid_domain=DOMAIN, name="Marcus's sessions")
    calendar, events = parse(body)
    assert events == []
    assert str(calendar["x-wr-calname"]) == "Marcus's sessions"


def test_the_attachment_is_the_session_file(people, now):
    _, student, _, _ = people
    session = book(people, now + timedelta(days=1), number=1, agenda="Sets, tuples")
    attachment = session_attachment(session, viewer=student, url=url(session), uid_domain=DOMAIN)
    assert attachment.filename == "peerloop-session.ics"
    assert attachment.content_type == "text/calendar; charset=utf-8; method=PUBLISH"
    assert isinstance(attachment.content, str)
    assert attachment.content == session_calendar(session, viewer=student, url=url(session), uid_domain=DOMAIN).decode()
    _, events = parse(attachment.content.encode())
    assert str(events[0]["uid"]) == f"session-{session.id}@{DOMAIN}"
