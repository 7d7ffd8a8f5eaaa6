"""The overdue worklist: which open complaints of a unit are past, or nearing, a target.

Pure (no clock reads, no I/O): the live worker (`GET /api/units/{unit}/overdue`, `sigap
overdue`) and batch replay build it with these functions from the same unit views, so the
worklist the people on duty read equals what a replay computes at the same watermark.

Rules
-----
- An entry is one open timer (`TimerView.is_open`: undecided and still with the unit) of a
  complaint the unit holds, for the `response` or `resolution` timer.
- Its **level** is the highest fraction of its allowed time it has used at the watermark, with
  the same instants the `sigap_complaints_open_past_target` gauge counts: `1` when its deadline
  is at or before the watermark and its clock runs (a paused clock cannot miss), else `0.75` /
  `0.5` when the instant it reached 75% / 50% is. Below 50%: not on the list.
- **Past the deadline**: wall seconds from the deadline to the watermark, and the working seconds
  between them on the unit's calendar (0 for an entry not past its deadline).
- **Held since**: when the unit received the complaint for its current holding (after a
  transfer back, the return).
- Order: oldest deadline first, then complaint id and timer (a total order: pages are stable).
- No personal data: complaint id, category, times and numbers only.
- **Due after the break**: when a long break starts within a few working days
  (core.holiday_cliff), the page carries its dates and the count per timer of open deadlines
  due from its first day to the close of the 3rd working day after it, and each listed entry
  with such a deadline has ``due_after_break`` set.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from sigap.core.calendar import WorkingCalendar
from sigap.core.holiday_cliff import Cliff, deadlines_after_break
from sigap.core.unit_view import UnitView

LEVELS: Final = (0.5, 0.75, 1.0)
DAY: Final = 86400.0
# Lateness bands of the overdue-count gauge: (label, lower bound inclusive, upper exclusive),
# in wall seconds past the deadline.
LATENESS_BANDS: Final = (
    ("under_1d", 0.0, DAY),
    ("1d_to_3d", DAY, 3 * DAY),
    ("3d_to_7d", 3 * DAY, 7 * DAY),
    ("over_7d", 7 * DAY, math.inf),
)


@dataclass(frozen=True, slots=True)
class OpenTimer:
    """What the worklist needs of one open timer of a unit's complaint (no personal data)."""

    complaint_id: str
    timer: str
    category: str
    held_since: float
    deadline: float
    clock: str
    allowed_seconds: float
    running: bool
    half_at: float
    three_quarters_at: float

    def level(self, watermark: float) -> float | None:
        """The highest of 0.5, 0.75, 1 reached at ``watermark``; None below 50%."""
        if self.running and self.deadline <= watermark:
            return 1.0
        if self.three_quarters_at <= watermark:
            return 0.75
        if self.half_at <= watermark:
            return 0.5
        return None


def held_since(view: UnitView, received_at: float) -> float:
    """The start of the unit's current holding (its latest stint on the route)."""
    for unit, stint_received, left_at, _, _ in reversed(view.route):
        if unit == view.unit and left_at is None:
            return stint_received
    return received_at


# An OpenTimer's fields as a plain tuple, in field order: how the unit stage holds its open
# timers (a tuple is built and restored from a snapshot several times faster than the frozen
# dataclass, and there can be two per open complaint); OpenTimer(*row) when one is read.
OpenTimerRow = tuple[str, str, str, float, float, str, float, bool, float, float]


def open_timer_rows_of_view(view: UnitView) -> Iterator[OpenTimerRow]:
    """The open timers of a unit's view (those the open-past-target gauges count), as rows."""
    if view.deleted:
        return
    for timer, timer_view in sorted(view.timers.items()):
        if not timer_view.is_open:
            continue
        yield (
            view.complaint_id,
            timer,
            # A few distinct values, held twice per open complaint: one string each.
            sys.intern(view.category),
            held_since(view, timer_view.received_at),
            timer_view.deadline,
            sys.intern(timer_view.clock),
            timer_view.allowed_seconds,
            timer_view.running,
            timer_view.half_at,
            timer_view.three_quarters_at,
        )


def open_timers_of_view(view: UnitView) -> Iterator[OpenTimer]:
    """The open timers of a unit's view (those the open-past-target gauges count)."""
    for row in open_timer_rows_of_view(view):
        yield OpenTimer(*row)


@dataclass(frozen=True, slots=True)
class WorklistEntry:
    complaint_id: str
    timer: str
    category: str
    level: float  # 0.5, 0.75 or 1
    deadline: float
    clock: str  # the clock of the target
    past_deadline_wall_seconds: float
    past_deadline_working_seconds: float
    held_since: float
    paused: bool
    due_after_break: bool = False


def entry(
    item: OpenTimer,
    level: float,
    watermark: float,
    calendar: WorkingCalendar,
    cliff: Cliff | None = None,
) -> WorklistEntry:
    past_wall = max(0.0, watermark - item.deadline) if level >= 1.0 else 0.0
    past_working = (
        calendar.working_seconds_between_epoch(item.deadline, watermark) if past_wall > 0 else 0.0
    )
    return WorklistEntry(
        complaint_id=item.complaint_id,
        timer=item.timer,
        category=item.category,
        level=level,
        deadline=item.deadline,
        clock=item.clock,
        past_deadline_wall_seconds=past_wall,
        past_deadline_working_seconds=past_working,
        held_since=item.held_since,
        paused=not item.running,
        due_after_break=cliff is not None
        and (item.complaint_id, item.timer) in cliff.complaint_timers,
    )


def _order(item: OpenTimer) -> tuple[float, str, str]:
    return (item.deadline, item.complaint_id, item.timer)


@dataclass(frozen=True, slots=True)
class WorklistPage:
    total: int  # entries at or above the level, over all pages
    entries: tuple[WorklistEntry, ...]
    by_level: dict[str, int]  # "0.5", "0.75", "1" -> entries whose level is exactly that
    cliff: Cliff | None = None  # the coming long break, when within reach


def level_text(level: float) -> str:
    return {0.5: "0.5", 0.75: "0.75", 1.0: "1"}[level]


def worklist(
    items: Iterable[OpenTimer],
    watermark: float,
    calendar: WorkingCalendar,
    *,
    min_level: float = 0.5,
    timer: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> WorklistPage:
    """One page of the worklist at ``watermark``: entries at or above ``min_level``."""
    if min_level not in LEVELS:
        raise ValueError(f"min_level must be one of {LEVELS}, got {min_level!r}")
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must be >= 0")
    items = list(items)
    cliff = deadlines_after_break(items, calendar, watermark) if watermark > 0 else None
    selected: list[tuple[OpenTimer, float]] = []
    by_level = {level_text(level): 0 for level in LEVELS}
    for item in items:
        if timer is not None and item.timer != timer:
            continue
        level = item.level(watermark)
        if level is None or level < min_level:
            continue
        by_level[level_text(level)] += 1
        selected.append((item, level))
    selected.sort(key=lambda pair: _order(pair[0]))
    page = selected[offset : offset + limit]
    return WorklistPage(
        total=len(selected),
        entries=tuple(entry(item, level, watermark, calendar, cliff) for item, level in page),
        by_level=by_level,
        cliff=cliff,
    )


def lateness_band(past_wall_seconds: float) -> str:
    for label, low, high in LATENESS_BANDS:
        if low <= past_wall_seconds < high:
            return label
    return LATENESS_BANDS[-1][0]
