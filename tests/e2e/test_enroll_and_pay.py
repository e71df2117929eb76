"""Enroll and pay in the browser: a new visitor from the course page to My courses in four clicks,
a demo student choosing a Student-Teacher and then leaving with a refund, and the earner's pages.

Each flow runs on a desktop (1280 wide) and on a phone (390 wide); on the phone no page may scroll
sideways. Screenshots go to artifacts/screenshots/ as pay-<device>-<page>.png.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Locator, Page, expect

from peerloop.extensions import db

pytestmark = pytest.mark.e2e

COURSE = "/courses/intro-to-claude-code"
TITLE = "Intro to Claude Code"
DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 1,
        "is_mobile": True,
        "has_touch": True,
    },
}
# A demo student not yet enrolled in the course, one per device so the runs do not meet.
STUDENTS = {"desktop": "tom@example.com", "phone": "nina@example.com"}
# A Student-Teacher with only held money (no session delivered yet), and a creator with royalties.
EARNERS = {"marcus@example.com": False, "gabriel@example.com": True}


@pytest.fixture(params=list(DEVICES))
def device(request) -> str:
    return request.param


@pytest.fixture
def page(browser: Browser, base_url: str, device: str) -> Page:
    context = browser.new_context(base_url=base_url, timezone_id="Europe/Berlin", locale="en-GB", **DEVICES[device])
    try:
        yield context.new_page()
    finally:
        context.close()


class Clicks:
    """Clicks a person makes: buttons and links pressed. Typing and ticking the form's boxes are filling it in."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, locator: Locator, what: str) -> None:
        locator.click()
        self.made.append(what)


# Elements that stick out of the card they are in (a button wider than its card, say).
STICKING_OUT = """() => [...document.querySelectorAll('main .card *')]
  .filter(el => el.getClientRects().length && !el.closest('.sr-only'))
  .filter(el => el.getBoundingClientRect().right > el.closest('.card').getBoundingClientRect().right + 0.5)
  .slice(0, 5)
  .map(el => `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 40)}`)"""


# Buttons, choices and fields in the page's content that are under 44px tall.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main button, main .button, main label.field-check, main input, main textarea')]
  .filter(el => el.getClientRects().length && el.type !== 'hidden' && el.type !== 'radio' && el.type !== 'checkbox')
  .map(el => [el.textContent.trim().slice(0, 40) || el.name, Math.round(el.getBoundingClientRect().height)])
  .filter(([, height]) => height < 44)"""


def check_page(page: Page, device: str, screenshot, name: str | None) -> None:
    """The page fits the device (no sideways scrolling on a phone), nothing sticks out of its card,
    targets are 44px+ and text 16px, and the page is photographed (when named)."""
    page.wait_for_load_state()
    where = f"{page.url} on a {device}"
    assert page.evaluate(STICKING_OUT) == [], f"{where}: these stick out of their card"
    assert page.evaluate(SMALL_TARGETS) == [], f"{where}: these are under 44px tall"
    assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 16
    if device == "phone":
        scroll_width, inner_width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        # A mobile browser widens innerWidth to fit content that overflows: check both.
        assert inner_width == 390, f"{where} is zoomed out to {inner_width}px to fit its content"
        assert scroll_width <= 390, f"{where} scrolls sideways: {scroll_width}px"
    if name:
        screenshot(page, f"pay-{device}-{name}")


def wait_for_email(outbox, to: str, subject: str, *, wait_seconds: float = 10) -> str:
    """The text of the newest email to ``to`` with ``subject``, as it reaches the outbox."""
    from peerloop.notifications.models import OutboundEmail

    deadline = time.monotonic() + wait_seconds
    while True:
        with outbox.app.app_context():
            body = db.session.scalar(
                sa.select(OutboundEmail.text_body)
                .where(OutboundEmail.to_address == to, OutboundEmail.subject == subject)
                .order_by(OutboundEmail.created_at.desc())
                .limit(1)
            )
            db.session.remove()
        if body is not None:
            return body
        assert time.monotonic() < deadline, f"no email {subject!r} to {to} ({outbox.count(to)} emails)"
        time.sleep(0.1)


def enrollment_card(page: Page) -> Locator:
    return page.locator("li.enrollment").filter(has=page.get_by_role("link", name=TITLE, exact=True))


def test_a_new_visitor_enrolls_and_pays_in_four_clicks(page: Page, device, outbox, screenshot, screenshot_dir):
    suffix = uuid.uuid4().hex[:8]
    email = f"buyer-{suffix}@example.com"
    click = Clicks()

    page.goto(COURSE)
    buy_box = page.get_by_role("complementary", name="Enroll")
    expect(buy_box.get_by_role("radio", name=re.compile(r"^Schedule Later"))).to_be_checked()
    check_page(page, device, screenshot, None)  # a long page: the buy box is what is photographed
    buy_box.screenshot(path=str(screenshot_dir / f"pay-{device}-buy-box.png"))
    click(buy_box.get_by_role("button", name=re.compile(r"^Enroll")), "Enroll")

    page.wait_for_url(re.compile(r"/signup\?next="))
    page.get_by_label("Your name").fill("Ines Moreau")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Handle").fill(f"ines_{suffix}")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("checkbox", name="I accept the terms of service").check()  # filling in, not a click
    check_page(page, device, screenshot, None)
    click(page.get_by_role("button", name="Create account"), "Create account")

    page.wait_for_url(re.compile(re.escape(COURSE) + r"/enroll"))
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile(r"^Schedule Later"))).to_be_checked()
    check_page(page, device, screenshot, "enroll-confirm")
    click(page.get_by_role("button", name="Continue to payment"), "Continue to payment")

    page.wait_for_url(re.compile(r"/sandbox/checkout/"))
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text(email)
    check_page(page, device, screenshot, "sandbox-checkout")
    click(page.get_by_role("button", name=re.compile(r"^Pay ")), "Pay")

    page.wait_for_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", name="My courses", level=1)).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text(f"You're enrolled in {TITLE}")
    card = enrollment_card(page)
    expect(card).to_have_count(1)
    expect(card.locator(".pill")).to_have_text("Enrolled")
    expect(card).to_contain_text("No Student-Teacher chosen yet")
    check_page(page, device, screenshot, "my-courses-new")

    assert click.made == ["Enroll", "Create account", "Continue to payment", "Pay"]
    assert len(click.made) <= 4

    receipt = wait_for_email(outbox, email, f"You're enrolled in {TITLE}")
    assert "Receipt" in receipt and f"Welcome to {TITLE}" in receipt

    page.goto(COURSE)
    buy_box = page.get_by_role("complementary", name="Enroll")
    expect(buy_box).to_contain_text("You're enrolled")
    expect(buy_box.get_by_role("link", name="Go to My courses")).to_be_visible()
    check_page(page, device, screenshot, None)
    buy_box.screenshot(path=str(screenshot_dir / f"pay-{device}-buy-box-enrolled.png"))


def test_a_student_chooses_a_teacher_pays_and_leaves(page: Page, device, log_in, screenshot):
    log_in(page, STUDENTS[device])
    page.goto(COURSE)
    buy_box = page.get_by_role("complementary", name="Enroll")
    buy_box.get_by_role("radio", name=re.compile(r"^Marcus Chen")).check()
    check_page(page, device, screenshot, None)
    buy_box.get_by_role("button", name=re.compile(r"^Enroll")).click()

    page.wait_for_url(re.compile(r"/sandbox/checkout/"))
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    page.wait_for_url(re.compile(r"/dashboard$"))
    card = enrollment_card(page)
    expect(card).to_contain_text("with Marcus Chen")
    expect(card.locator(".pill")).to_have_text("Enrolled")
    check_page(page, device, screenshot, "my-courses")

    card.get_by_role("link", name="Leave course").click()
    page.wait_for_url(re.compile(r"/enrollments/[^/]+/cancel$"))
    expect(page.get_by_role("heading", name=f"Leave {TITLE}?")).to_be_visible()
    quote = page.locator(".price.big")
    expect(quote).to_contain_text("back to your card")
    refund = quote.inner_text().removesuffix(" back to your card").strip()
    check_page(page, device, screenshot, "leave-course")
    page.get_by_role("button", name=f"Leave the course and refund {refund}").click()

    page.wait_for_url(re.compile(r"/dashboard$"))
    expect(page.locator(".flash-success")).to_contain_text(f"You left the course. {refund} is on its way back")
    card = enrollment_card(page)
    expect(card.locator(".pill")).to_have_text("Ended")
    expect(card.get_by_role("link", name="Leave course")).to_have_count(0)
    check_page(page, device, screenshot, "my-courses-ended")


@pytest.mark.parametrize("earner", EARNERS)
def test_earnings_and_payout_settings(page: Page, device, log_in, screenshot, earner):
    who = earner.split("@")[0]
    log_in(page, earner)
    page.goto("/earnings")
    expect(page.get_by_role("heading", name="Earnings", level=1)).to_be_visible()
    expect(page.locator(".stats > li")).to_have_count(3)
    expect(page.locator(".bar-chart .bar")).to_have_count(12)
    # The bars are drawn: the best month's fills its column (100%), the others are in proportion.
    chart, bars = page.evaluate(
        """() => [document.querySelector('.bar-chart').getBoundingClientRect().height,
                 [...document.querySelectorAll('.bar-fill')].map(el => el.getBoundingClientRect().height)]"""
    )
    assert chart >= 120, chart
    if EARNERS[earner]:
        assert max(bars) > chart / 2, bars
    check_page(page, device, screenshot, f"earnings-{who}")
    page.goto("/settings/payouts")
    expect(page.get_by_role("heading", name="Payouts", level=1)).to_be_visible()
    check_page(page, device, screenshot, f"payouts-{who}")
