"""A visitor browses: home page, the catalog with its filters, a course page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_visitor_finds_a_course_through_the_catalog(page: Page, screenshot, live_app):
    page.goto("/")
    expect(page.get_by_role("heading", name="Featured courses")).to_be_visible()
    expect(page.get_by_role("region", name="Featured courses").locator(".course-card").first).to_be_visible()
    screenshot(page, "home")

    page.get_by_role("link", name="Browse courses").click()
    expect(page).to_have_url(re.compile(r"/courses$"))
    expect(page.get_by_role("heading", name="Courses", level=1)).to_be_visible()
    screenshot(page, "courses")

    page.get_by_label("Level").select_option(label="Beginner")
    page.get_by_label("Search").fill("claude")
    page.get_by_role("button", name="Show courses").click()
    expect(page).to_have_url(re.compile(r"/courses\?.*q=claude"))
    expect(page).to_have_url(re.compile(r"level=beginner"))
    expect(page.get_by_text("matching “claude”")).to_be_visible()
    # The form keeps what was asked for.
    expect(page.get_by_label("Search")).to_have_value("claude")
    expect(page.get_by_label("Level")).to_have_value("beginner")
    cards = page.locator(".course-card")
    expect(cards.first).to_be_visible()
    for text in cards.locator(".eyebrow").all_text_contents():
        assert "Beginner" in text

    page.get_by_role("link", name="Intro to Claude Code").click()
    expect(page).to_have_url(re.compile(r"/courses/intro-to-claude-code$"))
    expect(page.get_by_role("heading", name="Intro to Claude Code", level=1)).to_be_visible()

    prereqs = page.get_by_role("region", name="Before you start")
    for label in ("Required", "Nice to have", "Not required"):
        heading = prereqs.get_by_role("heading", name=label, exact=True)
        expect(heading).to_be_visible()
        expect(heading.locator("xpath=following-sibling::ul/li").first).to_be_visible()

    audience = page.get_by_role("region", name="Who this is for")
    expect(audience.get_by_role("listitem").first).to_be_visible()

    testimonials = page.get_by_role("region", name="What students say")
    expect(testimonials.locator("blockquote").first).to_be_visible()

    curriculum = page.get_by_role("region", name="Curriculum")
    expect(curriculum.get_by_role("heading", name="Session 1", exact=True)).to_be_visible()
    expect(curriculum.get_by_role("heading", name="Session 2", exact=True)).to_be_visible()

    marcus = page.locator(".teacher-card").filter(has=page.get_by_role("heading", name="Marcus Chen"))
    expect(marcus).to_be_visible()
    taught = _taught_by("marcus@example.com", live_app)
    expect(marcus).to_contain_text(f"{taught} student{'' if taught == 1 else 's'} taught")  # Aisha, from her sessions
    expect(marcus.get_by_role("link", name="View profile")).to_be_visible()

    screenshot(page, "course-desktop")


def _taught_by(email: str, app) -> int:
    """Students taught: those with a completed session with the teacher in the course (the demo's history)."""
    import sqlalchemy as sa

    from peerloop.accounts.models import User
    from peerloop.certification.models import StudentTeacher
    from peerloop.extensions import db

    with app.app_context():
        taught = db.session.scalar(
            sa.select(StudentTeacher.students_taught)
            .join(User, User.id == StudentTeacher.user_id)
            .where(User.email == email)
        )
        db.session.remove()
    assert taught, "the demo's history gives Marcus a student taught"
    return taught
