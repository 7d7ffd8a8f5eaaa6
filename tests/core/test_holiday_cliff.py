"""The holiday deadline cliff on a hand-made calendar (Lebaran 2026: Wednesday 18 to
Tuesday 24 March off), with every expected number worked out by hand below."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sigap.core.calendar import WorkingCalendar
from sigap.core.holiday_cliff import deadlines_after_break, next_long_break
from sigap.core.worklist import OpenTimer

WIB = ZoneInfo("Asia/Jakarta")
# Idul Fitri 20-21 March 2026 with cuti bersama 18, 19, 23, 24 March; 21-22 are a weekend.
LEBARAN = [date(2026, 3, d) for d in (18, 19, 20, 21, 23, 24)]
OFFICE = WorkingCalendar.office_hours("office", LEBARAN, start=time(8), end=time(16))


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=WIB).timestamp()


def item(cid: str, deadline: float, timer: str = "resolution", running: bool = True) -> OpenTimer:
    return OpenTimer(
        complaint_id=cid,
        timer=timer,
        category="sampah",
        held_since=at(2, 9),
        deadline=deadline,
        clock="working",
        allowed_seconds=3600.0,
        running=running,
        half_at=deadline - 1800,
        three_quarters_at=deadline - 900,
    )


# Now: Thursday 12 March 10:00. Working days from tomorrow to the day before the break:
# Fri 13, Mon 16, Tue 17 = 3 (Sat 14 / Sun 15 are a 2-day weekend: not a long break).
# The break: Wed 18 .. Tue 24 (7 days). The 3 working days after it: Wed 25, Thu 26,
# Fri 27, so the window is [Wed 18 00:00, Sat 28 00:00) WIB.
NOW = at(12, 10)
ITEMS = [
    item("before", at(17, 15, 59)),  # last working hour before the break: not in it
    item("during", at(20, 9)),  # a wall-clock deadline inside the break: counted
    item("first-day", at(25, 8, 30)),  # counted
    item("third-day", at(27, 15, 59)),  # counted
    item("response-too", at(26, 10), timer="response"),  # counted, response timer
    item("paused", at(26, 11), running=False),  # paused: no deadline can fall due
    item("fourth-day", at(30, 9)),  # Mon 30: the 4th working day after, not counted
    item("already-late", at(11, 9)),  # past at now: not counted
]


def test_the_next_long_break_is_lebaran_three_working_days_ahead() -> None:
    found = next_long_break(OFFICE, NOW)
    assert found is not None
    assert (found.first_day, found.last_day) == (date(2026, 3, 18), date(2026, 3, 24))
    assert found.days == 7
    assert found.working_days_before == 3


def test_deadlines_due_in_the_first_three_working_days_after_the_break_are_counted() -> None:
    cliff = deadlines_after_break(ITEMS, OFFICE, NOW, after_working_days=3, warn_working_days=5)
    assert cliff is not None
    assert cliff.window_start == datetime(2026, 3, 18, tzinfo=WIB).timestamp()
    assert cliff.window_end == datetime(2026, 3, 28, tzinfo=WIB).timestamp()
    assert cliff.by_timer == {"resolution": 3, "response": 1}
    assert cliff.complaint_timers == {
        ("during", "resolution"),
        ("first-day", "resolution"),
        ("third-day", "resolution"),
        ("response-too", "response"),
    }


def test_one_working_day_after_counts_only_the_first_day_back() -> None:
    cliff = deadlines_after_break(ITEMS, OFFICE, NOW, after_working_days=1, warn_working_days=5)
    assert cliff is not None
    assert cliff.by_timer == {"resolution": 2}  # "during" and "first-day"


def test_nothing_is_reported_while_the_break_is_further_than_m_working_days() -> None:
    # Thursday 5 March: Fri 6, Mon 9 .. Fri 13 (5), Mon 16, Tue 17 = 8 working days before.
    early = at(5, 10)
    found = next_long_break(OFFICE, early)
    assert found is not None and found.working_days_before == 8
    assert deadlines_after_break(ITEMS, OFFICE, early, warn_working_days=7) is None
    assert deadlines_after_break(ITEMS, OFFICE, early, warn_working_days=8) is not None
    # With M = 3, Thursday 12 March is just in time (3 working days before).
    assert deadlines_after_break(ITEMS, OFFICE, NOW, warn_working_days=3) is not None
    assert deadlines_after_break(ITEMS, OFFICE, NOW, warn_working_days=2) is None


def test_a_long_weekend_is_a_break_and_an_ordinary_weekend_is_not() -> None:
    # Friday 3 April (Good Friday) + the weekend: 3 days off. Now: Monday 30 March.
    calendar = WorkingCalendar.office_hours("office", [*LEBARAN, date(2026, 4, 3)])
    found = next_long_break(calendar, at(30, 9))
    assert found is not None
    assert (found.first_day, found.last_day, found.working_days_before) == (
        date(2026, 4, 3),
        date(2026, 4, 5),
        3,  # Tue 31, Wed 1, Thu 2
    )
    plain = WorkingCalendar.office_hours("plain", [])
    assert next_long_break(plain, at(30, 9)) is None  # only 2-day weekends in 60 days


def test_on_the_break_itself_the_next_break_is_looked_for() -> None:
    # Saturday 21 March, inside Lebaran: the break has started, it is not "coming".
    # Its remaining days (22-24) are not a new break; after it only 2-day weekends follow.
    assert next_long_break(OFFICE, at(21, 10)) is None
    assert next_long_break(OFFICE, at(24, 10)) is None


def test_round_the_clock_units_have_no_cliff() -> None:
    always = WorkingCalendar.always_open("always")
    assert next_long_break(always, NOW) is None
    assert deadlines_after_break(ITEMS, always, NOW) is None


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        deadlines_after_break(ITEMS, OFFICE, NOW, after_working_days=0)
    with pytest.raises(ValueError):
        next_long_break(OFFICE, NOW, min_days=0)


def test_the_window_matches_an_independent_day_walk() -> None:
    """Every day from now+1 to +40: walk the days by hand-written rules (weekday < 5 and
    not in LEBARAN) and compare the break and window the function finds."""

    def working(day: date) -> bool:
        return day.weekday() < 5 and day not in LEBARAN

    for offset in range(0, 12):
        now_day = date(2026, 3, 2) + timedelta(days=offset)
        now = datetime.combine(now_day, time(12), tzinfo=WIB).timestamp()
        day, before = now_day + timedelta(days=1), 0
        while True:
            if working(day):
                before += 1
                day += timedelta(days=1)
                continue
            run = 0
            while not working(day + timedelta(days=run)):
                run += 1
            if run >= 3:
                break
            day += timedelta(days=run)
        first = day
        last = first + timedelta(days=run - 1)
        found = next_long_break(OFFICE, now)
        assert found is not None
        assert (found.first_day, found.last_day, found.working_days_before) == (
            first,
            last,
            before,
        ), now_day


def test_the_worklist_flags_listed_entries_due_after_the_break_and_counts_them_all() -> None:
    from sigap.core.worklist import worklist

    # Allowed 20 days: half used on 6 March, 75% on 11 March, deadline 25 March 09:00.
    long_one = OpenTimer(
        complaint_id="long-one",
        timer="resolution",
        category="jalan",
        held_since=at(2, 9),
        deadline=at(25, 9),
        clock="wall",
        allowed_seconds=20 * 86400.0,
        running=True,
        half_at=at(6, 9),
        three_quarters_at=at(11, 9),
    )
    page = worklist([*ITEMS, long_one], NOW, OFFICE)
    flags = {e.complaint_id: e.due_after_break for e in page.entries}
    assert flags == {"already-late": False, "long-one": True}
    assert page.cliff is not None
    assert page.cliff.by_timer == {"resolution": 4, "response": 1}  # listed or not
    # Two weeks earlier no break is within 5 working days: no block, no flag.
    early = worklist([*ITEMS, long_one], at(12, 10) - 14 * 86400, OFFICE)
    assert early.cliff is None
    assert not any(e.due_after_break for e in early.entries)


def test_the_gauge_exports_every_unit_and_timer_with_zero_when_nothing_is_due() -> None:
    from dataclasses import replace

    from prometheus_client import CollectorRegistry, generate_latest

    from metrics.collector import MetricsSnapshot, SigapCollector
    from metrics.names import DEADLINES_AFTER_BREAK, RESOLUTION_BUCKETS
    from sigap.core.unit_kpis import UnitKpis

    kpis = UnitKpis(RESOLUTION_BUCKETS, RESOLUTION_BUCKETS, resolution_bounds=RESOLUTION_BUCKETS)
    cliff = deadlines_after_break(ITEMS, OFFICE, NOW)
    assert cliff is not None
    units = {
        "dlh": replace(kpis.unit_snapshot("dlh", NOW), after_break=dict(cliff.by_timer)),
        "damkar": kpis.unit_snapshot("damkar", NOW),
    }
    registry = CollectorRegistry()
    registry.register(SigapCollector(lambda: MetricsSnapshot(watermark=NOW, units=units)))
    lines = set(generate_latest(registry).decode().splitlines())
    assert f'{DEADLINES_AFTER_BREAK}{{timer="resolution",unit="dlh"}} 3.0' in lines
    assert f'{DEADLINES_AFTER_BREAK}{{timer="response",unit="dlh"}} 1.0' in lines
    assert f'{DEADLINES_AFTER_BREAK}{{timer="resolution",unit="damkar"}} 0.0' in lines
    assert f'{DEADLINES_AFTER_BREAK}{{timer="response",unit="damkar"}} 0.0' in lines
