"""The Content-Security-Policy in a real browser: the site's own script still fills the signup
time zone, and the consoles' filters, batch actions and edit form still work, with no violation."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from peerloop.extensions import db

pytestmark = pytest.mark.e2e

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def watched(page: Page):
    """The page, with every console error and CSP violation it reports collected."""
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and message.location.get("url") == page.url:
            return  # the page itself is an error page (a 404 on purpose), not something it loads
        problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.add_init_script(RECORD_VIOLATIONS)

    def report() -> list[str]:
        violations = page.evaluate("window.__cspViolations || []")
        return problems + [f"violation: {v}" for v in violations]

    page.problems = report
    return page


def test_signup_fills_the_browser_time_zone_under_the_csp(watched: Page, live_app):
    response = watched.goto("/signup")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    # The browser context is Europe/Berlin (tests/e2e/conftest.py); static/js/signup.js fills it in.
    expect(watched.locator("form [name=timezone]")).to_have_value("Europe/Berlin")

    watched.get_by_label("Your name").fill("Clara Zetkin")
    watched.get_by_label("Email").fill("clara.csp@example.com")
    watched.get_by_label("Handle").fill("clara_csp")
    watched.get_by_label("Password").fill("a long enough password")
    watched.locator("#accept_terms").check()
    watched.get_by_role("button", name="Create account").click()
    watched.wait_for_url(lambda url: "/signup" not in url)

    from peerloop.accounts.models import User

    with live_app.app_context():
        zone = db.session.scalar(sa.select(User.timezone).where(User.email == "clara.csp@example.com"))
        db.session.remove()
    assert zone == "Europe/Berlin"
    assert watched.problems() == []


def test_site_pages_report_no_violation(watched: Page, log_in):
    log_in(watched, "sarah@example.com")
    for path in ("/", "/courses", "/settings", "/notifications", "/no-such-page"):
        watched.goto(path)
    assert watched.problems() == []


def test_the_console_works_under_its_policy(watched: Page, log_in):
    log_in(watched, "brian@example.com")

    # A list filter.
    response = watched.goto("/admin/console_users/")
    assert response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
    watched.get_by_role("link", name="Add Filter").click()
    watched.locator("a.filter", has_text=re.compile("admin", re.I)).first.click()
    expect(watched.locator("#filter_form table.filters tr")).to_have_count(1)  # bs4_filters.js added it
    watched.locator("#filter_form").get_by_role("button", name="Apply").click()
    watched.wait_for_url(re.compile(r"flt\d*_"))
    expect(watched.get_by_role("cell", name="brian@example.com")).to_be_visible()

    # A batch action (harmless: Brian's email is confirmed already), with its confirm() dialog.
    watched.goto("/admin/console_users/")
    watched.get_by_role("row").filter(has_text="brian@example.com").locator("input.action-checkbox").check()
    watched.once("dialog", lambda dialog: dialog.accept())
    watched.get_by_role("button", name="With selected").click()
    watched.get_by_role("link", name="Mark email verified").click()
    watched.wait_for_load_state()
    expect(watched.locator(".alert")).to_contain_text("marked verified")

    # The edit form: open a category, save it unchanged.
    watched.goto("/admin/console_categories/")
    watched.locator("a[title='Edit Record']").first.click()
    expect(watched.locator("form.admin-form")).to_be_visible()
    watched.locator("form.admin-form input[type=submit][value='Save']").click()
    expect(watched.locator(".alert")).to_contain_text("successfully saved")

    assert watched.problems() == []


def test_the_studio_works_under_its_policy(watched: Page, log_in):
    log_in(watched, "gabriel@example.com")
    watched.goto("/studio/")
    watched.goto("/studio/courses/")
    watched.locator("a[title='Edit Record']").first.click()
    expect(watched.locator("form.admin-form")).to_be_visible()
    assert watched.problems() == []


def test_a_page_revalidated_from_the_read_cache_keeps_its_styles_and_scripts(watched: Page, live_app, monkeypatch):
    """A second visit revalidates (If-None-Match) and gets a 304: the browser lays the 304's headers
    over its copy, so a 304 that carried the JSON policy would block the page's own CSS and script."""
    from peerloop import readcache

    answered: list[int] = []
    conditional = readcache._conditional

    def recording(response, etag, last_modified):
        response = conditional(response, etag, last_modified)
        answered.append(response.status_code)
        return response

    monkeypatch.setattr(readcache, "_conditional", recording)
    for _ in range(3):
        watched.goto("/courses/intro-to-claude-code")
        # site.css lays the page out: the header is a flex row, not stacked links.
        assert watched.evaluate("getComputedStyle(document.querySelector('.header-row')).display") == "flex"
        # static/js/visitor-zone.js wrote the free times' zone as the browser's (Europe/Berlin).
        expect(watched.locator("[data-zone-label]").first).to_have_text("Europe/Berlin")
    assert 304 in answered, answered  # the browser did revalidate, and got a 304
    assert watched.problems() == []
