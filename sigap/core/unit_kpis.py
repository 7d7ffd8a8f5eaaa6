"""The unit stage: per-unit KPIs from the latest view of each (unit, complaint).

Pure state shared by the streaming worker (one `UnitKpis` per worker, holding the units of
its partitions) and batch replay (one holding every unit). Three kinds of state:

- Counters and histograms (`UnitCounters`): monotonic, as Prometheus expects. Each (unit,
  complaint) remembers what it already contributed (`Counted`), so a redelivered or
  restated view never counts twice and a counter never goes down. A late event that changes
  an outcome already counted is corrected in the persisted period scores (which are
  recomputed from the views), not by decrementing a counter.
- Open timers: the instants at which each undecided timer reaches 50%, 75% and 100% of its
  allowed time, in sorted lists, so that "open past target" gauges and misses at the
  deadline are counts below the watermark (a bisect), with no timer firing per complaint.
  A timer whose deadline passes while it is still open counts as `missed` from then on.
- Rolling windows (core.windows) of decided timers per unit, timer and category.

Derived state (open timers, windows, open counts) is rebuilt from the stored views by
`restore`; only counters and views need to be persisted.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sigap.core.charging import TIMERS
from sigap.core.open_rows import OpenRows
from sigap.core.periods import PERIOD_KINDS, period_start, period_start_epoch
from sigap.core.unit_view import NEVER, TimerView, UnitView
from sigap.core.windows import RollingWindows, WindowStats
from sigap.core.worklist import LATENESS_BANDS, OpenTimer, open_timer_rows_of_view

# Fractions of its allowed time at which an open timer counts as past target (the gauges'
# `threshold` label; its text form is `threshold_text`).
THRESHOLDS: Final[tuple[float, ...]] = (0.5, 0.75, 1.0)
# Kept beyond the 30-day window so that the current calendar month (up to 31 days) is whole.
PERIOD_RETENTION_GRACE = 2 * 86400.0
ALL_CATEGORIES = ""  # the window key of a unit's and timer's windows over all categories


class Histogram:
    """A classic (cumulative on export) histogram with fixed upper-inclusive bounds."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float, sign: int = 1) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += sign
        self.total += sign * value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        running, pairs = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs

    def to_json(self) -> dict[str, Any]:
        return {"b": list(self.bounds), "c": self.counts, "s": self.total}


@dataclass
class UnitCounters:
    """One unit's monotonic counters and histograms: the sum of its stored contributions."""

    response_bounds: tuple[float, ...]
    working_bounds: tuple[float, ...]
    resolution_bounds: tuple[float, ...]
    created: int = 0
    resolved: int = 0
    reopened: int = 0
    sla: dict[str, int] = field(default_factory=dict)  # "timer:outcome" -> count
    transfers: dict[str, int] = field(default_factory=dict)  # reason -> transfers away
    ratings: dict[str, int] = field(default_factory=dict)  # "1".."5" -> count
    escalated: dict[str, int] = field(default_factory=dict)  # ladder level -> escalations
    first_response: Histogram = field(init=False)
    resolution_working: Histogram = field(init=False)
    resolution: Histogram = field(init=False)

    def __post_init__(self) -> None:
        self.first_response = Histogram(self.response_bounds)
        self.resolution_working = Histogram(self.working_bounds)
        self.resolution = Histogram(self.resolution_bounds)

    def to_json(self) -> dict[str, Any]:
        return {
            "c": self.created,
            "r": self.resolved,
            "o": self.reopened,
            "sla": self.sla,
            "tr": self.transfers,
            "rt": self.ratings,
            "h1": self.first_response.to_json(),
            "hw": self.resolution_working.to_json(),
            "hr": self.resolution.to_json(),
        }


@dataclass
class Counted:
    """Everything one (unit, complaint) has added to the unit's counters, with the values
    observed. Stored with the view in one table entry, so a view and its contribution are
    written together: the counters are the sum of the stored contributions, rebuilt from
    the table after a restart, and never out of step with the views."""

    created: bool = False
    resolved: bool = False
    resolution_seconds: float | None = None  # observed in the resolution histogram
    resolution_working_seconds: float | None = None
    response_seconds: float | None = None  # observed in the first-response histogram
    responded: bool = False
    sla: dict[str, str] = field(default_factory=dict)  # timer -> outcome counted
    transfer_reasons: list[str] = field(default_factory=list)
    reopens: int = 0
    ratings: list[int] = field(default_factory=list)  # every rating counted
    escalations: list[str] = field(default_factory=list)  # the levels counted, in order

    def copy(self) -> Counted:
        return Counted(
            self.created,
            self.resolved,
            self.resolution_seconds,
            self.resolution_working_seconds,
            self.response_seconds,
            self.responded,
            dict(self.sla),
            list(self.transfer_reasons),
            self.reopens,
            list(self.ratings),
            list(self.escalations),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "c": self.created,
            "r": self.resolved,
            "rs": self.resolution_seconds,
            "rw": self.resolution_working_seconds,
            "fs": self.response_seconds,
            "f": self.responded,
            "sla": self.sla,
            "tr": self.transfer_reasons,
            "ro": self.reopens,
            "rt": self.ratings,
            **({"esc": self.escalations} if self.escalations else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Counted:
        if not data:
            return cls()
        return cls(
            data["c"],
            data["r"],
            data["rs"],
            data["rw"],
            data["fs"],
            data["f"],
            dict(data["sla"]),
            list(data["tr"]),
            data["ro"],
            list(data["rt"]),
            list(data.get("esc", ())),
        )

    def add_to(self, counters: UnitCounters, sign: int = 1) -> None:
        """Add (or, with sign -1, take back) this contribution to the unit's counters."""
        counters.created += sign * self.created
        counters.resolved += sign * self.resolved
        if self.resolution_seconds is not None:
            counters.resolution.observe(self.resolution_seconds, sign)
        if self.resolution_working_seconds is not None:
            counters.resolution_working.observe(self.resolution_working_seconds, sign)
        if self.response_seconds is not None:
            counters.first_response.observe(self.response_seconds, sign)
        for timer, outcome in self.sla.items():
            key = f"{timer}:{outcome}"
            counters.sla[key] = counters.sla.get(key, 0) + sign
        for reason in self.transfer_reasons:
            counters.transfers[reason] = counters.transfers.get(reason, 0) + sign
        counters.reopened += sign * self.reopens
        for rating in self.ratings:
            key = str(rating)
            counters.ratings[key] = counters.ratings.get(key, 0) + sign
        for level in self.escalations:
            counters.escalated[level] = counters.escalated.get(level, 0) + sign


@dataclass
class StoredView:
    """The value of the unit stage's table: the latest view and what it has counted."""

    view: UnitView
    counted: Counted

    def to_json(self) -> dict[str, Any]:
        return {"v": self.view.to_json(), "k": self.counted.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredView:
        return cls(UnitView.from_json(data["v"]), Counted.from_json(data["k"]))


class _SortedInstants:
    """A multiset of instants with counts at or below a watermark."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        # Unboxed doubles: 8 bytes per instant instead of a float object and a pointer (32);
        # there are four per open timer.
        self._items: array[float] = array("d")

    def add(self, instant: float) -> None:
        bisect.insort(self._items, instant)

    def append_unsorted(self, instant: float) -> None:
        """Add without keeping the order: call `sort` before any query (a bulk restore)."""
        self._items.append(instant)

    def sort(self) -> None:
        self._items = array("d", sorted(self._items))

    def to_bytes(self) -> bytes:
        return self._items.tobytes()

    def load_bytes(self, data: bytes) -> None:
        """The instants of `to_bytes` (sorted when saved)."""
        items = array("d")
        items.frombytes(data)
        self._items = items

    def remove(self, instant: float) -> None:
        index = bisect.bisect_left(self._items, instant)
        if index < len(self._items) and self._items[index] == instant:
            del self._items[index]

    def at_or_before(self, instant: float) -> int:
        return bisect.bisect_right(self._items, instant)

    def first(self) -> float | None:
        return self._items[0] if self._items else None

    def in_half_open(self, start: float, end: float) -> int:
        """How many lie in [start, end)."""
        return bisect.bisect_left(self._items, end) - bisect.bisect_left(self._items, start)

    def between(self, low: float, high_inclusive: float, *, low_inclusive: bool = False) -> int:
        """How many lie in (low, high], or [low, high] with low_inclusive."""
        find_low = bisect.bisect_left if low_inclusive else bisect.bisect_right
        return bisect.bisect_right(self._items, high_inclusive) - find_low(self._items, low)


@dataclass
class _OpenTimers:
    half: _SortedInstants = field(default_factory=_SortedInstants)
    three_quarters: _SortedInstants = field(default_factory=_SortedInstants)
    deadline: _SortedInstants = field(default_factory=_SortedInstants)
    # Deadlines of open timers not yet counted: a miss once the watermark passes them.
    uncounted_deadline: _SortedInstants = field(default_factory=_SortedInstants)


CLOCKS = ("wall", "working")


@dataclass
class _Windows:
    # For the quantiles, per clock of the timers' targets: wall and working seconds are
    # never one sample.
    stopped: dict[str, RollingWindows] = field(
        default_factory=lambda: {clock: RollingWindows() for clock in CLOCKS}
    )
    decided: RollingWindows = field(default_factory=RollingWindows)  # for the ratio


@dataclass(frozen=True)
class ClockWindowStats:
    """The timers stopped in a window whose target is on one clock."""

    count: int  # timers stopped in the window (the quantiles' sample)
    total: float  # the sum of their values, in seconds of that clock
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class TimerWindowStats:
    by_clock: Mapping[str, ClockWindowStats]  # "wall" and "working", always both
    within_target_ratio: float | None  # met / decided, open timers past deadline included

    @property
    def count(self) -> int:
        """Timers stopped in the window, whatever their clock."""
        return sum(stats.count for stats in self.by_clock.values())


@dataclass(frozen=True)
class UnitSnapshot:
    """Everything the exporter shows for one unit, at one watermark."""

    counters: UnitCounters
    open_complaints: int
    sla_missed_open: dict[str, int]  # timer -> open timers past deadline not yet counted
    open_past: dict[tuple[str, float], int]  # (timer, threshold) -> open timers past it
    windows: dict[tuple[str, str], dict[str, TimerWindowStats]]  # (timer, category) -> window
    # The current calendar periods (day, week, month) up to the watermark, per timer.
    periods: dict[tuple[str, str], TimerWindowStats]
    # Per timer: open timers past their deadline (clock running) by lateness band, and the
    # wall seconds the oldest of them is past it (0 when none).
    overdue: dict[str, OverdueStats] = field(default_factory=dict)
    # Per timer: open deadlines due right after the next long break (core.holiday_cliff),
    # set by the caller that knows the unit's calendar; empty when no break is coming.
    after_break: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OverdueStats:
    oldest_past_seconds: float
    by_band: dict[str, int]  # core.worklist.LATENESS_BANDS labels


class UnitKpis:
    def __init__(
        self,
        response_bounds: tuple[float, ...],
        working_bounds: tuple[float, ...],
        grace_seconds: float = 0.0,
        *,
        resolution_bounds: tuple[float, ...],
    ) -> None:
        """Histogram bounds (seconds) are the metrics contract's (metrics.names), passed in:
        first response and working-time resolution, and wall-clock resolution."""
        # A deadline counts as missed once the watermark is past it by the grace period:
        # events up to that late can still show the timer stopped in time.
        self.grace_seconds = grace_seconds
        self.response_bounds = response_bounds
        self.working_bounds = working_bounds
        self.resolution_bounds = resolution_bounds
        self.counters: dict[str, UnitCounters] = {}
        self._open: dict[tuple[str, str], _OpenTimers] = {}
        self._windows: dict[tuple[str, str, str], _Windows] = {}
        self._open_complaints: dict[str, int] = {}
        # Per unit: the open timers, for the worklist (rows held as columns: core.open_rows).
        self._open_items: dict[str, OpenRows] = {}
        self._bulk = False  # in restore_all: indexes are sorted at the end

    # -- counters ---------------------------------------------------------------------

    def counters_for(self, unit: str) -> UnitCounters:
        counters = self.counters.get(unit)
        if counters is None:
            counters = UnitCounters(
                self.response_bounds, self.working_bounds, self.resolution_bounds
            )
            self.counters[unit] = counters
        return counters

    # -- views ------------------------------------------------------------------------

    def apply(self, view: UnitView, previous: StoredView | None, watermark: float) -> StoredView:
        """Take the latest view of a (unit, complaint); returns what to store for it.

        `watermark` is the unit stage's current event-time watermark: an open timer whose
        deadline it has passed was already exported as missed, so it stays counted missed.
        """
        before = Counted() if previous is None else previous.counted
        if previous is not None:
            self._unindex(previous)
        counted = self._count(view, previous, before.copy(), watermark)
        counters = self.counters_for(view.unit)
        before.add_to(counters, -1)
        counted.add_to(counters, +1)
        stored = StoredView(view, counted)
        self._index(stored)
        return stored

    def restore(self, stored: StoredView) -> None:
        """Rebuild the counters and derived state of one stored view (after a rebalance)."""
        stored.counted.add_to(self.counters_for(stored.view.unit), +1)
        self._index(stored)

    def restore_all(self, stored_views: Iterable[StoredView]) -> None:
        """`restore` of many views, sorting each index once at the end: a sorted insert per
        view costs O(n) each, O(n^2) for a million open complaints."""
        self._bulk = True
        try:
            for stored in stored_views:
                self.restore(stored)
        finally:
            self._bulk = False
            for open_timers in self._open.values():
                for instants in (
                    open_timers.half,
                    open_timers.three_quarters,
                    open_timers.deadline,
                    open_timers.uncounted_deadline,
                ):
                    instants.sort()
            for windows in self._windows.values():
                for stopped in windows.stopped.values():
                    stopped.sort()
                windows.decided.sort()

    def forget_units(self, units: Iterable[str]) -> None:
        """Drop everything about units this worker no longer owns."""
        gone = set(units)
        for unit in gone:
            self.counters.pop(unit, None)
            self._open_complaints.pop(unit, None)
            self._open_items.pop(unit, None)
        self._open = {k: v for k, v in self._open.items() if k[0] not in gone}
        self._windows = {k: v for k, v in self._windows.items() if k[0] not in gone}

    def _count(
        self, view: UnitView, previous: StoredView | None, counted: Counted, watermark: float
    ) -> Counted:
        """What the view adds to what was counted: only ever more (counters never go down)."""
        if view.created_here:
            counted.created = True
        if view.resolved_at is not None and not counted.resolved:
            counted.resolved = True
            counted.resolution_seconds = view.resolution_seconds
            counted.resolution_working_seconds = view.resolution_working_seconds
        if view.response_seconds is not None and not counted.responded:
            counted.responded = True
            counted.response_seconds = view.response_seconds
        for timer in TIMERS:
            if timer in counted.sla:
                continue
            outcome = self._outcome_to_count(
                view.timers.get(timer),
                previous.view.timers.get(timer) if previous is not None else None,
                watermark - self.grace_seconds,
            )
            if outcome is not None:
                counted.sla[timer] = outcome
        counted.transfer_reasons += [
            reason for _, reason in view.transfers_away[len(counted.transfer_reasons) :]
        ]
        counted.reopens = max(counted.reopens, view.reopens)
        counted.escalations += [level for _, level in view.escalations[len(counted.escalations) :]]
        if view.rating is not None and (not counted.ratings or counted.ratings[-1] != view.rating):
            counted.ratings.append(view.rating)
        return counted

    @staticmethod
    def _outcome_to_count(
        current: TimerView | None, before: TimerView | None, watermark: float
    ) -> str | None:
        # Already exported as missed (open past its deadline): stays missed, whatever the
        # new view says, so that the counter never goes down.
        exported_missed = (
            before is not None
            and before.is_open
            and before.running
            and before.deadline <= watermark
        )
        still_exposed = (
            current is not None
            and current.is_open
            and current.running
            and current.deadline <= watermark
        )
        if exported_missed and not still_exposed:
            return "missed"
        if current is not None and current.outcome is not None:
            return current.outcome
        return None

    # -- derived state ----------------------------------------------------------------

    def _index(self, stored: StoredView) -> None:
        self._change_index(stored, +1)

    def _unindex(self, stored: StoredView) -> None:
        self._change_index(stored, -1)

    def _change_index(self, stored: StoredView, sign: int) -> None:
        view = stored.view
        if view.deleted:
            return
        if view.open:
            self._open_complaints[view.unit] = self._open_complaints.get(view.unit, 0) + sign
        items = self._open_items.get(view.unit)
        if items is None:
            items = self._open_items.setdefault(view.unit, OpenRows())
        if sign > 0:
            for row in open_timer_rows_of_view(view):
                items.put(row)
        else:
            # Only the keys of the view's open timers (open_timer_rows_of_view's), without
            # building their worklist items: removing distinct keys in any order is the same.
            complaint_id = view.complaint_id
            for timer, timer_view in view.timers.items():
                if timer_view.is_open:
                    items.remove(complaint_id, timer)
        for timer, timer_view in view.timers.items():
            if timer_view.is_open:
                open_timers = self._open.get((view.unit, timer)) or self._open.setdefault(
                    (view.unit, timer), _OpenTimers()
                )
                # A paused clock cannot miss (core.timeline rule 4): no deadline while paused.
                deadline = timer_view.deadline if timer_view.running else NEVER
                instants = [
                    (open_timers.half, timer_view.half_at),
                    (open_timers.three_quarters, timer_view.three_quarters_at),
                    (open_timers.deadline, deadline),
                ]
                if timer not in stored.counted.sla:
                    instants.append((open_timers.uncounted_deadline, deadline))
                for sorted_instants, instant in instants:
                    if sign > 0 and self._bulk:
                        sorted_instants.append_unsorted(instant)
                    elif sign > 0:
                        sorted_instants.add(instant)
                    else:
                        sorted_instants.remove(instant)
            if timer_view.outcome is None or timer_view.decided_at is None:
                continue
            within = timer_view.outcome == "met"
            for category in (ALL_CATEGORIES, view.category):
                window_key = (view.unit, timer, category)
                windows = self._windows.get(window_key) or self._windows.setdefault(
                    window_key, _Windows()
                )
                decided = (timer_view.decided_at, 0.0, within)
                stopped = None
                if timer_view.stopped_at is not None:
                    stopped = (timer_view.stopped_at, timer_view.elapsed_seconds, within)
                stopped_windows = windows.stopped[
                    timer_view.clock if timer_view.clock in windows.stopped else "wall"
                ]
                if sign > 0 and self._bulk:
                    windows.decided.append_unsorted(*decided)
                    if stopped is not None:
                        stopped_windows.append_unsorted(*stopped)
                elif sign > 0:
                    windows.decided.add(*decided)
                    if stopped is not None:
                        stopped_windows.add(*stopped)
                else:
                    windows.decided.remove(*decided)
                    if stopped is not None:
                        stopped_windows.remove(*stopped)

    def expire(self, watermark: float) -> None:
        """Drop measurements no window and no current period (a month: 31 days) can hold."""
        for windows in self._windows.values():
            for stopped in windows.stopped.values():
                stopped.expire(watermark, grace_seconds=PERIOD_RETENTION_GRACE)
            windows.decided.expire(watermark, grace_seconds=PERIOD_RETENTION_GRACE)

    # -- export -----------------------------------------------------------------------

    def snapshot(self, units: Iterable[str], watermark: float) -> dict[str, UnitSnapshot]:
        return {unit: self.unit_snapshot(unit, watermark) for unit in units}

    def unit_snapshot(
        self, unit: str, watermark: float, reuse: UnitSnapshot | None = None
    ) -> UnitSnapshot:
        """The unit's state at `watermark`; with `reuse`, its window and period statistics
        (the costly part: quantiles over up to 30 days) are taken from that snapshot."""
        missed_by = watermark - self.grace_seconds  # deadlines up to here count as missed
        sla_missed_open: dict[str, int] = {}
        open_past: dict[tuple[str, float], int] = {}
        for timer in TIMERS:
            open_timers = self._open.get((unit, timer), _OpenTimers())
            sla_missed_open[timer] = open_timers.uncounted_deadline.at_or_before(missed_by)
            open_past[(timer, 0.5)] = open_timers.half.at_or_before(watermark)
            open_past[(timer, 0.75)] = open_timers.three_quarters.at_or_before(watermark)
            open_past[(timer, 1.0)] = open_timers.deadline.at_or_before(watermark)
        overdue: dict[str, OverdueStats] = {}
        for timer in TIMERS:
            deadlines = self._open.get((unit, timer), _OpenTimers()).deadline
            by_band = {
                # Past by [low, high) <=> deadline in (watermark - high, watermark - low].
                label: deadlines.between(watermark - high, watermark - low)
                for label, low, high in LATENESS_BANDS
            }
            oldest = deadlines.first()
            overdue[timer] = OverdueStats(
                oldest_past_seconds=watermark - oldest
                if oldest is not None and oldest <= watermark
                else 0.0,
                by_band=by_band,
            )
        if reuse is None:
            windows, periods = self._window_stats(unit, watermark, missed_by)
        else:
            windows, periods = reuse.windows, reuse.periods
        return UnitSnapshot(
            counters=self.counters.get(unit) or self.counters_for(unit),
            open_complaints=self._open_complaints.get(unit, 0),
            sla_missed_open=sla_missed_open,
            open_past=open_past,
            windows=windows,
            periods=periods,
            overdue=overdue,
        )

    def _window_stats(
        self, unit: str, watermark: float, missed_by: float
    ) -> tuple[
        dict[tuple[str, str], dict[str, TimerWindowStats]], dict[tuple[str, str], TimerWindowStats]
    ]:
        windows: dict[tuple[str, str], dict[str, TimerWindowStats]] = {}
        for (window_unit, timer, category), state in self._windows.items():
            if window_unit != unit:
                continue
            open_timers = self._open.get((unit, timer), _OpenTimers())
            per_window = {}
            for name, width in RollingWindows.WINDOWS.items():
                per_window[name] = _window_stats(
                    {
                        clock: (
                            stopped.stats(name, watermark),
                            stopped.total_between(watermark - width, watermark),
                        )
                        for clock, stopped in state.stopped.items()
                    },
                    state.decided.stats(name, watermark),
                    # Open timers past their deadline in the window are misses too; only
                    # the all-categories windows know them (the index has no categories).
                    open_timers.uncounted_deadline.between(missed_by - width, missed_by)
                    if category == ALL_CATEGORIES
                    else 0,
                )
            windows[(timer, category)] = per_window
        for timer in TIMERS:
            if (timer, ALL_CATEGORIES) not in windows:
                open_timers = self._open.get((unit, timer), _OpenTimers())
                empty = WindowStats(count=0, p50=None, p90=None, within_target_ratio=None)
                windows[(timer, ALL_CATEGORIES)] = {
                    name: _window_stats(
                        {clock: (empty, 0.0) for clock in CLOCKS},
                        empty,
                        open_timers.uncounted_deadline.between(missed_by - width, missed_by),
                    )
                    for name, width in RollingWindows.WINDOWS.items()
                }
        periods: dict[tuple[str, str], TimerWindowStats] = {}
        for timer in TIMERS:
            state = self._windows.get((unit, timer, ALL_CATEGORIES), _Windows())
            open_timers = self._open.get((unit, timer), _OpenTimers())
            for kind in PERIOD_KINDS:
                begin = period_start_epoch(kind, period_start(kind, watermark))
                periods[(timer, kind)] = _window_stats(
                    {
                        clock: (
                            stopped.stats_between(begin, watermark, low_inclusive=True),
                            stopped.total_between(begin, watermark, low_inclusive=True),
                        )
                        for clock, stopped in state.stopped.items()
                    },
                    state.decided.stats_between(begin, watermark, low_inclusive=True),
                    open_timers.uncounted_deadline.between(begin, missed_by, low_inclusive=True)
                    if missed_by >= begin
                    else 0,
                )
        return windows, periods

    def units(self) -> Iterator[str]:
        return iter(sorted(self.counters))

    def known_units(self) -> set[str]:
        """Every unit with any state here (counters, open timers, windows, worklist)."""
        return {
            *self.counters,
            *self._open_complaints,
            *self._open_items,
            *(key[0] for key in self._open),
            *(key[0] for key in self._windows),
        }

    def running_deadlines_in(self, unit: str, start: float, end: float) -> dict[str, int]:
        """Per timer (those with any), the unit's open timers whose clock runs with a
        deadline in [start, end): the holiday cliff's count (core.holiday_cliff) from the
        sorted deadlines, two bisections per timer, where counting over `open_items` walks
        every open timer of the unit (at each scrape, for the whole week before a
        break: seconds of the event loop at a million open complaints). A paused timer's
        deadline is held as NEVER, outside any window."""
        counts: dict[str, int] = {}
        for timer in TIMERS:
            open_timers = self._open.get((unit, timer))
            if open_timers is None:
                continue
            count = open_timers.deadline.in_half_open(start, end)
            if count:
                counts[timer] = count
        return counts

    def open_items(self, unit: str) -> list[OpenTimer]:
        """The unit's open timers (core.worklist builds the worklist from them)."""
        items = self._open_items.get(unit)
        return [] if items is None else [OpenTimer(*row) for row in items.rows()]

    # -- snapshot (streams.unit_snapshot) ---------------------------------------------

    def units_state(self, units: Collection[str]) -> dict[str, Any]:
        """The derived state of `units` as plain data (builtins and bytes only, no class
        to import when it is read back): exactly what `restore_all` of their stored views
        builds, so that a restart can load it instead of decoding every view. Sorted
        instants and window measurements are taken as held (sorted): loading needs no sort.
        """
        keep = set(units)
        open_timers: dict[tuple[str, str], tuple[bytes, ...]] = {}
        for key, timers in self._open.items():
            if key[0] in keep:
                open_timers[key] = tuple(
                    instants.to_bytes()
                    for instants in (
                        timers.half,
                        timers.three_quarters,
                        timers.deadline,
                        timers.uncounted_deadline,
                    )
                )
        windows: dict[tuple[str, str, str], Any] = {}
        for window_key, unit_windows in self._windows.items():
            if window_key[0] in keep:
                windows[window_key] = (
                    {clock: list(stopped) for clock, stopped in unit_windows.stopped.items()},
                    list(unit_windows.decided),
                )
        return {
            "counters": {
                unit: _counters_state(counters)
                for unit, counters in self.counters.items()
                if unit in keep
            },
            "open_complaints": {
                unit: count for unit, count in self._open_complaints.items() if unit in keep
            },
            "open": open_timers,
            "windows": windows,
            "items": {
                unit: items.to_state() for unit, items in self._open_items.items() if unit in keep
            },
        }

    def load_units_state(self, state: Mapping[str, Any]) -> None:
        """Take the units of a `units_state` (after `restore_all` of any other units):
        their derived state becomes what it was when the state was taken.

        Everything is read before anything here changes: a state whose parts do not fit
        (ValueError, KeyError, TypeError, IndexError) leaves this object as it was, so the
        caller can decode the stored views instead (streams.unit_stage)."""
        loaded_counters: dict[str, UnitCounters] = {}
        for unit, data in state["counters"].items():
            counters = UnitCounters(
                self.response_bounds, self.working_bounds, self.resolution_bounds
            )
            _load_counters(counters, data)  # sets every field (a test checks the round trip)
            loaded_counters[unit] = counters
        open_complaints = dict(state["open_complaints"])
        loaded_open: dict[tuple[str, str], _OpenTimers] = {}
        loaded_windows: dict[tuple[str, str, str], _Windows] = {}
        for key, parts in state["open"].items():
            timers = _OpenTimers()
            for instants, data in zip(
                (
                    timers.half,
                    timers.three_quarters,
                    timers.deadline,
                    timers.uncounted_deadline,
                ),
                parts,
                strict=True,
            ):
                instants.load_bytes(data)
            loaded_open[key] = timers
        for key, (stopped, decided) in state["windows"].items():
            unit_windows = _Windows()
            for clock, measurements in stopped.items():
                unit_windows.stopped[clock] = RollingWindows.from_sorted(measurements)
            unit_windows.decided = RollingWindows.from_sorted(decided)
            loaded_windows[key] = unit_windows
        loaded_items = {
            unit: OpenRows.from_state(columns) for unit, columns in state["items"].items()
        }
        self.counters.update(loaded_counters)
        self._open_complaints.update(open_complaints)
        self._open.update(loaded_open)
        self._windows.update(loaded_windows)
        self._open_items.update(loaded_items)


# The plain-data form of UnitCounters for a snapshot: every field (a test checks the
# round trip against dataclasses.fields, so a field added later cannot be left out).
def _counters_state(counters: UnitCounters) -> dict[str, Any]:
    return {
        "created": counters.created,
        "resolved": counters.resolved,
        "reopened": counters.reopened,
        "sla": dict(counters.sla),
        "transfers": dict(counters.transfers),
        "ratings": dict(counters.ratings),
        "escalated": dict(counters.escalated),
        "first_response": (list(counters.first_response.counts), counters.first_response.total),
        "resolution_working": (
            list(counters.resolution_working.counts),
            counters.resolution_working.total,
        ),
        "resolution": (list(counters.resolution.counts), counters.resolution.total),
    }


def _load_counters(counters: UnitCounters, data: Mapping[str, Any]) -> None:
    counters.created = int(data["created"])
    counters.resolved = int(data["resolved"])
    counters.reopened = int(data["reopened"])
    counters.sla = dict(data["sla"])
    counters.transfers = dict(data["transfers"])
    counters.ratings = dict(data["ratings"])
    counters.escalated = dict(data["escalated"])
    for histogram, (counts, total) in (
        (counters.first_response, data["first_response"]),
        (counters.resolution_working, data["resolution_working"]),
        (counters.resolution, data["resolution"]),
    ):
        if len(counts) != len(histogram.counts):
            raise ValueError("histogram bounds differ from the snapshot's")
        histogram.counts = list(counts)
        histogram.total = float(total)


def _window_stats(
    stopped: Mapping[str, tuple[WindowStats, float]], decided: WindowStats, open_missed: int
) -> TimerWindowStats:
    decided_count = decided.count + open_missed
    met = round((decided.within_target_ratio or 0.0) * decided.count)
    return TimerWindowStats(
        by_clock={
            clock: ClockWindowStats(count=stats.count, total=total, p50=stats.p50, p90=stats.p90)
            for clock, (stats, total) in stopped.items()
        },
        within_target_ratio=met / decided_count if decided_count else None,
    )


def threshold_text(threshold: float) -> str:
    """A threshold as the metrics' `threshold` label value: 0.5 -> "0.5", 1.0 -> "1"."""
    return f"{threshold:g}"
