"""The Stripe adapter at the HTTP boundary: what each call sends to api.stripe.com, and what it reads back.

No app and no database: ``responses`` stands in for Stripe, the bodies are the
shapes Stripe's API reference documents, and every request is checked field by
field as Stripe will decode it (form-encoded; the SDK writes lists as ``[0]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import stripe

from peerloop.payments.interfaces import (
    CheckoutRequest,
    ConnectAccount,
    GatewayCheckout,
    GatewayError,
    GatewayRefund,
    GatewayReversal,
    GatewayTransfer,
    PaymentDetails,
    TransferRequest,
)
from peerloop.payments.stripe_gateway import UNREACHABLE, StripeGateway, event_account_state

API = "https://api.stripe.com"
KEY = "sk_test_51PeerLoopFakeKey"
EXPIRES = datetime(2026, 12, 3, 21, 30, tzinfo=UTC)

CHECKOUT = CheckoutRequest(
    checkout_id="chk_42",
    amount_cents=39_900,
    currency="USD",
    product_name="Intro to Watercolour",
    customer_email="student@example.com",
    success_url="https://peerloop.test/checkout/return?session_id={CHECKOUT_SESSION_ID}",
    cancel_url="https://peerloop.test/courses/watercolour",
    transfer_group="enrollment_7",
    expires_at=EXPIRES,
    idempotency_key="checkout:chk_42",
    metadata={"course_id": "12", "student_id": "3"},
)

OPEN_SESSION = {
    "id": "cs_test_a1B2c3",
    "object": "checkout.session",
    "amount_subtotal": 39900,
    "amount_total": 39900,
    "cancel_url": "https://peerloop.test/courses/watercolour",
    "client_reference_id": "chk_42",
    "created": 1796333400,
    "currency": "usd",
    "customer_email": "student@example.com",
    "expires_at": 1796333400 + 1800,
    "livemode": False,
    "metadata": {"checkout_id": "chk_42", "course_id": "12", "student_id": "3"},
    "mode": "payment",
    "payment_intent": None,
    "payment_method_types": ["card"],
    "payment_status": "unpaid",
    "status": "open",
    "success_url": "https://peerloop.test/checkout/return?session_id={CHECKOUT_SESSION_ID}",
    "url": "https://checkout.stripe.com/c/pay/cs_test_a1B2c3#fidkdWxOYHwnPyd1blpxYHZxWjA0",
}
COMPLETE_SESSION = {
    **OPEN_SESSION,
    "status": "complete",
    "payment_status": "paid",
    "url": None,
    "payment_intent": "pi_3Q",
}

CHARGE = {
    "id": "ch_3Q",
    "object": "charge",
    "amount": 39900,
    "balance_transaction": "txn_3Q",
    "currency": "usd",
    "paid": True,
    "payment_intent": "pi_3Q",
    "status": "succeeded",
    "transfer_group": "enrollment_7",
}
BALANCE_TRANSACTION = {
    "id": "txn_3Q",
    "object": "balance_transaction",
    "amount": 39900,
    "currency": "usd",
    "fee": 1187,
    "net": 38713,
    "status": "pending",
    "type": "charge",
}


def payment_intent(latest_charge: Any) -> dict:
    return {
        "id": "pi_3Q",
        "object": "payment_intent",
        "amount": 39900,
        "amount_received": 39900,
        "currency": "usd",
        "latest_charge": latest_charge,
        "metadata": {"checkout_id": "chk_42"},
        "status": "succeeded",
        "transfer_group": "enrollment_7",
    }


def account(**overrides: Any) -> dict:
    """An Express account as Stripe returns it; a brand-new one unless told otherwise."""
    body = {
        "id": "acct_1Teacher",
        "object": "account",
        "business_type": None,
        "capabilities": {"transfers": "inactive"},
        "charges_enabled": False,
        "country": "US",
        "created": 1796333400,
        "default_currency": "usd",
        "details_submitted": False,
        "email": "teacher@example.com",
        "metadata": {"user_id": "5"},
        "payouts_enabled": False,
        "requirements": {
            "currently_due": ["business_type", "external_account", "tos_acceptance.date"],
            "disabled_reason": "requirements.past_due",
            "errors": [],
        },
        "type": "express",
    }
    body.update(overrides)
    return body


def requirements(disabled_reason: str | None) -> dict:
    return {"currently_due": [], "disabled_reason": disabled_reason, "errors": []}


def form(request: requests.PreparedRequest) -> dict[str, str]:
    """The request's form body as Stripe decodes it, one value per field."""
    body = request.body or ""
    fields = parse_qs(body.decode() if isinstance(body, bytes) else body, keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in fields.values()), fields
    return {name: values[0] for name, values in fields.items()}


def query(request: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def only_call(stripe_api: responses.RequestsMock) -> requests.PreparedRequest:
    assert len(stripe_api.calls) == 1
    request = stripe_api.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    return request


def assert_post(request: requests.PreparedRequest, path: str, *, idempotency_key: str | None) -> None:
    assert request.method == "POST"
    assert urlsplit(request.url).path == path
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    if idempotency_key is not None:
        assert request.headers["Idempotency-Key"] == idempotency_key


@pytest.fixture
def stripe_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def gateway() -> StripeGateway:
    return StripeGateway(KEY, max_network_retries=0)


# -- Checkout -----------------------------------------------------------------------------------------


def test_create_checkout_session_sends_the_whole_session(stripe_api, gateway):
    stripe_api.post(f"{API}/v1/checkout/sessions", json=OPEN_SESSION)

    checkout = gateway.create_checkout_session(CHECKOUT)

    request = only_call(stripe_api)
    assert_post(request, "/v1/checkout/sessions", idempotency_key="checkout:chk_42")
    assert form(request) == {
        "mode": "payment",
        "payment_method_types[0]": "card",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "39900",
        "line_items[0][price_data][product_data][name]": "Intro to Watercolour",
        "line_items[0][quantity]": "1",
        "customer_email": "student@example.com",
        "success_url": "https://peerloop.test/checkout/return?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://peerloop.test/courses/watercolour",
        "client_reference_id": "chk_42",
        "metadata[course_id]": "12",
        "metadata[student_id]": "3",
        "metadata[checkout_id]": "chk_42",
        "payment_intent_data[transfer_group]": "enrollment_7",
        "payment_intent_data[metadata][course_id]": "12",
        "payment_intent_data[metadata][student_id]": "3",
        "payment_intent_data[metadata][checkout_id]": "chk_42",
        "expires_at": str(int(EXPIRES.timestamp())),
    }
    assert checkout == GatewayCheckout(
        id="cs_test_a1B2c3",
        url=OPEN_SESSION["url"],
        status="open",
        payment_status="unpaid",
        amount_total=39900,
        currency="USD",
        payment_intent=None,
        client_reference_id="chk_42",
        metadata={"checkout_id": "chk_42", "course_id": "12", "student_id": "3"},
    )
    assert type(checkout.metadata) is dict


def test_checkout_metadata_cannot_override_our_checkout_id(stripe_api, gateway):
    stripe_api.post(f"{API}/v1/checkout/sessions", json=OPEN_SESSION)
    request = CheckoutRequest(**{**CHECKOUT.__dict__, "metadata": {"checkout_id": "someone_else"}})

    gateway.create_checkout_session(request)

    sent = form(only_call(stripe_api))
    assert sent["metadata[checkout_id]"] == sent["payment_intent_data[metadata][checkout_id]"] == "chk_42"


def test_a_naive_expiry_is_taken_as_utc(stripe_api, gateway):
    stripe_api.post(f"{API}/v1/checkout/sessions", json=OPEN_SESSION)
    request = CheckoutRequest(**{**CHECKOUT.__dict__, "expires_at": EXPIRES.replace(tzinfo=None)})

    gateway.create_checkout_session(request)

    assert form(only_call(stripe_api))["expires_at"] == str(int(EXPIRES.timestamp()))


def test_retrieve_checkout_session_reads_a_completed_session(stripe_api, gateway):
    stripe_api.get(f"{API}/v1/checkout/sessions/cs_test_a1B2c3", json=COMPLETE_SESSION)

    checkout = gateway.retrieve_checkout_session("cs_test_a1B2c3")

    request = only_call(stripe_api)
    assert request.method == "GET" and not request.body
    assert checkout.status == "complete" and checkout.payment_status == "paid"
    assert checkout.url is None
    assert checkout.payment_intent == "pi_3Q"
    assert checkout.currency == "USD"


def test_an_expanded_payment_intent_on_a_session_reads_as_its_id(stripe_api, gateway):
    expanded = {**COMPLETE_SESSION, "payment_intent": payment_intent(CHARGE)}
    stripe_api.get(f"{API}/v1/checkout/sessions/cs_test_a1B2c3", json=expanded)

    assert gateway.retrieve_checkout_session("cs_test_a1B2c3").payment_intent == "pi_3Q"


# -- Payment details ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latest_charge", "expected"),
    [
        pytest.param(
            {**CHARGE, "balance_transaction": BALANCE_TRANSACTION}, PaymentDetails("ch_3Q", 1187), id="expanded"
        ),
        pytest.param(CHARGE, PaymentDetails("ch_3Q", None), id="charge-expanded-balance-transaction-not"),
        pytest.param("ch_3Q", PaymentDetails("ch_3Q", None), id="charge-id-only"),
        pytest.param(None, PaymentDetails(None, None), id="no-charge-yet"),
    ],
)
def test_payment_details_reads_the_latest_charge(stripe_api, gateway, latest_charge, expected):
    stripe_api.get(f"{API}/v1/payment_intents/pi_3Q", json=payment_intent(latest_charge))

    assert gateway.payment_details("pi_3Q") == expected

    request = only_call(stripe_api)
    assert request.method == "GET"
    assert urlsplit(request.url).path == "/v1/payment_intents/pi_3Q"
    assert query(request) == {"expand[0]": ["latest_charge.balance_transaction"]}


# -- Refunds ------------------------------------------------------------------------------------------


def test_refund_sends_amount_metadata_and_key(stripe_api, gateway):
    stripe_api.post(
        f"{API}/v1/refunds",
        json={
            "id": "re_3Q",
            "object": "refund",
            "amount": 19951,
            "charge": "ch_3Q",
            "currency": "usd",
            "metadata": {"refund_id": "9"},
            "payment_intent": "pi_3Q",
            "status": "succeeded",
        },
    )

    refund = gateway.refund(
        payment_intent_id="pi_3Q", amount_cents=19951, idempotency_key="refund:9", metadata={"refund_id": "9"}
    )

    request = only_call(stripe_api)
    assert_post(request, "/v1/refunds", idempotency_key="refund:9")
    assert form(request) == {"payment_intent": "pi_3Q", "amount": "19951", "metadata[refund_id]": "9"}
    assert refund == GatewayRefund(id="re_3Q", status="succeeded", amount_cents=19951)


# -- Connect ------------------------------------------------------------------------------------------


def test_create_connect_account_asks_for_an_express_account_with_transfers(stripe_api, gateway):
    stripe_api.post(f"{API}/v1/accounts", json=account())

    created = gateway.create_connect_account(email="teacher@example.com", user_id="5", idempotency_key="connect:5")

    request = only_call(stripe_api)
    assert_post(request, "/v1/accounts", idempotency_key="connect:5")
    assert form(request) == {
        "type": "express",
        "email": "teacher@example.com",
        "capabilities[transfers][requested]": "true",
        "metadata[user_id]": "5",
    }
    assert created == ConnectAccount(
        id="acct_1Teacher",
        details_submitted=False,
        charges_enabled=False,
        payouts_enabled=False,
        disabled_reason="requirements.past_due",
    )


def test_retrieve_connect_account_reads_an_onboarded_account(stripe_api, gateway):
    body = account(details_submitted=True, charges_enabled=True, payouts_enabled=True, requirements=requirements(None))
    stripe_api.get(f"{API}/v1/accounts/acct_1Teacher", json=body)

    retrieved = gateway.retrieve_connect_account("acct_1Teacher")

    assert retrieved == ConnectAccount("acct_1Teacher", True, True, True, None)
    request = only_call(stripe_api)
    assert request.method == "GET" and not request.body
    assert event_account_state(body) == retrieved  # the webhook reads the same JSON the same way


def test_create_account_link_returns_the_onboarding_url(stripe_api, gateway):
    url = "https://connect.stripe.com/setup/e/acct_1Teacher/Zk9wRxLq"
    stripe_api.post(
        f"{API}/v1/account_links",
        json={"object": "account_link", "created": 1796333400, "expires_at": 1796333700, "url": url},
    )

    link = gateway.create_account_link(
        account_id="acct_1Teacher",
        refresh_url="https://peerloop.test/payouts/onboarding/refresh",
        return_url="https://peerloop.test/payouts/onboarding/done",
        idempotency_key="account-link-1",
    )

    request = only_call(stripe_api)
    assert_post(request, "/v1/account_links", idempotency_key="account-link-1")
    assert form(request) == {
        "account": "acct_1Teacher",
        "refresh_url": "https://peerloop.test/payouts/onboarding/refresh",
        "return_url": "https://peerloop.test/payouts/onboarding/done",
        "type": "account_onboarding",
    }
    assert link == url


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            account(), ConnectAccount("acct_1Teacher", False, False, False, "requirements.past_due"), id="no-details"
        ),
        pytest.param(
            account(details_submitted=True, requirements=requirements("requirements.pending_verification")),
            ConnectAccount("acct_1Teacher", True, False, False, "requirements.pending_verification"),
            id="details-but-charges-off",
        ),
        pytest.param(
            account(details_submitted=True, charges_enabled=True, requirements=requirements(None)),
            ConnectAccount("acct_1Teacher", True, True, False, None),
            id="charges-on-payouts-off",
        ),
        pytest.param(
            account(
                details_submitted=True, charges_enabled=True, payouts_enabled=True, requirements=requirements(None)
            ),
            ConnectAccount("acct_1Teacher", True, True, True, None),
            id="payouts-on",
        ),
        pytest.param(
            account(details_submitted=True, charges_enabled=False, requirements=requirements("rejected.fraud")),
            ConnectAccount("acct_1Teacher", True, False, False, "rejected.fraud"),
            id="rejected",
        ),
        pytest.param(
            {"id": "acct_1Teacher", "object": "account", "requirements": None},
            ConnectAccount("acct_1Teacher", False, False, False, None),
            id="flags-absent-read-as-off",
        ),
    ],
)
def test_event_account_state(body, expected):
    assert event_account_state(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"object": "account", "charges_enabled": True}, id="no-id"),
        pytest.param(account(charges_enabled="yes"), id="flag-not-a-bool"),
        pytest.param(account(requirements=["past_due"]), id="requirements-not-an-object"),
        pytest.param("acct_1Teacher", id="not-an-object"),
    ],
)
def test_event_account_state_refuses_what_is_not_an_account(body):
    with pytest.raises(GatewayError) as caught:
        event_account_state(body)
    assert caught.value.code == "malformed_response" and not caught.value.retryable


# -- Transfers ----------------------------------------------------------------------------------------


def transfer_body(**overrides: Any) -> dict:
    body = {
        "id": "tr_1Pool",
        "object": "transfer",
        "amount": 13965,
        "amount_reversed": 0,
        "currency": "usd",
        "destination": "acct_1Teacher",
        "metadata": {"release_id": "21"},
        "reversed": False,
        "source_transaction": "ch_3Q",
        "transfer_group": "enrollment_7",
    }
    body.update(overrides)
    return body


def test_create_transfer_draws_on_the_charge(stripe_api, gateway):
    stripe_api.post(f"{API}/v1/transfers", json=transfer_body())

    transfer = gateway.create_transfer(
        TransferRequest(
            amount_cents=13965,
            currency="USD",
            destination="acct_1Teacher",
            source_transaction="ch_3Q",
            transfer_group="enrollment_7",
            idempotency_key="release:21",
            metadata={"release_id": "21"},
        )
    )

    request = only_call(stripe_api)
    assert_post(request, "/v1/transfers", idempotency_key="release:21")
    assert form(request) == {
        "amount": "13965",
        "currency": "usd",
        "destination": "acct_1Teacher",
        "source_transaction": "ch_3Q",
        "transfer_group": "enrollment_7",
        "metadata[release_id]": "21",
    }
    assert transfer == GatewayTransfer(id="tr_1Pool", amount_cents=13965, reversed_cents=0)


def test_create_transfer_leaves_out_what_it_does_not_know(stripe_api, gateway):
    stripe_api.post(
        f"{API}/v1/transfers", json=transfer_body(source_transaction=None, transfer_group=None, amount_reversed=500)
    )

    transfer = gateway.create_transfer(
        TransferRequest(
            amount_cents=13965,
            currency="USD",
            destination="acct_1Teacher",
            source_transaction=None,
            transfer_group=None,
            idempotency_key="payout:4",
        )
    )

    request = only_call(stripe_api)
    assert_post(request, "/v1/transfers", idempotency_key="payout:4")
    sent = form(request)
    assert "source_transaction" not in sent and "transfer_group" not in sent
    assert sent == {"amount": "13965", "currency": "usd", "destination": "acct_1Teacher"}
    assert transfer.reversed_cents == 500


def test_reverse_transfer_posts_to_the_transfers_reversals(stripe_api, gateway):
    stripe_api.post(
        f"{API}/v1/transfers/tr_1Pool/reversals",
        json={
            "id": "trr_1Back",
            "object": "transfer_reversal",
            "amount": 6982,
            "currency": "usd",
            "metadata": {},
            "transfer": "tr_1Pool",
        },
    )

    reversal = gateway.reverse_transfer(transfer_id="tr_1Pool", amount_cents=6982, idempotency_key="reversal:3")

    request = only_call(stripe_api)
    assert_post(request, "/v1/transfers/tr_1Pool/reversals", idempotency_key="reversal:3")
    assert form(request) == {"amount": "6982"}
    assert reversal == GatewayReversal(id="trr_1Back", amount_cents=6982)


# -- Every create is idempotent ------------------------------------------------------------------------

TRANSFER = TransferRequest(
    amount_cents=100,
    currency="USD",
    destination="acct_1",
    source_transaction=None,
    transfer_group=None,
    idempotency_key="transfer:key",
)
CREATES: dict[str, tuple[str, Callable[[StripeGateway, str], Any]]] = {
    "checkout": (
        "/v1/checkout/sessions",
        lambda g, key: g.create_checkout_session(CheckoutRequest(**{**CHECKOUT.__dict__, "idempotency_key": key})),
    ),
    "refund": (
        "/v1/refunds",
        lambda g, key: g.refund(payment_intent_id="pi_1", amount_cents=1, idempotency_key=key, metadata={}),
    ),
    "account": (
        "/v1/accounts",
        lambda g, key: g.create_connect_account(email="t@example.com", user_id="1", idempotency_key=key),
    ),
    "transfer": (
        "/v1/transfers",
        lambda g, key: g.create_transfer(TransferRequest(**{**TRANSFER.__dict__, "idempotency_key": key})),
    ),
    "reversal": (
        "/v1/transfers/tr_1/reversals",
        lambda g, key: g.reverse_transfer(transfer_id="tr_1", amount_cents=1, idempotency_key=key),
    ),
}


@pytest.mark.parametrize("kind", CREATES)
def test_a_retried_create_sends_the_same_idempotency_key(stripe_api, monkeypatch, kind):
    """The SDK's own retry (here after a 500) repeats our key, so Stripe does the work once."""
    path, create = CREATES[kind]
    monkeypatch.setattr(stripe._http_client.time, "sleep", lambda seconds: None)  # no back-off wait
    stripe_api.post(f"{API}{path}", status=500, json={"error": {"type": "api_error", "message": "Sorry."}})
    stripe_api.post(f"{API}{path}", status=500, json={"error": {"type": "api_error", "message": "Sorry."}})

    with pytest.raises(GatewayError) as caught:
        create(StripeGateway(KEY, max_network_retries=1), f"{kind}:once")

    assert caught.value.retryable
    assert [call.request.headers["Idempotency-Key"] for call in stripe_api.calls] == [f"{kind}:once"] * 2


@pytest.mark.parametrize("kind", CREATES)
@pytest.mark.parametrize("key", ["", "  "])
def test_a_create_without_an_idempotency_key_is_refused_before_sending(stripe_api, gateway, kind, key):
    """The SDK would put a random key in place of an empty one, and a retry could then charge twice."""
    _, create = CREATES[kind]
    with pytest.raises(GatewayError) as caught:
        create(gateway, key)
    assert caught.value.code == "idempotency_key_missing" and not caught.value.retryable
    assert not stripe_api.calls


# -- Errors -------------------------------------------------------------------------------------------


def stripe_error(status: int, **error: Any) -> dict[str, Any]:
    return {"status": status, "json": {"error": error}, "headers": {"Request-Id": "req_9Zx"}}


@pytest.mark.parametrize(
    ("answer", "retryable", "code", "message"),
    [
        pytest.param(
            stripe_error(
                400,
                type="invalid_request_error",
                code="parameter_invalid_integer",
                param="amount",
                message="Invalid integer: 19.5",
            ),
            False,
            "parameter_invalid_integer",
            "The payment provider refused the request. Invalid integer: 19.5",
            id="400-invalid-request",
        ),
        pytest.param(
            stripe_error(
                400,
                type="invalid_request_error",
                code="charge_already_refunded",
                message="Charge ch_3Q has already been refunded.",
            ),
            False,
            "charge_already_refunded",
            "The payment provider refused the request. Charge ch_3Q has already been refunded.",
            id="400-already-refunded",
        ),
        pytest.param(
            stripe_error(400, type="invalid_request_error"),
            False,
            "invalid_request_error",
            "The payment provider refused the request.",
            id="400-without-message",
        ),
        pytest.param(
            stripe_error(
                400,
                type="idempotency_error",
                message="Keys for idempotent requests can only be used with the same parameters they were first used "
                "with. Try using a key other than 'refund:1' if you meant to execute a different request.",
            ),
            False,
            "idempotency_error",
            "The payment provider refused the request.",
            id="400-idempotency",
        ),
        pytest.param(
            stripe_error(401, type="invalid_request_error", message="Invalid API Key provided: sk_test_****eKey"),
            False,
            "authentication_error",
            "Payments are not available right now: the payment provider refused our credentials.",
            id="401",
        ),
        pytest.param(
            stripe_error(
                402,
                type="card_error",
                code="card_declined",
                decline_code="insufficient_funds",
                message="Your card has insufficient funds.",
            ),
            False,
            "card_declined",
            "Your card has insufficient funds.",
            id="402-card",
        ),
        pytest.param(
            stripe_error(
                403,
                type="invalid_request_error",
                message="The provided key 'rk_test_****eKey' does not have the required permissions for this endpoint.",
            ),
            False,
            "authentication_error",
            "Payments are not available right now: the payment provider refused our credentials.",
            id="403-permission",
        ),
        pytest.param(
            stripe_error(429, type="invalid_request_error", code="rate_limit", message="Too many requests."),
            True,
            "rate_limit",
            "The payment provider is busy. Try again in a minute.",
            id="429",
        ),
        pytest.param(
            stripe_error(500, type="api_error", message="An unknown error occurred"),
            True,
            "api_error",
            "The payment provider had a problem. Try again in a minute.",
            id="500",
        ),
        pytest.param(
            {"status": 502, "body": "<html>Bad Gateway</html>", "content_type": "text/html"},
            True,
            "api_error",
            "The payment provider had a problem. Try again in a minute.",
            id="502-not-json",
        ),
        pytest.param(
            {"body": requests.exceptions.ConnectionError("Connection refused")},
            True,
            "api_connection_error",
            UNREACHABLE,
            id="connection-refused",
        ),
        pytest.param(
            {"body": requests.exceptions.ReadTimeout("Read timed out. (read timeout=20)")},
            True,
            "api_connection_error",
            UNREACHABLE,
            id="timeout",
        ),
    ],
)
def test_stripe_failures_become_gateway_errors(stripe_api, gateway, answer, retryable, code, message):
    stripe_api.post(f"{API}/v1/refunds", **answer)

    with pytest.raises(GatewayError) as caught:
        gateway.refund(payment_intent_id="pi_3Q", amount_cents=100, idempotency_key="refund:1", metadata={})

    error = caught.value
    assert (error.retryable, error.code, error.message) == (retryable, code, message)
    assert str(error) == message
    assert isinstance(error.__cause__, stripe.StripeError)  # Stripe's own text stays there, for the logs
    assert "req_9Zx" not in message and KEY not in message


def test_a_missing_resource_is_not_retryable(stripe_api, gateway):
    stripe_api.get(
        f"{API}/v1/checkout/sessions/cs_missing",
        **stripe_error(
            404,
            type="invalid_request_error",
            code="resource_missing",
            param="session",
            message="No such checkout.session: 'cs_missing'",
        ),
    )

    with pytest.raises(GatewayError) as caught:
        gateway.retrieve_checkout_session("cs_missing")

    assert not caught.value.retryable and caught.value.code == "resource_missing"
    assert caught.value.message == "The payment provider refused the request. No such checkout.session: 'cs_missing'"


@pytest.mark.parametrize(
    ("answer", "code", "retryable"),
    [
        # The SDK itself refuses a body that is not JSON, as an APIError: worth another try.
        pytest.param({"body": "{not json", "content_type": "application/json"}, "api_error", True, id="not-json"),
        pytest.param(
            {"json": {"object": "refund", "status": "succeeded", "amount": 100}},
            "malformed_response",
            False,
            id="no-id",
        ),
        pytest.param(
            {"json": {"id": "re_1", "status": "succeeded", "amount": "100"}},
            "malformed_response",
            False,
            id="amount-a-string",
        ),
        pytest.param(
            {"json": {"id": "re_1", "status": None, "amount": 100}}, "malformed_response", False, id="status-null"
        ),
    ],
)
def test_an_answer_we_cannot_read_is_a_gateway_error(stripe_api, gateway, answer, code, retryable):
    stripe_api.post(f"{API}/v1/refunds", status=200, **answer)

    with pytest.raises(GatewayError) as caught:
        gateway.refund(payment_intent_id="pi_3Q", amount_cents=100, idempotency_key="refund:1", metadata={})

    assert (caught.value.code, caught.value.retryable) == (code, retryable)


CALLS: dict[str, tuple[str, str, Callable[[StripeGateway], Any]]] = {
    "create_checkout_session": ("POST", "/v1/checkout/sessions", lambda g: g.create_checkout_session(CHECKOUT)),
    "retrieve_checkout_session": (
        "GET",
        "/v1/checkout/sessions/cs_1",
        lambda g: g.retrieve_checkout_session("cs_1"),
    ),
    "payment_details": ("GET", "/v1/payment_intents/pi_1", lambda g: g.payment_details("pi_1")),
    "refund": ("POST", "/v1/refunds", lambda g: CREATES["refund"][1](g, "k")),
    "create_connect_account": ("POST", "/v1/accounts", lambda g: CREATES["account"][1](g, "k")),
    "retrieve_connect_account": ("GET", "/v1/accounts/acct_1", lambda g: g.retrieve_connect_account("acct_1")),
    "create_account_link": (
        "POST",
        "/v1/account_links",
        lambda g: g.create_account_link(
            account_id="acct_1", refresh_url="https://r", return_url="https://d", idempotency_key="k"
        ),
    ),
    "create_transfer": ("POST", "/v1/transfers", lambda g: CREATES["transfer"][1](g, "k")),
    "reverse_transfer": ("POST", "/v1/transfers/tr_1/reversals", lambda g: CREATES["reversal"][1](g, "k")),
}


@pytest.mark.parametrize("method", CALLS)
def test_no_method_lets_a_network_failure_escape_as_anything_else(stripe_api, gateway, method):
    verb, path, call = CALLS[method]
    stripe_api.add(verb, f"{API}{path}", body=requests.exceptions.ConnectionError("Network is unreachable"))

    with pytest.raises(GatewayError) as caught:
        call(gateway)

    assert caught.value.retryable and caught.value.message == UNREACHABLE


@pytest.mark.parametrize("method", CALLS)
def test_no_method_lets_an_empty_answer_escape_as_anything_else(stripe_api, gateway, method):
    verb, path, call = CALLS[method]
    stripe_api.add(verb, f"{API}{path}", json={})

    with pytest.raises(GatewayError) as caught:
        call(gateway)

    assert caught.value.code == "malformed_response" and not caught.value.retryable


# -- The client ---------------------------------------------------------------------------------------


def test_each_gateway_has_its_own_key_base_and_timeout(stripe_api):
    """Nothing is set on the stripe module: two gateways in one process stay apart."""
    stripe_api.get(f"{API}/v1/accounts/acct_1", json=account(id="acct_1"))
    stripe_api.get("http://stripe-mock.test:12111/v1/accounts/acct_1", json=account(id="acct_1"))
    live_ish = StripeGateway("sk_test_first", max_network_retries=0)
    mocked = StripeGateway(
        "sk_test_second", api_base="http://stripe-mock.test:12111", timeout_seconds=3, max_network_retries=0
    )

    live_ish.retrieve_connect_account("acct_1")
    mocked.retrieve_connect_account("acct_1")

    first, second = (call.request for call in stripe_api.calls)
    assert first.headers["Authorization"] == "Bearer sk_test_first"
    assert second.headers["Authorization"] == "Bearer sk_test_second"
    assert second.url.startswith("http://stripe-mock.test:12111/")
    assert first.req_kwargs["timeout"] == 20 and second.req_kwargs["timeout"] == 3
    assert stripe.api_key is None


def test_the_secret_key_is_not_shown():
    gateway = StripeGateway(KEY)
    assert KEY not in repr(gateway)
    assert KEY not in vars(gateway).values()  # held by the StripeClient only


def test_a_gateway_needs_a_key():
    with pytest.raises(ValueError):
        StripeGateway("")


def test_the_gateway_is_named_stripe():
    assert StripeGateway.name == "stripe"
