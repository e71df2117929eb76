"""The flywheel on Brian's console overview and in a creator's studio, at a phone's and a desktop's
width: the funnel, the rates against their targets, the per-course table scrolling in its own box,
and (on the console) what has waited more than 7 days for a creator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from peerloop import clock
from peerloop.extensions import db

pytestmark = pytest.mark.e2e

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture
def tom_waits_nine_days(live_app) -> Iterator[str]:
    """Diego's recommendation of Tom (Practical Machine Learning), pending for nine days; removed after."""
    from peerloop.accounts.models import User
    from peerloop.catalog.models import Course
    from peerloop.certification.models import CertificationRequest, DecisionStatus
    from peerloop.enrollment.models import Enrollment

    with live_app.app_context():
        tom = db.session.scalar(sa.select(User).where(User.email == "tom@example.com"))
        diego = db.session.scalar(sa.select(User).where(User.email == "diego@example.com"))
        course = db.session.scalar(sa.select(Course).where(Course.slug == "practical-machine-learning"))
        enrollment = db.session.scalar(
            sa.select(Enrollment).where(Enrollment.student_id == tom.id, Enrollment.course_id == course.id)
        )
        request = CertificationRequest(
            enrollment_id=enrollment.id,
            student_id=tom.id,
            course_id=course.id,
            recommended_by=diego.id,
            status=DecisionStatus.pending,
            created_at=clock.now() - timedelta(days=9),
        )
        db.session.add(request)
        db.session.commit()
        request_id = request.id
        db.session.remove()
    try:
        yield str(request_id)
    finally:
        with live_app.app_context():
            db.session.execute(sa.delete(CertificationRequest).where(CertificationRequest.id == request_id))
            db.session.commit()
            db.session.remove()


def assert_no_sideways_scroll(page: Page, width: int) -> None:
    scroll_width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways: {scroll_width} > {width}"


@pytest.mark.parametrize("size", WIDTHS)
def test_console_overview_shows_the_flywheel_and_who_to_nudge(
    browser, base_url, log_in, screenshot, tom_waits_nine_days, size
):
    context = browser.new_context(base_url=base_url, viewport=WIDTHS[size], timezone_id="Europe/Berlin")
    page = context.new_page()
    try:
        log_in(page, "brian@example.com")
        page.goto("/admin/")
        flywheel = page.locator("#flywheel")
        expect(flywheel.get_by_role("heading", name="Flywheel: from enrolled to teaching")).to_be_visible()
        expect(flywheel.locator("#flywheel-funnel li")).to_have_count(5)
        expect(flywheel.locator("#flywheel-completion")).to_contain_text("Target at least 75%")
        expect(flywheel.locator("#flywheel-conversion")).to_contain_text("Target 10–20%")
        table = flywheel.locator("#flywheel-courses")
        expect(table.get_by_role("rowheader", name="Intro to Claude Code")).to_be_attached()
        expect(table.get_by_role("rowheader", name="Practical Machine Learning")).to_be_attached()

        waiting = page.locator(f'#waiting-list tr[data-id="{tom_waits_nine_days}"]')
        expect(waiting).to_contain_text("9 days")
        expect(waiting).to_contain_text("Tom")
        expect(waiting).to_contain_text("Practical Machine Learning")
        expect(page.locator("#waiting-decisions")).to_contain_text("Only the creator can approve them")

        assert_no_sideways_scroll(page, WIDTHS[size]["width"])
        box = page.locator(".flywheel-table-box")
        if size == "phone":  # the wide table scrolls inside its box, not the page
            assert box.evaluate("el => el.scrollWidth > el.clientWidth")
        page.locator("#flywheel").scroll_into_view_if_needed()
        screenshot(page, f"flywheel-console-{size}")
    finally:
        context.close()


@pytest.mark.parametrize("size", WIDTHS)
def test_studio_home_shows_the_creators_own_flywheel(browser, base_url, log_in, screenshot, size):
    context = browser.new_context(base_url=base_url, viewport=WIDTHS[size], timezone_id="Europe/Berlin")
    page = context.new_page()
    try:
        log_in(page, "gabriel@example.com")
        page.goto("/studio/")
        flywheel = page.locator("#flywheel")
        expect(flywheel.get_by_role("heading", name="Your flywheel")).to_be_visible()
        table = flywheel.locator("#flywheel-courses")
        expect(table.get_by_role("rowheader", name="Intro to Claude Code")).to_be_attached()
        # Priya's course is not Gabriel's.
        expect(table.get_by_role("rowheader", name="Practical Machine Learning")).to_have_count(0)
        assert_no_sideways_scroll(page, WIDTHS[size]["width"])
        screenshot(page, f"flywheel-studio-{size}")
    finally:
        context.close()
