"""The money arithmetic: splits, releases and refunds always sum to the cent (issue 6 items 4 and 5)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import ConfigError, from_env
from peerloop.payments.money import (
    RefundQuote,
    Split,
    SplitRates,
    custom_refund,
    rates_from_config,
    refund_quote,
    released_pool,
    split_payment,
    teaching_release,
)

RATES = SplitRates(platform_pct=15, creator_pct=15, teacher_pct=70)

prices = st.integers(min_value=1, max_value=1_000_000)  # 1 cent to $10,000
session_counts = st.integers(min_value=1, max_value=20)


@st.composite
def any_rates(draw) -> SplitRates:
    platform = draw(st.integers(0, 100))
    creator = draw(st.integers(0, 100 - platform))
    return SplitRates(platform, creator, 100 - platform - creator)


rates_to_try = st.one_of(st.just(RATES), any_rates())
modest = settings(max_examples=300, deadline=None)


# -- worked by hand ---------------------------------------------------------------------------------


def test_399_dollars_over_two_sessions():
    split = split_payment(39_900, rates=RATES)
    assert split == Split(platform_cents=5985, creator_cents=5985, teaching_pool_cents=27930)
    assert split.total == 39_900
    assert [teaching_release(27930, 2, n) for n in (1, 2)] == [13965, 13965]

    # Before any session: everything back.
    assert refund_quote(split, 2, 0) == RefundQuote(27930, 5985, 5985, 39_900)
    # After one: the unreleased half of the pool + ⌈5985 × 1 ÷ 2⌉ = 2993 twice; at least $199.50.
    after_one = refund_quote(split, 2, 1)
    assert after_one == RefundQuote(pool_cents=13965, platform_cents=2993, creator_cents=2993, total_cents=19951)
    assert after_one.total_cents >= 19_950
    # After both: nothing.
    assert refund_quote(split, 2, 2) == RefundQuote(0, 0, 0, 0)


def test_the_refund_policy_example():
    """templates/pages/refund_policy.html: a $400 course with 2 sessions, leaving after session 1 refunds $200."""
    split = split_payment(40_000, rates=RATES)  # 6000 / 6000 / 28000
    assert refund_quote(split, 2, 1) == RefundQuote(
        pool_cents=14_000, platform_cents=3000, creator_cents=3000, total_cents=20_000
    )


def test_rounding_goes_to_the_platform_and_the_last_session():
    # 1 cent: 15% and 70% of it round down to nothing; the platform keeps the cent.
    assert split_payment(1, rates=RATES) == Split(1, 0, 0)
    # 999 cents: creator ⌊149.85⌋ = 149, pool ⌊699.3⌋ = 699, platform the rest, 151.
    assert split_payment(999, rates=RATES) == Split(151, 149, 699)
    # 100 cents over 3 sessions: 33, 33 and the remainder on the last, 34.
    assert [teaching_release(100, 3, n) for n in (1, 2, 3)] == [33, 33, 34]
    assert [released_pool(100, 3, d) for d in range(4)] == [0, 33, 66, 100]


def test_a_refund_over_three_sessions_after_one():
    # $100 over 3 sessions: 1500 / 1500 / 7000; the first session released 2333.
    split = split_payment(10_000, rates=RATES)
    quote = refund_quote(split, 3, 1)
    # Pool 7000 − 2333 = 4667; ⌈1500 × 2 ÷ 3⌉ = 1000 each.
    assert quote == RefundQuote(pool_cents=4667, platform_cents=1000, creator_cents=1000, total_cents=6667)
    assert Fraction(quote.total_cents) >= Fraction(10_000 * 2, 3)


def test_the_creator_teaching_is_the_same_arithmetic():
    """The creator who teaches receives the pool too: 85% is a recipient, not another split."""
    assert RATES.creator_teaching_pct == 85
    split = split_payment(39_900, rates=RATES)
    assert split.creator_cents + split.teaching_pool_cents == 39_900 * 85 // 100


def test_custom_refunds_by_hand():
    split = split_payment(39_900, rates=RATES)  # 5985 / 5985 / 27930, one session of two released (13965)
    assert custom_refund(split, 13965, 10_000) == RefundQuote(10_000, 0, 0, 10_000)
    assert custom_refund(split, 13965, 20_000) == RefundQuote(13965, 5985, 50, 20_000)
    assert custom_refund(split, 13965, 25_935) == RefundQuote(13965, 5985, 5985, 25_935)  # all that is left
    assert custom_refund(split, 0, 39_900) == RefundQuote(27930, 5985, 5985, 39_900)  # a full refund
    with pytest.raises(ValueError, match="more than what is left to refund \\(25935 cents"):
        custom_refund(split, 13965, 25_936)
    with pytest.raises(ValueError, match="at least 1 cent"):
        custom_refund(split, 13965, 0)
    with pytest.raises(ValueError, match="at least 1 cent"):
        custom_refund(split, 13965, -5)
    with pytest.raises(ValueError, match="more than the teaching pool"):
        custom_refund(split, 27931, 1)
    with pytest.raises(TypeError, match="integer"):
        custom_refund(split, 0, 10.5)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="sum to 100"):
        SplitRates(15, 15, 60)
    with pytest.raises(ValueError, match="at least 0"):
        SplitRates(-10, 40, 70)
    with pytest.raises(TypeError, match="integer"):
        SplitRates(15.0, 15, 70)
    with pytest.raises(TypeError, match="integer"):
        split_payment(399.0, rates=RATES)
    with pytest.raises(TypeError, match="integer"):
        split_payment(True, rates=RATES)
    with pytest.raises(ValueError, match="at least 0"):
        split_payment(-1, rates=RATES)
    with pytest.raises(ValueError, match="session_count must be at least 1"):
        teaching_release(100, 0, 1)
    with pytest.raises(ValueError, match="between 1 and 3"):
        teaching_release(100, 3, 4)
    with pytest.raises(ValueError, match="between 1 and 3"):
        teaching_release(100, 3, 0)
    with pytest.raises(ValueError, match="between 0 and 2"):
        refund_quote(split_payment(100, rates=RATES), 2, 3)
    with pytest.raises(ValueError, match="total_cents"):
        RefundQuote(1, 1, 1, 4)


# -- properties -------------------------------------------------------------------------------------


@modest
@given(price=prices, rates=rates_to_try)
def test_a_split_always_sums_to_the_price(price, rates):
    split = split_payment(price, rates=rates)
    assert split.total == price
    assert min(split.platform_cents, split.creator_cents, split.teaching_pool_cents) >= 0
    # Creator and pool are their exact share rounded down; the platform's remainder is under 2 cents.
    assert split.creator_cents == price * rates.creator_pct // 100
    assert split.teaching_pool_cents == price * rates.teacher_pct // 100
    assert 0 <= Fraction(split.platform_cents) - Fraction(price * rates.platform_pct, 100) < 2


@modest
@given(price=prices, n=session_counts, rates=rates_to_try)
def test_releases_sum_to_the_pool(price, n, rates):
    pool = split_payment(price, rates=rates).teaching_pool_cents
    releases = [teaching_release(pool, n, k) for k in range(1, n + 1)]
    assert sum(releases) == pool
    assert all(r >= 0 for r in releases)
    assert len(set(releases[:-1])) <= 1  # every session but the last releases the same
    assert [released_pool(pool, n, d) for d in range(n + 1)] == [sum(releases[:d]) for d in range(n + 1)]


@modest
@given(price=prices, n=session_counts, rates=rates_to_try)
def test_the_default_refund_keeps_every_promise(price, n, rates):
    split = split_payment(price, rates=rates)
    for delivered in range(n + 1):
        undelivered = n - delivered
        quote = refund_quote(split, n, delivered)
        released = sum(teaching_release(split.teaching_pool_cents, n, k) for k in range(1, delivered + 1))

        assert quote.total_cents == quote.pool_cents + quote.platform_cents + quote.creator_cents
        # The whole unreleased pool comes back, and the two other shares in proportion, rounded up.
        assert quote.pool_cents == split.teaching_pool_cents - released
        assert quote.platform_cents == -(-split.platform_cents * undelivered // n)
        assert quote.creator_cents == -(-split.creator_cents * undelivered // n)
        # Never less than price × u ÷ n, exactly.
        assert Fraction(quote.total_cents) >= Fraction(price * undelivered, n)
        # Never more than what is left, and no part more than its share holds.
        assert quote.total_cents <= price - released
        assert quote.platform_cents <= split.platform_cents
        assert quote.creator_cents <= split.creator_cents
        # Refund + what is kept (shares not refunded + the released pool) is the price, to the cent.
        kept = (split.platform_cents - quote.platform_cents) + (split.creator_cents - quote.creator_cents) + released
        assert quote.total_cents + kept == price
    assert refund_quote(split, n, 0).total_cents == price  # before any session: the full price
    assert refund_quote(split, n, n) == RefundQuote(0, 0, 0, 0)  # all delivered: nothing


@modest
@given(price=prices, n=session_counts, rates=rates_to_try, data=st.data())
def test_a_custom_refund_takes_the_pool_first_and_never_too_much(price, n, rates, data):
    split = split_payment(price, rates=rates)
    delivered = data.draw(st.integers(0, n), label="delivered")
    released = released_pool(split.teaching_pool_cents, n, delivered)
    left = price - released
    unreleased = split.teaching_pool_cents - released

    if left >= 1:
        amount = data.draw(st.integers(1, left), label="amount")
        quote = custom_refund(split, released, amount)
        assert quote.total_cents == amount == quote.pool_cents + quote.platform_cents + quote.creator_cents
        assert quote.pool_cents == min(amount, unreleased)
        assert quote.platform_cents == min(amount - quote.pool_cents, split.platform_cents)
        assert quote.creator_cents == amount - quote.pool_cents - quote.platform_cents <= split.creator_cents
        # The platform gives before the creator, the pool before both.
        assert quote.platform_cents == 0 or quote.pool_cents == unreleased
        assert quote.creator_cents == 0 or quote.platform_cents == split.platform_cents
        kept = (split.platform_cents - quote.platform_cents) + (split.creator_cents - quote.creator_cents) + released
        assert quote.total_cents + kept + (unreleased - quote.pool_cents) == price

    too_much = data.draw(st.integers(left + 1, left + 1_000_000), label="too_much")
    with pytest.raises(ValueError, match="more than what is left"):
        custom_refund(split, released, too_much)
    with pytest.raises(ValueError, match="at least 1 cent"):
        custom_refund(split, released, data.draw(st.integers(-1_000_000, 0), label="too_little"))


# -- the one place the percentages live -------------------------------------------------------------


def test_the_split_is_configured_in_one_place():
    assert rates_from_config(from_env({})) == RATES
    custom = from_env({"SPLIT_PLATFORM_PCT": "20", "SPLIT_CREATOR_PCT": "10", "SPLIT_TEACHER_PCT": "70"})
    assert rates_from_config(custom) == SplitRates(20, 10, 70)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SPLIT_TEACHER_PCT": "60"}, "must sum to 100"),
        ({"SPLIT_PLATFORM_PCT": "20"}, "must sum to 100"),
        ({"SPLIT_PLATFORM_PCT": "-5", "SPLIT_CREATOR_PCT": "35"}, "SPLIT_PLATFORM_PCT cannot be negative"),
        ({"SPLIT_CREATOR_PCT": "fifteen"}, "SPLIT_CREATOR_PCT must be an integer"),
        ({"SPLIT_TEACHER_PCT": "69.5"}, "SPLIT_TEACHER_PCT must be an integer"),
    ],
)
def test_the_configuration_refuses_a_split_that_is_not_whole(env, message):
    with pytest.raises(ConfigError, match=message):
        from_env(env)
