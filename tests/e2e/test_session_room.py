"""A whole session on link rooms, in the browser, on the test clock: booked, reminded, the Join
button lighting up 15 minutes before on both dashboards, the device check, both in the room, the
end, the sweep completing it, the feedback form, and the teacher's released share on Earnings.
Screenshots go to artifacts/screenshots/ as room-<device>-<page>.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from peerloop.extensions import db
from tests import factories
from tests.e2e.test_booking import fits
from tests.e2e.test_enroll_and_pay import DEVICES

pytestmark = pytest.mark.e2e

MONDAY = datetime(2027, 3, 1, 8, tzinfo=UTC)
START = datetime(2027, 3, 2, 10, tzinfo=UTC)  # Tuesday 10:00 UTC = 11:00 in Berlin
END = START + timedelta(hours=1)
# Link rooms on a stand-in base on the live server itself: the browser follows the Join redirect there
# (a redirect's target cannot be intercepted, and no test reaches the internet). It answers 404.
ROOM_BASE = "/rooms-stand-in/peerloop-"


class Walk:
    """The live app's test clock and sweep, as the clock: process would move them."""

    def __init__(self, app):
        self.app = app

    def at(self, moment: datetime) -> None:
        from peerloop import clock

        with self.app.app_context():
            clock.set_to(moment)
            db.session.remove()

    def sweep(self) -> dict:
        from peerloop import clock
        from peerloop.cli import run_sweep

        with self.app.app_context():
            result = run_sweep(clock.now())
            db.session.remove()
        return result


@pytest.fixture
def walk(live_app, live_server):
    from peerloop import clock

    link_base = live_app.config["VIDEO_LINK_BASE_URL"]
    live_app.config["TEST_CLOCK"] = True
    live_app.config["VIDEO_LINK_BASE_URL"] = live_server + ROOM_BASE
    try:
        yield Walk(live_app)
    finally:
        with live_app.app_context():
            clock.reset()
            db.session.remove()
        live_app.config["TEST_CLOCK"] = False
        live_app.config["VIDEO_LINK_BASE_URL"] = link_base


@pytest.fixture
def people(live_app, walk):
    """A course, its Student-Teacher (free on weekdays, in UTC) and a student who bought it through
    the sandbox checkout; the session is booked for Tuesday 10:00."""
    from peerloop import clock
    from peerloop.scheduling.services import book, set_availability
    from tests.payments.conftest import buy

    walk.at(MONDAY)
    with live_app.app_context():
        creator = factories.creator(name="Rosa Creator")
        course = factories.course(creator=creator, session_count=2, title="Room Walkthrough", details=True)
        teacher = factories.user(name="Theo Teacher", timezone="UTC")
        factories.student_teacher(teacher, course)
        weekly = [{"day_of_week": d, "start": "09:00", "end": "17:00"} for d in range(1, 6)]
        set_availability(
            teacher,
            {"timezone": "UTC", "weekly": weekly, "min_notice_hours": 4, "session_minutes": 60, "buffer_minutes": 0},
            now=clock.now(),
        )
        student = factories.user(name="Sofia Student", timezone="Europe/Berlin")
        buy(student, course, now=clock.now(), teacher=teacher)
        session = book(student, course_id=course.id, teacher_id=teacher.id, start=START, now=clock.now())
        found = {"teacher": teacher.email, "student": student.email, "session": str(session.id)}
        db.session.remove()
    return found


def context_for(browser: Browser, base_url: str, device: str) -> BrowserContext:
    context = browser.new_context(base_url=base_url, timezone_id="Europe/Berlin", locale="en-GB", **DEVICES[device])
    return context


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def enter_room(page: Page, button: str) -> None:
    with page.expect_popup() as popup:
        page.get_by_role("button", name=button).click()
    room = popup.value
    room.wait_for_load_state()
    assert ROOM_BASE in room.url and len(room.url.split(ROOM_BASE)[1]) == 32, room.url
    room.close()


def test_a_whole_session_on_link_rooms(browser: Browser, base_url, walk, people, screenshot):
    student_context = context_for(browser, base_url, "desktop")
    teacher_context = context_for(browser, base_url, "phone")
    try:
        student, teacher = student_context.new_page(), teacher_context.new_page()
        log_in(student, people["student"])
        log_in(teacher, people["teacher"])

        # Reminded the day before, in the student's zone (11:00 in Berlin).
        walk.at(START - timedelta(hours=24))
        assert walk.sweep()["reminders_sent"] == 2
        student.goto("/notifications")
        expect(student.locator("#main").get_by_text("Coming up: Room Walkthrough, session 1 of 2")).to_be_visible()

        # 16 minutes before: no Join yet; 15 minutes before: Join on both dashboards.
        walk.at(START - timedelta(minutes=16))
        student.goto("/dashboard")
        expect(student.get_by_role("link", name="Join", exact=True)).to_have_count(0)
        walk.at(START - timedelta(minutes=15))
        student.goto("/dashboard")
        student.get_by_role("link", name="Join", exact=True).click()
        expect(student.get_by_role("heading", name="Check your camera and microphone")).to_be_visible()
        expect(student.locator("#room-timer")).to_contain_text("Starts in 15:")
        student.get_by_role("button", name="Test camera and microphone").click()
        expect(student.locator("#camera-status")).not_to_have_text("Camera: not checked yet")
        screenshot(student, "room-desktop-prejoin")
        enter_room(student, "Enter the room")

        teacher.goto("/teaching")
        teacher.get_by_role("link", name="Join", exact=True).click()
        fits(teacher, "phone")
        screenshot(teacher, "room-phone-prejoin")
        enter_room(teacher, "Open the room (you host)")

        # The hour is over; the sweep settles it from who came (link rooms send no webhooks).
        walk.at(END + timedelta(hours=1))
        assert walk.sweep()["sessions_settled"]["settled"] == 1

        student.goto(f"/sessions/{people['session']}")
        expect(student.get_by_text("Completed.", exact=True)).to_be_visible()
        expect(student.locator("#main").get_by_text("How was your session with Theo Teacher?")).to_be_visible()
        screenshot(student, "room-desktop-feedback")
        student.locator("label[for=rating-5]").click()
        student.get_by_label("A line about it").fill("Clear, patient and on time.")
        student.get_by_role("button", name="Send rating").click()
        expect(student.get_by_text("your rating is saved")).to_be_visible()
        expect(student.get_by_label("5 of 5 stars")).to_be_visible()

        teacher.goto("/earnings")
        expect(teacher.get_by_text("Session taught").first).to_be_visible()
        fits(teacher, "phone")
        screenshot(teacher, "room-phone-earnings")
    finally:
        student_context.close()
        teacher_context.close()


def test_the_room_page_fits_a_phone_and_offers_the_teacher_how_it_went(browser, base_url, walk, people, screenshot):
    context = context_for(browser, base_url, "phone")
    try:
        page = context.new_page()
        log_in(page, people["teacher"])
        walk.at(END + timedelta(minutes=20))  # past the grace; nobody came through Join: the teacher says how it went
        page.goto(f"/sessions/{people['session']}/room")
        expect(page.get_by_text("This session's room has closed.")).to_be_visible()
        expect(page.get_by_text("How did it go?")).to_be_visible()
        fits(page, "phone")
        screenshot(page, "room-phone-after")
        page.get_by_label("We had the session").check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("released in 48 hours")).to_be_visible()
    finally:
        context.close()
