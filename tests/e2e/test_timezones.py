"""Time zones in the browser (the context runs in Europe/Berlin): signup stores the browser's zone,
settings offers places grouped by region, and Sarah reads her notifications in New York time."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from peerloop.accounts.models import User
from peerloop.extensions import db

pytestmark = pytest.mark.e2e


def _stored_zone(live_app, email: str) -> str | None:
    with live_app.app_context():
        zone = db.session.scalar(sa.select(User.timezone).where(User.email == email))
        db.session.remove()
    return zone


def test_signup_from_berlin_stores_berlin_and_settings_offers_grouped_places(
    page: Page, live_app, screenshot, screenshot_dir
):
    suffix = uuid.uuid4().hex[:8]
    email = f"berlin-{suffix}@example.com"
    page.goto("/signup")
    page.get_by_label("Your name").fill("Jonas Weber")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Handle").fill(f"jonas_{suffix}")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("checkbox", name="I accept the terms of service").check()
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/courses$"))

    assert _stored_zone(live_app, email) == "Europe/Berlin"

    page.goto("/settings")
    picker = page.get_by_label("Time zone")
    expect(picker).to_have_value("Europe/Berlin")
    selected = picker.locator("option:checked")
    expect(selected).to_have_text(re.compile(r"^Berlin \(UTC\+0[12]:00\)$"))
    assert selected.evaluate("o => o.parentElement.tagName + ' ' + o.parentElement.label") == "OPTGROUP Europe"
    groups = picker.locator("optgroup").evaluate_all("gs => gs.map(g => g.label)")
    assert {"Africa", "America", "Asia", "Australia", "Europe", "Pacific"} <= set(groups)
    values = picker.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert "Factory" not in values and "localtime" not in values and "US/Eastern" not in values
    assert not [v for v in values if v.startswith("Etc/")]
    expect(picker.locator('optgroup[label="America"] option[value="America/New_York"]')).to_have_text(
        re.compile(r"^New York \(UTC\u22120[45]:00\)$")
    )

    picker.select_option("Asia/Kolkata")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    assert _stored_zone(live_app, email) == "Asia/Kolkata"
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "settings-timezone")
    # A native drop-down cannot be photographed open: show the options as a list box instead.
    picker.evaluate("s => { s.size = 16; s.value = 'America/New_York'; }")
    picker.screenshot(path=str(screenshot_dir / "settings-timezone-options.png"))


def test_sarah_reads_notification_times_in_new_york_time(page: Page, log_in):
    log_in(page, "sarah@example.com")  # America/New_York in the demo data
    page.goto("/notifications")
    times = page.locator(".notes time")
    expect(times.first).to_have_text(re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d E[SD]T$"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", times.first.get_attribute("datetime") or "")
