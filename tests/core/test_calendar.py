"""sigap.core.calendar: working time, SLA deadlines and the Indonesian holiday list.

Hand-computed cases use the Surabaya office calendar (Monday-Friday 08:00-16:00, Asia/Jakarta)
with the holidays the `holidays` package gives for 2024-2027; the dates they rely on are
asserted first, so a package change that moves them fails loudly here, not in a sum.
Random cases are checked against a slow day-by-day oracle and against pandas.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigap.core.calendar import (
    JAKARTA,
    HolidayOverrides,
    WorkingCalendar,
    holiday_dates,
    indonesian_holidays,
    load_holiday_overrides,
    parse_holiday_overrides,
)
from tests.properties import examples

HOUR = 3600
YEARS = range(2024, 2028)
HOLIDAYS = holiday_dates(YEARS, None)
OFFICE = WorkingCalendar.office_hours("dinas", HOLIDAYS)
EMERGENCY = WorkingCalendar.always_open("command-center-112")
SHIPPED_OVERRIDES = Path(__file__).resolve().parents[2] / "deploy" / "holidays-override.yaml"

# Hypothesis must not write a .hypothesis/ folder into the repository.
PROPERTY = settings(database=None, deadline=None, max_examples=examples(300))


def jkt(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


# --- Slow, obviously correct oracle: walk every day, intersect every interval ---------------


def _day_intervals(calendar: WorkingCalendar, day: date) -> Iterator[tuple[datetime, datetime]]:
    if day in calendar.holidays:
        return
    for start, end in calendar.weekly_hours.get(day.weekday(), ()):
        opening = datetime.combine(day, start, calendar.tz)
        closing = (
            datetime.combine(day + timedelta(days=1), time(0), calendar.tz)
            if end == time(0)
            else datetime.combine(day, end, calendar.tz)
        )
        yield opening, closing


def oracle_micros_between(calendar: WorkingCalendar, start: datetime, end: datetime) -> int:
    start, end = start.astimezone(calendar.tz), end.astimezone(calendar.tz)
    total = timedelta(0)
    day = start.date()
    while day <= end.date():
        for opening, closing in _day_intervals(calendar, day):
            overlap = min(closing, end) - max(opening, start)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total // timedelta(microseconds=1)


def oracle_working_days_deadline(calendar: WorkingCalendar, start: datetime, days: int) -> datetime:
    start = start.astimezone(calendar.tz)
    day, counted = start.date(), 0
    while True:
        intervals = list(_day_intervals(calendar, day))
        if intervals and (day > start.date() or start <= intervals[0][0]):
            counted += 1
            if counted == days:
                return intervals[-1][1]
        day += timedelta(days=1)


# Calendars with less regular shapes, to exercise the interval logic beyond 08-16.
LUNCH_BREAK = WorkingCalendar(
    name="kelurahan",
    weekly_hours={
        0: ((time(7, 30), time(12)), (time(13), time(16))),
        1: ((time(7, 30), time(12)), (time(13), time(16))),
        2: ((time(7, 30), time(12)), (time(13), time(16))),
        3: ((time(7, 30), time(12)), (time(13), time(16))),
        4: ((time(7, 30), time(11, 30)), (time(13), time(16, 30))),
        5: ((time(8), time(12)),),
    },
    holidays=HOLIDAYS,
)
NIGHT_SHIFTS = WorkingCalendar(
    # Open until midnight and again from midnight, but with holidays: not "always open".
    name="damkar-dispatch",
    weekly_hours={weekday: ((time(0), time(6)), (time(18), time(0))) for weekday in range(7)},
    holidays=HOLIDAYS,
)
ALL_CALENDARS = [OFFICE, LUNCH_BREAK, NIGHT_SHIFTS, EMERGENCY]

instants = st.builds(
    lambda moment, zone: moment.replace(tzinfo=JAKARTA).astimezone(zone),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31)),
    st.sampled_from([JAKARTA, UTC, ZoneInfo("Asia/Makassar")]),
)
calendars = st.sampled_from(ALL_CALENDARS)


# --- The holiday dates the hand-computed cases rely on ---------------------------------------


def test_2025_holidays_from_the_package() -> None:
    names = indonesian_holidays([2025])
    # Nyepi 2025 falls on a Saturday; its cuti bersama is the Friday before.
    assert date(2025, 3, 29).weekday() == 5
    assert "Nyepi" in names[date(2025, 3, 29)]
    assert names[date(2025, 3, 28)] == "Cuti Bersama Hari Suci Nyepi"
    # Idul Fitri 1446 H: Monday 31 March and Tuesday 1 April 2025.
    assert names[date(2025, 3, 31)] == "Hari Raya Idul Fitri"
    assert "Idul Fitri" in names[date(2025, 4, 1)]
    lebaran_cuti_bersama = [
        day for day, name in names.items() if name == "Cuti Bersama Hari Raya Idul Fitri"
    ]
    assert lebaran_cuti_bersama == [
        date(2025, 4, 2),
        date(2025, 4, 3),
        date(2025, 4, 4),
        date(2025, 4, 7),
    ]
    all_cuti_bersama = sorted(day for day, name in names.items() if "Cuti Bersama" in name)
    assert all_cuti_bersama == [
        date(2025, 1, 28),
        date(2025, 3, 28),
        date(2025, 4, 2),
        date(2025, 4, 3),
        date(2025, 4, 4),
        date(2025, 4, 7),
        date(2025, 5, 13),
        date(2025, 5, 30),
        date(2025, 6, 9),
        date(2025, 8, 18),
        date(2025, 12, 26),
    ]
    # Used by the "several weeks" case: Waisak and Ascension with their cuti bersama.
    assert {date(2025, 5, 12), date(2025, 5, 13), date(2025, 5, 29), date(2025, 5, 30)} <= set(
        names
    )
    assert date(2025, 5, 2) not in names  # the Friday in the weekend case is a working day


def test_2026_holidays_from_the_package() -> None:
    names = indonesian_holidays([2026])
    # Nyepi 2026: Thursday 19 March, cuti bersama Wednesday 18 March.
    assert date(2026, 3, 19).weekday() == 3
    assert names[date(2026, 3, 19)] == "Hari Suci Nyepi"
    assert names[date(2026, 3, 18)] == "Cuti Bersama Hari Suci Nyepi"
    # Idul Fitri 1447 H: Saturday 21 and Sunday 22 March 2026, cuti bersama Fri 20, Mon 23,
    # Tue 24 March. So nothing is worked from Wed 18 to Tue 24 March 2026.
    assert names[date(2026, 3, 21)] == "Hari Raya Idul Fitri"
    assert "Idul Fitri" in names[date(2026, 3, 22)]
    lebaran_cuti_bersama = [
        day for day, name in names.items() if name == "Cuti Bersama Hari Raya Idul Fitri"
    ]
    assert lebaran_cuti_bersama == [date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24)]
    all_cuti_bersama = sorted(day for day, name in names.items() if "Cuti Bersama" in name)
    assert all_cuti_bersama == [
        date(2026, 2, 16),
        date(2026, 3, 18),
        date(2026, 3, 20),
        date(2026, 3, 23),
        date(2026, 3, 24),
        date(2026, 5, 15),
        date(2026, 5, 28),
        date(2026, 12, 24),
    ]
    for day in (date(2026, 3, 18), date(2026, 3, 19), date(2026, 3, 20), date(2026, 3, 24)):
        assert not OFFICE.is_working_day(day)
    assert OFFICE.is_working_day(date(2026, 3, 17))
    assert OFFICE.is_working_day(date(2026, 3, 25))


def test_indonesian_holidays_of_no_year_is_empty() -> None:
    assert indonesian_holidays([]) == {}


# --- working_seconds_between -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected_seconds"),
    [
        # Same day: 09:15 -> 14:45 = 5 h 30 min.
        (jkt(2025, 5, 5, 9, 15), jkt(2025, 5, 5, 14, 45), 5.5 * HOUR),
        # Overnight: Mon 15:00-16:00 (1 h) + Tue 08:00-09:00 (1 h) = 2 h.
        (jkt(2025, 5, 5, 15), jkt(2025, 5, 6, 9), 2 * HOUR),
        # Weekend: Fri 2 May 14:00-16:00 (2 h) + Mon 5 May 08:00-10:00 (2 h) = 4 h.
        (jkt(2025, 5, 2, 14), jkt(2025, 5, 5, 10), 4 * HOUR),
        # Received Saturday 10:00, clock starts Mon 08:00: 08:00-09:30 = 1 h 30 min.
        (jkt(2025, 5, 3, 10), jkt(2025, 5, 5, 9, 30), 1.5 * HOUR),
        # Evening to early morning: nothing worked.
        (jkt(2025, 5, 5, 18), jkt(2025, 5, 6, 7), 0.0),
        # Nyepi + Lebaran 2026: Tue 17 Mar 10:00-16:00 (6 h); Wed 18 (cuti bersama Nyepi),
        # Thu 19 (Nyepi), Fri 20 (cuti bersama), Sat 21-Sun 22 (Idul Fitri), Mon 23-Tue 24
        # (cuti bersama) off; Wed 25 Mar 08:00-10:00 (2 h). Total 8 h.
        (jkt(2026, 3, 17, 10), jkt(2026, 3, 25, 10), 8 * HOUR),
        # Lebaran 2025: Thu 27 Mar 15:00-16:00 (1 h); Fri 28 (cuti bersama Nyepi), Sat 29
        # (Nyepi), Mon 31-Tue 1 Apr (Idul Fitri), Wed 2-Fri 4 and Mon 7 Apr (cuti bersama)
        # off; Tue 8 Apr 08:00-09:00 (1 h). Total 2 h.
        (jkt(2025, 3, 27, 15), jkt(2025, 4, 8, 9), 2 * HOUR),
        # Several weeks: Mon 5 May-Fri 30 May 2025 has 20 weekdays, minus Mon 12 (Waisak),
        # Tue 13 (cuti bersama), Thu 29 (Ascension), Fri 30 (cuti bersama) = 16 days x 8 h
        # = 128 h; Sun 1 June (Pancasila) is a weekend day anyway.
        (jkt(2025, 5, 5, 8), jkt(2025, 6, 2, 8), 128 * HOUR),
        # One microsecond either side of the opening: 1 us.
        (
            jkt(2025, 5, 5, 8) - timedelta(microseconds=1),
            jkt(2025, 5, 5, 8) + timedelta(microseconds=1),
            1e-6,
        ),
        # A whole holiday: Thu 19 Mar 2026 (Nyepi) 00:00 -> 24:00.
        (jkt(2026, 3, 19), jkt(2026, 3, 20), 0.0),
    ],
)
def test_working_seconds_between_hand_computed(
    start: datetime, end: datetime, expected_seconds: float
) -> None:
    assert OFFICE.working_seconds_between(start, end) == expected_seconds


def test_working_seconds_between_empty_and_reversed_spans() -> None:
    moment = jkt(2025, 5, 5, 10)
    assert OFFICE.working_seconds_between(moment, moment) == 0.0
    assert OFFICE.working_seconds_between(moment, moment - timedelta(hours=30)) == 0.0
    assert EMERGENCY.working_seconds_between(moment, moment - timedelta(seconds=1)) == 0.0


def test_working_seconds_between_over_three_years() -> None:
    start, end = jkt(2024, 1, 2, 8), jkt(2027, 1, 4, 8)
    # Independent count: numpy's business-day counter, weekends and the same holidays off.
    working_days = int(
        np.busday_count(
            np.datetime64("2024-01-02"),
            np.datetime64("2027-01-04"),
            holidays=[np.datetime64(day) for day in sorted(HOLIDAYS)],
        )
    )
    assert 700 < working_days < 760
    assert OFFICE.working_seconds_between(start, end) == working_days * 8 * HOUR


def test_working_seconds_between_accepts_any_time_zone() -> None:
    # 02:00 UTC = 09:00 WIB and 08:00 UTC = 15:00 WIB: 6 h.
    start = datetime(2025, 5, 5, 2, tzinfo=UTC)
    end = datetime(2025, 5, 5, 8, tzinfo=UTC)
    assert OFFICE.working_seconds_between(start, end) == 6 * HOUR


def test_always_open_counts_every_second_even_on_holidays() -> None:
    # Sat 21 Mar 2026 (Idul Fitri) 10:00 -> Mon 23 Mar 10:00 = 48 h of wall time.
    assert EMERGENCY.working_seconds_between(jkt(2026, 3, 21, 10), jkt(2026, 3, 23, 10)) == (
        48 * HOUR
    )
    assert EMERGENCY.is_always_open
    assert EMERGENCY.is_working_day(date(2026, 3, 21))
    assert not OFFICE.is_always_open
    assert not NIGHT_SHIFTS.is_always_open


# --- add_working_seconds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Inside hours, same day: 09:00 + 3 h = 12:00.
        (jkt(2025, 5, 5, 9), 3, jkt(2025, 5, 5, 12)),
        # Overnight: Mon 14:00 + 4 h = 2 h Monday + 2 h Tuesday -> Tue 10:00.
        (jkt(2025, 5, 5, 14), 4, jkt(2025, 5, 6, 10)),
        # Received Saturday: clock starts Mon 08:00, + 1 h -> Mon 09:00.
        (jkt(2025, 5, 3, 10), 1, jkt(2025, 5, 5, 9)),
        # Received Monday 18:00: clock starts Tue 08:00, + 8 h -> Tue 16:00.
        (jkt(2025, 5, 5, 18), 8, jkt(2025, 5, 6, 16)),
        # Budget running out exactly at closing gives the closing time: Mon 08:00 + 8 h.
        (jkt(2025, 5, 5, 8), 8, jkt(2025, 5, 5, 16)),
        # Across Nyepi + Lebaran 2026: Tue 17 Mar 10:00, 6 h that day, 2 h left; the next
        # working day is Wed 25 Mar -> 10:00.
        (jkt(2026, 3, 17, 10), 8, jkt(2026, 3, 25, 10)),
        # Across Lebaran 2025: Thu 27 Mar 15:00, 1 h that day, 1 h left on Tue 8 Apr -> 09:00.
        (jkt(2025, 3, 27, 15), 2, jkt(2025, 4, 8, 9)),
        # Several weeks: from Mon 5 May 2025 08:00, 16 working days of 8 h (see the
        # working_seconds_between case) end on Wed 28 May at 16:00:
        # 5-9 May (5), 14-16 May (3), 19-23 May (5), 26-28 May (3) = 16.
        (jkt(2025, 5, 5, 8), 128, jkt(2025, 5, 28, 16)),
    ],
)
def test_add_working_seconds_hand_computed(start: datetime, hours: int, expected: datetime) -> None:
    deadline = OFFICE.add_working_seconds(start, hours * HOUR)
    assert deadline == expected
    assert deadline.tzinfo is JAKARTA


def test_add_zero_seconds_returns_the_same_instant() -> None:
    saturday = jkt(2025, 5, 3, 10)
    assert OFFICE.add_working_seconds(saturday, 0) == saturday
    in_utc = saturday.astimezone(UTC)
    assert OFFICE.add_working_seconds(in_utc, 0.0) == saturday  # same instant, in WIB
    assert OFFICE.add_working_seconds(in_utc, 0.0).tzinfo is JAKARTA


def test_add_working_seconds_with_fractions_and_microseconds() -> None:
    start = jkt(2025, 5, 5, 15, 59) + timedelta(seconds=59, microseconds=500_000)
    # 0.5 s left on Monday, 1.25 s more from Tue 08:00.
    assert OFFICE.add_working_seconds(start, 1.75) == jkt(2025, 5, 6, 8) + timedelta(
        seconds=1, microseconds=250_000
    )


def test_add_working_seconds_always_open() -> None:
    start = jkt(2026, 3, 20, 23, 30)
    assert EMERGENCY.add_working_seconds(start, 90 * 60) == jkt(2026, 3, 21, 1)


def test_add_working_seconds_rejects_negative_budget() -> None:
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add_working_seconds(jkt(2025, 5, 5, 9), -1)


def test_calendar_without_working_hours_cannot_reach_a_deadline() -> None:
    closed = WorkingCalendar(name="closed", weekly_hours={}, holidays=frozenset())
    assert closed.working_seconds_between(jkt(2025, 1, 1), jkt(2026, 1, 1)) == 0.0
    with pytest.raises(ValueError, match="no working time"):
        closed.add_working_seconds(jkt(2025, 1, 1), 1)
    with pytest.raises(ValueError, match="no working time"):
        closed.working_days_deadline(jkt(2025, 1, 1), 1)


# --- working_days_deadline -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Received Mon 07:00, before opening: Monday is day 1 -> Mon 16:00.
        (jkt(2025, 5, 5, 7), 1, jkt(2025, 5, 5, 16)),
        # Received exactly at the 08:00 opening: the whole day is available, Monday is day 1.
        (jkt(2025, 5, 5, 8), 1, jkt(2025, 5, 5, 16)),
        # Received Mon 10:00: Tuesday is day 1 -> Tue 16:00.
        (jkt(2025, 5, 5, 10), 1, jkt(2025, 5, 6, 16)),
        # Received Saturday: Monday is day 1.
        (jkt(2025, 5, 3, 10), 1, jkt(2025, 5, 5, 16)),
        # Received Fri 9 May 10:00: Mon 12 (Waisak) and Tue 13 (cuti bersama) are off, so
        # day 1 is Wed 14 May.
        (jkt(2025, 5, 9, 10), 1, jkt(2025, 5, 14, 16)),
        # Received Tue 17 Mar 2026 10:00: day 1 = Wed 25 Mar (after Nyepi and Lebaran),
        # day 3 = Fri 27 Mar.
        (jkt(2026, 3, 17, 10), 1, jkt(2026, 3, 25, 16)),
        (jkt(2026, 3, 17, 10), 3, jkt(2026, 3, 27, 16)),
        # Received on Nyepi itself (Thu 19 Mar 2026, 07:00): not a working day, day 1 = Wed 25.
        (jkt(2026, 3, 19, 7), 1, jkt(2026, 3, 25, 16)),
        # Received Thu 27 Mar 2025 07:00: day 1 = Thu 27, day 2 = Tue 8 Apr (after Lebaran).
        (jkt(2025, 3, 27, 7), 2, jkt(2025, 4, 8, 16)),
        # Several weeks: from Mon 5 May 2025 08:00, day 16 is Wed 28 May.
        (jkt(2025, 5, 5, 8), 16, jkt(2025, 5, 28, 16)),
        # Received 23:00 UTC Sunday = 06:00 WIB Monday: Monday counts.
        (datetime(2025, 5, 4, 23, tzinfo=UTC), 1, jkt(2025, 5, 5, 16)),
    ],
)
def test_working_days_deadline_hand_computed(
    start: datetime, days: int, expected: datetime
) -> None:
    assert OFFICE.working_days_deadline(start, days) == expected


def test_working_days_deadline_always_open_is_24_hours_a_day() -> None:
    start = jkt(2026, 3, 20, 10, 17)
    assert EMERGENCY.working_days_deadline(start, 3) == jkt(2026, 3, 23, 10, 17)


def test_working_days_deadline_ends_at_last_interval_of_the_day() -> None:
    # Friday in the lunch-break calendar closes at 16:30; Saturday closes at 12:00.
    assert LUNCH_BREAK.working_days_deadline(jkt(2025, 5, 9, 7), 1) == jkt(2025, 5, 9, 16, 30)
    assert LUNCH_BREAK.working_days_deadline(jkt(2025, 5, 9, 9), 1) == jkt(2025, 5, 10, 12)
    # An interval ending at time(0) closes at midnight, i.e. 00:00 the next day.
    assert NIGHT_SHIFTS.working_days_deadline(jkt(2025, 5, 5, 0), 1) == jkt(2025, 5, 6, 0)


def test_working_days_deadline_rejects_fewer_than_one_day() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        OFFICE.working_days_deadline(jkt(2025, 5, 5, 7), 0)


# --- Properties against the oracle -----------------------------------------------------------


@PROPERTY
@given(calendar=calendars, start=instants, micros=st.integers(1, 3 * 365 * 86_400 * 10**6))
def test_add_then_measure_gives_the_budget_back(
    calendar: WorkingCalendar, start: datetime, micros: int
) -> None:
    seconds = micros / 1_000_000
    deadline = calendar.add_working_seconds(start, seconds)
    assert calendar.working_seconds_between(start, deadline) == seconds
    # And it is the earliest such instant.
    assert calendar.working_seconds_between(start, deadline - timedelta(microseconds=1)) < seconds


@PROPERTY
@given(calendar=calendars, first=instants, second=instants)
def test_working_seconds_between_matches_the_oracle(
    calendar: WorkingCalendar, first: datetime, second: datetime
) -> None:
    start, end = min(first, second), max(first, second)
    expected = oracle_micros_between(calendar, start, end) / 1_000_000
    assert calendar.working_seconds_between(start, end) == expected


@PROPERTY
@given(calendar=calendars, times=st.lists(instants, min_size=3, max_size=3))
def test_working_seconds_between_adds_up(calendar: WorkingCalendar, times: list[datetime]) -> None:
    first, middle, last = sorted(times)
    whole = calendar.working_seconds_between(first, last)
    parts = calendar.working_seconds_between(first, middle) + calendar.working_seconds_between(
        middle, last
    )
    assert whole == pytest.approx(parts, abs=1e-6)


@PROPERTY
@given(calendar=calendars, start=instants, days=st.integers(1, 400))
def test_working_days_deadline_matches_the_oracle(
    calendar: WorkingCalendar, start: datetime, days: int
) -> None:
    if calendar.is_always_open:
        expected = start + timedelta(days=days)
    else:
        expected = oracle_working_days_deadline(calendar, start, days)
    assert calendar.working_days_deadline(start, days) == expected


@PROPERTY
@given(calendar=calendars, day=st.dates(date(2024, 1, 1), date(2027, 12, 31)))
def test_is_working_day_matches_hours_and_holidays(calendar: WorkingCalendar, day: date) -> None:
    expected = calendar.is_always_open or (
        day not in calendar.holidays and bool(calendar.weekly_hours[day.weekday()])
    )
    assert calendar.is_working_day(day) == expected


# --- Cross-check against pandas' business-hour offsets ----------------------------------------


PANDAS_HOLIDAYS = sorted(HOLIDAYS)
BUSINESS_HOUR = pd.offsets.CustomBusinessHour(start="08:00", end="16:00", holidays=PANDAS_HOLIDAYS)
BUSINESS_DAY = pd.offsets.CustomBusinessDay(holidays=PANDAS_HOLIDAYS)


def _random_instant(rng: random.Random) -> datetime:
    start = datetime(2024, 1, 1, tzinfo=JAKARTA)
    span_seconds = int((datetime(2027, 12, 1, tzinfo=JAKARTA) - start).total_seconds())
    moment = start + timedelta(seconds=rng.randrange(span_seconds))
    return moment + timedelta(microseconds=rng.choice([0, 0, rng.randrange(1_000_000)]))


def _naive_local(moment: datetime) -> pd.Timestamp:
    return pd.Timestamp(moment.astimezone(JAKARTA).replace(tzinfo=None))


def _aware(timestamp: pd.Timestamp) -> datetime:
    naive: datetime = timestamp.to_pydatetime()
    return naive.replace(tzinfo=JAKARTA)


def pandas_working_seconds(start: datetime, end: datetime) -> float:
    """Business days from pandas, then each day's 08:00-16:00 overlap with [start, end)."""
    naive_start, naive_end = _naive_local(start), _naive_local(end)
    days = pd.date_range(naive_start.normalize(), naive_end.normalize(), freq=BUSINESS_DAY)
    opens = (days + pd.Timedelta(hours=8)).to_numpy()
    closes = (days + pd.Timedelta(hours=16)).to_numpy()
    overlaps = np.minimum(closes, naive_end.to_datetime64()) - np.maximum(
        opens, naive_start.to_datetime64()
    )
    micros = overlaps.clip(min=np.timedelta64(0)).astype("timedelta64[us]").astype(np.int64)
    return int(micros.sum()) / 1_000_000


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20260319)  # Nyepi 2026


def test_working_seconds_between_matches_pandas_business_days(rng: random.Random) -> None:
    for _ in range(500):
        first, second = _random_instant(rng), _random_instant(rng)
        if rng.random() < 0.5:  # half of the pairs short, within a few weeks
            second = first + timedelta(seconds=rng.randrange(30 * 86_400))
        start, end = min(first, second), max(first, second)
        assert OFFICE.working_seconds_between(start, end) == pandas_working_seconds(start, end), (
            start,
            end,
        )


def test_add_working_hours_matches_pandas_custom_business_hour(rng: random.Random) -> None:
    edge_starts = [
        jkt(2025, 5, 5, 8),  # opening
        jkt(2025, 5, 5, 16),  # closing
        jkt(2026, 3, 17, 16),  # closing, right before Nyepi and Lebaran
        jkt(2026, 3, 19, 10),  # on Nyepi
        jkt(2025, 3, 29, 10),  # Saturday Nyepi 2025
    ]
    starts = edge_starts + [_random_instant(rng) for _ in range(400)]
    for start in starts:
        hours = rng.choice([1, 2, 7, 8, 9, 16, 40, rng.randrange(1, 200), rng.randrange(1, 6000)])
        ours = OFFICE.add_working_seconds(start, hours * HOUR)
        theirs = _aware(_naive_local(start) + hours * BUSINESS_HOUR)
        if ours != theirs:
            # pandas reports a budget that runs out at closing as the next opening; that is
            # the same point in working time, we give the earlier wall-clock instant.
            assert ours.timetz() == time(16, tzinfo=JAKARTA), (start, hours, ours, theirs)
            assert theirs.time() == time(8)
            assert OFFICE.working_seconds_between(ours, theirs) == 0.0
        # Measuring back with our own function gives the budget (pandas defines the end).
        assert OFFICE.working_seconds_between(start, theirs) == hours * HOUR, (start, hours)


def test_rolling_to_the_next_opening_matches_pandas(rng: random.Random) -> None:
    for _ in range(300):
        start = _random_instant(rng)
        # The instant the clock starts: ours is the earliest instant with a microsecond of
        # work done, less that microsecond.
        clock_starts = OFFICE.add_working_seconds(start, 1e-6) - timedelta(microseconds=1)
        rolled = BUSINESS_HOUR.rollforward(_naive_local(start))
        if rolled.time() == time(16):  # pandas keeps a start at closing where it is
            rolled = rolled + BUSINESS_HOUR - pd.Timedelta(hours=1)
        assert clock_starts == _aware(rolled), start


# --- Calendar construction -------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2025, 5, 5, 9)
    aware = jkt(2025, 5, 5, 9)
    calls: list[Callable[[], Any]] = [
        lambda: OFFICE.working_seconds_between(naive, aware),
        lambda: OFFICE.working_seconds_between(aware, naive),
        lambda: OFFICE.add_working_seconds(naive, 60),
        lambda: OFFICE.add_working_seconds(naive, 0),
        lambda: OFFICE.working_days_deadline(naive, 1),
        lambda: EMERGENCY.working_days_deadline(naive, 1),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


def test_is_working_day_rejects_a_datetime() -> None:
    with pytest.raises(TypeError, match="takes a date"):
        OFFICE.is_working_day(jkt(2026, 3, 19))


def test_calendar_values_compare_and_hash_by_content() -> None:
    same = WorkingCalendar(
        name="dinas",
        weekly_hours={weekday: ((time(8), time(16)),) for weekday in range(5)},
        holidays=frozenset(HOLIDAYS),
    )
    assert same == OFFICE
    assert hash(same) == hash(OFFICE)
    assert len(OFFICE.weekly_hours) == 7  # weekend days normalized to no intervals
    assert OFFICE.weekly_hours[5] == ()


def test_calendar_copies_what_it_is_given() -> None:
    hours = {0: ((time(8), time(16)),)}
    holidays = {date(2025, 5, 5)}
    calendar = WorkingCalendar(name="x", weekly_hours=hours, holidays=holidays)  # type: ignore[arg-type]
    hours[1] = ((time(8), time(16)),)
    holidays.clear()
    assert calendar.weekly_hours[1] == ()
    assert not calendar.is_working_day(date(2025, 5, 5))
    assert isinstance(calendar.holidays, frozenset)


@pytest.mark.parametrize(
    ("weekly_hours", "message"),
    [
        ({0: ((time(16), time(8)),)}, "crosses midnight"),
        ({0: ((time(8), time(8)),)}, "empty"),
        ({0: ((time(8), time(12)), (time(11), time(16)))}, "overlap"),
        ({7: ((time(8), time(16)),)}, "weekday must be"),
        ({0: ((time(8, tzinfo=UTC), time(16)),)}, "naive"),
    ],
)
def test_invalid_weekly_hours_are_rejected(
    weekly_hours: dict[int, tuple[tuple[time, time], ...]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar(name="bad", weekly_hours=weekly_hours, holidays=frozenset())


def test_time_zone_with_daylight_saving_is_rejected() -> None:
    with pytest.raises(ValueError, match="daylight saving"):
        WorkingCalendar(
            name="x",
            weekly_hours={0: ((time(8), time(16)),)},
            holidays=frozenset(),
            tz=ZoneInfo("Europe/Amsterdam"),
        )


def test_office_hours_options() -> None:
    saturday_service = WorkingCalendar.office_hours(
        "mpp-siola", [], start=time(9), end=time(15), weekdays=range(6)
    )
    # Sat 3 May 2025 10:00 -> 15:00 = 5 h.
    assert saturday_service.working_seconds_between(jkt(2025, 5, 3, 10), jkt(2025, 5, 3, 18)) == (
        5 * HOUR
    )
    assert not saturday_service.is_working_day(date(2025, 5, 4))


# --- Holiday overrides ------------------------------------------------------------------------

SOURCE = "deploy/holidays-override.yaml"
HOLIDAYS_2026 = frozenset(indonesian_holidays([2026]))


def test_parse_valid_overrides() -> None:
    overrides = parse_holiday_overrides(
        {
            "version": "2026-2",
            "added": [
                {"date": date(2026, 3, 25), "name": "Cuti bersama tambahan"},
                {"date": "2026-12-31", "name": " Malam tahun baru "},
            ],
            "removed": [{"date": date(2026, 12, 24), "reason": "SKB perubahan"}],
        },
        SOURCE,
    )
    assert overrides == HolidayOverrides(
        version="2026-2",
        added={date(2026, 3, 25): "Cuti bersama tambahan", date(2026, 12, 31): "Malam tahun baru"},
        removed=frozenset({date(2026, 12, 24)}),
    )


@pytest.mark.parametrize(
    "data",
    [
        {"version": "2026-1", "added": [], "removed": []},
        {"version": "2026-1", "added": None, "removed": None},  # `added:` with nothing under it
        {"version": "2026-1"},
    ],
)
def test_empty_override_lists_are_accepted(data: dict[str, Any]) -> None:
    overrides = parse_holiday_overrides(data, SOURCE)
    assert dict(overrides.added) == {}
    assert overrides.removed == frozenset()


def _four_added(fourth: Any) -> dict[str, Any]:
    return {
        "version": "2026-1",
        "added": [
            {"date": date(2026, 1, 2), "name": "a"},
            {"date": date(2026, 1, 3), "name": "b"},
            {"date": date(2026, 1, 4), "name": "c"},
            fourth,
        ],
    }


@pytest.mark.parametrize(
    ("data", "expected_parts"),
    [
        (_four_added({"date": date(2026, 1, 5)}), ["added[3]", "field 'name'", "required"]),
        (
            _four_added({"date": "2026-02-30", "name": "d"}),
            ["added[3]", "field 'date'", "2026-02-30"],
        ),
        (_four_added({"date": 20260105, "name": "d"}), ["added[3]", "field 'date'", "int"]),
        (
            _four_added({"date": datetime(2026, 1, 5, 8), "name": "d"}),
            ["added[3]", "field 'date'", "date and time"],
        ),
        (_four_added({"date": date(2026, 1, 5), "name": ""}), ["added[3]", "field 'name'"]),
        (_four_added("2026-01-05"), ["added[3]", "dictionary"]),
        (
            _four_added({"date": date(2026, 1, 2), "name": "again"}),
            ["added[3]", "field 'date'", "already in added[0]"],
        ),
        (
            {"version": "1", "removed": [{"date": date(2026, 1, 1), "reasn": "typo"}]},
            ["removed[0]", "field 'reasn'", "not permitted"],
        ),
        (
            {"version": "1", "removed": [{"date": date(2026, 1, 1)}]},
            ["removed[0]", "field 'reason'", "required"],
        ),
        (
            {
                "version": "1",
                "added": [{"date": date(2026, 1, 1), "name": "x"}],
                "removed": [{"date": date(2026, 1, 1), "reason": "y"}],
            },
            ["removed[0]", "field 'date'", "also in added[0]"],
        ),
        ({"added": []}, ["version", "required"]),
        ({"version": 2026}, ["version", "string"]),
        ({"version": "1", "extra": 1}, ["extra", "not permitted"]),
        ({"version": "1", "added": {"date": "2026-01-01"}}, ["added", "list"]),
        (["version", "2026-1"], ["top level", "mapping"]),
        (None, ["top level", "mapping"]),
    ],
)
def test_override_errors_name_file_entry_and_field(data: Any, expected_parts: list[str]) -> None:
    with pytest.raises(ValueError) as raised:
        parse_holiday_overrides(data, SOURCE)
    message = str(raised.value)
    assert message.startswith(SOURCE + ": ")
    for part in expected_parts:
        assert part in message


def test_removed_makes_a_holiday_a_working_day_again() -> None:
    # Suppose an amended SKB cancelled the 20 March 2026 cuti bersama.
    overrides = parse_holiday_overrides(
        {
            "version": "test",
            "added": [{"date": date(2026, 3, 26), "name": "Cuti bersama pengganti"}],
            "removed": [{"date": date(2026, 3, 20), "reason": "dibatalkan"}],
        },
        "test",
    )
    dates = holiday_dates([2026], overrides)
    assert date(2026, 3, 20) not in dates
    assert date(2026, 3, 26) in dates
    assert dates == (HOLIDAYS_2026 - {date(2026, 3, 20)}) | {date(2026, 3, 26)}
    calendar = WorkingCalendar.office_hours("dinas", dates)
    assert calendar.is_working_day(date(2026, 3, 20))
    assert not calendar.is_working_day(date(2026, 3, 26))
    # Tue 17 Mar 10:00 -> Wed 25 Mar 10:00 now has 6 h + Fri 20 (8 h) + 2 h = 16 h.
    assert calendar.working_seconds_between(jkt(2026, 3, 17, 10), jkt(2026, 3, 25, 10)) == (
        16 * HOUR
    )


def test_holiday_dates_keep_to_the_requested_years() -> None:
    overrides = HolidayOverrides(
        version="x", added={date(2027, 1, 4): "next year"}, removed=frozenset()
    )
    assert holiday_dates([2026], overrides) == HOLIDAYS_2026
    assert holiday_dates([2026], None) == HOLIDAYS_2026


def test_shipped_override_file_loads() -> None:
    overrides = load_holiday_overrides(SHIPPED_OVERRIDES)
    assert overrides.version == "2026-1"
    assert overrides.removed == frozenset()
    # Its one entry is a day the package already has (see the file's comment).
    assert set(overrides.added) == {date(2025, 8, 18)}
    assert holiday_dates([2025], overrides) == holiday_dates([2025], None)


def test_load_reports_the_file_on_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text('version: "1"\nadded:\n  - {date: 2026-01-01}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.yaml: added\[0\]: field 'name'"):
        load_holiday_overrides(broken)
    not_yaml = tmp_path / "not-yaml.yaml"
    not_yaml.write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"not-yaml\.yaml: not valid YAML"):
        load_holiday_overrides(not_yaml)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.yaml: top level"):
        load_holiday_overrides(empty)
