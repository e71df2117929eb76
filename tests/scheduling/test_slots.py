"""The slot engine across daylight saving, half-hour zones, midnight, overrides and pauses; and its
promises as properties (hypothesis): no slot touches a busy interval, every slot lies in a window,
notice and the booking window hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from peerloop.scheduling.slots import Availability, DateWindow, WeeklyWindow, free_slots, to_utc

NY = ZoneInfo("America/New_York")


def hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def every_day(start: str, end: str) -> tuple[WeeklyWindow, ...]:
    return tuple(WeeklyWindow(d, hm(start), hm(end)) for d in range(7))


def local(slots, zone: ZoneInfo, day: date) -> list[str]:
    """The slots that start on a local date, as local wall-clock times."""
    return [s.astimezone(zone).strftime("%H:%M") for s in slots if s.astimezone(zone).date() == day]


def availability(**kw) -> Availability:
    kw.setdefault("timezone", "America/New_York")
    kw.setdefault("notice", timedelta(0))
    return Availability(**kw)


@pytest.mark.parametrize("day", [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9), date(2026, 11, 1)])
def test_a_new_york_window_stays_ten_to_twelve_local_across_both_changes(day):
    avail = availability(weekly=every_day("10:00", "12:00"), session_minutes=45, buffer_minutes=15)
    slots = free_slots(
        avail, now=datetime(2026, 3, 1, tzinfo=UTC) if day.month == 3 else datetime(2026, 10, 25, tzinfo=UTC)
    )
    assert local(slots, NY, day) == ["10:00", "11:00"]
    # In UTC the same wall-clock slots move by the hour the clocks moved.
    offsets = {s.astimezone(NY).utcoffset() for s in slots if s.astimezone(NY).date() == day}
    assert offsets == ({timedelta(hours=-5)} if day in (date(2026, 3, 7), date(2026, 11, 1)) else {timedelta(hours=-4)})


def test_the_skipped_hour_has_no_slots_and_a_slot_lasts_its_length_in_real_time():
    avail = availability(weekly=every_day("01:00", "04:00"), session_minutes=60, buffer_minutes=0)
    slots = free_slots(avail, now=datetime(2026, 3, 7, 12, tzinfo=UTC))
    # 02:00 does not exist on 8 March 2026 in New York.
    assert local(slots, NY, date(2026, 3, 8)) == ["01:00", "03:00"]
    assert [s for s in slots if s.astimezone(NY).date() == date(2026, 3, 8)] == [
        datetime(2026, 3, 8, 6, tzinfo=UTC),
        datetime(2026, 3, 8, 7, tzinfo=UTC),
    ]


def test_a_repeated_local_time_means_its_first_occurrence():
    avail = availability(weekly=every_day("01:00", "03:00"), session_minutes=30, buffer_minutes=0)
    slots = free_slots(avail, now=datetime(2026, 10, 31, 12, tzinfo=UTC))
    day = [s for s in slots if s.astimezone(NY).date() == date(2026, 11, 1)]
    # 01:00 and 01:30 happen twice on 1 November 2026: the first time (EDT, UTC-4) is the slot.
    assert day[:2] == [datetime(2026, 11, 1, 5, tzinfo=UTC), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]
    assert local(day, NY, date(2026, 11, 1)) == ["01:00", "01:30", "02:00", "02:30"]
    assert to_utc(datetime(2026, 11, 1, 1, 30), NY) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert to_utc(datetime(2026, 3, 8, 2, 30), NY) is None


def test_a_half_hour_zone():
    avail = availability(
        timezone="Asia/Kolkata", weekly=every_day("09:30", "11:00"), session_minutes=30, buffer_minutes=15
    )
    slots = free_slots(avail, now=datetime(2026, 6, 1, tzinfo=UTC))
    assert local(slots, ZoneInfo("Asia/Kolkata"), date(2026, 6, 2)) == ["09:30", "10:15"]
    assert datetime(2026, 6, 2, 4, 0, tzinfo=UTC) in slots  # 09:30 IST is 04:00 UTC


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # Clocks go forward 30 minutes at 02:00 on 4 October 2026: 02:00-02:29 does not exist.
        (date(2026, 10, 4), ["01:00", "01:30", "02:30", "03:00", "03:30"]),
        # They go back 30 minutes at 02:00 on 5 April 2026: 01:30-01:59 happens twice (the first counts).
        (date(2026, 4, 5), ["01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]),
    ],
)
def test_lord_howe_island_and_its_thirty_minute_shift(day, expected):
    zone = ZoneInfo("Australia/Lord_Howe")
    avail = availability(
        timezone="Australia/Lord_Howe", weekly=every_day("01:00", "04:00"), session_minutes=30, buffer_minutes=0
    )
    slots = free_slots(avail, now=datetime.combine(day - timedelta(days=2), datetime.min.time(), tzinfo=UTC))
    assert local(slots, zone, day) == expected
    starts = [s for s in slots if s.astimezone(zone).date() == day]
    assert all(b - a >= timedelta(minutes=30) for a, b in zip(starts, starts[1:], strict=False))


def test_windows_joined_across_midnight_give_a_slot_that_crosses_it():
    avail = availability(
        weekly=(WeeklyWindow(4, hm("22:00"), 24 * 60), WeeklyWindow(5, 0, hm("01:30"))),  # Friday night into Saturday
        session_minutes=60,
        buffer_minutes=15,
    )
    slots = free_slots(avail, now=datetime(2026, 6, 1, tzinfo=UTC))
    friday = [s.astimezone(NY) for s in slots if s.astimezone(NY).date() == date(2026, 6, 5)]
    saturday = [s.astimezone(NY) for s in slots if s.astimezone(NY).date() == date(2026, 6, 6)]
    assert [s.strftime("%H:%M") for s in friday] == ["22:00", "23:15"]  # 23:15-00:15 crosses midnight
    assert [s.strftime("%H:%M") for s in saturday] == ["00:30"]  # the same grid, carried on past midnight
    assert saturday[0] - friday[-1] == timedelta(minutes=75)


def test_a_window_alone_does_not_join_across_a_blocked_day():
    avail = availability(
        weekly=(WeeklyWindow(4, hm("23:00"), 24 * 60), WeeklyWindow(5, 0, hm("01:00"))),
        blocked=frozenset({date(2026, 6, 6)}),
        session_minutes=60,
        buffer_minutes=0,
    )
    slots = free_slots(avail, now=datetime(2026, 6, 1, tzinfo=UTC))
    assert local(slots, NY, date(2026, 6, 5)) == ["23:00"]  # Friday's own hour still fits a session
    assert local(slots, NY, date(2026, 6, 6)) == []  # but Saturday is blocked: nothing runs on into it
    bigger = free_slots(
        availability(weekly=avail.weekly, blocked=avail.blocked, session_minutes=60, buffer_minutes=0),
        busy=[(datetime(2026, 6, 6, 3, 0, tzinfo=UTC), datetime(2026, 6, 6, 3, 30, tzinfo=UTC))],  # 23:00-23:30
        now=datetime(2026, 6, 1, tzinfo=UTC),
    )
    assert local(bigger, NY, date(2026, 6, 5)) == []  # and no slot may borrow Saturday's hour


def test_a_date_override_adds_hours_and_a_blocked_date_removes_them():
    avail = availability(
        weekly=every_day("10:00", "11:00"),
        extra=(
            DateWindow(date(2026, 6, 3), hm("14:00"), hm("15:00")),
            DateWindow(date(2026, 6, 3), hm("11:00"), hm("12:00")),
        ),
        blocked=frozenset({date(2026, 6, 4)}),
        session_minutes=60,
        buffer_minutes=0,
    )
    slots = free_slots(avail, now=datetime(2026, 6, 1, tzinfo=UTC))
    assert local(slots, NY, date(2026, 6, 3)) == ["10:00", "11:00", "14:00"]  # 10-11 and 11-12 join
    assert local(slots, NY, date(2026, 6, 4)) == []
    assert local(slots, NY, date(2026, 6, 5)) == ["10:00"]


def test_a_pause_has_no_slots():
    assert (
        free_slots(availability(weekly=every_day("09:00", "17:00"), paused=True), now=datetime(2026, 6, 1, tzinfo=UTC))
        == []
    )


def test_notice_and_the_booking_window():
    now = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)  # 09:00 in New York
    avail = availability(
        weekly=every_day("09:00", "17:00"),
        session_minutes=60,
        buffer_minutes=0,
        notice=timedelta(hours=4),
        window=timedelta(days=2),
    )
    slots = free_slots(avail, now=now)
    assert slots[0] == datetime(2026, 6, 1, 17, tzinfo=UTC)  # 13:00 local, four hours on
    assert slots[-1] <= now + timedelta(days=2)
    assert local(slots, NY, date(2026, 6, 3)) == ["09:00"]  # 09:00 on the 3rd is exactly 48 hours on


def test_busy_times_and_the_buffer_around_them():
    avail = availability(weekly=every_day("09:00", "13:00"), session_minutes=60, buffer_minutes=15)
    day = date(2026, 6, 2)
    booked = (datetime(2026, 6, 2, 14, 15, tzinfo=UTC), datetime(2026, 6, 2, 15, 15, tzinfo=UTC))  # 10:15-11:15 local
    slots = free_slots(avail, busy=[booked], now=datetime(2026, 6, 1, tzinfo=UTC))
    # Grid 09:00, 10:15, 11:30: 09:00-10:00 ends 15 minutes before it, 11:30 starts 15 minutes after it.
    assert local(slots, NY, day) == ["09:00", "11:30"]
    tight = free_slots(
        avail, busy=[(booked[0], booked[1] + timedelta(minutes=1))], now=datetime(2026, 6, 1, tzinfo=UTC)
    )
    assert local(tight, NY, day) == ["09:00"]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: WeeklyWindow(0, hm("12:00"), hm("11:00")),
        lambda: WeeklyWindow(0, hm("12:00"), hm("12:00")),
        lambda: WeeklyWindow(0, 0, 24 * 60 + 1),
        lambda: WeeklyWindow(7, 0, 60),
        lambda: WeeklyWindow(0, 24 * 60, 24 * 60),
        lambda: Availability(timezone="UTC", session_minutes=50),
        lambda: Availability(timezone="UTC", buffer_minutes=-1),
    ],
)
def test_impossible_availability_is_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        bad()


def test_an_unknown_zone_is_refused():
    with pytest.raises(ZoneInfoNotFoundError):
        Availability(timezone="Mars/Olympus_Mons")


def test_naive_times_are_refused():
    avail = availability(weekly=every_day("09:00", "10:00"))
    with pytest.raises(ValueError, match="timezone-aware"):
        free_slots(avail, now=datetime(2026, 6, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        free_slots(avail, busy=[(datetime(2026, 6, 2), datetime(2026, 6, 2, 1))], now=datetime(2026, 6, 1, tzinfo=UTC))


# --- properties -------------------------------------------------------------------------------------

ZONES = ["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/London", "Pacific/Chatham", "UTC"]


@st.composite
def weekly_windows(draw):
    windows = []
    for weekday in range(7):
        cursor = 0
        for _ in range(draw(st.integers(0, 3))):
            start = draw(st.integers(cursor, 24 * 60 - 15))
            end = draw(st.integers(start + 15, min(24 * 60, start + 8 * 60)))
            windows.append(WeeklyWindow(weekday, start, end))
            cursor = end + 1
            if cursor >= 24 * 60 - 15:
                break
    return tuple(windows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    weekly=weekly_windows(),
    length=st.sampled_from([30, 45, 60]),
    buffer=st.integers(0, 30),
    notice_hours=st.integers(0, 48),
    window_days=st.integers(1, 14),
    now=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    busy_offsets=st.lists(st.tuples(st.integers(0, 14 * 24 * 60), st.integers(15, 180)), max_size=8),
)
@example(  # Lord Howe's clocks go back half an hour at 02:00 on 5 April 2026, inside the Sunday window
    zone="Australia/Lord_Howe",
    weekly=(WeeklyWindow(5, 0, 15), WeeklyWindow(5, 16, 31), WeeklyWindow(5, 32, 47), WeeklyWindow(6, 95, 125)),
    length=30,
    buffer=0,
    notice_hours=0,
    window_days=1,
    now=datetime(2026, 4, 3, 15, 0, tzinfo=UTC),
    busy_offsets=[],
)
def test_slots_keep_every_promise(zone, weekly, length, buffer, notice_hours, window_days, now, busy_offsets):
    avail = Availability(
        timezone=zone,
        weekly=weekly,
        session_minutes=length,
        buffer_minutes=buffer,
        notice=timedelta(hours=notice_hours),
        window=timedelta(days=window_days),
    )
    busy = [(now + timedelta(minutes=o), now + timedelta(minutes=o + d)) for o, d in busy_offsets]
    slots = free_slots(avail, busy=busy, now=now)
    tz = ZoneInfo(zone)
    span = timedelta(minutes=length)
    pad = timedelta(minutes=buffer)
    assert slots == sorted(set(slots))
    # Busy time removes exactly the slots it touches (with the buffer), and no others.
    open_slots = free_slots(avail, now=now)
    expected = [
        start
        for start in open_slots
        if all(start + span + pad <= b_start or start >= b_end + pad for b_start, b_end in busy)
    ]
    assert slots == expected
    for start in slots:
        assert start.tzinfo is UTC or start.utcoffset() == timedelta(0)
        assert now + avail.notice <= start <= now + avail.window
        for b_start, b_end in busy:  # clear of every busy interval by the buffer
            assert start + span + pad <= b_start or start >= b_end + pad
        # Inside the weekly windows: every minute of the session is in a window of its local date
        # (a window ending at 24:00 carries on into one starting at 00:00).
        minute = start
        while minute < start + span:
            wall = minute.astimezone(tz)
            assert _in_a_window(minute, wall, weekly, tz), (start, minute, wall)
            minute += timedelta(minutes=5)


def _in_a_window(minute: datetime, wall: datetime, weekly, tz: ZoneInfo) -> bool:
    """Whether ``minute`` is inside a weekly window of its local date: by its wall clock, or, on the
    night clocks go back, by real time: a window spanning the change runs from its start's first
    occurrence to its end's second, so the repeated half hour or hour in it belongs to it too."""
    clock = wall.hour * 60 + wall.minute
    if any(w.weekday == wall.weekday() and w.start_minute <= clock < w.end_minute for w in weekly):
        return True
    midnight = datetime.combine(wall.date(), datetime.min.time())
    for w in weekly:
        if w.weekday != wall.weekday():
            continue
        begins = (midnight + timedelta(minutes=w.start_minute)).replace(tzinfo=tz, fold=0).astimezone(UTC)
        ends = (midnight + timedelta(minutes=w.end_minute)).replace(tzinfo=tz, fold=1).astimezone(UTC)
        if begins <= minute < ends:
            return True
    return False
