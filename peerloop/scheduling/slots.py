"""The slot engine: when a teacher can be booked, as instants in UTC. Pure: no database, no Flask, no clock.

A teacher's availability is wall-clock time in their own zone (a weekly schedule,
extra hours on given dates, blocked dates, a pause switch), so "10:00-12:00 in
New York" stays 10:00-12:00 in New York on both sides of a daylight-saving
change. ``free_slots`` expands it for the dates around ``now``, joins windows that
touch (one ending at 24:00 runs on into one starting at 00:00 the next day, so a
slot may cross midnight), and steps slots by length + buffer from each joined
window's start, in local time:

- a local start that does not exist (the hour skipped when clocks go forward) is
  skipped; a repeated one (the hour lived twice when they go back) means its first
  occurrence; a slot lasts its length in real time and must end inside its window;
- a slot starts no sooner than ``now + notice`` and no later than ``now + window``;
- a slot keeps ``buffer`` clear of every busy interval (the teacher's sessions, and
  the student's own, which the caller passes too).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
SESSION_LENGTHS = (30, 45, 60)


def _check_minutes(start_minute: int, end_minute: int) -> None:
    for name, value in (("start_minute", start_minute), ("end_minute", end_minute)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an integer number of minutes, got {value!r}")
    if not 0 <= start_minute < MINUTES_PER_DAY:
        raise ValueError(f"a window starts between 00:00 and 23:59, got minute {start_minute}")
    if not start_minute < end_minute <= MINUTES_PER_DAY:
        raise ValueError(f"a window ends after it starts and at 24:00 at the latest, got {start_minute}-{end_minute}")


@dataclass(frozen=True, order=True)
class WeeklyWindow:
    """Every ``weekday`` (0 Monday … 6 Sunday), from ``start_minute`` to ``end_minute`` after local midnight
    (``end_minute`` 1440 is 24:00)."""

    weekday: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday!r}")
        _check_minutes(self.start_minute, self.end_minute)


@dataclass(frozen=True, order=True)
class DateWindow:
    """Extra hours on one local date (a date override)."""

    day: date
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        _check_minutes(self.start_minute, self.end_minute)


@dataclass(frozen=True)
class Availability:
    """One teacher's bookable time, as they set it, in their own zone."""

    timezone: str
    weekly: tuple[WeeklyWindow, ...] = ()
    extra: tuple[DateWindow, ...] = ()  # date overrides: more hours on those dates
    blocked: frozenset[date] = field(default_factory=frozenset)  # no hours at all on those dates
    paused: bool = False  # the holiday switch
    session_minutes: int = 60
    buffer_minutes: int = 15
    notice: timedelta = timedelta(hours=4)
    window: timedelta = timedelta(days=14)

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # ZoneInfoNotFoundError for an unknown zone
        if self.session_minutes not in SESSION_LENGTHS:
            raise ValueError(f"a session lasts 30, 45 or 60 minutes, got {self.session_minutes}")
        if isinstance(self.buffer_minutes, bool) or not isinstance(self.buffer_minutes, int):
            raise TypeError("buffer_minutes must be an integer")
        if not 0 <= self.buffer_minutes <= 120:
            raise ValueError(f"the buffer is 0 to 120 minutes, got {self.buffer_minutes}")
        if self.notice < timedelta(0) or self.window <= timedelta(0):
            raise ValueError("notice must not be negative and the booking window must be positive")


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


def _local_windows(availability: Availability, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """The joined windows of the local dates first..last, as naive local wall-clock intervals."""
    by_weekday: dict[int, list[WeeklyWindow]] = {}
    for window in availability.weekly:
        by_weekday.setdefault(window.weekday, []).append(window)
    extra: dict[date, list[DateWindow]] = {}
    for window in availability.extra:
        extra.setdefault(window.day, []).append(window)
    intervals = []
    day = first
    while day <= last:
        if day not in availability.blocked:
            midnight = datetime.combine(day, time())
            for window in [*by_weekday.get(day.weekday(), ()), *extra.get(day, ())]:
                intervals.append(
                    (midnight + timedelta(minutes=window.start_minute), midnight + timedelta(minutes=window.end_minute))
                )
        day += timedelta(days=1)
    intervals.sort()
    joined: list[tuple[datetime, datetime]] = []
    for start, end in intervals:
        if joined and start <= joined[-1][1]:  # overlapping or touching (24:00 meets 00:00): one window
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def to_utc(local: datetime, zone: ZoneInfo) -> datetime | None:
    """A naive local wall-clock time in ``zone`` as a UTC instant: the first occurrence of a repeated
    time, None for one the zone skips."""
    aware = local.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        return None  # in the gap when clocks go forward
    return instant


def _window_end_utc(local_end: datetime, zone: ZoneInfo) -> datetime:
    """Where a window that ends at ``local_end`` ends in UTC (an end inside a gap ends at the gap)."""
    end = to_utc(local_end, zone)
    while end is None:  # an end in the skipped hour: step back to the last minute that exists
        local_end -= timedelta(minutes=1)
        end = to_utc(local_end, zone)
        if end is not None:
            end += timedelta(minutes=1)
    # A repeated end time (clocks going back) means its second occurrence: the window runs to it.
    later = local_end.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return max(end, later)


def free_slots(
    availability: Availability,
    *,
    busy: Iterable[tuple[datetime, datetime]] = (),
    now: datetime,
) -> list[datetime]:
    """The start instants (UTC, sorted) at which a session of ``availability.session_minutes`` can be
    booked, from ``now + notice`` to ``now + window``, clear of ``busy`` by the buffer.

    :raise ValueError: a naive ``now`` or busy time, a busy interval that ends before it starts.
    """
    now = _aware(now, "now")
    if availability.paused:
        return []
    zone = ZoneInfo(availability.timezone)
    length = timedelta(minutes=availability.session_minutes)
    step = length + timedelta(minutes=availability.buffer_minutes)
    buffer = timedelta(minutes=availability.buffer_minutes)
    earliest, latest = now + availability.notice, now + availability.window
    intervals = []
    for start, end in busy:
        start, end = _aware(start, "a busy start"), _aware(end, "a busy end")
        if end < start:
            raise ValueError("a busy interval ends before it starts")
        intervals.append((start - buffer, end + buffer))
    intervals.sort()
    merged: list[tuple[datetime, datetime]] = []  # disjoint and sorted: one bisect per candidate slot
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    busy_starts = [start for start, _ in merged]
    # One day either side: a window on the previous local date can run past midnight into range.
    first = earliest.astimezone(zone).date() - timedelta(days=1)
    last = latest.astimezone(zone).date() + timedelta(days=1)
    slots = []
    for local_start, local_end in _local_windows(availability, first, last):
        window_end = _window_end_utc(local_end, zone)
        local = local_start
        while local + length <= local_end:
            start = to_utc(local, zone)
            local += step
            if start is None or start < earliest or start > latest or start + length > window_end:
                continue
            # The last busy interval starting before the slot ends is the only one that can overlap it.
            i = bisect_left(busy_starts, start + length) - 1
            if i < 0 or merged[i][1] <= start:
                slots.append(start)
    return sorted(set(slots))
