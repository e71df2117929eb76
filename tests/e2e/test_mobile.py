"""The course page on a phone: no sideways scrolling, big enough targets and text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(new_context) -> Page:
    context = new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    return context.new_page()


def test_course_page_fits_a_phone(phone: Page, screenshot):
    phone.goto("/courses/intro-to-claude-code")
    expect(phone.get_by_role("heading", name="Intro to Claude Code", level=1)).to_be_visible()

    scroll_width, inner_width = phone.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    # A mobile browser widens innerWidth to fit content that overflows.
    assert inner_width == PHONE["width"], f"the page is zoomed out to {inner_width}px to fit its content"
    assert scroll_width <= inner_width, f"page scrolls sideways: {scroll_width}px content in {inner_width}px"

    font_size = phone.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert font_size >= 16

    too_small = phone.evaluate(
        """() => [...document.querySelectorAll('main a.button, main button.button')]
            .filter(el => el.offsetParent !== null)
            .map(el => [el.textContent.trim(), el.getBoundingClientRect().height])
            .filter(([, height]) => height < 44)"""
    )
    checked = phone.locator("main .button:visible").count()
    assert checked > 0
    assert too_small == [], f"buttons under 44px tall: {too_small}"

    screenshot(phone, "course-mobile")
