"""The factory builds independent apps: tests, the e2e live server and the CLI may share a process."""

from __future__ import annotations

import pytest

from config import ConfigError, from_env
from peerloop import create_app
from peerloop.extensions import db, limiter


def test_create_app_builds_another_app_in_the_same_process(app, tmp_path):
    enabled = limiter.enabled
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "another",
            "REDIS_URL": None,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'another.db'}",
        }
    )
    try:
        rules = {rule.rule for rule in other.url_map.iter_rules()}
        assert {"/api/courses", "/admin/", "/studio/"} <= rules
        assert other.extensions["rq_queue"] is not app.extensions["rq_queue"]
    finally:
        limiter.enabled = enabled
        with other.app_context():
            db.engine.dispose()


def test_no_configuration_gives_the_embedded_defaults():
    config = from_env({})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["REDIS_URL"] is None and config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["EMAIL_BACKEND"] == "outbox" and config["PAYMENT_GATEWAY"] == "sandbox"
    assert config["VIDEO_PROVIDER"] == "link"
    assert config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_URL"])
def test_production_requires_its_settings(missing):
    env = {
        "PEERLOOP_ENV": "production",
        "SECRET_KEY": "k" * 32,
        "PUBLIC_URL": "https://peerloop.example",
        "DATABASE_URL": "postgres://db/x",
        "REDIS_URL": "redis://r",
        "STRIPE_SECRET_KEY": "sk_test",
    }
    env.pop(missing)
    with pytest.raises(ConfigError, match=missing):
        from_env(env)


def test_production_refuses_the_sandbox_gateway():
    with pytest.raises(ConfigError, match="sandbox"):
        from_env(
            {
                "PEERLOOP_ENV": "production",
                "SECRET_KEY": "k" * 32,
                "PUBLIC_URL": "https://peerloop.example",
                "DATABASE_URL": "postgres://db/x",
                "REDIS_URL": "redis://r",
            }
        )


def test_production_trusts_one_proxy_hop_and_uses_redis_for_limits():
    config = from_env(
        {
            "PEERLOOP_ENV": "production",
            "SECRET_KEY": "k" * 32,
            "PUBLIC_URL": "https://peerloop.example",
            "DATABASE_URL": "postgresql://db/x",
            "REDIS_URL": "redis://r:6379/0",
            "STRIPE_SECRET_KEY": "sk_test",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_y",
            "TRUSTED_PROXY_HOPS": "2",
        }
    )
    assert config["TRUSTED_PROXY_HOPS"] == 2
    assert config["RATELIMIT_STORAGE_URI"] == "redis://r:6379/0"
    assert config["PREFERRED_URL_SCHEME"] == "https"


def test_a_bad_integer_setting_is_a_clear_error():
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
        from_env({"TRUSTED_PROXY_HOPS": "many"})


@pytest.mark.parametrize("name", ["prod", "staging", "dev", "live"])
def test_an_unknown_environment_name_is_refused(name):
    """PEERLOOP_ENV=prod used to start a development server (no Secure cookies, sandbox payments)."""
    with pytest.raises(ConfigError, match="PEERLOOP_ENV must be one of"):
        from_env({"PEERLOOP_ENV": name})


def test_production_refuses_a_short_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY must be at least 32"):
        from_env(
            {
                "PEERLOOP_ENV": "production",
                "SECRET_KEY": "short",
                "DATABASE_URL": "postgres://db/x",
                "REDIS_URL": "redis://r",
                "PUBLIC_URL": "https://peerloop.example",
                "STRIPE_SECRET_KEY": "sk_test",
            }
        )


@pytest.mark.parametrize("url", ["peerloop.example", "ftp://peerloop.example", "https://", "https://x.example/?a=1"])
def test_a_public_url_that_is_not_a_site_address_is_refused(url):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        from_env({"PUBLIC_URL": url})


def test_production_wants_https_for_its_public_url_and_refuses_the_test_clock():
    env = {
        "PEERLOOP_ENV": "production",
        "SECRET_KEY": "k" * 32,
        "DATABASE_URL": "postgres://db/x",
        "REDIS_URL": "redis://r",
        "PUBLIC_URL": "http://peerloop.example",
        "STRIPE_SECRET_KEY": "sk_test",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_y",
    }
    with pytest.raises(ConfigError, match="https"):
        from_env(env)
    with pytest.raises(ConfigError, match="TEST_CLOCK"):
        from_env({**env, "PUBLIC_URL": "https://peerloop.example", "TEST_CLOCK": "1"})


def test_development_has_a_public_url_by_default():
    config = from_env({})
    assert config["PUBLIC_URL"] == "http://127.0.0.1:5000" and config["TEST_CLOCK"] is False


@pytest.mark.parametrize("minutes", ["29", "1441"])
def test_checkout_expiry_must_be_within_stripes_bounds(minutes):
    with pytest.raises(ConfigError, match="CHECKOUT_EXPIRES_MINUTES"):
        from_env({"CHECKOUT_EXPIRES_MINUTES": minutes})


def test_the_public_development_secret_is_for_the_sandbox_only():
    sandbox = from_env({})
    assert sandbox["STRIPE_WEBHOOK_SECRET"] == sandbox["STRIPE_CONNECT_WEBHOOK_SECRET"] == "whsec_peerloop_development"
    stripe_dev = from_env({"STRIPE_SECRET_KEY": "sk_test_x"})
    assert stripe_dev["PAYMENT_GATEWAY"] == "stripe"
    assert stripe_dev["STRIPE_WEBHOOK_SECRET"] is None and stripe_dev["STRIPE_CONNECT_WEBHOOK_SECRET"] is None
    assert (
        from_env({"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_real"})["STRIPE_WEBHOOK_SECRET"]
        == "whsec_real"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PAYMENT_GATEWAY": "stripe"}, "requires STRIPE_SECRET_KEY"),
        ({"PAYMENT_GATEWAY": "paypal"}, "must be stripe or sandbox"),
    ],
)
def test_a_gateway_that_cannot_work_is_refused_at_start(env, message):
    with pytest.raises(ConfigError, match=message):
        from_env(env)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VIDEO_PROVIDER": "zoom"}, "must be one of link, bbb, plugnmeet, daily"),
        ({"VIDEO_PROVIDER": "bbb", "BBB_API_URL": "https://bbb.example/bigbluebutton/api/"}, "requires BBB_SECRET"),
        ({"VIDEO_PROVIDER": "plugnmeet"}, "requires PLUGNMEET_URL, PLUGNMEET_API_KEY, PLUGNMEET_API_SECRET"),
        ({"VIDEO_PROVIDER": "daily", "DAILY_API_KEY": "k"}, "requires DAILY_WEBHOOK_SECRET"),
        ({"VIDEO_LINK_BASE_URL": "meet.jit.si/x-"}, "must be an http"),
        ({"BBB_CHECKSUM": "md5"}, "sha1 or sha256"),
        ({"VIDEO_GRACE_MINUTES": "999"}, "between 0 and 240"),
        ({"VIDEO_PROVIDER": "daily", "DAILY_API_KEY": "k", "DAILY_WEBHOOK_SECRET": "not base64!"}, "base64"),
        ({"RECORDINGS_S3_ENDPOINT_URL": "minio:9000"}, "must be an http"),
        ({"RECORDINGS_S3_ENDPOINT_URL": "http://minio:9000"}, "RECORDINGS_S3_BUCKET is not"),
    ],
)
def test_a_video_provider_that_cannot_work_is_refused_at_start(env, message):
    with pytest.raises(ConfigError, match=message):
        from_env(env)


def test_link_rooms_are_the_default_video_provider():
    config = from_env({})
    assert config["VIDEO_PROVIDER"] == "link" and config["VIDEO_GRACE_MINUTES"] == 15
    assert config["VIDEO_LINK_BASE_URL"] == "https://meet.jit.si/peerloop-"
    assert config["RECORDINGS_DIR"].endswith("recordings") and config["RECORDINGS_S3_BUCKET"] is None
