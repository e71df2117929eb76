"""The consoles: Brian's /admin, a creator's /studio, and a student kept out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_admin_sees_the_console(page: Page, log_in, screenshot):
    log_in(page, "brian@example.com")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Console").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("heading", name="PeerLoop at a glance")).to_be_visible()
    screenshot(page, "admin")


def test_creator_sees_their_course_in_the_studio(page: Page, log_in, screenshot):
    log_in(page, "gabriel@example.com")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Studio").click()
    expect(page).to_have_url(re.compile(r"/studio/$"))
    expect(page.get_by_role("heading", name="Your studio")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Intro to Claude Code"))
    expect(row).to_be_visible()
    expect(row.get_by_role("link", name="Edit")).to_be_visible()
    screenshot(page, "studio")


def test_student_gets_403_with_a_way_home(page: Page, log_in):
    log_in(page, "sarah@example.com")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Console")).to_have_count(0)
    response = page.goto("/admin/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You don't have access to this page")).to_be_visible()
    page.get_by_role("link", name="Go to the home page").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Featured courses")).to_be_visible()
