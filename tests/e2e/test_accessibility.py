"""Forms announce only real errors; a field in error looks it; small text stays readable."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

RED = "rgb(185, 28, 28)"  # --red

# Every attribute on the page whose value is "None" (a Python None rendered by a
# template), and every aria-describedby that is empty or names a missing element.
BAD_ATTRIBUTES = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.value === 'None') bad.push(`${el.tagName.toLowerCase()}#${el.id} ${attr.name}="None"`);
    }
    if (el.hasAttribute('aria-describedby')) {
      const ids = el.getAttribute('aria-describedby').trim().split(/\\s+/).filter(Boolean);
      if (!ids.length) bad.push(`${el.tagName.toLowerCase()}#${el.id} aria-describedby is empty`);
      for (const id of ids) {
        if (!document.getElementById(id)) bad.push(`${el.tagName.toLowerCase()}#${el.id} describedby #${id} missing`);
      }
    }
    if (el.hasAttribute('aria-invalid') && el.getAttribute('aria-invalid') !== 'true') {
      bad.push(`${el.tagName.toLowerCase()}#${el.id} aria-invalid="${el.getAttribute('aria-invalid')}"`);
    }
  }
  return bad;
}"""


def assert_clean(page: Page) -> None:
    assert page.evaluate(BAD_ATTRIBUTES) == []


def assert_in_error(page: Page, field_id: str, message: str) -> None:
    """The field says it is invalid, points at its error, and has the red border."""
    control = page.locator(f"#{field_id}")
    expect(control).to_have_attribute("aria-invalid", "true")
    described = (control.get_attribute("aria-describedby") or "").split()
    assert f"{field_id}-error" in described
    expect(page.locator(f"#{field_id}-error")).to_contain_text(message)
    if control.get_attribute("type") != "checkbox":
        assert control.evaluate("el => getComputedStyle(el).borderTopColor") == RED


def assert_valid(page: Page, field_id: str) -> None:
    control = page.locator(f"#{field_id}")
    assert control.get_attribute("aria-invalid") is None
    assert control.evaluate("el => getComputedStyle(el).borderTopColor") != RED


def test_login_fields(page: Page, screenshot):
    page.goto("/login")
    assert_clean(page)
    for field_id in ("email", "password", "remember"):
        assert_valid(page, field_id)
    # The remember-me box has nothing to point at.
    assert page.locator("#remember").get_attribute("aria-describedby") is None

    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert_clean(page)
    assert_in_error(page, "email", "Enter your email address.")
    assert_in_error(page, "password", "Enter your password.")
    assert_valid(page, "remember")

    page.get_by_label("Email").fill("sarah@example.com")
    page.get_by_label("Password", exact=True).fill("not her password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert_clean(page)
    assert_valid(page, "email")
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    assert_in_error(page, "password", "")
    screenshot(page, "a11y-login-error")


def test_signup_fields(page: Page, screenshot):
    page.goto("/signup")
    assert_clean(page)
    for field_id in ("name", "email", "handle", "password", "accept_terms"):
        assert_valid(page, field_id)
    # Hints are still described.
    assert page.locator("#handle").get_attribute("aria-describedby") == "handle-hint"

    page.get_by_label("Your name").fill("Someone")
    page.get_by_label("Email").fill("someone-a11y@example.com")
    page.get_by_label("Handle").fill("x")
    page.get_by_label("Password", exact=True).fill("a good long password")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    assert_clean(page)
    assert_valid(page, "name")
    assert_valid(page, "email")
    assert_in_error(page, "handle", "")
    assert set(page.locator("#handle").get_attribute("aria-describedby").split()) == {"handle-error", "handle-hint"}
    assert_in_error(page, "accept_terms", "")
    screenshot(page, "a11y-signup-error")


def test_settings_fields(page: Page, log_in, screenshot):
    log_in(page, "sarah@example.com")
    page.goto("/settings")
    assert_clean(page)
    assert_valid(page, "name")

    page.get_by_label("Name", exact=True).fill("")
    page.locator("form:has(#name) button[type=submit]").click()
    page.wait_for_load_state()
    assert_clean(page)
    assert_in_error(page, "name", "Enter your name.")
    screenshot(page, "a11y-settings-error")

    # A checkbox in error: the delete form sent empty (nothing is deleted).
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_load_state()
    assert_clean(page)
    assert_in_error(page, "del-password", "Enter your current password.")
    assert_in_error(page, "del-confirm", "Tick the box to confirm.")
    assert_valid(page, "name")


@pytest.mark.parametrize("path", ["/", "/courses", "/courses/intro-to-claude-code"])
def test_small_text_is_at_least_14px(page: Page, path: str):
    page.goto(path)
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('.eyebrow, .pill, .meta, .hint, .muted, small, .small')]
            .filter(el => el.offsetParent !== null)
            .map(el => [el.className, parseFloat(getComputedStyle(el).fontSize)])"""
    )
    assert sizes, "no small text found"
    assert [s for s in sizes if s[1] < 14] == []
