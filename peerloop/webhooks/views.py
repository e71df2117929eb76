"""Inbound webhook endpoints: verify the raw body, store the event, answer 200 at once.

Server-to-server, so CSRF-exempt; errors are JSON (``errors.wants_json`` covers /webhooks/).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from peerloop import clock
from peerloop.errors import NotFound
from peerloop.extensions import csrf
from peerloop.webhooks import services

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)


def _receive_stripe(provider: str, secret_setting: str):
    secret = current_app.config.get(secret_setting)
    if not secret:
        raise NotFound("This webhook is not configured.")
    services.receive_stripe(
        provider,
        request.get_data(cache=True),  # the raw bytes: the signature covers them exactly
        request.headers.get("Stripe-Signature"),
        secret=secret,
        now=clock.now(),
    )
    return jsonify(received=True), 200


@bp.post("/stripe")
def stripe_platform():
    """Platform events (checkout, charges, disputes, transfers), signed with STRIPE_WEBHOOK_SECRET."""
    return _receive_stripe("stripe", "STRIPE_WEBHOOK_SECRET")


@bp.post("/stripe-connect")
def stripe_connect():
    """Connected accounts' events (account.updated, payouts), signed with STRIPE_CONNECT_WEBHOOK_SECRET."""
    return _receive_stripe("stripe_connect", "STRIPE_CONNECT_WEBHOOK_SECRET")


@bp.route("/video/<provider_name>", methods=["GET", "POST"])
def video(provider_name: str):
    """The configured video provider's events. GET too: BigBlueButton calls its end-of-meeting
    callback with GET. The signature is checked against the address we registered, which is on
    PUBLIC_URL (never the request's Host): the path and query as they reached us, on that base."""
    from peerloop.urls import external_url
    from peerloop.video import webhooks as video_webhooks

    provider = video_webhooks.configured_provider(provider_name)
    query = request.query_string.decode("latin-1")
    # The address we registered (external_url, as services.join made it), with the query as it came.
    url = external_url("webhooks.video", provider_name=provider.name) + (f"?{query}" if query else "")
    count = video_webhooks.receive(
        provider,
        body=request.get_data(cache=True),
        headers=dict(request.headers),
        url=url,
        now=clock.now(),
    )
    return jsonify(received=count), 200
