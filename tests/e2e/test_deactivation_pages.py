"""Deactivating an S-T in the browser: the creator, from the studio's Student-Teachers page, offers
Theo's student another teacher; Sofia, on her phone, accepts from My courses; her sessions are now
with Uma at the same times. Then Uma switches "Available as Student-Teacher" off on My courses and
leaves the course page. Screenshots: artifacts/screenshots/deactivate-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from peerloop.accounts.models import User
from peerloop.extensions import db
from tests import factories
from tests.e2e.test_flywheel_walk import MONDAY, Cast, cast, context_for, fits_390, walk  # noqa: F401
from tests.e2e.test_session_room import log_in

pytestmark = pytest.mark.e2e


def test_the_creator_deactivates_and_the_student_accepts_the_new_teacher(
    browser: Browser,
    base_url,
    live_app,
    walk,  # noqa: F811 (the fixture imported above)
    cast: Cast,  # noqa: F811
    screenshot,
):
    from datetime import timedelta

    from peerloop import clock
    from peerloop.scheduling.services import book, set_availability

    def setup():
        uma = factories.user(name="Uma Understudy", timezone="UTC")
        course_id = cast.ids["course"]
        from peerloop.catalog.models import Course

        factories.student_teacher(uma, db.session.get(Course, course_id))
        weekly = [{"day_of_week": d, "start": "09:00", "end": "17:00"} for d in range(1, 6)]
        set_availability(uma, {"timezone": "UTC", "weekly": weekly, "min_notice_hours": 4}, now=clock.now())
        student = db.session.get(User, cast.ids["student"])
        for day in (1, 2):  # Tuesday and Wednesday 10:00 UTC
            book(
                student,
                course_id=course_id,
                teacher_id=cast.ids["teacher"],
                start=MONDAY + timedelta(days=day, hours=2),
                now=clock.now(),
            )
        return uma.email

    with live_app.app_context():
        uma_email = setup()
        db.session.remove()
    creator_context = context_for(browser, base_url, "desktop")
    student_context = context_for(browser, base_url, "phone")
    uma_context = context_for(browser, base_url, "phone")
    try:
        creator = creator_context.new_page()
        log_in(creator, cast.creator)
        creator.goto("/studio/teachers/")
        row = creator.locator("tr").filter(has_text="Theo Teacher")
        row.get_by_role("link", name="Deactivate").click()
        expect(creator.get_by_role("heading", name="Deactivate Theo Teacher")).to_be_visible()
        expect(creator.get_by_text("Sofia Student")).to_be_visible()
        creator.get_by_label("Their sessions").select_option(label="Offer to Uma Understudy")
        creator.get_by_label("Why (told to Theo Teacher)").fill("Theo has moved on to another job.")
        creator.set_viewport_size({"width": 390, "height": 844})
        fits_390(creator, "the deactivation page")
        screenshot(creator, "deactivate-01-studio-390")
        creator.set_viewport_size({"width": 1280, "height": 900})
        screenshot(creator, "deactivate-01-studio")
        creator.get_by_role("button", name="Deactivate Theo Teacher").click()
        expect(creator.get_by_text("1 student asked to accept a new teacher")).to_be_visible()
        expect(creator.locator("tr").filter(has_text="Theo Teacher")).to_contain_text("Not active")

        student = student_context.new_page()
        log_in(student, cast.student)
        student.goto("/dashboard")
        expect(student.get_by_role("heading", name="Your teacher has changed")).to_be_visible()
        student.get_by_role("link", name="Answer").click()
        expect(student.get_by_role("button", name="Accept Uma Understudy")).to_be_visible()
        fits_390(student, "the teacher change page")
        screenshot(student, "deactivate-02-answer-390")
        student.get_by_role("button", name="Accept Uma Understudy").click()
        expect(student.get_by_text("your sessions are now with Uma Understudy")).to_be_visible()
        upcoming = student.locator("section[aria-labelledby=upcoming-heading]")
        expect(upcoming).to_contain_text("with Uma Understudy")
        expect(upcoming).not_to_contain_text("Theo Teacher")

        uma = uma_context.new_page()
        log_in(uma, uma_email)
        uma.goto("/dashboard")
        switch = uma.get_by_role("switch", name="Available as Student-Teacher")
        expect(switch).to_be_checked()
        fits_390(uma, "My courses with the toggle")
        screenshot(uma, "deactivate-03-toggle-390")
        switch.uncheck()
        uma.get_by_role("button", name="Save").click()
        expect(uma.get_by_text("hidden from new bookings").first).to_be_visible()
        uma.goto(f"/courses/{cast.slug}/teachers")
        expect(uma.locator("main")).not_to_contain_text("Uma Understudy")
    finally:
        for context in (creator_context, student_context, uma_context):
            context.close()
