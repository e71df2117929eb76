"""The money arithmetic of a purchase: pure functions over integer cents.

No database, no Flask, no floats. Every function here answers in whole cents
whose parts sum exactly to the whole they divide, so the ledger built on them
(issue 6 items 4 and 5) balances to the cent:

- ``split_payment``: a payment's platform share, creator royalty and teaching
  pool (15 / 15 / 70 by default), the rounding remainder to the platform;
- ``teaching_release``: what one delivered session releases from the pool
  (pool ÷ session_count, the remainder on the last session);
- ``refund_quote``: the default refund when a student leaves with sessions
  undelivered, part by part, so each part is exactly what is reversed;
- ``custom_refund``: Brian's custom amount, taken from the unreleased pool
  first, then the platform's share, then the creator's.

**When the creator teaches**, the teaching share goes to the creator, who then
earns the royalty and the pool (15% + 70% = 85% by default). That is a choice of
*recipient* made by whoever writes the ledger rows, not different arithmetic:
the split, the releases and the refunds are the same numbers whoever teaches.

The percentages are not written here: they come from the configuration
(``SPLIT_PLATFORM_PCT``, ``SPLIT_CREATOR_PCT``, ``SPLIT_TEACHER_PCT`` in
``config.py``) through ``rates_from_config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def _whole(name: str, value: object, *, minimum: int | None = 0) -> int:
    """``value`` itself when it is an integer (not a bool, not a float) of at least ``minimum`` (if given).

    :raise TypeError: not an integer.
    :raise ValueError: below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _ceil_div(numerator: int, denominator: int) -> int:
    """⌈numerator ÷ denominator⌉ for a non-negative numerator and a positive denominator, exactly."""
    return -(-numerator // denominator)


@dataclass(frozen=True)
class SplitRates:
    """Whole percentages of a payment: the platform's share, the creator's royalty, the teaching pool.

    Each part is a non-negative integer and the three sum to 100.

    :raise TypeError: a part is not an integer.
    :raise ValueError: a part is negative, or the parts do not sum to 100.
    """

    platform_pct: int
    creator_pct: int
    teacher_pct: int

    def __post_init__(self) -> None:
        for name in ("platform_pct", "creator_pct", "teacher_pct"):
            _whole(name, getattr(self, name))  # a whole, non-negative number
        total = self.platform_pct + self.creator_pct + self.teacher_pct
        if total != 100:
            raise ValueError(
                f"split percentages must sum to 100, got {self.platform_pct} + {self.creator_pct} + "
                f"{self.teacher_pct} = {total}"
            )

    @property
    def creator_teaching_pct(self) -> int:
        """What the creator earns when they teach the student themselves: royalty + teaching share (85%)."""
        return self.creator_pct + self.teacher_pct


def rates_from_config(config: Mapping) -> SplitRates:
    """The configured split (``app.config`` or ``config.from_env()``), validated.

    :raise KeyError: a ``SPLIT_*_PCT`` setting is missing.
    :raise ValueError: the configured parts do not make a valid split (see ``SplitRates``).
    """
    return SplitRates(
        platform_pct=config["SPLIT_PLATFORM_PCT"],
        creator_pct=config["SPLIT_CREATOR_PCT"],
        teacher_pct=config["SPLIT_TEACHER_PCT"],
    )


@dataclass(frozen=True)
class Split:
    """A payment divided: what the platform earns, the creator's royalty, and the teaching pool held
    until sessions are delivered (then released to each session's teacher: the Student-Teacher, or the
    creator when the creator taught)."""

    platform_cents: int
    creator_cents: int
    teaching_pool_cents: int

    def __post_init__(self) -> None:
        for name in ("platform_cents", "creator_cents", "teaching_pool_cents"):
            _whole(name, getattr(self, name))

    @property
    def total(self) -> int:
        """The amount paid: the three parts always sum to it."""
        return self.platform_cents + self.creator_cents + self.teaching_pool_cents


def split_payment(amount_cents: int, *, rates: SplitRates) -> Split:
    """Divide a payment of ``amount_cents`` by ``rates``.

    The creator's royalty and the teaching pool are each rounded down to the cent;
    the platform takes the rest, so the parts sum exactly to ``amount_cents`` and
    any rounding remainder is the platform's. $399.00 at 15 / 15 / 70 is
    5985 + 5985 + 27930. Who receives the pool (a Student-Teacher, or the creator
    when the creator teaches: 85% overall) does not change these numbers.

    :raise TypeError: ``amount_cents`` is not an integer.
    :raise ValueError: ``amount_cents`` is negative.
    """
    _whole("amount_cents", amount_cents)
    creator = amount_cents * rates.creator_pct // 100
    pool = amount_cents * rates.teacher_pct // 100
    return Split(platform_cents=amount_cents - creator - pool, creator_cents=creator, teaching_pool_cents=pool)


def _check_sessions(session_count: int) -> int:
    return _whole("session_count", session_count, minimum=1)


def teaching_release(pool_cents: int, session_count: int, session_number: int) -> int:
    """What the ``session_number``-th delivered session (1-based) releases from the teaching pool.

    Each session releases pool ÷ session_count rounded down; the last one also
    takes the remainder, so the releases for sessions 1..session_count sum exactly
    to the pool ($279.30 over 2 sessions: 13965 + 13965; 100 cents over 3: 33, 33, 34).
    The release goes to that session's teacher, the creator included when they taught.

    :raise ValueError: ``session_number`` is outside 1..session_count, or an amount is negative.
    """
    _whole("pool_cents", pool_cents)
    _check_sessions(session_count)
    _whole("session_number", session_number, minimum=None)
    if not 1 <= session_number <= session_count:
        raise ValueError(f"session_number must be between 1 and {session_count}, got {session_number}")
    base, remainder = divmod(pool_cents, session_count)
    return base + remainder if session_number == session_count else base


def released_pool(pool_cents: int, session_count: int, delivered: int) -> int:
    """The part of the pool the first ``delivered`` sessions released: the sum of their ``teaching_release``.

    :raise ValueError: ``delivered`` is outside 0..session_count.
    """
    _whole("pool_cents", pool_cents)
    _check_delivered(session_count, delivered)
    base = pool_cents // session_count
    return pool_cents if delivered == session_count else base * delivered


def _check_delivered(session_count: int, delivered: int) -> None:
    _check_sessions(session_count)
    _whole("delivered", delivered, minimum=None)  # the range is checked next
    if not 0 <= delivered <= session_count:
        raise ValueError(f"delivered must be between 0 and {session_count}, got {delivered}")


@dataclass(frozen=True)
class RefundQuote:
    """A refund part by part: each part is exactly what is reversed from that share of the split.

    ``pool_cents`` comes back from the unreleased teaching pool, ``platform_cents``
    from the platform's share, ``creator_cents`` from the creator's royalty;
    ``total_cents`` is their sum, the amount refunded to the student.

    :raise ValueError: a part is negative, or ``total_cents`` is not the sum of the parts.
    """

    pool_cents: int
    platform_cents: int
    creator_cents: int
    total_cents: int

    def __post_init__(self) -> None:
        for name in ("pool_cents", "platform_cents", "creator_cents", "total_cents"):
            _whole(name, getattr(self, name))
        if self.total_cents != self.pool_cents + self.platform_cents + self.creator_cents:
            raise ValueError("total_cents must be the sum of the parts")

    @classmethod
    def of(cls, *, pool_cents: int, platform_cents: int, creator_cents: int) -> RefundQuote:
        return cls(
            pool_cents=pool_cents,
            platform_cents=platform_cents,
            creator_cents=creator_cents,
            total_cents=pool_cents + platform_cents + creator_cents,
        )


def refund_quote(split: Split, session_count: int, delivered: int) -> RefundQuote:
    """The default refund for a student who leaves after ``delivered`` of ``session_count`` sessions.

    With n = session_count and u = n − delivered undelivered sessions, the refund is
    the whole unreleased pool (pool − the releases of the delivered sessions)
    + ⌈platform × u ÷ n⌉ + ⌈creator × u ÷ n⌉. So it is

    - never less than price × u ÷ n (the unreleased pool holds at least pool × u ÷ n,
      and the two other parts are rounded up);
    - the full price before any session (u = n), nothing once all are delivered (u = 0);
    - never more than what is left (price − the released pool): a delivered
      session's share is never returned, whoever taught it.

    Rounding up favours the student by under a cent per share. The caller passes
    the enrollment's snapshot split and session count, and the delivered count it
    keeps (today: its release rows). A previous partial refund is not known here:
    the caller must take it into account.

    :raise ValueError: ``session_count`` < 1, or ``delivered`` outside 0..session_count.
    """
    _check_delivered(session_count, delivered)
    undelivered = session_count - delivered
    return RefundQuote.of(
        pool_cents=split.teaching_pool_cents - released_pool(split.teaching_pool_cents, session_count, delivered),
        platform_cents=_ceil_div(split.platform_cents * undelivered, session_count),
        creator_cents=_ceil_div(split.creator_cents * undelivered, session_count),
    )


def custom_refund(split: Split, released_pool_cents: int, amount_cents: int) -> RefundQuote:
    """Brian's custom refund of ``amount_cents``, part by part.

    It comes from the unreleased pool (pool − ``released_pool_cents``) first, then
    from the platform's share, then from the creator's royalty. Released teaching
    shares are never taken back, so at most price − released pool can be refunded.
    A full refund is ``custom_refund(split, released, split.total - released)``.

    :raise ValueError: ``amount_cents`` is below 1 cent or more than what is left,
        or ``released_pool_cents`` is negative or more than the pool.
    """
    _whole("released_pool_cents", released_pool_cents)
    if released_pool_cents > split.teaching_pool_cents:
        raise ValueError(
            f"released_pool_cents ({released_pool_cents}) is more than the teaching pool ({split.teaching_pool_cents})"
        )
    _whole("amount_cents", amount_cents, minimum=None)  # below 1 cent is refused next, in words
    left = split.total - released_pool_cents
    if amount_cents < 1:
        raise ValueError(f"a refund must be at least 1 cent, got {amount_cents}")
    if amount_cents > left:
        raise ValueError(
            f"a refund of {amount_cents} cents is more than what is left to refund ({left} cents: the price "
            f"{split.total} less {released_pool_cents} already released to teachers)"
        )
    rest = amount_cents
    pool = min(rest, split.teaching_pool_cents - released_pool_cents)
    rest -= pool
    platform = min(rest, split.platform_cents)
    rest -= platform
    return RefundQuote.of(pool_cents=pool, platform_cents=platform, creator_cents=rest)
