"""Accounts in the browser: signup with email confirmation, and a password reset."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

BANNER = "Confirm your email"


def _unique(prefix: str) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"{prefix}-{suffix}@example.com", f"{prefix}_{suffix}"


def _fill_signup(page: Page, *, name: str, email: str, handle: str, password: str) -> None:
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Password").fill(password)
    page.get_by_role("checkbox", name="I accept the terms of service").check()


def test_signup_then_confirm_email(page: Page, outbox):
    email, handle = _unique("lena")
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/signup"))
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()

    _fill_signup(page, name="Lena Fischer", email=email, handle=handle, password="a long enough passphrase")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(re.compile(r"/courses$"))
    expect(page.get_by_text("Welcome to PeerLoop, Lena Fischer!")).to_be_visible()
    expect(page.get_by_label("Account menu")).to_be_visible()
    banner = page.get_by_role("status").filter(has_text=BANNER)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(email)
    # Said once, by the banner, not again by the welcome message.
    expect(page.get_by_text(re.compile(r"sent a link", re.IGNORECASE))).to_have_count(1)

    page.goto(outbox.link(email, "/verify-email/"))
    expect(page.get_by_text(f"Thanks, {email} is confirmed.")).to_be_visible()
    expect(page.get_by_text(BANNER)).to_have_count(0)
    page.goto("/")
    expect(page.get_by_text(BANNER)).to_have_count(0)
    expect(page.get_by_label("Account menu")).to_be_visible()


def test_signup_error_keeps_what_was_typed(page: Page, outbox, screenshot):
    email, _ = _unique("bad")
    page.goto("/signup")
    _fill_signup(page, name="Ana Lima", email=email, handle="ana lima", password="a long enough passphrase")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("alert")).to_contain_text("Please fix the fields marked below.")
    handle = page.get_by_label("Handle")
    expect(handle).to_have_attribute("aria-invalid", "true")
    error = page.locator("#handle-error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    # The message is tied to the field for screen readers.
    expect(handle).to_have_attribute("aria-describedby", re.compile(r"\bhandle-error\b"))
    expect(page.get_by_label("Your name")).to_have_value("Ana Lima")
    expect(page.get_by_label("Email")).to_have_value(email)
    expect(handle).to_have_value("ana lima")
    expect(page.get_by_label("Account menu")).to_have_count(0)
    assert outbox.count(email) == 0
    screenshot(page, "signup-errors")


def _request_reset(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_text("a reset link is on its way")).to_be_visible()


def _choose_password(page: Page, link: str, password: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password").fill(password)
    page.get_by_role("button", name="Save password").click()


def test_password_reset(page: Page, outbox, log_in, restore_demo_password):
    email = "sarah@example.com"
    restore_demo_password.append(email)
    _request_reset(page, email)
    link = outbox.link(email, "/reset-password/")

    _choose_password(page, link, "a fresh winter passphrase")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_text("Your password is changed.")).to_be_visible()

    log_in(page, email, "a fresh winter passphrase")
    expect(page.get_by_text("Welcome back, Sarah")).to_be_visible()
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    # The link worked once: opening it again ends on the forgot page, told why.
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/forgot-password$"))
    expect(page.get_by_text("This link has expired or was already used.")).to_be_visible()


def test_opening_a_used_reset_link_says_it_has_expired(page: Page, outbox, restore_demo_password):
    email = "tom@example.com"
    restore_demo_password.append(email)
    _request_reset(page, email)
    link = outbox.link(email, "/reset-password/")
    _choose_password(page, link, "a fresh autumn passphrase")
    expect(page.get_by_text("Your password is changed.")).to_be_visible()

    page.goto(link)
    expect(page).to_have_url(re.compile(r"/forgot-password$"), timeout=2000)
    expect(page.get_by_text("This link has expired or was already used.")).to_be_visible(timeout=1000)
