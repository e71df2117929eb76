"""The studio's course builder in a real browser: Gabriel prices his course in dollars, on a desktop and a phone.

The live app is shared by the whole e2e package, so the demo course ends at its
demo price ($399) whatever happened in between.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_phone_layout import OVERFLOW, PHONE

pytestmark = pytest.mark.e2e

SECTIONS = [
    "Basics",
    "Price and sessions",
    "What you'll learn",
    "Curriculum",
    "Requirements and audience",
    "Testimonials",
]


def open_builder(page: Page) -> None:
    page.goto("/studio/courses/")
    page.get_by_role("link", name="Intro to Claude Code").first.click()
    expect(page).to_have_url(re.compile(r"/studio/courses/[0-9a-f-]{36}/basics/$"))


def set_price(page: Page, typed: str) -> None:
    page.get_by_role("navigation", name="Course builder sections").get_by_role(
        "link", name="Price and sessions"
    ).click()
    page.get_by_label("Price (USD)").fill(typed)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved.")).to_be_visible()


def public_price(page: Page) -> str:
    with page.expect_popup() as popup:
        page.get_by_role("link", name="Preview").click()
    preview = popup.value
    preview.wait_for_load_state()
    text = preview.locator(".buy-box .price").inner_text().strip()
    preview.close()
    return text


def test_a_price_typed_in_dollars_sells_in_dollars(page: Page, log_in, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "gabriel@example.com")
    open_builder(page)
    for name in SECTIONS:
        expect(page.get_by_role("link", name=re.compile(re.escape(name) + "$"))).to_be_visible()
    # Save is in view on the long curriculum page without scrolling.
    page.get_by_role("link", name="Curriculum").click()
    expect(page.locator("legend", has_text="Session 1")).to_be_visible()
    assert page.get_by_role("button", name="Save", exact=True).is_visible()
    save_box = page.get_by_role("button", name="Save", exact=True).bounding_box()
    assert save_box is not None and save_box["y"] + save_box["height"] <= 900
    screenshot(page, "studio-editor-curriculum")

    set_price(page, "249.5")
    expect(page.get_by_label("Price (USD)")).to_have_value("249.50")
    expect(page.locator("#price-shown")).to_have_text(re.compile(r"Students pay \$249\.50"))
    assert public_price(page) == "$249.50"

    set_price(page, "399")
    expect(page.get_by_label("Price (USD)")).to_have_value("399.00")
    expect(page.locator("#price-shown")).to_have_text(re.compile(r"Students pay \$399\.00"))
    screenshot(page, "studio-editor-price")
    # The site writes whole amounts without ".00": $399, never $3.99.
    assert public_price(page) == "$399"


def test_a_bad_price_is_a_field_error_in_the_browser(page: Page, log_in):
    log_in(page, "gabriel@example.com")
    open_builder(page)
    page.get_by_role("link", name="Price and sessions").click()
    page.get_by_label("Price (USD)").fill("-5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("A price cannot be negative.")).to_be_visible()
    expect(page.get_by_label("Price (USD)")).to_have_value("-5")
    page.goto(page.url)
    expect(page.get_by_label("Price (USD)")).to_have_value("399.00")


def test_rows_move_up_and_down_in_place(page: Page, log_in):
    log_in(page, "gabriel@example.com")
    open_builder(page)
    page.get_by_role("link", name="What you'll learn").click()
    rows = page.locator('ol[data-list="objectives"] > li:not(.row-new) [name$="-objective"]')
    first, second = rows.nth(0).input_value(), rows.nth(1).input_value()
    page.get_by_role("button", name=f"Move down: {first}").click()
    expect(rows.nth(0)).to_have_value(second)
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(rows.nth(0)).to_have_value(second)
    expect(rows.nth(1)).to_have_value(first)
    # Put it back for the other tests.
    page.get_by_role("button", name=f"Move up: {first}").click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(rows.nth(0)).to_have_value(first)


@pytest.mark.parametrize("width", [390, 1280])
def test_every_builder_page_fits_the_screen(browser: Browser, base_url, log_in, screenshot, width):
    phone = width == PHONE["width"]
    context = browser.new_context(
        base_url=base_url,
        viewport=PHONE if phone else {"width": width, "height": 900},
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        timezone_id="Europe/Berlin",
        locale="en-GB",
    )
    page = context.new_page()
    try:
        log_in(page, "gabriel@example.com")
        open_builder(page)
        base = page.url.removesuffix("basics/")
        for key in ("basics", "price", "learn", "curriculum", "audience", "testimonials"):
            page.goto(base + key + "/")
            layout = page.evaluate(OVERFLOW)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{key} scrolls sideways: {layout}"
            save = page.get_by_role("button", name="Save", exact=True).bounding_box()
            viewport_height = PHONE["height"] if phone else 900
            assert save is not None and save["y"] >= 0 and save["y"] + save["height"] <= viewport_height, key
            screenshot(page, f"studio-editor-{key}-{width}")
        for path in ("/studio/courses/new/", "/studio/courses/"):
            page.goto(path)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        screenshot(page, f"studio-editor-list-{width}")
        page.goto("/studio/courses/new/")
        screenshot(page, f"studio-editor-new-{width}")
    finally:
        context.close()


def test_a_new_draft_is_submitted_for_review_and_brian_sees_it(browser: Browser, base_url, log_in, screenshot):
    context = browser.new_context(base_url=base_url, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        log_in(page, "gabriel@example.com")
        page.goto("/studio/courses/new/")
        page.get_by_label("Course title").fill("Prompting for Designers")
        page.get_by_label("Web address").fill("prompting-for-designers")
        page.get_by_label("Description").fill("Design with prompts.")
        page.get_by_label("Price (USD)").fill("149.5")
        page.get_by_label("Number of live sessions").fill("2")
        page.get_by_label("How long it takes").fill("2 weeks")
        page.get_by_role("button", name="Save draft and continue").click()
        expect(page).to_have_url(re.compile(r"/learn/$"))
        expect(page.locator("#course-status")).to_have_text("Draft")
        page.get_by_role("button", name="Submit for review").click()
        expect(page.get_by_text("Sent for review.")).to_be_visible()
        expect(page.locator("#course-status")).to_have_text("Waiting for review")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "studio-editor-submitted-390")
        page.context.clear_cookies()
        log_in(page, "brian@example.com")
        page.goto("/admin/")
        waiting = page.locator("#review-requests")
        expect(waiting.get_by_role("link", name="Prompting for Designers")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        waiting.scroll_into_view_if_needed()
        screenshot(page, "console-waiting-for-review-390")
    finally:
        context.close()


def test_add_another_row_gives_a_fresh_numbered_row(page: Page, log_in):
    log_in(page, "gabriel@example.com")
    open_builder(page)
    page.get_by_role("link", name="What you'll learn").click()
    new_rows = page.locator('ol[data-list="objectives"] > li.row-new')
    expect(new_rows).to_have_count(1)
    page.get_by_role("button", name="+ Add another row").first.click()
    expect(new_rows).to_have_count(2)
    names = new_rows.locator("[name$='-objective']").evaluate_all("els => els.map(e => e.name)")
    assert len(set(names)) == 2, names
    positions = page.locator('li[data-list="objectives"] .js-position').evaluate_all("els => els.map(e => e.value)")
    assert positions == [str(i) for i in range(len(positions))]
