"""Configuration from environment variables.

No configuration at all gives the embedded defaults (SQLite under instance/,
inline jobs, sandbox payments, link video rooms, email outbox).
``PEERLOOP_ENV=production`` must be chosen explicitly and then requires
``SECRET_KEY``, ``DATABASE_URL`` and ``REDIS_URL``.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def normalise_database_url(url: str) -> str:
    """Accept the URLs PaaS providers hand out and name the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _default_secret_key() -> str:
    """A stable development key kept in instance/, so logins survive restarts."""
    key_file = INSTANCE_DIR / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        key_file.write_text(key)
        return key


ENVIRONMENTS = ("development", "test", "production")
MIN_SECRET_KEY_LENGTH = 32
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
# Signs and verifies Stripe-shaped webhooks outside production when no secret is set
# (the sandbox gateway signs its events with it). Never accepted in production.
DEV_STRIPE_WEBHOOK_SECRET = "whsec_peerloop_development"
WEBHOOK_SECRETS = ("STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET")


def public_url(raw: str | None, *, production: bool) -> str:
    """The site's own address, the base of every absolute link (emails, callbacks, calendars).

    Links are never built from the request's Host header: that header is the
    caller's to choose.
    """
    if not raw:
        if production:
            raise ConfigError("PEERLOOP_ENV=production requires PUBLIC_URL, e.g. https://peerloop.example")
        return DEFAULT_PUBLIC_URL
    url = raw.strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname or parsed.query or parsed.fragment:
        raise ConfigError(f"PUBLIC_URL must be an absolute http(s) address like https://peerloop.example, got {raw!r}")
    if production and parsed.scheme != "https":
        raise ConfigError("PUBLIC_URL must start with https:// in production")
    return url


def _ratelimit_storage(env: dict, redis_url: str | None, *, production: bool) -> str:
    """Where rate limits count. Memory counts per process: exact only with one web process."""
    uri = env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://"
    if production and uri.startswith("memory://"):
        raise ConfigError(
            "RATELIMIT_STORAGE_URI=memory:// in production: each web process would count alone "
            "(every limit multiplied by the number of processes); use Redis"
        )
    return uri


SPLIT_SETTINGS = (("SPLIT_PLATFORM_PCT", 15), ("SPLIT_CREATOR_PCT", 15), ("SPLIT_TEACHER_PCT", 70))


def _split_percentages(env: dict) -> dict[str, int]:
    """The one place the split of a payment is set: platform, creator royalty, teaching pool (15 / 15 / 70).

    Whole percentages, none negative, summing to 100; anything else refuses to start.
    ``peerloop.payments.money.rates_from_config`` reads them from the app's config.
    """
    parts = {name: _int(env, name, default) for name, default in SPLIT_SETTINGS}
    negative = [name for name, value in parts.items() if value < 0]
    if negative:
        raise ConfigError(f"{', '.join(negative)} cannot be negative")
    if sum(parts.values()) != 100:
        shown = " + ".join(f"{name}={value}" for name, value in parts.items())
        raise ConfigError(f"the split percentages must sum to 100: {shown} = {sum(parts.values())}")
    return parts


VIDEO_PROVIDERS = {
    "link": (),
    "bbb": ("BBB_API_URL", "BBB_SECRET"),
    "plugnmeet": ("PLUGNMEET_URL", "PLUGNMEET_API_KEY", "PLUGNMEET_API_SECRET"),
    "daily": ("DAILY_API_KEY", "DAILY_WEBHOOK_SECRET"),
}


def _video_settings(env: dict) -> dict:
    """The video provider and its credentials: link rooms unless another is chosen and configured."""
    provider = env.get("VIDEO_PROVIDER") or "link"
    if provider not in VIDEO_PROVIDERS:
        raise ConfigError(f"VIDEO_PROVIDER must be one of {', '.join(VIDEO_PROVIDERS)}, got {provider!r}")
    missing = [name for name in VIDEO_PROVIDERS[provider] if not env.get(name)]
    if missing:
        raise ConfigError(f"VIDEO_PROVIDER={provider} requires " + ", ".join(missing))
    link_base = env.get("VIDEO_LINK_BASE_URL") or "https://meet.jit.si/peerloop-"
    if not link_base.startswith(("https://", "http://")):
        raise ConfigError(f"VIDEO_LINK_BASE_URL must be an http(s) address, got {link_base!r}")
    checksum = (env.get("BBB_CHECKSUM") or "sha256").lower()
    if checksum not in ("sha1", "sha256"):
        raise ConfigError(f"BBB_CHECKSUM must be sha1 or sha256, got {checksum!r}")
    if provider == "daily":
        try:
            base64.b64decode(env["DAILY_WEBHOOK_SECRET"], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("DAILY_WEBHOOK_SECRET must be the base64 secret given to Daily's webhook") from None
    grace = _int(env, "VIDEO_GRACE_MINUTES", 15)
    if not 0 <= grace <= 240:
        raise ConfigError(f"VIDEO_GRACE_MINUTES must be between 0 and 240, got {grace}")
    return {
        "VIDEO_PROVIDER": provider,
        "VIDEO_LINK_BASE_URL": link_base,
        # How long after a session's end its room still admits people (and tokens stay valid).
        "VIDEO_GRACE_MINUTES": grace,
        "BBB_API_URL": env.get("BBB_API_URL"),
        "BBB_SECRET": env.get("BBB_SECRET"),
        "BBB_CHECKSUM": checksum,
        "PLUGNMEET_URL": env.get("PLUGNMEET_URL"),
        "PLUGNMEET_API_KEY": env.get("PLUGNMEET_API_KEY"),
        "PLUGNMEET_API_SECRET": env.get("PLUGNMEET_API_SECRET"),
        "DAILY_API_KEY": env.get("DAILY_API_KEY"),
        "DAILY_WEBHOOK_SECRET": env.get("DAILY_WEBHOOK_SECRET"),
        **_recording_storage(env),
    }


def _recording_storage(env: dict) -> dict:
    """Where copies of the providers' recordings go: a local folder, or an S3-compatible bucket
    (credentials from boto3's usual AWS_* variables)."""
    bucket = env.get("RECORDINGS_S3_BUCKET") or None
    endpoint = env.get("RECORDINGS_S3_ENDPOINT_URL") or None
    if endpoint and not endpoint.startswith(("https://", "http://")):
        raise ConfigError(f"RECORDINGS_S3_ENDPOINT_URL must be an http(s) address, got {endpoint!r}")
    if endpoint and not bucket:
        raise ConfigError("RECORDINGS_S3_ENDPOINT_URL is set but RECORDINGS_S3_BUCKET is not")
    return {
        "RECORDINGS_DIR": env.get("RECORDINGS_DIR") or str(INSTANCE_DIR / "recordings"),
        "RECORDINGS_S3_BUCKET": bucket,
        "RECORDINGS_S3_ENDPOINT_URL": endpoint,
        "RECORDINGS_S3_PREFIX": env.get("RECORDINGS_S3_PREFIX") or "recordings/",
    }


def _checkout_minutes(env: dict) -> int:
    minutes = _int(env, "CHECKOUT_EXPIRES_MINUTES", 60)
    if not 30 <= minutes <= 1440:  # Stripe's bounds for a Checkout Session's expires_at
        raise ConfigError(f"CHECKOUT_EXPIRES_MINUTES must be between 30 and 1440, got {minutes}")
    return minutes


def _at_least(env: dict, name: str, default: int, minimum: int) -> int:
    value = _int(env, name, default)
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _engine_options(env: dict, url: str) -> dict:
    """The SQLAlchemy engine's pool. On PostgreSQL each web worker keeps up to ``DB_POOL_SIZE``
    connections (default: its ``GUNICORN_THREADS``, so every thread can hold one), opens up to
    ``DB_MAX_OVERFLOW`` more for a burst, and a request waits at most ``DB_POOL_TIMEOUT`` seconds for
    one before it fails; connections are replaced after 30 minutes (servers and routers drop idle
    ones). SQLite keeps SQLAlchemy's own pool."""
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        threads = _at_least(env, "GUNICORN_THREADS", 4, 1)
        options.update(
            pool_size=_at_least(env, "DB_POOL_SIZE", threads, 1),
            max_overflow=_at_least(env, "DB_MAX_OVERFLOW", 2, 0),
            pool_timeout=_at_least(env, "DB_POOL_TIMEOUT", 10, 1),
            pool_recycle=1800,
        )
    return options


def from_env(env: dict | None = None) -> dict:
    """Build the Flask config mapping from an environment mapping."""
    env = dict(os.environ if env is None else env)
    peerloop_env = (env.get("PEERLOOP_ENV") or "development").strip().lower()
    if peerloop_env not in ENVIRONMENTS:
        # A typo such as "prod" must not quietly start a development server.
        raise ConfigError(f"PEERLOOP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env['PEERLOOP_ENV']!r}")
    production = peerloop_env == "production"

    if production:
        missing = [k for k in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_URL") if not env.get(k)]
        if missing:
            raise ConfigError("PEERLOOP_ENV=production requires " + ", ".join(missing))
        if len(env["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters in production "
                '(python -c "import secrets; print(secrets.token_hex(32))")'
            )
    test_clock = _bool(env.get("TEST_CLOCK"))
    if production and test_clock:
        raise ConfigError("TEST_CLOCK cannot be used in production: business time must be real time there")

    database_url = env.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'peerloop.db'}"
    redis_url = env.get("REDIS_URL") or None
    payment_gateway = env.get("PAYMENT_GATEWAY") or ("stripe" if env.get("STRIPE_SECRET_KEY") else "sandbox")
    if payment_gateway not in ("stripe", "sandbox"):
        raise ConfigError(f"PAYMENT_GATEWAY must be stripe or sandbox, got {payment_gateway!r}")
    if production and payment_gateway == "sandbox":
        raise ConfigError("PEERLOOP_ENV=production refuses the sandbox payment gateway: set STRIPE_SECRET_KEY")
    if payment_gateway == "stripe" and not env.get("STRIPE_SECRET_KEY"):
        raise ConfigError("PAYMENT_GATEWAY=stripe requires STRIPE_SECRET_KEY")
    # The development signing secret is public: only the sandbox may use it. With Stripe, a webhook
    # whose secret is unset answers 404 rather than trust events anyone could sign.
    dev_secret = DEV_STRIPE_WEBHOOK_SECRET if payment_gateway == "sandbox" and not production else None
    if production and env.get("STRIPE_SECRET_KEY"):
        missing = [k for k in WEBHOOK_SECRETS if not env.get(k)]
        if missing:
            raise ConfigError("PEERLOOP_ENV=production with STRIPE_SECRET_KEY requires " + ", ".join(missing))

    video = _video_settings(env)

    if env.get("EMAIL_BACKEND"):
        email_backend = env["EMAIL_BACKEND"]
    elif env.get("RESEND_API_KEY"):
        email_backend = "resend"
    elif env.get("SMTP_URL"):
        email_backend = "smtp"
    else:
        email_backend = "outbox"

    return {
        "PEERLOOP_ENV": peerloop_env,
        "SECRET_KEY": env.get("SECRET_KEY") or _default_secret_key(),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(env, normalise_database_url(database_url)),
        # How long a SQLite writer waits for another to finish before the request is a 503.
        "SQLITE_BUSY_TIMEOUT_MS": _int(env, "SQLITE_BUSY_TIMEOUT_MS", 10_000),
        "REDIS_URL": redis_url,
        "RQ_QUEUE": env.get("RQ_QUEUE", "peerloop"),
        "PUBLIC_URL": public_url(env.get("PUBLIC_URL"), production=production),
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # Bodies larger than this are refused with 413 before anything reads them.
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024),
        "TEST_CLOCK": test_clock,
        "TRUSTED_PROXY_HOPS": _int(env, "TRUSTED_PROXY_HOPS", 1 if production else 0),
        # Cookies: Secure only where the site is served over HTTPS.
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        # Rate limits: memory by default, Redis when configured.
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_STORAGE_URI": _ratelimit_storage(env, redis_url, production=production),
        # Login: every attempt per client address; failures per email + address (never per email
        # alone, which would let anyone lock the owner out). Signup: accounts created per address,
        # and a looser cap on every attempt. See peerloop/accounts/ratelimits.py.
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        "LOGIN_EMAIL_RATE_LIMIT": env.get("LOGIN_EMAIL_RATE_LIMIT", "5 per minute;20 per hour"),
        "SIGNUP_RATE_LIMIT": env.get("SIGNUP_RATE_LIMIT", "10 per hour"),
        "SIGNUP_ATTEMPT_RATE_LIMIT": env.get("SIGNUP_ATTEMPT_RATE_LIMIT", "30 per hour"),
        "RESET_RATE_LIMIT": env.get("RESET_RATE_LIMIT", "5 per 15 minutes"),
        # Password hashing (argon2id). Tests lower the cost.
        "ARGON2_TIME_COST": _int(env, "ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_COST": _int(env, "ARGON2_MEMORY_COST", 65536),
        "API_TOKEN_DAYS": _int(env, "API_TOKEN_DAYS", 30),
        "RESET_TOKEN_MINUTES": _int(env, "RESET_TOKEN_MINUTES", 60),
        "VERIFY_TOKEN_HOURS": _int(env, "VERIFY_TOKEN_HOURS", 48),
        # How every payment divides (platform, creator royalty, teaching pool): see payments/money.py.
        **_split_percentages(env),
        # Providers, picked by name.
        "PAYMENT_GATEWAY": payment_gateway,
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY"),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or None,  # a local stripe-mock, for instance
        # The SDK retries time-outs, 409s and 5xx with back-off, reusing the idempotency key.
        "STRIPE_MAX_NETWORK_RETRIES": _int(env, "STRIPE_MAX_NETWORK_RETRIES", 2),
        # How long a checkout stays open (Stripe allows 30 minutes to 24 hours).
        "CHECKOUT_EXPIRES_MINUTES": _checkout_minutes(env),
        # The smallest payout a person may request, in cents of their balance's currency.
        "PAYOUT_MINIMUM_CENTS": _int(env, "PAYOUT_MINIMUM_CENTS", 5000),
        # Webhook signing secrets; the development value when unset outside production.
        "STRIPE_WEBHOOK_SECRET": (env.get("STRIPE_WEBHOOK_SECRET") or dev_secret),
        "STRIPE_CONNECT_WEBHOOK_SECRET": (env.get("STRIPE_CONNECT_WEBHOOK_SECRET") or dev_secret),
        **video,
        "EMAIL_BACKEND": email_backend,
        "MAIL_FROM": env.get("MAIL_FROM", "PeerLoop <hello@peerloop.local>"),
        "SMTP_URL": env.get("SMTP_URL"),
        "RESEND_API_KEY": env.get("RESEND_API_KEY"),
        # Anonymous public reads served from a cache every write invalidates (peerloop/readcache.py).
        "READ_CACHE": _bool(env.get("READ_CACHE"), True),
        "UPLOAD_DIR": env.get("UPLOAD_DIR") or str(INSTANCE_DIR / "uploads"),
        "SITE_NAME": "PeerLoop",
    }
