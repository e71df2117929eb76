"""The payment gateway seam: what PeerLoop asks of Stripe, and what the sandbox answers locally.

``services.py`` talks only to a ``PaymentGateway``; ``gateway()`` in
``peerloop/payments/__init__.py`` picks the implementation from
``PAYMENT_GATEWAY`` (``stripe`` or ``sandbox``). Every create call takes an
idempotency key, so a retry after a crash or a time-out never charges, refunds
or transfers twice.

Amounts are integer cents; currencies are upper-case ISO codes here (Stripe
wants lower case on the wire: the adapter converts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class GatewayError(Exception):
    """The gateway refused or could not be reached. ``message`` is safe to show a person;
    ``retryable`` is true for time-outs, rate limits and the provider's own errors."""

    def __init__(self, message: str, *, retryable: bool = False, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code


@dataclass(frozen=True)
class CheckoutRequest:
    """A hosted checkout for one course, as ``start_checkout`` asks for it."""

    checkout_id: str  # our Checkout row's id (metadata and client_reference_id)
    amount_cents: int
    currency: str
    product_name: str
    customer_email: str
    success_url: str  # contains the literal "{CHECKOUT_SESSION_ID}", which the gateway fills in
    cancel_url: str
    transfer_group: str  # payment_intent_data.transfer_group: ties the charge to later transfers
    expires_at: datetime
    idempotency_key: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayCheckout:
    """A Checkout Session as the gateway reports it (created or retrieved)."""

    id: str  # cs_…
    url: str | None  # where the buyer pays; None once complete or expired
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    amount_total: int | None
    currency: str | None  # upper case
    payment_intent: str | None  # pi_…
    client_reference_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentDetails:
    """What a PaymentIntent's latest charge says: the charge transfers take as ``source_transaction``,
    and Stripe's fee when the balance transaction is known."""

    charge_id: str | None  # ch_… (PaymentIntent.latest_charge)
    fee_cents: int | None


@dataclass(frozen=True)
class GatewayRefund:
    id: str  # re_…
    status: str  # succeeded | pending | failed | canceled
    amount_cents: int


@dataclass(frozen=True)
class ConnectAccount:
    """A Connect Express account's state, as ``account.updated`` or a retrieve reports it."""

    id: str  # acct_…
    details_submitted: bool
    charges_enabled: bool
    payouts_enabled: bool
    disabled_reason: str | None = None


@dataclass(frozen=True)
class TransferRequest:
    amount_cents: int
    currency: str
    destination: str  # acct_…
    source_transaction: str | None  # ch_…: the transfer draws on that charge's funds
    transfer_group: str | None
    idempotency_key: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayTransfer:
    id: str  # tr_…
    amount_cents: int
    reversed_cents: int = 0


@dataclass(frozen=True)
class GatewayReversal:
    id: str  # trr_…
    amount_cents: int


class PaymentGateway(Protocol):
    """Stripe's shape. Every method may raise ``GatewayError``; none writes to our database."""

    name: str  # "stripe" | "sandbox"

    def create_checkout_session(self, request: CheckoutRequest) -> GatewayCheckout:
        """A hosted Checkout Session (mode payment, card) for ``request.amount_cents``."""

    def retrieve_checkout_session(self, session_id: str) -> GatewayCheckout:
        """The session as the gateway knows it now (the return page's safety net for a missed webhook)."""

    def payment_details(self, payment_intent_id: str) -> PaymentDetails:
        """The PaymentIntent's ``latest_charge`` and, when known, Stripe's fee on it."""

    def refund(
        self, *, payment_intent_id: str, amount_cents: int, idempotency_key: str, metadata: dict[str, str]
    ) -> GatewayRefund:
        """Refund ``amount_cents`` of the payment to the buyer's card."""

    def create_connect_account(self, *, email: str, user_id: str, idempotency_key: str) -> ConnectAccount:
        """A new Connect Express account for a teacher or creator (transfers capability)."""

    def retrieve_connect_account(self, account_id: str) -> ConnectAccount: ...

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str, idempotency_key: str) -> str:
        """A fresh, single-use onboarding URL (type account_onboarding). Links expire: never store one."""

    def create_transfer(self, request: TransferRequest) -> GatewayTransfer:
        """Move money from the platform's balance to a connected account."""

    def reverse_transfer(self, *, transfer_id: str, amount_cents: int, idempotency_key: str) -> GatewayReversal:
        """Take ``amount_cents`` of a transfer back from the connected account."""
