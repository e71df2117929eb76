"""Booking in the browser: a new visitor clicks a Student-Teacher's time on the course page, signs up,
pays, and lands on their booked session (four clicks); then, enrolled, books the next session from
the course page in four (Schedule Session → a day → a time → Confirm), moves it and cancels it.
On a desktop and on a phone; screenshots go to artifacts/screenshots/ as book-<device>-<page>.png.
"""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from peerloop.accounts.models import User
from peerloop.extensions import db
from tests.e2e.test_enroll_and_pay import DEVICES, STICKING_OUT, Clicks

pytestmark = pytest.mark.e2e

COURSE = "/courses/intro-to-claude-code"
TITLE = "Intro to Claude Code"
TEACHER = "marcus@example.com"
WEEK = [{"day_of_week": d, "start": "00:00", "end": "24:00"} for d in range(7)]


@pytest.fixture(params=list(DEVICES))
def device(request) -> str:
    return request.param


@pytest.fixture
def page(browser: Browser, base_url: str, device: str) -> Page:
    context = browser.new_context(base_url=base_url, timezone_id="Asia/Kolkata", locale="en-GB", **DEVICES[device])
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def teacher_is_free(live_app):
    """Marcus takes bookings round the clock in the live app, so every run finds times whatever the hour."""
    from peerloop import clock
    from peerloop.scheduling.services import set_availability

    with live_app.app_context():
        marcus = db.session.scalar(sa.select(User).where(User.email == TEACHER))
        set_availability(
            marcus,
            {"timezone": "America/New_York", "weekly": WEEK, "paused": False, "min_notice_hours": 4},
            now=clock.now(),
        )
        db.session.remove()


def fits(page: Page, device: str) -> None:
    page.wait_for_load_state()
    assert page.evaluate(STICKING_OUT) == [], f"{page.url}: something sticks out of its card"
    if device == "phone":
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"{page.url} scrolls sideways on a phone ({width}px)"


def shoot(page: Page, screenshot, device: str, name: str) -> None:
    screenshot(page, f"book-{device}-{name}")


def test_a_visitor_books_a_time_from_the_course_page_then_books_again(
    page: Page, device, teacher_is_free, screenshot, screenshot_dir
):
    suffix = uuid.uuid4().hex[:8]
    click = Clicks()

    # A visitor has no zone on file: the day view reloads in the browser's, the course page rewrites its times.
    page.goto(COURSE + "/schedule")
    page.wait_for_url(re.compile(r"/schedule\?tz=Asia%2F(Kolkata|Calcutta)"))
    expect(page.locator("main")).to_contain_text("Times in Asia/")
    page.goto(COURSE)
    card = page.locator("#teachers .teacher-card").filter(has_text="Marcus")
    first_time = card.locator("a.slot").first
    expect(first_time).to_be_visible()
    expect(first_time).to_contain_text(re.compile(r"(IST|GMT\+5:30)"))
    fits(page, device)
    card.screenshot(path=str(screenshot_dir / f"book-{device}-teacher-card.png"))
    click(first_time, "a time")

    page.wait_for_url(re.compile(r"/signup\?next="))
    page.get_by_label("Your name").fill("Ravi Iyer")
    page.get_by_label("Email").fill(f"ravi-{suffix}@example.com")
    page.get_by_label("Handle").fill(f"ravi_{suffix}")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("checkbox", name="I accept the terms of service").check()
    click(page.get_by_role("button", name="Create account"), "Create account")

    page.wait_for_url(re.compile(re.escape(COURSE) + r"/enroll"))
    held = page.locator(".notice-box")
    expect(held).to_contain_text("Marcus")
    expect(held).to_contain_text("IST")  # the visitor's own zone, set at signup from the browser
    fits(page, device)
    shoot(page, screenshot, device, "enroll-with-time")
    click(page.get_by_role("button", name=re.compile(r"^Enroll and pay")), "Enroll and pay")

    page.wait_for_url(re.compile(r"/sandbox/checkout/"))
    expect(page.locator(".notice-box")).to_contain_text("Your first session")
    click(page.get_by_role("button", name=re.compile(r"^Pay ")), "Pay")

    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]+\?booked=1"))
    expect(page.get_by_text("You're booked")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("session 1 of")
    expect(page.get_by_role("link", name="Add to calendar")).to_be_visible()
    fits(page, device)
    shoot(page, screenshot, device, "booked")
    assert click.made == ["a time", "Create account", "Enroll and pay", "Pay"]

    # Enrolled now: the next session from the course page in four clicks.
    page.goto(COURSE)
    click.made.clear()
    click(page.get_by_role("link", name="Schedule Session"), "Schedule Session")
    page.wait_for_url(re.compile(re.escape(COURSE) + r"/schedule"))
    expect(page.locator(".day-strip .day .dot").first).to_be_visible()
    fits(page, device)
    shoot(page, screenshot, device, "day-view")
    click(page.locator(".day-strip a.day").nth(3), "a day")  # three days on: movable without a penalty
    expect(page.locator(".day-strip a.day").nth(3)).to_have_attribute("aria-current", "date")
    click(page.locator(".teacher-card").filter(has_text="Marcus").locator("a.slot").first, "a time")
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_text("Session 2 of")).to_be_visible()
    expect(page.get_by_text("Less than 24 hours before")).to_be_visible()  # the cancellation rule
    page.get_by_label(re.compile("What would you like to cover")).fill("Prompts for refactoring, please")
    fits(page, device)
    shoot(page, screenshot, device, "confirm")
    click(page.get_by_role("button", name="Confirm booking"), "Confirm")
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]+\?booked=1"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("session 2 of")
    expect(page.locator("main").get_by_text("Prompts for refactoring, please")).to_be_visible()
    assert click.made == ["Schedule Session", "a day", "a time", "Confirm"]

    # My courses lists both, in the student's zone.
    page.goto("/dashboard")
    upcoming = page.locator("section", has=page.get_by_role("heading", name="Upcoming sessions"))
    expect(upcoming.locator(".session-row")).to_have_count(2)
    expect(upcoming).to_contain_text("IST")
    fits(page, device)
    shoot(page, screenshot, device, "my-courses")

    # Move the second session, then cancel it (more than 24 hours ahead: nothing is used up).
    upcoming.get_by_role("link", name="Open").last.click()
    page.get_by_text("Move or cancel").click()
    page.get_by_role("link", name="Move to another time").click()
    page.locator("label.slot-choice").last.click()
    page.get_by_role("button", name="Move the session").click()
    expect(page.locator(".flash-success")).to_contain_text("Moved")
    page.get_by_text("Move or cancel").click()
    page.get_by_role("button", name="Cancel the session").click()
    expect(page.locator(".flash-success")).to_contain_text("Cancelled")
    expect(page.locator(".status")).to_have_text("Cancelled")
