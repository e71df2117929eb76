"""The ``PaymentGateway`` on Stripe's API, through the official SDK (``STRIPE_SECRET_KEY``).

Each gateway owns its ``stripe.StripeClient``: nothing is set on the ``stripe``
module, so two apps in one process (a test and the dev server, two tenants)
never share a key or a base URL. The client talks through ``requests``
(``stripe.RequestsClient``), which also lets the tests fake Stripe at the HTTP
boundary with ``responses``.

Answers are read from plain dicts (``StripeObject.to_dict()``), the same shape a
webhook's stored JSON has, so ``event_account_state`` and
``retrieve_connect_account`` share one mapping.

Every failure leaves as ``GatewayError``: Stripe's own errors, the network's,
and an answer we cannot read. Its message is safe to show a person; Stripe's
raw text, which may name request ids or parameters, stays on ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

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

T = TypeVar("T")

UNREACHABLE = "The payment provider could not be reached. Try again in a minute."
BUSY = "The payment provider is busy. Try again in a minute."
PROVIDER_FAULT = "The payment provider had a problem. Try again in a minute."
REFUSED = "The payment provider refused the request."
NOT_CONFIGURED = "Payments are not available right now: the payment provider refused our credentials."
CARD_DECLINED = "The card was declined."
UNREADABLE = "The payment provider sent an answer we could not read."


class _Malformed(ValueError):
    """A field of Stripe's answer is missing or of the wrong type."""


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{key} should be a non-empty string, got {value!r}")
    return value


def _optional_text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _Malformed(f"{key} should be a string or null, got {value!r}")
    return value


def _cents(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f"{key} should be an integer, got {value!r}")
    return value


def _optional_cents(obj: Mapping[str, Any], key: str) -> int | None:
    return None if obj.get(key) is None else _cents(obj, key)


def _flag(obj: Mapping[str, Any], key: str) -> bool:
    """A boolean; absent or null reads as false, the safe side (not yet enabled)."""
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _Malformed(f"{key} should be a boolean, got {value!r}")
    return value


def _object(obj: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise _Malformed(f"{key} should be an object or null, got {value!r}")
    return value


def _ref(obj: Mapping[str, Any], key: str) -> str | None:
    """An expandable field's id, whether Stripe sent the id alone or the expanded object."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return _text(value, "id")
    raise _Malformed(f"{key} should be an id or an object, got {value!r}")


def _metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    value = _object(obj, "metadata") or {}
    return {str(k): str(v) for k, v in value.items()}


def _checkout(session: Mapping[str, Any]) -> GatewayCheckout:
    currency = _optional_text(session, "currency")
    return GatewayCheckout(
        id=_text(session, "id"),
        url=_optional_text(session, "url"),
        status=_text(session, "status"),
        payment_status=_text(session, "payment_status"),
        amount_total=_optional_cents(session, "amount_total"),
        currency=currency.upper() if currency else None,
        payment_intent=_ref(session, "payment_intent"),
        client_reference_id=_optional_text(session, "client_reference_id"),
        metadata=_metadata(session),
    )


def _account(account: Mapping[str, Any]) -> ConnectAccount:
    requirements = _object(account, "requirements") or {}
    return ConnectAccount(
        id=_text(account, "id"),
        details_submitted=_flag(account, "details_submitted"),
        charges_enabled=_flag(account, "charges_enabled"),
        payouts_enabled=_flag(account, "payouts_enabled"),
        disabled_reason=_optional_text(requirements, "disabled_reason"),
    )


def _payment_details(intent: Mapping[str, Any]) -> PaymentDetails:
    _text(intent, "id")  # no charge yet is a valid answer; no id is not a PaymentIntent at all
    charge = intent.get("latest_charge")
    fee: int | None = None
    if isinstance(charge, Mapping):
        balance_transaction = charge.get("balance_transaction")
        if isinstance(balance_transaction, Mapping):
            fee = _cents(balance_transaction, "fee")
    return PaymentDetails(charge_id=_ref(intent, "latest_charge"), fee_cents=fee)


def _error_code(exc: stripe.StripeError, fallback: str) -> str:
    """Stripe's own code (``resource_missing``, ``card_declined`` …) when it gave one, else the kind of failure."""
    code = exc.code or (exc.error.code if exc.error is not None else None)
    return code if isinstance(code, str) and code else fallback


def _gateway_error(exc: stripe.StripeError) -> GatewayError:
    """What a person may read about ``exc``, and whether the same call may succeed later."""
    if isinstance(exc, stripe.APIConnectionError):  # time-outs and refused connections too
        return GatewayError(UNREACHABLE, retryable=True, code=_error_code(exc, "api_connection_error"))
    if isinstance(exc, stripe.RateLimitError):
        return GatewayError(BUSY, retryable=True, code=_error_code(exc, "rate_limit"))
    if isinstance(exc, stripe.APIError):  # Stripe's 5xx (and 409 lock conflicts, an answer it could not make)
        return GatewayError(PROVIDER_FAULT, retryable=True, code=_error_code(exc, "api_error"))
    if isinstance(exc, stripe.CardError):  # Stripe writes card errors' messages for the cardholder
        return GatewayError(exc.user_message or CARD_DECLINED, code=_error_code(exc, "card_error"))
    if isinstance(exc, stripe.InvalidRequestError):
        detail = exc.user_message
        return GatewayError(
            f"{REFUSED} {detail}" if detail else REFUSED, code=_error_code(exc, "invalid_request_error")
        )
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        # A wrong or restricted key: nothing the person can fix, and Stripe's text names the key's last digits.
        return GatewayError(NOT_CONFIGURED, code=_error_code(exc, "authentication_error"))
    if isinstance(exc, stripe.IdempotencyError):
        return GatewayError(REFUSED, code=_error_code(exc, "idempotency_error"))
    return GatewayError(REFUSED, code=_error_code(exc, "stripe_error"))


@contextmanager
def _translated() -> Iterator[None]:
    """Let nothing but ``GatewayError`` out: the Protocol promises callers only that."""
    try:
        yield
    except GatewayError:
        raise
    except stripe.StripeError as exc:
        raise _gateway_error(exc) from exc
    except Exception as exc:  # a malformed answer, or the SDK tripping on one
        raise GatewayError(UNREADABLE, code="malformed_response") from exc


def event_account_state(obj: dict) -> ConnectAccount:
    """An ``account.updated`` event's ``data.object`` (the webhook's stored JSON) as a ``ConnectAccount``.

    :raise GatewayError: the object is not an account we can read.
    """
    with _translated():
        if not isinstance(obj, Mapping):
            raise _Malformed(f"an account should be an object, got {obj!r}")
        return _account(obj)


def _idempotent(key: str) -> dict[str, str]:
    """The request options carrying ``key``. An empty key would not be sent (the SDK would put a random
    one in its place), so a retry could charge twice: refuse it instead."""
    if not isinstance(key, str) or not key.strip():
        raise GatewayError(REFUSED, code="idempotency_key_missing")
    return {"idempotency_key": key}


def _unix(moment: datetime) -> int:
    """Seconds since the epoch; a naive datetime is taken as UTC, as the rest of PeerLoop stores time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


class StripeGateway:
    """Stripe Checkout, Refunds and Connect Express transfers for one secret key."""

    name = "stripe"

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        timeout_seconds: float = 20,
        max_network_retries: int = 2,
    ):
        if not secret_key:
            raise ValueError("StripeGateway needs a secret key (STRIPE_SECRET_KEY)")
        # The key lives only inside the client: not on self, so no repr or log line can show it.
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            # The SDK retries connection errors, 409s and 5xx with back-off, reusing the idempotency key.
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )

    def __repr__(self) -> str:
        return "StripeGateway()"

    def _call(self, request: Callable[[], Any], read: Callable[[Mapping[str, Any]], T]) -> T:
        """Send ``request`` and ``read`` the plain-dict answer, every failure as ``GatewayError``."""
        with _translated():
            answer = request()
            return read(answer.to_dict())

    def create_checkout_session(self, request: CheckoutRequest) -> GatewayCheckout:
        metadata = {**request.metadata, "checkout_id": request.checkout_id}
        params: dict[str, Any] = {
            "mode": "payment",
            "payment_method_types": ["card"],
            "line_items": [
                {
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount_cents,
                        "product_data": {"name": request.product_name},
                    },
                    "quantity": 1,
                }
            ],
            "customer_email": request.customer_email,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.checkout_id,
            "metadata": metadata,
            # The charge carries the group, so the transfers to the teacher and creator tie back to it.
            "payment_intent_data": {"transfer_group": request.transfer_group, "metadata": metadata},
            "expires_at": _unix(request.expires_at),
        }
        return self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params=params, options=_idempotent(request.idempotency_key)
            ),
            _checkout,
        )

    def retrieve_checkout_session(self, session_id: str) -> GatewayCheckout:
        return self._call(lambda: self._client.v1.checkout.sessions.retrieve(session_id), _checkout)

    def payment_details(self, payment_intent_id: str) -> PaymentDetails:
        # Expanded, the charge brings its balance transaction, and with it Stripe's fee, in one request.
        return self._call(
            lambda: self._client.v1.payment_intents.retrieve(
                payment_intent_id, params={"expand": ["latest_charge.balance_transaction"]}
            ),
            _payment_details,
        )

    def refund(
        self, *, payment_intent_id: str, amount_cents: int, idempotency_key: str, metadata: dict[str, str]
    ) -> GatewayRefund:
        return self._call(
            lambda: self._client.v1.refunds.create(
                params={"payment_intent": payment_intent_id, "amount": amount_cents, "metadata": dict(metadata)},
                options=_idempotent(idempotency_key),
            ),
            lambda refund: GatewayRefund(
                id=_text(refund, "id"), status=_text(refund, "status"), amount_cents=_cents(refund, "amount")
            ),
        )

    def create_connect_account(self, *, email: str, user_id: str, idempotency_key: str) -> ConnectAccount:
        return self._call(
            lambda: self._client.v1.accounts.create(
                params={
                    "type": "express",
                    "email": email,
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": {"user_id": user_id},
                },
                options=_idempotent(idempotency_key),
            ),
            _account,
        )

    def retrieve_connect_account(self, account_id: str) -> ConnectAccount:
        return self._call(lambda: self._client.v1.accounts.retrieve(account_id), _account)

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str, idempotency_key: str) -> str:
        options = _idempotent(idempotency_key)
        return self._call(
            lambda: self._client.v1.account_links.create(
                params={
                    "account": account_id,
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                    "type": "account_onboarding",
                },
                options=options,
            ),
            lambda link: _text(link, "url"),
        )

    def create_transfer(self, request: TransferRequest) -> GatewayTransfer:
        params: dict[str, Any] = {
            "amount": request.amount_cents,
            "currency": request.currency.lower(),
            "destination": request.destination,
            "metadata": dict(request.metadata),
        }
        # Sent only when known: Stripe refuses an empty source_transaction, and a transfer may have no group.
        if request.source_transaction is not None:
            params["source_transaction"] = request.source_transaction
        if request.transfer_group is not None:
            params["transfer_group"] = request.transfer_group
        return self._call(
            lambda: self._client.v1.transfers.create(params=params, options=_idempotent(request.idempotency_key)),
            lambda transfer: GatewayTransfer(
                id=_text(transfer, "id"),
                amount_cents=_cents(transfer, "amount"),
                reversed_cents=_optional_cents(transfer, "amount_reversed") or 0,
            ),
        )

    def reverse_transfer(self, *, transfer_id: str, amount_cents: int, idempotency_key: str) -> GatewayReversal:
        return self._call(
            lambda: self._client.v1.transfers.reversals.create(
                transfer_id, params={"amount": amount_cents}, options=_idempotent(idempotency_key)
            ),
            lambda reversal: GatewayReversal(id=_text(reversal, "id"), amount_cents=_cents(reversal, "amount")),
        )
