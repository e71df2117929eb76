"""Brian's Payments menu at /admin, used as a person uses it: real pages, real forms with CSRF.

Purchases go through the sandbox gateway and the webhook path; refunds, batches and
payouts through the console's forms, which call payments.services.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.extensions import db
from peerloop.payments import sandbox, services
from peerloop.payments.models import (
    LedgerEntry,
    Payout,
    PayoutBatch,
    PayoutBatchStatus,
    PayoutStatus,
    PayoutTransfer,
    Refund,
    Transaction,
    TransferStatus,
)
from tests.conftest import csrf_from
from tests.payments.conftest import ledger_sum

# --- helpers ---------------------------------------------------------------------------


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def paid_enrollment(jobs, student, course, *, now) -> tuple[Enrollment, Transaction]:
    """A real purchase: checkout, the sandbox's Pay, the webhook job (inline, or a burst worker on Redis)."""
    checkout = services.start_checkout(student, course.id, now=now)
    sandbox.pay(checkout.gateway_session_id, now=now)
    run_jobs(jobs)
    db.session.expire_all()
    transaction = db.session.scalar(sa.select(Transaction).where(Transaction.checkout_id == checkout.id))
    assert transaction is not None, "the purchase did not complete"
    return db.session.get(Enrollment, transaction.enrollment_id), transaction


def run_jobs(jobs) -> None:
    """Run queued jobs (a burst worker on Redis; inline jobs already ran).

    The burst worker runs in this test's session, and a job that rolls back would roll
    back to this session's open SAVEPOINT, taking with it what the requests committed
    inside it since: end that SAVEPOINT first, as a separate process would see those rows.
    """
    db.session.commit()
    jobs.run()


def ledger_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))))


def refunds_of(transaction) -> list[Refund]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Refund).where(Refund.transaction_id == transaction.id)))


def fresh(row):
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def refund_url(enrollment) -> str:
    return f"/admin/refunds/{enrollment.id}/"


def preview(client, enrollment, **fields):
    """Fill in the refund form and press Preview; returns the response."""
    token = csrf_from(page(client, refund_url(enrollment)))
    data = {"csrf_token": token, "step": "preview", "mode": "full", "ends_enrollment": "y", "note": ""}
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(refund_url(enrollment), data=data)


CONFIRM_FORM = re.compile(r'<form[^>]*id="confirm-refund".*?</form>', re.S)
INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def confirm_fields(html: str) -> dict:
    """The hidden fields of the preview's confirm form, as the browser would post them."""
    match = CONFIRM_FORM.search(html)
    assert match, "no confirm form on the preview"
    fields = {}
    for name, value in INPUT.findall(match.group(0)):
        fields[name] = unescape(value)
    fields.setdefault("csrf_token", csrf_from(match.group(0)))
    return fields


def filter_index(client, endpoint: str, name: str) -> int:
    """The position Flask-Admin gives a named filter (its ?flt0_<index>= argument)."""
    admin = next(a for a in client.application.extensions["admin"] if a.endpoint == "admin")
    view = next(v for v in admin._views if getattr(v, "endpoint", "") == endpoint)
    return next(i for i, f in enumerate(view._filters) if f.name == name)


def connect(jobs, user, *, now):
    """Connect Express onboarding through the services and the sandbox's onboarding page."""
    url = services.start_onboarding(user, now=now)
    link_id = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
    sandbox.finish_onboarding(link_id, payouts=True, now=now)
    run_jobs(jobs)
    user = fresh(user)
    assert user.stripe_payouts_enabled, "onboarding did not enable payouts"
    return user


@pytest.fixture
def sale(make, jobs, now):
    course = make.course(price_cents=39900, session_count=2)
    student = make.user(email="learner@example.com")
    enrollment, transaction = paid_enrollment(jobs, student, course, now=now)
    return course, student, enrollment, transaction


@pytest.fixture
def low_minimum(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAYOUT_MINIMUM_CENTS", 1000)


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["student", "creator", "moderator"])
def test_every_payments_page_is_refused_to_visitors_and_non_admins(client, make, login_as, sale, role):
    _, _, enrollment, transaction = sale
    pages = [
        "/admin/console_transactions/",
        f"/admin/console_transactions/details/?id={transaction.id}",
        refund_url(enrollment),
        "/admin/refunds/",
        "/admin/console_payout_batches/",
        "/admin/console_payouts/",
    ]
    posts = [refund_url(enrollment), "/admin/console_payout_batches/create/", "/admin/console_payout_batches/approve/"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for path in posts:  # a visitor has no CSRF token: the global protection refuses first
        assert client.post(path, data={"step": "confirm", "mode": "full"}).status_code == 400, path
    user = {"student": make.user, "creator": make.creator, "moderator": lambda: make.user(is_moderator=True)}[role]()
    login_as(user)
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    for path in pages:
        assert client.get(path).status_code == 403, path
    for path in posts:
        response = client.post(
            path, data={"csrf_token": token, "step": "confirm", "mode": "full", "token": "x" * 22, "id": "x"}
        )
        assert response.status_code == 403, path
    assert refunds_of(transaction) == []
    assert db.session.scalar(sa.select(sa.func.count(PayoutBatch.id))) == 0


def test_the_payments_menu_lists_its_pages(client, make, login_as):
    login_as(make.admin())
    home = page(client, "/admin/")
    assert "Payments" in home
    for href in (
        "/admin/console_transactions/",
        "/admin/console_payout_batches/",
        "/admin/console_payouts/",
        "/admin/console_webhook_events/",
    ):
        assert f'href="{href}"' in home, href


# --- transactions ---------------------------------------------------------------------------


def test_transactions_list_shows_the_payment_in_currency_units(client, make, login_as, sale):
    login_as(make.admin())
    course, student, _, transaction = sale
    body = page(client, "/admin/console_transactions/")
    assert student.email in body
    assert course.title in body
    assert "$399" in body
    assert transaction.stripe_payment_id in body
    headers = {re.sub(r"<[^>]+>|\s+", " ", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", body, re.S)}
    assert {"Paid", "Student", "Course", "Amount", "Status", "Payment id"} <= headers
    assert "<time" in body  # paid_at through the console's time formatter


def test_transactions_search_by_student_email_and_filter_by_status(client, make, login_as, sale, jobs, now):
    login_as(make.admin())
    _, student, _, transaction = sale
    other_student = make.user(email="someone-else@example.com")
    _, other = paid_enrollment(jobs, other_student, make.course(), now=now)

    body = page(client, "/admin/console_transactions/?search=learner@")
    assert transaction.stripe_payment_id in body and other.stripe_payment_id not in body

    index = filter_index(client, "console_transactions", "Status")
    refunded = page(client, f"/admin/console_transactions/?flt0_{index}=refunded")
    completed = page(client, f"/admin/console_transactions/?flt0_{index}=completed")
    assert transaction.stripe_payment_id not in refunded
    assert transaction.stripe_payment_id in completed


def test_transaction_details_show_its_ledger_rows_and_a_refund_button(client, make, login_as, sale):
    login_as(make.admin())
    course, _, enrollment, transaction = sale
    body = page(client, f"/admin/console_transactions/details/?id={transaction.id}")
    ledger = body.split('id="ledger-rows"')[1].split("</table>")[0]
    assert "platform share" in ledger and "creator royalty" in ledger and "teaching pool" in ledger
    assert "$59.85" in ledger and "$279.30" in ledger
    assert course.creator.email in ledger
    assert "$399" in ledger.split("<tfoot>")[1]
    assert f'href="/admin/refunds/{enrollment.id}/"' in body
    assert "No refunds." in body


# --- the refund tool ------------------------------------------------------------------------


def test_refund_preview_shows_the_planned_rows_and_changes_nothing(client, make, login_as, sale):
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    before = ledger_count()

    response = preview(client, enrollment)

    assert response.status_code == 200
    body = response.get_data(as_text=True)
    rows = body.split('id="planned-rows"')[1].split("</table>")[0]
    assert "from the teaching pool" in rows and "from the platform&#39;s share" in rows
    assert "from the creator&#39;s royalty" in rows
    assert "−$279.30" in rows and "−$59.85" in rows and "$399" in rows
    assert "Refund $399" in body
    assert ledger_count() == before
    assert refunds_of(transaction) == []
    assert fresh(enrollment).status != EnrollmentStatus.cancelled


def test_confirming_a_full_refund_refunds_and_ends_the_enrollment(client, make, login_as, sale):
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    fields = confirm_fields(preview(client, enrollment, note="Asked by email").get_data(as_text=True))

    response = client.post(refund_url(enrollment), data=fields)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/console_transactions/details/?id={transaction.id}")
    [refund] = refunds_of(transaction)
    assert refund.amount_cents == 39900 and refund.note == "Asked by email"
    assert ledger_sum(transaction.id) == transaction.amount_cents
    assert fresh(enrollment).status == EnrollmentStatus.cancelled
    details = page(client, response.headers["Location"])
    assert "Refunded $399." in details
    assert "Asked by email" in details.split('id="refunds"')[1]


def test_a_custom_refund_with_the_box_unticked_keeps_the_enrollment(client, make, login_as, sale):
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    body = preview(client, enrollment, mode="custom", amount="120.50", ends_enrollment=None).get_data(as_text=True)
    assert "Refund $120.50" in body
    fields = confirm_fields(body)
    assert "ends_enrollment" not in fields

    response = client.post(refund_url(enrollment), data=fields)

    assert response.status_code == 302
    [refund] = refunds_of(transaction)
    assert refund.amount_cents == 12050 and not refund.ends_enrollment
    assert ledger_sum(transaction.id) == transaction.amount_cents
    assert fresh(enrollment).status != EnrollmentStatus.cancelled
    assert fresh(transaction).status.value == "partially_refunded"


def test_a_custom_amount_above_what_is_left_is_a_form_error_and_writes_nothing(client, make, login_as, sale):
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    before = ledger_count()

    response = preview(client, enrollment, mode="custom", amount="400.00")

    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "At most $399 is left to refund." in body
    assert 'id="confirm-refund"' not in body
    assert ledger_count() == before and refunds_of(transaction) == []


def test_a_confirm_above_what_is_left_is_a_form_error_not_a_500(client, make, login_as, sale):
    """Someone refunded part of it in another tab between the preview and the confirm."""
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    fields = confirm_fields(preview(client, enrollment, mode="custom", amount="300").get_data(as_text=True))
    other = confirm_fields(preview(client, enrollment, mode="custom", amount="200").get_data(as_text=True))
    assert client.post(refund_url(enrollment), data=other).status_code == 302
    before = ledger_count()

    response = client.post(refund_url(enrollment), data=fields)

    assert response.status_code == 400
    assert "At most $199 is left to refund." in response.get_data(as_text=True)
    assert ledger_count() == before and len(refunds_of(transaction)) == 1


def test_an_unreadable_amount_is_a_form_error(client, make, login_as, sale):
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    before = ledger_count()

    response = preview(client, enrollment, mode="custom", amount="abc")

    assert response.status_code == 400
    assert "Type the amount in currency units, like 120.50." in response.get_data(as_text=True)
    assert ledger_count() == before and refunds_of(transaction) == []


def test_a_double_submit_refunds_once(client, make, login_as, sale):
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    fields = confirm_fields(preview(client, enrollment, mode="custom", amount="50").get_data(as_text=True))

    first = client.post(refund_url(enrollment), data=fields)
    second = client.post(refund_url(enrollment), data=fields)

    assert first.status_code == 302 and second.status_code == 302
    [refund] = refunds_of(transaction)
    assert refund.amount_cents == 5000
    assert ledger_sum(transaction.id) == transaction.amount_cents


def test_refunding_a_fully_refunded_payment_says_so(client, make, login_as, sale):
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    client.post(refund_url(enrollment), data=confirm_fields(preview(client, enrollment).get_data(as_text=True)))

    response = preview(client, enrollment)

    assert response.status_code == 400
    assert "Nothing is left to refund on this payment." in response.get_data(as_text=True)
    assert len(refunds_of(transaction)) == 1


def test_the_refund_tool_for_an_unknown_enrollment_is_a_404(client, make, login_as):
    login_as(make.admin())
    assert client.get("/admin/refunds/not-a-uuid/").status_code == 404
    assert client.get("/admin/refunds/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_a_refund_post_without_csrf_is_refused(client, make, login_as, sale):
    login_as(make.admin())
    _, _, enrollment, transaction = sale
    response = client.post(refund_url(enrollment), data={"step": "confirm", "mode": "full", "token": "t" * 22})
    assert response.status_code == 400
    assert refunds_of(transaction) == []


# --- payout batches -------------------------------------------------------------------------


def earning_creator(make, jobs, now):
    """A connected creator who earned a 15% royalty on one sale ($59.85)."""
    creator = connect(jobs, make.creator(), now=now)
    course = make.course(creator=creator, price_cents=39900)
    _, transaction = paid_enrollment(jobs, make.user(), course, now=now)
    return creator, transaction


def click_form(client, html: str, form_id: str, **extra):
    """Press the submit button of the form with this id, as a browser posts it."""
    match = re.search(rf'<form[^>]*action="([^"]+)"[^>]*id="{form_id}".*?</form>', html, re.S) or re.search(
        rf'<form[^>]*id="{form_id}"[^>]*action="([^"]+)".*?</form>', html, re.S
    )
    assert match, f"no form {form_id}"
    form = match.group(0)
    data = {name: unescape(value) for name, value in INPUT.findall(form)}
    data["csrf_token"] = csrf_from(form)
    for checked in re.finditer(r"<input[^>]*>", form):
        tag = checked.group(0)
        if 'type="checkbox"' in tag and "checked" in tag:
            name = re.search(r'name="([^"]+)"', tag).group(1)
            data[name] = re.search(r'value="([^"]*)"', tag).group(1)
    data.update(extra)
    return client.post(unescape(match.group(1)), data=data)


def test_approving_a_weeks_batch_from_the_console_home(client, make, login_as, jobs, now, low_minimum):
    creator, transaction = earning_creator(make, jobs, now)
    login_as(make.admin())
    clicks = 0

    home = page(client, "/admin/")
    assert "No payout requests waiting." in home
    # Click 1: "Gather this week's payouts" on the console home.
    created = click_form(client, home, "gather-payouts")
    clicks += 1
    assert created.status_code == 302 and "/details/" in created.headers["Location"]
    batch_page = page(client, created.headers["Location"])
    assert "Batch created with 1 payout(s)." in batch_page
    assert creator.email in batch_page and "$59.85" in batch_page
    # Click 2: "Approve and pay".
    approved = click_form(client, batch_page, "approve-batch")
    clicks += 1
    run_jobs(jobs)

    assert approved.status_code == 302
    assert clicks == 2  # the Payout batches list's "New batch" is the other way in
    batch = db.session.scalar(sa.select(PayoutBatch))
    [payout] = fresh(batch).payouts
    assert payout.recipient_id == creator.id and payout.status == PayoutStatus.paid
    assert payout.amount_cents == 5985 and payout.paid_cents == 5985
    [transfer] = payout.transfers
    assert transfer.status == TransferStatus.created and transfer.stripe_transfer_id.startswith("tr_")
    assert transfer.transaction_id == transaction.id
    assert fresh(batch).status in (PayoutBatchStatus.approved, PayoutBatchStatus.processed)
    after = page(client, approved.headers["Location"])
    assert transfer.stripe_transfer_id in after
    assert 'id="approve-batch"' not in after


def test_approving_twice_is_a_flash_not_a_second_transfer(client, make, login_as, jobs, now, low_minimum):
    earning_creator(make, jobs, now)
    login_as(make.admin())
    created = click_form(client, page(client, "/admin/console_payout_batches/"), "new-batch")
    batch_page = page(client, created.headers["Location"])
    click_form(client, batch_page, "approve-batch")
    run_jobs(jobs)

    again = click_form(client, batch_page, "approve-batch")  # the same page, a second tab
    run_jobs(jobs)

    assert again.status_code == 302
    assert "This batch was already approved." in page(client, again.headers["Location"])
    assert db.session.scalar(sa.select(sa.func.count(PayoutTransfer.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Payout.id))) == 1


def test_a_new_batch_with_nothing_to_pay_is_a_flash(client, make, login_as):
    login_as(make.admin())

    response = click_form(client, page(client, "/admin/console_payout_batches/"), "new-batch")

    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/console_payout_batches/")
    assert "No payouts are waiting: nothing to put in a batch." in page(client, response.headers["Location"])
    assert db.session.scalar(sa.select(sa.func.count(PayoutBatch.id))) == 0


def test_a_balance_below_the_minimum_is_left_out(client, make, login_as, jobs, now, app, monkeypatch):
    monkeypatch.setitem(app.config, "PAYOUT_MINIMUM_CENTS", 10_000)
    earning_creator(make, jobs, now)
    login_as(make.admin())

    response = click_form(client, page(client, "/admin/console_payout_batches/"), "new-batch")

    assert "nothing to put in a batch" in page(client, response.headers["Location"])


def test_batch_list_and_payouts_list_show_the_batch(client, make, login_as, jobs, now, low_minimum):
    creator, _ = earning_creator(make, jobs, now)
    login_as(make.admin())
    created = click_form(client, page(client, "/admin/console_payout_batches/"), "new-batch")
    click_form(client, page(client, created.headers["Location"]), "approve-batch")
    run_jobs(jobs)

    batches = page(client, "/admin/console_payout_batches/")
    assert "$59.85" in batches and "<time" in batches
    payouts = page(client, "/admin/console_payouts/")
    assert creator.email in payouts and "$59.85" in payouts and "paid" in payouts
    index = filter_index(client, "console_payouts", "Status")
    assert creator.email not in page(client, f"/admin/console_payouts/?flt0_{index}=failed")
    assert creator.email in page(client, f"/admin/console_payouts/?flt0_{index}=paid")


@pytest.mark.parametrize("clawback", [False, True])
def test_refunding_a_royalty_already_paid_out(client, make, login_as, jobs, now, low_minimum, clawback):
    """After the creator's royalty went out in a batch: absorbed by the platform, or clawed back when ticked."""
    creator, transaction = earning_creator(make, jobs, now)
    login_as(make.admin())
    created = click_form(client, page(client, "/admin/console_payout_batches/"), "new-batch")
    click_form(client, page(client, created.headers["Location"]), "approve-batch")
    run_jobs(jobs)
    enrollment = db.session.get(Enrollment, transaction.enrollment_id)

    body = preview(client, enrollment, clawback="y" if clawback else None).get_data(as_text=True)
    rows = body.split('id="planned-rows"')[1].split("</table>")[0]
    if clawback:
        assert "taken back by a transfer reversal" in rows and "absorbed" not in rows
    else:
        assert "royalty already paid out, absorbed by the platform" in rows and "clawback" not in rows
    response = client.post(refund_url(enrollment), data=confirm_fields(body))

    assert response.status_code == 302
    [refund] = refunds_of(transaction)
    assert refund.amount_cents == 39900
    assert (refund.absorbed_cents, refund.clawed_back_cents) == ((0, 5985) if clawback else (5985, 0))
    assert ledger_sum(transaction.id) == transaction.amount_cents
    [transfer] = db.session.scalars(sa.select(PayoutTransfer)).all()
    assert transfer.reversed_cents == (5985 if clawback else 0)


def test_a_confirm_after_the_sale_moved_refunds_nothing(client, make, login_as, sale, now):
    """Previewed in full, then a session was delivered before the confirm: Brian is asked again."""
    from uuid import uuid4

    from tests.payments.conftest import FakeSession

    login_as(make.admin())
    _, _, enrollment, transaction = sale
    fields = confirm_fields(preview(client, enrollment, mode="full").get_data(as_text=True))
    services.release_teaching_share(FakeSession(uuid4(), enrollment.id, make.user().id), now=now)
    before = ledger_count()
    response = client.post(refund_url(enrollment), data=fields)
    assert response.status_code == 400
    assert "not what the preview showed" in response.get_data(as_text=True)
    assert ledger_count() == before and refunds_of(transaction) == []
