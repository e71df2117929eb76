"""What people notice: cards that click anywhere, the footer at the bottom, a favicon, live outbox links."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from peerloop.extensions import db

pytestmark = pytest.mark.e2e


def tap(page: Page, locator) -> None:
    """A click where the element is, landing on whatever is on top there (as a person's would)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_the_whole_course_card_is_one_target(page: Page, screenshot):
    page.goto("/courses")
    card = page.locator("article.course-card").filter(has_text="Intro to Claude Code")
    expect(card).to_have_count(1)
    # One link per card for screen readers...
    expect(card.get_by_role("link")).to_have_count(1)
    screenshot(page, "courses-desktop")
    # ... and a click on the picture or the price opens the course.
    tap(page, card.locator(".thumb"))
    page.wait_for_url("**/courses/intro-to-claude-code")
    page.goto("/")
    tap(page, page.locator("article.course-card").filter(has_text="Intro to Claude Code").locator(".price"))
    page.wait_for_url("**/courses/intro-to-claude-code")


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 1400}, {"width": 390, "height": 1400}])
@pytest.mark.parametrize("path", ["/forgot-password", "/no-such-page"])
def test_short_pages_end_with_the_footer(new_context, path, viewport, screenshot):
    page = new_context(viewport=viewport).new_page()
    page.goto(path)
    layout = page.evaluate(
        """() => ({
            footerBottom: document.querySelector('.site-footer').getBoundingClientRect().bottom + window.scrollY,
            pageHeight: document.scrollingElement.scrollHeight,
            windowHeight: window.innerHeight,
        })"""
    )
    # Nothing (no grey band) under the footer, and the footer reaches the bottom of the window.
    assert layout["footerBottom"] == pytest.approx(layout["pageHeight"], abs=1), layout
    assert layout["pageHeight"] == pytest.approx(layout["windowHeight"], abs=1), layout
    screenshot(page, f"short-page-{viewport['width']}-{path.strip('/')}")


def test_favicon(page: Page, base_url):
    response = page.request.get(f"{base_url}/favicon.ico")
    assert response.status == 200 and response.headers["content-type"].startswith("image/")
    page.goto("/")
    icon = page.locator("link[rel=icon][type='image/svg+xml']").get_attribute("href")
    assert page.request.get(f"{base_url}{icon}").status == 200


def test_become_a_creator_names_no_dead_address(page: Page, log_in):
    for who in (None, "sarah@example.com"):
        if who:
            log_in(page, who)
        page.goto("/become-a-creator")
        expect(page.locator("a[href^='mailto:']")).to_have_count(0)
        expect(page.locator("main")).to_contain_text("Brian")
        expect(page.locator("main")).to_contain_text("console")


def test_outbox_links_are_clickable_and_nothing_else_is_markup(page: Page, live_app, log_in):
    from peerloop.notifications.models import OutboundEmail

    key = f"e2e-outbox-{uuid.uuid4().hex}"
    body = (
        "Confirm it here: http://127.0.0.1:1/verify-email/abc.\n"
        "<b>not bold</b> <script>window.hacked = 1</script> javascript:alert(1) "
        "<a href='https://evil.example'>x</a>"
    )
    with live_app.app_context():
        email = OutboundEmail(
            to_address="outbox-test@example.com",
            subject="Links",
            text_body=body,
            html_body="<p>x</p>",
            idempotency_key=key,
        )
        db.session.add(email)
        db.session.commit()
        email_id = email.id
        db.session.remove()

    log_in(page, "brian@example.com")
    page.goto(f"/admin/console_outbox/details/?id={email_id}")
    pre = page.locator("pre")
    links = pre.locator("a")
    # Only http(s) URLs become links (the sentence's full stop stays outside); the markup in
    # the text stays text, though the URL inside it is linked too.
    hrefs = links.evaluate_all("els => els.map(el => el.getAttribute('href'))")
    assert hrefs == ["http://127.0.0.1:1/verify-email/abc", "https://evil.example"]
    expect(pre).to_contain_text("<b>not bold</b>")
    expect(pre).to_contain_text("<script>")
    expect(pre.locator("b, script")).to_have_count(0)
    assert page.evaluate("() => window.hacked") is None
