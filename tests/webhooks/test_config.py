"""Webhook secrets: a development value by default, required in production with Stripe."""

from __future__ import annotations

import pytest

from config import DEV_STRIPE_WEBHOOK_SECRET, ConfigError, from_env

PRODUCTION = {
    "PEERLOOP_ENV": "production",
    "SECRET_KEY": "k" * 32,
    "PUBLIC_URL": "https://peerloop.example",
    "DATABASE_URL": "postgresql://db/x",
    "REDIS_URL": "redis://r:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_platform",
    "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect",
}


def test_outside_production_both_secrets_default_to_the_development_value():
    config = from_env({})
    assert config["STRIPE_WEBHOOK_SECRET"] == config["STRIPE_CONNECT_WEBHOOK_SECRET"] == DEV_STRIPE_WEBHOOK_SECRET
    assert from_env({"STRIPE_WEBHOOK_SECRET": "whsec_mine"})["STRIPE_WEBHOOK_SECRET"] == "whsec_mine"


def test_production_uses_the_secrets_it_is_given():
    config = from_env(PRODUCTION)
    assert (config["STRIPE_WEBHOOK_SECRET"], config["STRIPE_CONNECT_WEBHOOK_SECRET"]) == (
        "whsec_platform",
        "whsec_connect",
    )


@pytest.mark.parametrize("missing", ["STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET"])
def test_production_with_stripe_requires_each_webhook_secret(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        from_env(env)


def test_production_never_falls_back_to_the_development_secret():
    env = {k: v for k, v in PRODUCTION.items() if k not in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")}
    with pytest.raises(ConfigError, match="requires STRIPE_SECRET_KEY"):
        from_env({**env, "PAYMENT_GATEWAY": "stripe"})  # no key: refused at start, secrets or not
