"""The pages a Student-Teacher or creator uses: payout settings (Connect), earnings with chart and CSV,
and requesting a payout, through the sandbox's onboarding."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from peerloop.extensions import db
from peerloop.payments import sandbox, services
from peerloop.payments.models import LedgerEntry, Payout, PayoutStatus
from tests.conftest import csrf_from


@pytest.fixture
def creator_with_sales(make, purchase):
    creator = make.user(is_creator=True, name="Cora Creator", timezone="America/New_York")
    course = make.course(creator=creator, title="=HYPERLINK(evil)")
    purchase(make.user(), course)
    return creator


def connect(client, creator):
    page = client.get("/settings/payouts").get_data(as_text=True)
    assert "Not connected" in page
    started = client.post("/settings/payouts/connect", data={"csrf_token": csrf_from(page)})
    assert started.status_code == 303
    link = urlsplit(started.headers["Location"]).path
    onboarding = client.get(link)
    assert onboarding.status_code == 200 and "Connect a payout account" in onboarding.get_data(as_text=True)
    return link, onboarding.get_data(as_text=True)


def test_connect_payouts_from_settings_through_the_sandbox(client, make, creator_with_sales, login_as):
    login_as(creator_with_sales)
    assert "Payout settings" in client.get("/settings").get_data(as_text=True)
    link, page = connect(client, creator_with_sales)
    assert "Onboarding" in client.get("/settings/payouts").get_data(as_text=True)
    back = client.post(link, data={"csrf_token": csrf_from(page), "payouts": "off"})
    assert back.status_code == 303
    assert back.headers["Location"] == "http://peerloop.test/settings/payouts/connect/return"
    assert "Connected · payouts off" in client.get("/settings/payouts").get_data(as_text=True)
    # Continue setup: a fresh link; this time with a bank account.
    settings = client.get("/settings/payouts").get_data(as_text=True)
    again = client.post("/settings/payouts/connect", data={"csrf_token": csrf_from(settings)})
    link = urlsplit(again.headers["Location"]).path
    client.post(link, data={"csrf_token": csrf_from(client.get(link).get_data(as_text=True)), "payouts": "on"})
    assert "Fully active" in client.get("/settings/payouts").get_data(as_text=True)
    db.session.refresh(creator_with_sales)
    assert creator_with_sales.stripe_account_id.startswith("acct_sandbox_")


def test_the_refresh_url_gives_a_fresh_link(client, make, creator_with_sales, login_as):
    login_as(creator_with_sales)
    first, _ = connect(client, creator_with_sales)
    refreshed = client.get("/settings/payouts/connect/refresh")
    assert refreshed.status_code == 303 and urlsplit(refreshed.headers["Location"]).path != first


def test_earnings_page_shows_balances_chart_and_activity(client, creator_with_sales, login_as):
    login_as(creator_with_sales)
    html = client.get("/earnings").get_data(as_text=True)
    assert "Available" in html and "$59.85" in html  # the 15% royalty of $399
    assert html.count('class="bar"') == 12
    assert "Creator royalty" in html
    assert "Connect a payout account first" in html


def test_earnings_csv_is_in_the_viewers_zone_and_safe_for_spreadsheets(client, creator_with_sales, login_as):
    login_as(creator_with_sales)
    response = client.get("/earnings.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["date", "what", "course", "amount", "currency"]
    assert rows[1][1:] == ["Creator royalty", "'=HYPERLINK(evil)", "59.85", "USD"]
    earned_at = db.session.scalar(
        sa.select(LedgerEntry.created_at).where(LedgerEntry.recipient_id == creator_with_sales.id)
    )
    assert rows[1][0] == earned_at.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M")


def test_request_a_payout_from_the_earnings_page(client, app, make, creator_with_sales, login_as, monkeypatch, now):
    monkeypatch.setitem(app.config, "PAYOUT_MINIMUM_CENTS", 1000)
    login_as(creator_with_sales)
    url = services.start_onboarding(creator_with_sales, now=now)
    sandbox.finish_onboarding(urlsplit(url).path.rsplit("/", 1)[1], payouts=True, now=now)
    page = client.get("/earnings").get_data(as_text=True)
    assert 'name="amount" inputmode="decimal" value="59.85"' in page
    bad = client.post("/earnings/payout", data={"csrf_token": csrf_from(page), "amount": "lots"}, follow_redirects=True)
    assert "Enter an amount such as 120.50." in bad.get_data(as_text=True)
    too_much = client.post(
        "/earnings/payout", data={"csrf_token": csrf_from(page), "amount": "60.00"}, follow_redirects=True
    )
    assert "You have $59.85 available." in too_much.get_data(as_text=True)
    too_little = client.post(
        "/earnings/payout", data={"csrf_token": csrf_from(page), "amount": "5"}, follow_redirects=True
    )
    assert "Minimum balance not reached" in too_little.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Payout.id))) == 0
    done = client.post(
        "/earnings/payout", data={"csrf_token": csrf_from(page), "amount": "50.00"}, follow_redirects=True
    )
    html = done.get_data(as_text=True)
    assert "Payout of $50 requested" in html
    payout = db.session.scalar(sa.select(Payout))
    assert (payout.amount_cents, payout.status) == (5000, PayoutStatus.requested)
    assert "$9.85" in html  # what is left available


def test_students_have_no_earnings_pages(client, make, login_as):
    login_as(make.user())
    for path in ("/earnings", "/earnings.csv", "/settings/payouts"):
        assert client.get(path).status_code == 403
    assert "Payout settings" not in client.get("/settings").get_data(as_text=True)


def test_an_active_student_teacher_has_earnings(client, make, login_as):
    teacher = make.user()
    make.student_teacher(teacher, make.course())
    login_as(teacher)
    assert client.get("/earnings").status_code == 200
    assert "Earnings" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "cents"),
    [("120", 12000), ("120.5", 12050), ("1,200.50", 120050), ("$7.05", 705), ("0.01", 1)],
)
def test_amounts_are_read_in_currency_units(text, cents):
    assert services.parse_amount(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "1.234", "-5", "1e3", "12.3.4"])
def test_bad_amounts_are_refused(text):
    assert services.parse_amount(text) is None


def test_someone_elses_sandbox_onboarding_link_is_a_404(client, make, creator_with_sales, login_as, now):
    url = services.start_onboarding(creator_with_sales, now=now)
    login_as(make.user(is_creator=True))
    path = urlsplit(url).path
    assert client.get(path).status_code == 404
    page = client.get("/settings/payouts").get_data(as_text=True)
    assert client.post(path, data={"csrf_token": csrf_from(page), "payouts": "on"}).status_code == 404
