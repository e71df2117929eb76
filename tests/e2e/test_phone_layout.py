"""Every page at 390 x 844, as each kind of visitor: nothing scrolls sideways, the consoles can be reached."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}

SITE_PAGES = [
    ("home", "/"),
    ("courses", "/courses"),
    ("course", "/courses/intro-to-claude-code"),
    ("profile", "/@gabriel"),
    ("login", "/login"),
    ("signup", "/signup"),
    ("forgot", "/forgot-password"),
    ("settings", "/settings"),
    ("notifications", "/notifications"),
    ("terms", "/terms"),
    ("refunds", "/refund-policy"),
    ("how", "/how-it-works"),
    ("creator", "/become-a-creator"),
    ("404", "/no-such-page"),
]

VISITORS = {
    "anonymous": None,
    "sarah": "sarah@example.com",
    "gabriel": "gabriel@example.com",
    "brian": "brian@example.com",
}

CONSOLE_PAGES = {
    "brian": ["/admin/", "/admin/console_users/", "/admin/console_courses/", "/admin/console_outbox/"],
    "gabriel": ["/studio/", "/studio/courses/"],
}

# What overflows, if anything: the page's width and the widest elements past the right edge.
OVERFLOW = """() => {
  const width = Math.min(window.innerWidth, document.documentElement.clientWidth);
  const culprits = [...document.querySelectorAll('body *')]
    .filter(el => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.right > width + 0.5;
    })
    .filter(el => !el.closest('.table-responsive, details:not([open])'))
    .slice(0, 5)
    .map(el => `${el.tagName.toLowerCase()}.${el.className}`);
  return {scrollWidth: document.scrollingElement.scrollWidth, innerWidth: width, culprits};
}"""


def assert_fits(page: Page, where: str) -> None:
    layout = page.evaluate(OVERFLOW)
    # A mobile browser widens its layout viewport (innerWidth) to fit content
    # that overflows, so the phone's own width is checked too.
    assert layout["innerWidth"] == PHONE["width"], f"{where} is zoomed out to fit: {layout}"
    assert layout["scrollWidth"] <= layout["innerWidth"], f"{where} scrolls sideways: {layout}"


def phone_page(browser: Browser, base_url: str, log_in, email: str | None) -> Page:
    context = browser.new_context(
        base_url=base_url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        timezone_id="Europe/Berlin",
        locale="en-GB",
    )
    page = context.new_page()
    if email:
        log_in(page, email)
    return page


@pytest.mark.parametrize("visitor", VISITORS)
def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, base_url, log_in, visitor, screenshot):
    page = phone_page(browser, base_url, log_in, VISITORS[visitor])
    try:
        for name, path in SITE_PAGES:
            page.goto(path)
            page.wait_for_load_state()
            assert_fits(page, f"{path} as {visitor}")
            if visitor in ("anonymous", "sarah") or name in ("home", "notifications"):
                screenshot(page, f"phone-{visitor}-{name}")
    finally:
        page.context.close()


@pytest.mark.parametrize("visitor", ["sarah", "brian"])
def test_open_menus_stay_on_screen(browser: Browser, base_url, log_in, visitor, screenshot):
    page = phone_page(browser, base_url, log_in, VISITORS[visitor])
    try:
        for menu, summary in (("Notifications", ".bell > summary"), ("Account menu", ".account-menu > summary")):
            page.goto("/notifications")
            page.locator(summary).click()
            dropdown = page.locator("details[open] .dropdown")
            expect(dropdown).to_be_visible()
            box = dropdown.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{menu} dropdown off screen: {box}"
            assert_fits(page, f"{menu} open as {visitor}")
            screenshot(page, f"phone-{visitor}-{menu.split()[0].lower()}-open")
    finally:
        page.context.close()


@pytest.mark.parametrize(
    ("visitor", "link", "target"), [("gabriel", "Studio", "/studio/"), ("brian", "Console", "/admin/")]
)
def test_consoles_are_reachable_on_a_phone(browser: Browser, base_url, log_in, visitor, link, target):
    page = phone_page(browser, base_url, log_in, VISITORS[visitor])
    try:
        page.goto("/")
        # From the account menu ...
        page.get_by_label("Account menu").click()
        page.locator(".account-menu .dropdown").get_by_role("link", name=link).click()
        page.wait_for_url(f"**{target}")
        # ... and from the bottom bar.
        page.goto("/courses")
        page.get_by_role("navigation", name="Mobile").get_by_role("link", name=link).click()
        page.wait_for_url(f"**{target}")
    finally:
        page.context.close()


def test_students_see_no_console_links(browser: Browser, base_url, log_in):
    page = phone_page(browser, base_url, log_in, VISITORS["sarah"])
    try:
        page.goto("/")
        for name in ("Studio", "Console"):
            expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    finally:
        page.context.close()


@pytest.mark.parametrize("visitor", CONSOLE_PAGES)
def test_consoles_fit_a_phone(browser: Browser, base_url, log_in, visitor, screenshot):
    page = phone_page(browser, base_url, log_in, VISITORS[visitor])
    try:
        for path in CONSOLE_PAGES[visitor]:
            response = page.goto(path)
            assert response is not None and response.ok, path
            assert_fits(page, f"{path} as {visitor}")
            screenshot(page, f"phone-{visitor}-{path.strip('/').replace('/', '-')}")
    finally:
        page.context.close()


@pytest.mark.parametrize(("visitor", "link"), [("brian", "Users"), ("gabriel", "My courses")])
def test_console_menu_opens_on_a_phone(browser: Browser, base_url, log_in, visitor, link, screenshot):
    page = phone_page(browser, base_url, log_in, VISITORS[visitor])
    try:
        page.goto(CONSOLE_PAGES[visitor][0])
        menu_link = page.locator("#admin-navbar-collapse").get_by_role("link", name=link, exact=True)
        expect(menu_link).to_be_hidden()
        page.get_by_role("button", name="Toggle navigation").click()
        expect(menu_link).to_be_visible()
        expect(page.get_by_role("link", name="← Back to the site")).to_be_visible()
        assert_fits(page, f"{visitor}'s console menu")
        screenshot(page, f"phone-{visitor}-console-menu")
    finally:
        page.context.close()
