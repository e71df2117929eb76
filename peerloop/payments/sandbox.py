"""The sandbox gateway, the embedded default: Stripe's shape with no account.

Its objects (checkout sessions, payments, refunds, Connect accounts, transfers)
live in ``sandbox_objects``, standing in for Stripe's database. Its checkout
page's Pay button builds a ``checkout.session.completed`` event shaped as Stripe
sends it, signs it with ``STRIPE_WEBHOOK_SECRET`` and hands it to
``webhooks.services.receive_stripe``, the function behind ``/webhooks/stripe``:
one code path for both (the event is processed at once, at the caller's ``now``, rather than
queued: the sandbox is its own Stripe). Connect onboarding works the same way with an
``account.updated`` event on the Connect endpoint's secret. Refused in production.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from peerloop.extensions import db
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
from peerloop.payments.models import SandboxObject
from peerloop.urls import external_url
from peerloop.webhooks import stripe_signature
from peerloop.webhooks.services import receive_stripe

# Stripe's US card pricing, so the demo's ledger shows a realistic fee row.
FEE_PERCENT_TENTHS = 29  # 2.9%
FEE_FIXED_CENTS = 30


def sandbox_fee(amount_cents: int) -> int:
    return (amount_cents * FEE_PERCENT_TENTHS + 500) // 1000 + FEE_FIXED_CENTS


def _new_id(prefix: str) -> str:
    return f"{prefix}_sandbox_{secrets.token_hex(12)}"


def _get(object_id: str, kind: str) -> SandboxObject:
    row = db.session.get(SandboxObject, object_id) if isinstance(object_id, str) else None
    if row is None or row.kind != kind:
        raise GatewayError(f"No such {kind.replace('_', ' ')}: {object_id}", code="resource_missing")
    return row


def _by_key(key: str) -> SandboxObject | None:
    return db.session.scalar(sa.select(SandboxObject).where(SandboxObject.idempotency_key == key))


def _store(object_id: str, kind: str, data: dict, idempotency_key: str | None) -> SandboxObject:
    row = SandboxObject(id=object_id, kind=kind, data=data, idempotency_key=idempotency_key)
    db.session.add(row)
    db.session.flush()
    return row


def _update(row: SandboxObject, **changes) -> None:
    row.data = {**row.data, **changes}  # a new dict, so SQLAlchemy sees the change


def _checkout(row: SandboxObject) -> GatewayCheckout:
    data = row.data
    return GatewayCheckout(
        id=row.id,
        url=data["url"] if data["status"] == "open" else None,
        status=data["status"],
        payment_status=data["payment_status"],
        amount_total=data["amount_total"],
        currency=data["currency"].upper(),
        payment_intent=data.get("payment_intent"),
        client_reference_id=data.get("client_reference_id"),
        metadata=dict(data.get("metadata") or {}),
    )


def _account(row: SandboxObject) -> ConnectAccount:
    data = row.data
    return ConnectAccount(
        id=row.id,
        details_submitted=data["details_submitted"],
        charges_enabled=data["charges_enabled"],
        payouts_enabled=data["payouts_enabled"],
        disabled_reason=data.get("disabled_reason"),
    )


class SandboxGateway:
    """A local PaymentGateway: same calls, same shapes, no network."""

    name = "sandbox"

    def __init__(self) -> None:
        if current_app.config.get("PEERLOOP_ENV") == "production":
            raise RuntimeError("the sandbox payment gateway cannot run in production")

    # checkout

    def create_checkout_session(self, request: CheckoutRequest) -> GatewayCheckout:
        earlier = _by_key(request.idempotency_key)
        if earlier is not None:
            return _checkout(earlier)
        session_id = _new_id("cs")
        row = _store(
            session_id,
            "checkout_session",
            {
                "url": external_url("payments.sandbox_checkout", session_id=session_id),
                "status": "open",
                "payment_status": "unpaid",
                "amount_total": request.amount_cents,
                "currency": request.currency.lower(),
                "product_name": request.product_name,
                "customer_email": request.customer_email,
                "client_reference_id": request.checkout_id,
                "metadata": dict(request.metadata),
                "success_url": request.success_url,
                "cancel_url": request.cancel_url,
                "transfer_group": request.transfer_group,
                "expires_at": int(request.expires_at.timestamp()),
                "payment_intent": None,
            },
            request.idempotency_key,
        )
        return _checkout(row)

    def retrieve_checkout_session(self, session_id: str) -> GatewayCheckout:
        return _checkout(_get(session_id, "checkout_session"))

    def payment_details(self, payment_intent_id: str) -> PaymentDetails:
        data = _get(payment_intent_id, "payment_intent").data
        return PaymentDetails(charge_id=data["latest_charge"], fee_cents=data["fee"])

    def refund(
        self, *, payment_intent_id: str, amount_cents: int, idempotency_key: str, metadata: dict[str, str]
    ) -> GatewayRefund:
        earlier = _by_key(idempotency_key)
        if earlier is not None:
            return GatewayRefund(id=earlier.id, status="succeeded", amount_cents=earlier.data["amount"])
        payment = _get(payment_intent_id, "payment_intent")
        left = payment.data["amount"] - payment.data["amount_refunded"]
        if amount_cents < 1 or amount_cents > left:
            raise GatewayError(
                f"Refund amount ({amount_cents}) is greater than unrefunded amount on charge ({left})",
                code="charge_exceeds_refundable",
            )
        _update(payment, amount_refunded=payment.data["amount_refunded"] + amount_cents)
        row = _store(
            _new_id("re"),
            "refund",
            {"amount": amount_cents, "payment_intent": payment_intent_id, "metadata": metadata},
            idempotency_key,
        )
        return GatewayRefund(id=row.id, status="succeeded", amount_cents=amount_cents)

    # Connect

    def create_connect_account(self, *, email: str, user_id: str, idempotency_key: str) -> ConnectAccount:
        earlier = _by_key(idempotency_key)
        if earlier is not None:
            return _account(earlier)
        row = _store(
            _new_id("acct"),
            "account",
            {
                "email": email,
                "user_id": user_id,
                "details_submitted": False,
                "charges_enabled": False,
                "payouts_enabled": False,
            },
            idempotency_key,
        )
        return _account(row)

    def retrieve_connect_account(self, account_id: str) -> ConnectAccount:
        return _account(_get(account_id, "account"))

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str, idempotency_key: str) -> str:
        earlier = _by_key(idempotency_key)
        if earlier is not None:
            return external_url("payments.sandbox_onboarding", link_id=earlier.id)
        _get(account_id, "account")
        link_id = _new_id("link")
        data = {"account": account_id, "return_url": return_url, "refresh_url": refresh_url}
        _store(link_id, "account_link", data, idempotency_key)
        return external_url("payments.sandbox_onboarding", link_id=link_id)

    # transfers

    def create_transfer(self, request: TransferRequest) -> GatewayTransfer:
        earlier = _by_key(request.idempotency_key)
        if earlier is not None:
            return GatewayTransfer(id=earlier.id, amount_cents=earlier.data["amount"])
        account = _get(request.destination, "account")
        if not account.data["payouts_enabled"]:
            raise GatewayError("The destination account cannot receive transfers.", code="account_invalid")
        if request.source_transaction:
            charge = _get(request.source_transaction, "charge")
            if charge.data["transferred"] + request.amount_cents > charge.data["amount"]:
                raise GatewayError(
                    "Insufficient funds in the source transaction for this transfer.", code="balance_insufficient"
                )
            _update(charge, transferred=charge.data["transferred"] + request.amount_cents)
        row = _store(
            _new_id("tr"),
            "transfer",
            {
                "amount": request.amount_cents,
                "currency": request.currency.lower(),
                "destination": request.destination,
                "source_transaction": request.source_transaction,
                "transfer_group": request.transfer_group,
                "amount_reversed": 0,
                "metadata": dict(request.metadata),
            },
            request.idempotency_key,
        )
        return GatewayTransfer(id=row.id, amount_cents=request.amount_cents)

    def reverse_transfer(self, *, transfer_id: str, amount_cents: int, idempotency_key: str) -> GatewayReversal:
        earlier = _by_key(idempotency_key)
        if earlier is not None:
            return GatewayReversal(id=earlier.id, amount_cents=earlier.data["amount"])
        transfer = _get(transfer_id, "transfer")
        if transfer.data["amount_reversed"] + amount_cents > transfer.data["amount"]:
            raise GatewayError("The reversal is more than what is left of the transfer.", code="amount_too_large")
        _update(transfer, amount_reversed=transfer.data["amount_reversed"] + amount_cents)
        row = _store(
            _new_id("trr"), "transfer_reversal", {"amount": amount_cents, "transfer": transfer_id}, idempotency_key
        )
        return GatewayReversal(id=row.id, amount_cents=amount_cents)


# --- what the sandbox's own pages do -------------------------------------------------


def _deliver(provider: str, secret_setting: str, event_type: str, obj: dict, *, now: datetime, account=None):
    """Build an event as Stripe shapes it, sign it, and hand it to the webhook path in process."""
    event = {
        "id": _new_id("evt"),
        "object": "event",
        "api_version": "2025-10-29.clover",
        "created": int(now.timestamp()),
        "type": event_type,
        "livemode": False,
        "data": {"object": obj},
    }
    if account:
        event["account"] = account
    body = json.dumps(event, separators=(",", ":"))
    secret = current_app.config[secret_setting]
    # Verified, stored and processed by the functions behind /webhooks/stripe; processed here and now
    # (the sandbox is its own Stripe: no network, no need to wait for a worker).
    return receive_stripe(
        provider, body, stripe_signature.sign(body, secret), secret=secret, now=now, process_here=True
    )


def open_session(session_id: str) -> dict | None:
    """The sandbox checkout page's view of a session, or None."""
    row = db.session.get(SandboxObject, session_id)
    if row is None or row.kind != "checkout_session":
        return None
    return {"id": row.id, **row.data}


def pay(session_id: str, *, now: datetime) -> str:
    """The sandbox Pay button: the session is paid, ``checkout.session.completed`` goes through the
    webhook path, and the buyer goes on to the success URL. Paying twice sends nothing new.

    :raise GatewayError: no such session, or it expired.
    """
    row = _get(session_id, "checkout_session")
    data = row.data
    if data["status"] == "expired":
        raise GatewayError("This checkout expired. Go back to the course and enroll again.", code="expired")
    success_url = data["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
    if data["status"] == "complete":
        db.session.rollback()
        return success_url
    charge_id, intent_id = _new_id("ch"), _new_id("pi")
    amount = data["amount_total"]
    _store(charge_id, "charge", {"amount": amount, "payment_intent": intent_id, "transferred": 0}, None)
    _store(
        intent_id,
        "payment_intent",
        {
            "amount": amount,
            "latest_charge": charge_id,
            "fee": sandbox_fee(amount),
            "amount_refunded": 0,
            "transfer_group": data["transfer_group"],
        },
        None,
    )
    _update(row, status="complete", payment_status="paid", payment_intent=intent_id)
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_total": amount,
        "currency": data["currency"],
        "client_reference_id": data["client_reference_id"],
        "customer_email": data["customer_email"],
        "metadata": data["metadata"],
        "mode": "payment",
        "payment_intent": intent_id,
        "payment_status": "paid",
        "status": "complete",
        "url": None,
    }
    _deliver("stripe", "STRIPE_WEBHOOK_SECRET", "checkout.session.completed", session, now=now)  # commits
    return success_url


def cancel_url(session_id: str) -> str:
    return _get(session_id, "checkout_session").data["cancel_url"]


def onboarding_link(link_id: str) -> dict | None:
    row = db.session.get(SandboxObject, link_id)
    if row is None or row.kind != "account_link":
        return None
    account = db.session.get(SandboxObject, row.data["account"])
    return {
        "id": row.id,
        **row.data,
        "email": account.data["email"] if account else None,
        "user_id": account.data["user_id"] if account else None,
    }


def finish_onboarding(link_id: str, *, payouts: bool, now: datetime) -> str:
    """The sandbox onboarding page's Submit: the account is verified (with or without payouts), and
    ``account.updated`` goes through the Connect webhook path. Returns the return URL."""
    link = _get(link_id, "account_link")
    account = _get(link.data["account"], "account")
    _update(account, details_submitted=True, charges_enabled=True, payouts_enabled=payouts)
    obj = {
        "id": account.id,
        "object": "account",
        "type": "express",
        "email": account.data["email"],
        "details_submitted": True,
        "charges_enabled": True,
        "payouts_enabled": payouts,
        "requirements": {"disabled_reason": None, "currently_due": [] if payouts else ["external_account"]},
        "metadata": {"user_id": account.data["user_id"]},
    }
    _deliver("stripe_connect", "STRIPE_CONNECT_WEBHOOK_SECRET", "account.updated", obj, now=now, account=account.id)
    return link.data["return_url"]
