"""The learning page in a real browser: My courses → Continue learning → tick a module → the bar
moves without a reload; the same without JavaScript through the module's form; the Student-Teacher
reads it; nothing scrolls sideways at 390 px. What a test ticks in the shared demo data it unticks."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from peerloop.enrollment.models import ModuleProgress
from peerloop.extensions import db
from tests.e2e.test_phone_layout import assert_fits, phone_page

pytestmark = pytest.mark.e2e

COURSE = "Intro to Claude Code"
COUNT = re.compile(r"^(\d+) of (\d+) modules? done$")


@pytest.fixture
def restore_progress(live_app) -> Iterator[None]:
    """Put every module_progress row back as it was (and drop the ones a test added)."""
    with live_app.app_context():
        before = {row.id: (row.is_complete, row.completed_at) for row in db.session.scalars(sa.select(ModuleProgress))}
        db.session.remove()
    yield
    with live_app.app_context():
        for row in db.session.scalars(sa.select(ModuleProgress)):
            if row.id not in before:
                db.session.delete(row)
            else:
                row.is_complete, row.completed_at = before[row.id]
        db.session.commit()
        db.session.remove()


def open_learning_page(page: Page) -> str:
    """From My courses, the course card's Continue learning; the enrollment's learning page address."""
    page.goto("/dashboard")
    card = page.locator("li.enrollment").filter(has_text=COURSE)
    expect(card.get_by_text(re.compile(r"\d+ of \d+ modules done"))).to_be_visible()
    card.get_by_role("link", name="Continue learning").click()
    page.wait_for_url(re.compile(r"/learn/[0-9a-f-]+$"))
    expect(page.get_by_role("heading", level=1, name=COURSE)).to_be_visible()
    return page.url


def counted(page: Page) -> tuple[int, int]:
    match = COUNT.match(page.locator("[data-learn-count]").inner_text().strip())
    assert match, page.locator("[data-learn-count]").inner_text()
    return int(match[1]), int(match[2])


def test_ticking_a_module_moves_the_bar_without_a_reload(page: Page, log_in, restore_progress, screenshot):
    log_in(page, "sarah@example.com")
    open_learning_page(page)
    done, total = counted(page)
    assert 0 < done < total  # the demo's Sarah is mid-way
    expect(page.get_by_role("heading", level=2, name=re.compile(r"^Session 1"))).to_be_visible()
    save_buttons = page.locator(".learn-save")
    expect(save_buttons.first).to_be_hidden()  # with JavaScript a tick saves itself
    screenshot(page, "learning-page-before")

    page.evaluate("window.__sameDocument = true")
    module = page.locator('li.module:has(input[name="complete"]:not(:checked))').first
    module_id = module.get_attribute("id")
    box = page.locator(f"#{module_id} input[name='complete']")
    box.check()

    expect(page.locator("[data-learn-count]")).to_have_text(f"{done + 1} of {total} modules done")
    expect(page.locator("[data-learn-bar]")).to_have_attribute("aria-valuenow", str(done + 1))
    width = page.locator("[data-learn-bar] > span").evaluate("el => el.style.width")
    assert width == f"{round(100 * (done + 1) / total)}%"
    expect(page.locator(f"#{module_id}")).to_have_class(re.compile(r"\bdone\b"))
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    screenshot(page, "learning-page-ticked")

    page.reload()  # it was saved
    assert counted(page) == (done + 1, total)
    expect(page.locator(f"#{module_id} input[name='complete']")).to_be_checked()

    page.locator(f"#{module_id} input[name='complete']").uncheck()
    expect(page.locator("[data-learn-count]")).to_have_text(f"{done} of {total} modules done")
    page.goto("/dashboard")
    expect(page.locator("li.enrollment").filter(has_text=COURSE)).to_contain_text(f"{done} of {total} modules done")


def test_without_javascript_the_form_saves_and_comes_back(
    browser: Browser, base_url, log_in, restore_progress, screenshot
):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, "sarah@example.com")
        learn_url = open_learning_page(page)
        done, total = counted(page)
        module_id = page.locator('li.module:has(input[name="complete"]:not(:checked))').first.get_attribute("id")
        module = page.locator(f"#{module_id}")

        module.locator('input[name="complete"]').check()
        module.get_by_role("button", name="Save").click()

        page.wait_for_load_state()
        assert page.url == f"{learn_url}#{module_id}"
        assert counted(page) == (done + 1, total)
        expect(page.locator(f"#{module_id} input[name='complete']")).to_be_checked()
        screenshot(page, "learning-page-no-js")
    finally:
        context.close()


def test_the_student_teacher_reads_it_and_sees_progress_on_teaching(page: Page, log_in, screenshot, browser, base_url):
    sarah = browser.new_context(base_url=base_url).new_page()
    try:
        log_in(sarah, "sarah@example.com")
        learn_url = open_learning_page(sarah)
        done, total = counted(sarah)
    finally:
        sarah.context.close()

    log_in(page, "marcus@example.com")
    page.goto(learn_url)
    expect(page.get_by_text("Sarah")).not_to_have_count(0)
    expect(page.locator('input[name="complete"]')).to_have_count(0)
    assert counted(page) == (done, total)
    screenshot(page, "learning-page-teacher")

    page.goto("/teaching")
    students = page.locator("section[aria-labelledby='students-h']")
    expect(students.get_by_role("link", name=f"{done} of {total} modules")).to_have_attribute(
        "href", re.compile(r"/learn/")
    )


def test_the_learning_page_fits_a_phone(browser: Browser, base_url, log_in, screenshot):
    page = phone_page(browser, base_url, log_in, "sarah@example.com")
    try:
        open_learning_page(page)
        page.wait_for_load_state()
        assert_fits(page, "/learn as sarah")
        screenshot(page, "phone-sarah-learn")
        page.goto("/dashboard")
        assert_fits(page, "/dashboard as sarah")
        screenshot(page, "phone-sarah-dashboard")
    finally:
        page.context.close()
