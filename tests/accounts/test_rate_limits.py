"""Rate limits count what they should, once, in one place, and say when to come back.

- login: all attempts per address, failures per email + address, one counter for the page and the API;
- signup: accounts created per address (refusals do not use it up), a looser cap on all attempts;
- the endpoints without an email field count each request once;
- a 429 carries Retry-After and says when in words, as a page and as JSON;
- counts are exact across processes: the embedded default's real server (one gunicorn process, as
  scripts/run starts it), and two servers sharing Redis on the Redis run.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from peerloop.accounts.ratelimits import rate_limited_message, wait_phrase
from tests.conftest import TEST_REDIS_URL, csrf_from
from tests.factories import PASSWORD

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
WHEN = re.compile(r"Too many attempts\. Try again in (\d+) (second|minute|hour)s?( \d+ minutes?)?\.")


def at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def api_login(client, email, password="wrong guess", address=ATTACKER):
    return client.post("/api/auth/login", json={"email": email, "password": password}, **at(address))


def page_login(client, email, password="wrong guess", address=ATTACKER):
    token = csrf_from(client.get("/login", **at(address)).get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token}, **at(address))


def assert_says_when(response) -> int:
    """A 429 with Retry-After in seconds and the same wait in words."""
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert seconds > 0
    text = response.get_json()["error"]["message"] if response.is_json else response.get_data(as_text=True)
    assert WHEN.search(text), text[:300]
    return seconds


# --- login -------------------------------------------------------------------------------------


def test_page_and_api_logins_share_one_failure_counter_per_email(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "1000 per minute")  # only the email counter
    monkeypatch.setitem(app.config, "LOGIN_EMAIL_RATE_LIMIT", "5 per minute")
    user = make.user()
    statuses = [api_login(client, user.email).status_code for _ in range(3)]
    statuses += [page_login(client, user.email).status_code for _ in range(2)]
    assert statuses == [401, 401, 401, 400, 400]
    assert api_login(client, user.email).status_code == 429
    assert page_login(client, user.email).status_code == 429


def test_page_and_api_logins_share_one_counter_per_address(client):
    """LOGIN_RATE_LIMIT (10 per minute) counts every attempt from an address, page and API together."""
    statuses = [api_login(client, f"a{i}@example.com").status_code for i in range(6)]
    statuses += [page_login(client, f"b{i}@example.com").status_code for i in range(4)]
    assert 429 not in statuses
    assert_says_when(page_login(client, "c@example.com"))
    assert_says_when(api_login(client, "d@example.com"))


def test_someone_elses_failures_do_not_lock_the_owner_out(app, client, make):
    owner = make.user()
    failures = [api_login(client, owner.email).status_code for _ in range(3)]
    failures += [page_login(client, owner.email).status_code for _ in range(2)]
    assert 429 not in failures
    assert api_login(client, owner.email).status_code == 429  # the guesser is stopped ...
    assert api_login(client, owner.email, password=PASSWORD).status_code == 429  # ... even with the password
    # ... and the owner, from their own address, gets in through the page and the API.
    assert page_login(client, owner.email, password=PASSWORD, address=OWNER).status_code == 302
    assert api_login(app.test_client(), owner.email, password=PASSWORD, address=OWNER).status_code == 200


def test_successful_logins_do_not_use_up_the_failure_counter(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "1000 per minute")
    user = make.user()
    for _ in range(8):
        assert api_login(client, user.email, password=PASSWORD, address=OWNER).status_code == 200


# --- the endpoints without an email field count each request once -------------------------------


def test_api_reset_confirm_allows_exactly_the_limit(client):
    statuses = [
        client.post(
            "/api/auth/password-reset/confirm", json={"token": f"bad-{i}", "password": "a new password 1"}
        ).status_code
        for i in range(6)
    ]
    assert statuses == [400] * 5 + [429]


def test_reset_password_page_allows_exactly_the_limit(client):
    token = csrf_from(client.get("/forgot-password").get_data(as_text=True))
    statuses = [
        client.post(f"/reset-password/dead-{i}", data={"password": "a new password 1", "csrf_token": token}).status_code
        for i in range(6)
    ]
    assert statuses == [302] * 5 + [429]


def test_resend_verification_allows_exactly_the_limit(client, make, login_as):
    login_as(make.user(email_verified=False))
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    statuses = [client.post("/verify-email/resend", data={"csrf_token": token}).status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]


def test_email_change_allows_exactly_the_limit(client, make, login_as):
    login_as(make.user())
    html = client.get("/settings").get_data(as_text=True)
    name, token = re.search(r'name="(em-csrf_token)" type="hidden" value="([^"]+)"', html).groups()
    statuses = [
        client.post(
            "/settings/email", data={name: token, "em-new_email": f"new{i}@example.com", "em-password": "wrong"}
        ).status_code
        for i in range(6)
    ]
    assert statuses == [400] * 5 + [429]


def test_reset_requests_count_per_email_across_page_and_api(client, make):
    user = make.user()
    token = csrf_from(client.get("/forgot-password").get_data(as_text=True))
    statuses = [
        client.post("/api/auth/password-reset", json={"email": user.email}, **at(f"10.1.0.{i}")).status_code
        for i in range(3)
    ]
    statuses += [
        client.post(
            "/forgot-password", data={"email": user.email, "csrf_token": token}, **at(f"10.2.0.{i}")
        ).status_code
        for i in range(2)
    ]
    assert statuses == [202, 202, 202, 302, 302]
    assert_says_when(client.post("/api/auth/password-reset", json={"email": user.email}, **at("10.3.0.1")))


def test_reset_requests_count_per_address_across_emails(client):
    statuses = [
        client.post("/api/auth/password-reset", json={"email": f"n{i}@example.com"}).status_code for i in range(6)
    ]
    assert statuses == [202] * 5 + [429]


# --- signup ----------------------------------------------------------------------------------


def api_signup(client, n: int, address: str = ATTACKER, **overrides):
    body = {
        "name": f"Person {n}",
        "email": f"person{n}@example.com",
        "handle": f"person{n}",
        "password": "a good long password",
        "accept_terms": True,
        **overrides,
    }
    return client.post("/api/auth/signup", json=body, **at(address))


def page_signup(client, n: int, address: str = ATTACKER, **overrides):
    token = csrf_from(client.get("/signup", **at(address)).get_data(as_text=True))
    data = {
        "name": f"Person {n}",
        "email": f"person{n}@example.com",
        "handle": f"person{n}",
        "password": "a good long password",
        "accept_terms": "y",
        "csrf_token": token,
        **overrides,
    }
    return client.post("/signup", data={k: v for k, v in data.items() if v is not None}, **at(address))


def test_ten_refused_signups_then_a_valid_one_succeeds(client):
    refused = [api_signup(client, i, accept_terms=False).status_code for i in range(10)]
    assert refused == [400] * 10
    assert api_signup(client, 100).status_code == 201
    refused = [page_signup(client, i, accept_terms=None).status_code for i in range(10)]
    assert refused == [400] * 10
    assert page_signup(client, 101).status_code == 302


def test_signup_counts_accounts_created_per_address_and_says_when(app, client):
    """SIGNUP_RATE_LIMIT (10 per hour) counts accounts, page and API together."""
    created = [api_signup(client, i).status_code for i in range(9)]
    created.append(page_signup(app.test_client(), 9).status_code)  # a fresh browser: not logged in
    assert created == [201] * 9 + [302]
    seconds = assert_says_when(api_signup(client, 10))
    assert 3500 < seconds <= 3601
    assert "Try again in 1 hour" in api_signup(client, 11).get_json()["error"]["message"]
    page = page_signup(app.test_client(), 12)
    assert_says_when(page)
    assert "Try again in 1 hour" in page.get_data(as_text=True)
    assert api_signup(client, 13, address=OWNER).status_code == 201  # another address is not affected


def test_signup_attempts_have_a_looser_cap_of_their_own(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNUP_ATTEMPT_RATE_LIMIT", "12 per hour")
    statuses = [api_signup(client, i, accept_terms=False).status_code for i in range(12)]
    assert statuses == [400] * 12
    assert_says_when(api_signup(client, 99))  # even a valid one: the attempts cap is reached


def test_the_429_json_shape(client):
    for i in range(5):
        client.post("/api/auth/password-reset/confirm", json={"token": f"t{i}", "password": "a new password 1"})
    response = client.post("/api/auth/password-reset/confirm", json={"token": "t", "password": "a new password 1"})
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert WHEN.fullmatch(error["message"])
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60


@pytest.mark.parametrize(
    ("seconds", "phrase"),
    [(1, "1 second"), (45, "45 seconds"), (60, "1 minute"), (61, "2 minutes"), (719, "12 minutes")]
    + [(3600, "1 hour"), (3660, "1 hour 1 minute"), (7300, "2 hours 2 minutes")],
)
def test_wait_phrases(seconds, phrase):
    assert wait_phrase(seconds) == phrase
    assert rate_limited_message(seconds) == f"Too many attempts. Try again in {phrase}."


# --- exact across processes ------------------------------------------------------------------


def _post_json(url: str, body: dict) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 429:
            assert error.headers["Retry-After"]
        return error.code


def _signups(base_urls: list[str], count: int, *, at_once: int, refused_every: int = 0) -> list[int]:
    """``count`` signups from this one address, ``at_once`` in flight together, spread over
    ``base_urls``; with ``refused_every`` n, every n-th one does not accept the terms."""

    def signup(i: int) -> int:
        return _post_json(
            f"{base_urls[i % len(base_urls)]}/api/auth/signup",
            {
                "name": f"Served {i}",
                "email": f"served{i}@example.com",
                "handle": f"served{i}",
                "password": "a good long password",
                "accept_terms": not (refused_every and i % refused_every == 0),
            },
        )

    with ThreadPoolExecutor(max_workers=at_once) as pool:
        return list(pool.map(signup, range(count)))


def test_scripts_run_uses_the_shared_gunicorn_settings():
    run = (Path(__file__).resolve().parents[2] / "scripts" / "run").read_text()
    assert "gunicorn -c scripts/gunicorn_dev.py" in run
    assert "--workers" not in run


@pytest.mark.committed
def test_the_embedded_default_server_counts_exactly(tmp_path):
    """25 signups from one address to the real server, started as scripts/run starts it, 8 at a
    time (a burst, as an attacker would send them) then 5 one by one: exactly 10 pass."""
    from tests.served import served_app, sqlite_env

    with served_app(sqlite_env(tmp_path)) as base_url:
        burst = _signups([base_url], 20, at_once=8)
        after = _signups([base_url], 5, at_once=1)
    assert sorted(burst) == [201] * 10 + [429] * 10, burst
    assert after == [429] * 5


@pytest.mark.committed
@pytest.mark.skipif(not TEST_REDIS_URL, reason="the shared-Redis count needs TEST_REDIS_URL")
def test_two_servers_sharing_redis_together_allow_exactly_the_limit(tmp_path):
    """Two processes counting in one Redis: 28 signups spread over both, 4 at a time, every third
    refused (no terms): exactly 10 accounts are made, and the refusals did not use the limit up."""
    from redis import Redis

    from tests.served import served_app, sqlite_env

    env = sqlite_env(tmp_path, RATELIMIT_STORAGE_URI=TEST_REDIS_URL)
    with Redis.from_url(TEST_REDIS_URL) as redis:
        for key in redis.scan_iter("LIMITER*"):
            redis.delete(key)
    with served_app(env) as first, served_app(env, migrate=False) as second:
        statuses = _signups([first, second], 28, at_once=4, refused_every=3)
    assert statuses.count(201) == 10, statuses
    assert statuses.count(400) + statuses.count(429) == 18, statuses


def test_logins_and_signups_work_with_rate_limits_off(client, make, monkeypatch):
    from peerloop.extensions import limiter

    monkeypatch.setattr(limiter, "enabled", False)
    user = make.user()
    assert api_login(client, user.email).status_code == 401
    assert api_login(client, user.email, password=PASSWORD).status_code == 200
    assert api_signup(client, 500, accept_terms=False).status_code == 400
    assert api_signup(client, 501).status_code == 201


def test_production_refuses_counting_in_memory():
    from config import ConfigError, from_env

    env = {
        "PEERLOOP_ENV": "production",
        "SECRET_KEY": "k" * 32,
        "PUBLIC_URL": "https://peerloop.example",
        "DATABASE_URL": "postgresql://db/x",
        "REDIS_URL": "redis://r:6379/0",
        "STRIPE_SECRET_KEY": "sk_test",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_y",
    }
    assert from_env(env)["RATELIMIT_STORAGE_URI"] == "redis://r:6379/0"
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI"):
        from_env({**env, "RATELIMIT_STORAGE_URI": "memory://"})


def test_spellings_of_one_email_share_its_failure_counter(client, make, app, monkeypatch):
    """Fullwidth letters or an IDNA domain name the same mailbox: they must not buy fresh guesses."""
    monkeypatch.setitem(app.config, "LOGIN_EMAIL_RATE_LIMIT", "3 per minute")
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "100 per minute")
    make.user(email="owner@example.com")
    spellings = ["owner@example.com", "owner@ｅｘａｍｐｌｅ.com", "OWNER@Example.COM"]
    codes = [
        client.post("/api/auth/login", json={"email": email, "password": "wrong guess"}).status_code
        for email in spellings + ["owner@ｅｘａｍｐｌｅ.ｃｏｍ"]
    ]
    assert codes == [401, 401, 401, 429]


def test_only_a_429_carries_retry_after_and_it_matches_the_message(client, make, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_EMAIL_RATE_LIMIT", "2 per hour")
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "100 per minute")
    user = make.user()
    ok = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert ok.status_code == 200 and "Retry-After" not in ok.headers
    for _ in range(2):
        assert client.post("/api/auth/login", json={"email": user.email, "password": "wrong"}).status_code == 401
    refused = client.post("/api/auth/login", json={"email": user.email, "password": "wrong"})
    assert refused.status_code == 429
    seconds = int(refused.headers["Retry-After"])
    assert 3000 < seconds <= 3600
    assert f"Try again in {wait_phrase(seconds)}." in refused.get_json()["error"]["message"]
