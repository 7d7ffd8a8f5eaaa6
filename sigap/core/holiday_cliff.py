"""The holiday deadline cliff: how many open deadlines fall due right after a long break.

Before Lebaran and its *cuti bersama* a unit stops for a week or more; every open deadline
that would have fallen in that week, and the ones in the first days back, all fall due
together when the office reopens. SIGAP knows both the open deadlines and the calendar, so
it can say so while there is still time to clear the backlog.

Pure (no clock reads, no I/O): "now" is passed in as epoch seconds.

Rules
-----
- A **long break** is a run of at least ``MIN_BREAK_DAYS`` consecutive non-working days of
  the unit's calendar (weekends, holidays and cuti bersama together: a Friday holiday plus
  the weekend is a break of 3). A round-the-clock calendar never has one.
- The **next** long break is the first one that has not started yet (its first day is after
  today, Asia/Jakarta; on a day off, the run of days off it belongs to has started),
  searched up to ``SEARCH_DAYS`` calendar days ahead.
- It is **coming** when it starts within ``WARN_WORKING_DAYS`` working days: the number of
  working days from tomorrow up to the day before the break, today excluded, is at most M.
  (The last working day before the break has 0 working days left; today is not counted.)
- The **cliff window** runs from the break's first day (00:00) to the close of the
  ``AFTER_WORKING_DAYS``-th working day after it (the end of that day, 24:00 local time).
  Deadlines falling inside the break itself (wall-clock targets) are counted too: they are
  due when the office reopens.
- The count is per timer, of the open timers whose clock runs (a paused timer has no
  deadline that can fall due) with a deadline in the window. Deadlines already past at
  "now" are not in the window (the window starts in the future).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final

from sigap.core.calendar import WorkingCalendar

if TYPE_CHECKING:  # core.worklist imports this module
    from sigap.core.worklist import OpenTimer

__all__ = [
    "AFTER_WORKING_DAYS",
    "MIN_BREAK_DAYS",
    "SEARCH_DAYS",
    "WARN_WORKING_DAYS",
    "Cliff",
    "CliffWindow",
    "LongBreak",
    "cliff_window",
    "deadlines_after_break",
    "next_long_break",
]

# N: the working days after the break whose deadlines count.
AFTER_WORKING_DAYS: Final = 3
# M: how many working days ahead of a break the cliff is reported.
WARN_WORKING_DAYS: Final = 5
# A break is long from this many consecutive non-working days (a long weekend is 3).
MIN_BREAK_DAYS: Final = 3
# How far ahead to look for the next break (calendar days); bounds the work per call.
SEARCH_DAYS: Final = 60


@dataclass(frozen=True, slots=True)
class LongBreak:
    first_day: date  # first non-working day
    last_day: date  # last non-working day
    working_days_before: int  # working days from tomorrow to the day before first_day

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


@dataclass(frozen=True, slots=True)
class Cliff:
    """The coming break and, per timer, the open deadlines in its window."""

    long_break: LongBreak
    window_start: float  # epoch seconds: 00:00 of the break's first day
    window_end: float  # epoch seconds: 24:00 of the Nth working day after the break
    by_timer: dict[str, int]
    complaint_timers: frozenset[tuple[str, str]]  # (complaint id, timer) in the window

    def in_window(self, deadline: float) -> bool:
        return self.window_start <= deadline < self.window_end


def _today(calendar: WorkingCalendar, now: float) -> date:
    return datetime.fromtimestamp(now, calendar.tz).date()


def next_long_break(
    calendar: WorkingCalendar,
    now: float,
    *,
    min_days: int = MIN_BREAK_DAYS,
    search_days: int = SEARCH_DAYS,
) -> LongBreak | None:
    """The first run of >= ``min_days`` non-working days starting after today, or None."""
    if min_days < 1 or search_days < 1:
        raise ValueError("min_days and search_days must be >= 1")
    if calendar.is_always_open:
        return None
    today = _today(calendar, now)
    working_before = 0
    day = today + timedelta(days=1)
    if not calendar.is_working_day(today):
        # Today is inside a run of days off: that break has begun, it is not coming.
        while not calendar.is_working_day(day) and (day - today).days <= search_days:
            day += timedelta(days=1)
    limit = today + timedelta(days=search_days)
    while day <= limit:
        if calendar.is_working_day(day):
            working_before += 1
            day += timedelta(days=1)
            continue
        first = day
        while not calendar.is_working_day(day + timedelta(days=1)) and (day - first).days < 366:
            day += timedelta(days=1)
        if (day - first).days + 1 >= min_days:
            return LongBreak(first, day, working_before)
        day += timedelta(days=1)
    return None


def _working_day_after(calendar: WorkingCalendar, day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (count >= 1)."""
    found = 0
    while True:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            found += 1
            if found == count:
                return day


@dataclass(frozen=True, slots=True)
class CliffWindow:
    """The coming long break and its cliff window [start, end), in epoch seconds."""

    long_break: LongBreak
    start: float  # 00:00 of the break's first day
    end: float  # 24:00 of the Nth working day after the break

    def contains(self, deadline: float) -> bool:
        return self.start <= deadline < self.end


def cliff_window(
    calendar: WorkingCalendar,
    now: float,
    *,
    after_working_days: int = AFTER_WORKING_DAYS,
    warn_working_days: int = WARN_WORKING_DAYS,
    min_days: int = MIN_BREAK_DAYS,
) -> CliffWindow | None:
    """The window of one unit's cliff at ``now``: None when no long break starts within
    ``warn_working_days`` working days. Counting the deadlines in it is the caller's: over
    worklist items (`deadlines_after_break`) or over a unit's sorted running deadlines
    (`UnitKpis.running_deadlines_in`, for the gauge: a scrape must not walk every open
    timer)."""
    if after_working_days < 1 or warn_working_days < 0:
        raise ValueError("after_working_days must be >= 1 and warn_working_days >= 0")
    long_break = next_long_break(calendar, now, min_days=min_days)
    if long_break is None or long_break.working_days_before > warn_working_days:
        return None
    last = _working_day_after(calendar, long_break.last_day, after_working_days)
    start = datetime.combine(long_break.first_day, time(0), tzinfo=calendar.tz).timestamp()
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=calendar.tz).timestamp()
    return CliffWindow(long_break, start, end)


def deadlines_after_break(
    items: Iterable[OpenTimer],
    calendar: WorkingCalendar,
    now: float,
    *,
    after_working_days: int = AFTER_WORKING_DAYS,
    warn_working_days: int = WARN_WORKING_DAYS,
    min_days: int = MIN_BREAK_DAYS,
) -> Cliff | None:
    """The cliff of one unit at ``now``, counted over ``items``: None when no long break
    starts within ``warn_working_days`` working days."""
    window = cliff_window(
        calendar,
        now,
        after_working_days=after_working_days,
        warn_working_days=warn_working_days,
        min_days=min_days,
    )
    if window is None:
        return None
    by_timer: dict[str, int] = {}
    keys: set[tuple[str, str]] = set()
    for item in items:
        if item.running and window.contains(item.deadline):
            by_timer[item.timer] = by_timer.get(item.timer, 0) + 1
            keys.add((item.complaint_id, item.timer))
    return Cliff(window.long_break, window.start, window.end, by_timer, frozenset(keys))
