"""The studio's Students, Student-Teachers and Earnings pages as the demo creator, at 390 px (a
phone: each row a card, nothing scrolls sideways) and at 1280 px; screenshots for a person to look at."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

PAGES = [
    ("students", "/studio/students/", "Students"),
    ("teachers", "/studio/teachers/", "Student-Teachers"),
    ("earnings", "/studio/earnings/", "Earnings"),
]
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}

# Elements past the right edge, outside the tables' own scroll box.
OVERFLOW = """() => {
  const width = Math.min(window.innerWidth, document.documentElement.clientWidth);
  const culprits = [...document.querySelectorAll('body *')]
    .filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > width + 0.5; })
    .filter(el => !el.closest('.people-table, .table-responsive, details:not([open])'))
    .slice(0, 5)
    .map(el => `${el.tagName.toLowerCase()}.${el.className}`);
  return {scrollWidth: document.scrollingElement.scrollWidth, innerWidth: width, culprits};
}"""


def studio_page(browser: Browser, base_url: str, log_in, size: str) -> Page:
    phone = size == "phone"
    context = browser.new_context(
        base_url=base_url,
        viewport=WIDTHS[size],
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        timezone_id="Europe/Berlin",
        locale="en-GB",
    )
    page = context.new_page()
    log_in(page, "gabriel@example.com")
    return page


@pytest.mark.parametrize("size", WIDTHS)
def test_the_three_pages_as_the_demo_creator(browser: Browser, base_url, log_in, screenshot, size):
    page = studio_page(browser, base_url, log_in, size)
    try:
        for name, path, heading in PAGES:
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            layout = page.evaluate(OVERFLOW)
            assert layout["innerWidth"] == WIDTHS[size]["width"], f"{path} is zoomed out: {layout}"
            assert layout["scrollWidth"] <= layout["innerWidth"], f"{path} scrolls sideways: {layout}"
            if size == "desktop":  # wide enough that no table needs its own scrollbar
                cut = page.evaluate(
                    "() => [...document.querySelectorAll('.people-table')]"
                    ".filter(box => box.scrollWidth > box.clientWidth + 1).map(box => box.firstElementChild.id)"
                )
                assert cut == [], f"{path}: tables wider than the page: {cut}"
            screenshot(page, f"studio-{name}-{size}")
    finally:
        page.context.close()


def test_students_show_the_demo_enrollments_and_filter_by_course(browser: Browser, base_url, log_in):
    page = studio_page(browser, base_url, log_in, "desktop")
    try:
        page.goto("/studio/students/")
        rows = page.locator("#students tbody tr")
        expect(rows.first).to_be_visible()
        total = rows.count()
        expect(rows.first.locator(".progress")).to_be_visible()
        expect(rows.first.locator(".people-sessions")).to_contain_text(re.compile(r"\d+ done · \d+ booked · \d+ left"))

        select = page.get_by_label("Course")
        options = select.locator("option")
        assert options.count() >= 2  # "All your courses" and at least one of Gabriel's
        select.select_option(index=1)
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(re.compile(r"course=[0-9a-f-]{36}"))
        course_title = options.nth(1).inner_text()
        filtered = page.locator("#students tbody tr")
        for i in range(filtered.count()):
            expect(filtered.nth(i).get_by_role("cell").nth(0)).to_contain_text(course_title)
        assert filtered.count() <= total
    finally:
        page.context.close()


def test_the_menu_leads_to_the_pages(browser: Browser, base_url, log_in):
    page = studio_page(browser, base_url, log_in, "desktop")
    try:
        page.goto("/studio/")
        page.get_by_role("link", name="Earnings", exact=True).first.click()
        expect(page).to_have_url(re.compile(r"/studio/earnings/$"))
        expect(page.get_by_role("link", name="your Earnings page")).to_have_attribute("href", "/earnings")
    finally:
        page.context.close()
