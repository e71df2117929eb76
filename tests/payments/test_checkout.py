"""Enroll and pay: the checkout API and pages, completion, and the payments that must never be dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.extensions import db
from peerloop.notifications.models import Notification, OutboundEmail
from peerloop.payments import sandbox, services
from peerloop.payments.models import (
    Checkout,
    CheckoutStatus,
    InstructorFollower,
    Refund,
    RefundReason,
    SandboxObject,
    Transaction,
    TransactionStatus,
)
from peerloop.webhooks.models import WebhookEvent
from tests.conftest import csrf_from
from tests.payments.conftest import ledger_sum, pay, transaction_for


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def course(make):
    return make.course(details=True)


@pytest.fixture
def teacher(make, course):
    person = make.user(name="Marcus Teacher")
    make.student_teacher(person, course)
    return person


# --- the API ---------------------------------------------------------------------


def test_checkout_session_returns_the_gateway_session_and_reuses_an_open_one(client, make, course, api_token):
    student = make.user()
    headers = api_token(student)
    first = client.post("/api/checkout/session", json={"course_id": str(course.id)}, headers=headers)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["id"].startswith("cs_")
    assert body["checkout_url"] == f"http://peerloop.test/sandbox/checkout/{body['id']}"
    again = client.post("/api/checkout/session", json={"course_id": str(course.id)}, headers=headers)
    assert again.get_json()["id"] == body["id"]
    assert count(Checkout) == 1
    checkout = db.session.scalar(sa.select(Checkout))
    assert (checkout.price_cents, checkout.currency, checkout.session_count) == (39900, "USD", 2)
    assert checkout.status == CheckoutStatus.open
    assert count(Enrollment) == 0  # only once paid


def test_idempotency_key_returns_the_first_result(client, make, course, teacher, api_token):
    student = make.user()
    headers = {**api_token(student), "Idempotency-Key": "tab-1"}
    first = client.post("/api/checkout/session", json={"course_id": str(course.id)}, headers=headers)
    # The same key with a different body still answers the first result, as API.md says.
    repeat = client.post(
        "/api/checkout/session",
        json={"course_id": str(course.id), "student_teacher_id": str(teacher.id)},
        headers=headers,
    )
    assert repeat.status_code == 201
    assert repeat.get_json() == first.get_json()
    assert db.session.scalar(sa.select(Checkout)).student_teacher_id is None


def test_already_enrolled_is_a_409(client, make, course, api_token, purchase):
    student = make.user()
    purchase(student, course)
    response = client.post("/api/checkout/session", json={"course_id": str(course.id)}, headers=api_token(student))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "already_enrolled"


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({}, 400, "course_id"),
        ({"course_id": ""}, 400, "course_id"),
        ({"course_id": "not-a-uuid"}, 404, None),
        ({"course_id": 12}, 400, "course_id"),
        ({"course_id": "COURSE", "student_teacher_id": "nobody"}, 400, "student_teacher_id"),
        (
            {"course_id": "COURSE", "student_teacher_id": "00000000-0000-0000-0000-000000000000"},
            400,
            "student_teacher_id",
        ),
    ],
)
def test_bad_checkout_input_is_a_clear_error(client, make, course, api_token, payload, status, field):
    payload = {k: (str(course.id) if v == "COURSE" else v) for k, v in payload.items()}
    response = client.post("/api/checkout/session", json=payload, headers=api_token(make.user()))
    assert response.status_code == status
    if field:
        assert field in response.get_json()["error"]["fields"]
    assert count(Checkout) == 0


def test_drafts_and_unsellable_courses_cannot_be_bought(client, make, api_token):
    draft = make.course(is_active=False)
    no_sessions = make.course(session_count=0)
    too_cheap = make.course(price_cents=49)
    headers = api_token(make.user())
    assert client.post("/api/checkout/session", json={"course_id": str(draft.id)}, headers=headers).status_code == 404
    for course in (no_sessions, too_cheap):
        response = client.post("/api/checkout/session", json={"course_id": str(course.id)}, headers=headers)
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "not_purchasable"
    assert count(Checkout) == 0


def test_checkout_needs_a_login(client, course):
    response = client.post("/api/checkout/session", json={"course_id": str(course.id)})
    assert response.status_code == 401


def test_a_gateway_failure_writes_nothing(client, make, course, api_token, monkeypatch):
    from peerloop.payments.interfaces import GatewayError

    def down(self, request):
        raise GatewayError("The payment provider could not be reached. Try again in a minute.", retryable=True)

    monkeypatch.setattr(sandbox.SandboxGateway, "create_checkout_session", down)
    response = client.post("/api/checkout/session", json={"course_id": str(course.id)}, headers=api_token(make.user()))
    assert response.status_code == 503
    assert "could not be reached" in response.get_json()["error"]["message"]
    assert count(Checkout) == 0


# --- completion --------------------------------------------------------------------


def test_paying_enrolls_with_ledger_follower_email_and_bell(make, course, teacher, purchase):
    student = make.user(email="buyer@example.com")
    enrollment = purchase(student, course, teacher=teacher)
    assert enrollment.status == EnrollmentStatus.enrolled
    assert enrollment.student_teacher_id == teacher.id
    assert (enrollment.price_cents, enrollment.session_count) == (39900, 2)
    txn = transaction_for(enrollment)
    assert txn.status == TransactionStatus.completed
    assert txn.stripe_payment_id.startswith("pi_") and txn.stripe_charge_id.startswith("ch_")
    assert txn.transfer_group == f"checkout_{txn.checkout_id}"
    assert ledger_sum(txn.id) == 39900
    follower = db.session.scalar(sa.select(InstructorFollower))
    assert (follower.instructor_id, follower.follower_id) == (course.creator_id, student.id)
    email = db.session.scalar(sa.select(OutboundEmail).where(OutboundEmail.to_address == "buyer@example.com"))
    assert "You're enrolled in" in email.subject
    assert "$399" in email.text_body and "http://peerloop.test/dashboard" in email.text_body
    assert db.session.scalar(sa.select(Notification).where(Notification.user_id == student.id)).type == "enrolled"


def test_a_second_course_from_the_same_creator_adds_no_second_follower(make, course, purchase):
    student = make.user()
    other = make.course(creator=course.creator)
    purchase(student, course)
    purchase(student, other)
    assert count(InstructorFollower) == 1


def test_a_replayed_or_duplicate_event_enrolls_once(make, course, purchase):
    student = make.user()
    enrollment = purchase(student, course)
    checkout = db.session.scalar(sa.select(Checkout))
    event = db.session.scalar(sa.select(WebhookEvent))
    # Stripe delivers again (a new delivery of the same event id), and the session is "paid" again.
    from peerloop.payments.interfaces import GatewayCheckout

    session = sandbox.SandboxGateway().retrieve_checkout_session(checkout.gateway_session_id)
    assert isinstance(session, GatewayCheckout)
    assert services.complete_checkout(session, now=checkout.created_at) == enrollment
    db.session.commit()
    from peerloop.webhooks.services import process_event, replay_events

    replay_events([event.id], now=checkout.created_at)
    assert process_event(event.id, now=checkout.created_at) in ("already done", "processed")
    assert count(Enrollment) == 1 and count(Transaction) == 1
    assert count(Notification) == 1 and count(OutboundEmail) == 1


def test_pay_twice_on_the_sandbox_page_is_one_payment(make, course, now):
    student = make.user()
    checkout = services.start_checkout(student, course.id, now=now)
    pay(checkout.gateway_session_id, now=now)
    pay(checkout.gateway_session_id, now=now)
    assert count(Enrollment) == 1 and count(Transaction) == 1 and count(WebhookEvent) == 1


def test_a_paid_session_whose_checkout_expired_still_enrolls(make, course, now):
    student = make.user()
    checkout = services.start_checkout(student, course.id, now=now)
    later = now + timedelta(hours=3)
    assert services.expire_stale_checkouts(later) == 1
    assert db.session.get(Checkout, checkout.id).status == CheckoutStatus.expired
    pay(checkout.gateway_session_id, now=later)  # the buyer had the page open all along
    assert db.session.get(Checkout, checkout.id).status == CheckoutStatus.completed
    assert count(Enrollment) == 1


def test_the_sweep_completes_a_paid_checkout_whose_webhook_never_came(make, course, now, monkeypatch):
    student = make.user()
    checkout = services.start_checkout(student, course.id, now=now)
    monkeypatch.setattr(sandbox, "_deliver", lambda *a, **k: db.session.commit())  # the event is lost
    pay(checkout.gateway_session_id, now=now)
    assert count(Enrollment) == 0
    assert services.expire_stale_checkouts(now + timedelta(hours=2)) == 0
    assert db.session.get(Checkout, checkout.id).status == CheckoutStatus.completed
    assert count(Enrollment) == 1


def test_two_tabs_two_payments_the_second_is_refunded_in_full(make, course, now):
    student = make.user(email="twotabs@example.com")
    first = services.start_checkout(student, course.id, now=now)
    # The first checkout expires locally; the second tab starts a fresh one; both get paid.
    db.session.get(Checkout, first.id).status = CheckoutStatus.expired
    db.session.commit()
    second = services.start_checkout(student, course.id, now=now)
    assert second.id != first.id
    pay(second.gateway_session_id, now=now)
    pay(first.gateway_session_id, now=now)
    assert count(Enrollment) == 1
    assert count(Transaction) == 2
    refund = db.session.scalar(sa.select(Refund))
    assert (refund.reason, refund.amount_cents) == (RefundReason.duplicate, 39900)
    duplicate = db.session.scalar(sa.select(Transaction).where(Transaction.enrollment_id.is_(None)))
    assert duplicate.status == TransactionStatus.refunded
    assert ledger_sum(duplicate.id) == 39900  # the refund account holds it all
    gateway_refund = db.session.scalar(sa.select(SandboxObject).where(SandboxObject.kind == "refund"))
    assert gateway_refund.data["amount"] == 39900
    subjects = db.session.scalars(
        sa.select(OutboundEmail.subject).where(OutboundEmail.to_address == "twotabs@example.com")
    ).all()
    assert any(s.startswith("Refunded $399") for s in subjects)


def test_a_session_that_contradicts_our_checkout_is_not_completed(make, course, now):
    from peerloop.payments.interfaces import GatewayCheckout

    student = make.user()
    checkout = services.start_checkout(student, course.id, now=now)
    forged = GatewayCheckout(
        id=checkout.gateway_session_id,
        url=None,
        status="complete",
        payment_status="paid",
        amount_total=100,
        currency="USD",
        payment_intent="pi_forged",
        client_reference_id=str(checkout.id),
    )
    with pytest.raises(ValueError, match="asked 39900"):
        services.complete_checkout(forged, now=now)
    db.session.rollback()
    assert count(Enrollment) == 0


def test_an_unpaid_session_completes_nothing(make, course, now):
    from peerloop.payments.interfaces import GatewayCheckout

    checkout = services.start_checkout(make.user(), course.id, now=now)
    unpaid = GatewayCheckout(
        id=checkout.gateway_session_id,
        url=None,
        status="complete",
        payment_status="unpaid",
        amount_total=39900,
        currency="USD",
        payment_intent=None,
        client_reference_id=None,
    )
    assert services.complete_checkout(unpaid, now=now) is None
    assert count(Enrollment) == 0


# --- pages -----------------------------------------------------------------------------


def test_enroll_from_the_course_page_pay_and_land_on_my_courses(client, make, course, teacher, login_as):
    student = login_as(make.user())
    page = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    assert "Schedule Later" in page and "Marcus Teacher" in page and "Enroll · $399" in page
    response = client.post(
        f"/courses/{course.slug}/enroll", data={"teacher": str(teacher.id), "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303
    pay_page = client.get(response.headers["Location"].removeprefix("http://peerloop.test"))
    assert pay_page.status_code == 200 and "Pay $399" in pay_page.get_data(as_text=True)
    checkout = db.session.scalar(sa.select(Checkout))
    paid = client.post(
        f"/sandbox/checkout/{checkout.gateway_session_id}/pay",
        data={"csrf_token": csrf_from(pay_page.get_data(as_text=True))},
    )
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"http://peerloop.test/checkout/return?session_id={checkout.gateway_session_id}"
    landed = client.get(paid.headers["Location"].removeprefix("http://peerloop.test"), follow_redirects=True)
    html = landed.get_data(as_text=True)
    assert landed.request.path == "/dashboard"
    assert "You&#39;re enrolled in" in html and course.title in html and "with Marcus Teacher" in html
    assert db.session.scalar(sa.select(Enrollment)).student_id == student.id
    assert "Go to My courses" in client.get(f"/courses/{course.slug}").get_data(as_text=True)


def test_anonymous_enroll_goes_through_signup_and_back(client, course, teacher):
    response = client.get(f"/courses/{course.slug}/enroll?teacher={teacher.id}")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == f"/signup?next=/courses/{course.slug}/enroll?teacher%3D{teacher.id}"
    signup = client.get(location).get_data(as_text=True)
    assert f'value="/courses/{course.slug}/enroll?teacher={teacher.id}"' in signup  # carried to after signup


def test_the_return_page_completes_a_payment_whose_webhook_is_late(client, make, course, login_as, monkeypatch, now):
    student = login_as(make.user())
    checkout = services.start_checkout(student, course.id, now=now)
    monkeypatch.setattr(sandbox, "_deliver", lambda *a, **k: db.session.commit())  # the webhook is late
    pay(checkout.gateway_session_id, now=now)
    assert count(Enrollment) == 0
    response = client.get(f"/checkout/return?session_id={checkout.gateway_session_id}")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert count(Enrollment) == 1


def test_the_return_page_waits_while_unpaid_and_hides_other_peoples_checkouts(client, make, course, login_as, now):
    owner = make.user()
    checkout = services.start_checkout(owner, course.id, now=now)
    login_as(make.user())
    assert client.get(f"/checkout/return?session_id={checkout.gateway_session_id}").status_code == 404
    assert client.get("/checkout/return?session_id=cs_nonsense").status_code == 404


def test_unpaid_return_shows_the_waiting_page(client, make, course, login_as, now):
    student = login_as(make.user())
    checkout = services.start_checkout(student, course.id, now=now)
    response = client.get(f"/checkout/return?session_id={checkout.gateway_session_id}")
    assert response.status_code == 202
    assert "Confirming your payment" in response.get_data(as_text=True)


def test_my_courses_lists_enrollments_with_progress_and_next_step(client, make, course, teacher, login_as, purchase):
    student = login_as(make.user())
    purchase(student, course, teacher=teacher)
    html = client.get("/dashboard").get_data(as_text=True)
    assert course.title in html and "0 of 4 modules done" in html
    assert "Book your first session with Marcus Teacher" in html
    api = client.get("/api/enrollments").get_json()
    assert api["total"] == 1
    item = api["items"][0]
    assert item["course"]["slug"] == course.slug and item["student_teacher_id"] == str(teacher.id)
    assert (item["sessions_used"], item["modules_done"], item["modules_total"]) == (0, 0, 4)


def test_dashboard_needs_login(client):
    assert client.get("/dashboard").status_code == 302


def test_sandbox_pages_are_gone_when_stripe_is_configured(client, app, make, course, now, monkeypatch):
    checkout = services.start_checkout(make.user(), course.id, now=now)
    monkeypatch.setitem(app.config, "PAYMENT_GATEWAY", "stripe")
    assert client.get(f"/sandbox/checkout/{checkout.gateway_session_id}").status_code == 404


def test_sandbox_refuses_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "PEERLOOP_ENV", "production")
    with pytest.raises(RuntimeError, match="cannot run in production"):
        sandbox.SandboxGateway()


def test_a_creator_cannot_buy_their_own_course(client, course, api_token):
    response = client.post(
        "/api/checkout/session", json={"course_id": str(course.id)}, headers=api_token(course.creator)
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "own_course"


def test_enrollments_api_pages(client, make, api_token, purchase):
    student = make.user()
    for _ in range(3):
        purchase(student, make.course())
    headers = api_token(student)
    first = client.get("/api/enrollments?per_page=2", headers=headers).get_json()
    second = client.get("/api/enrollments?per_page=2&page=2", headers=headers).get_json()
    assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in second["items"]})
    assert client.get("/api/enrollments?per_page=500", headers=headers).status_code == 400


def test_a_return_whose_session_contradicts_our_checkout_waits_instead_of_failing(client, make, course, login_as, now):
    from peerloop.payments.models import SandboxObject

    student = login_as(make.user())
    checkout = services.start_checkout(student, course.id, now=now)
    row = db.session.get(SandboxObject, checkout.gateway_session_id)
    row.data = {
        **row.data,
        "amount_total": 100,
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": "pi_x",
    }
    db.session.commit()
    response = client.get(f"/checkout/return?session_id={checkout.gateway_session_id}")
    assert response.status_code == 202 and "Confirming your payment" in response.get_data(as_text=True)
    assert count(Enrollment) == 0
