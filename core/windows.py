"""Event-time KPI state: watermark, rolling windows and finalised calendar periods.

Faust's windowed tables expire windows by wall-clock time and lose their expiry tracking after
a recovery, so SIGAP keeps its own event-time state in plain key-value tables. This module is
the pure logic of that state; the Faust worker and the batch replay both call it. Pure: no clock
reads (the wall clock is always a parameter), no I/O. Every state has `to_json`/`from_json`
(JSON-able dicts for a table's changelog) and a `merge` for combining partitions at export.

Times are epoch seconds (float). Quantiles are exact nearest-rank (`core.quantiles`).

Rules
-----
Watermark (`Watermark.current`):
  * the latest event time seen (`max_event_time`);
  * while the worker is caught up it also advances with the wall clock since that event was
    seen: `max_event_time + (wall_now - wall_at_max)`, so quiet hours still move the windows
    and close periods;
  * it is capped at `wall_now`, so one event stamped in the future (a skewed producer clock)
    cannot close today's periods early;
  * it never goes backwards: the highest value returned is kept (`high_water`) and wins over
    the cap if the wall clock itself steps back.

Window membership (`RollingWindows.stats`): a measurement is in window W at watermark w iff
  `w - W < decided_at <= w` (exactly `w - W` is out, exactly `w` is in).

Grace and revisions (`PeriodLedger.due`):
  * a period [start, end) (Asia/Jakarta calendar day, ISO week from Monday, month) is open
    until `watermark >= end + grace`; then it is final and emitted once as revision 1;
  * an accepted event inside a final period marks it changed; the next `due` emits it again
    as revision N+1 with `late=True` (a restatement) and the aggregate over all its values;
  * nothing is emitted for a period that did not change; periods without measurements do not
    exist, so a late event in a previously empty period is its revision 1.

Retention (`PeriodLedger`): a period keeps its values (needed for exact quantiles) until
  `watermark >= end + retention` (default 35 days), then it is dropped. `add` refuses (returns
  False, counts `too_late`) an event whose *day* has reached that point: its day ends first of
  its three periods, so an accepted event always lands in periods that all still hold their
  values, and day, week and month stay consistent. The caller dead-letters refused events.
  The ledger's watermark is the highest one passed to `due`.

Rolling-window retention: measurements older than the 30-day window plus the grace period
  before the watermark are dropped by `RollingWindows.expire`.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, ClassVar, Literal, get_args

from core.periods import JAKARTA, jakarta_day_of_epoch
from core.quantiles import nearest_rank

HOUR = 3600.0
DAY = 86400.0

DEFAULT_GRACE_SECONDS = 1 * HOUR
DEFAULT_RETENTION_SECONDS = 35 * DAY

PeriodKind = Literal["day", "week", "month"]
PERIOD_KINDS: tuple[PeriodKind, ...] = get_args(PeriodKind)


def _finite(name: str, value: float) -> float:
    # NaN would break the sort order every query relies on; inf has no calendar period.
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# 1. Watermark


@dataclass
class Watermark:
    """Event-time watermark of one partition; see the module docstring for the rules."""

    max_event_time: float | None = None
    wall_at_max: float | None = None
    # The highest value `current` has returned; the watermark never drops below it.
    high_water: float | None = None

    def observe(self, event_time: float, wall_now: float) -> None:
        """Record an event's time; `wall_now` is the wall clock when it was processed."""
        event_time = _finite("event_time", event_time)
        wall_now = _finite("wall_now", wall_now)
        if self.max_event_time is None or event_time > self.max_event_time:
            self.max_event_time = event_time
            self.wall_at_max = wall_now

    def current(self, wall_now: float, caught_up: bool) -> float | None:
        """The watermark now; None before any event. `caught_up`: the consumer has no lag.

        Pass caught_up=False while the consumer lags or has not yet learnt its lag (e.g. right
        after a restart), or the wall-clock advance would run ahead of the backlog.
        """
        wall_now = _finite("wall_now", wall_now)
        if self.max_event_time is None or self.wall_at_max is None:
            return self.high_water
        candidate = self.max_event_time
        if caught_up:
            candidate += max(0.0, wall_now - self.wall_at_max)
        candidate = min(candidate, wall_now)
        if self.high_water is not None:
            candidate = max(candidate, self.high_water)
        self.high_water = candidate
        return candidate

    def to_json(self) -> dict[str, Any]:
        return {"e": self.max_event_time, "w": self.wall_at_max, "h": self.high_water}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Watermark:
        if not data:
            return cls()
        return cls(max_event_time=data["e"], wall_at_max=data["w"], high_water=data["h"])


# --------------------------------------------------------------------------------------------
# 2. Rolling windows


@dataclass(frozen=True)
class WindowStats:
    count: int
    p50: float | None
    p90: float | None
    within_target_ratio: float | None


# (decided_at, value_seconds, within_target)
Measurement = tuple[float, float, bool]


def _decided_at(measurement: Measurement) -> float:
    return measurement[0]


class RollingWindows:
    """Measurements of one key, sorted, queried over windows ending at a watermark.

    Kept sorted by the whole (decided_at, value, within_target) tuple, not just the time, so
    the state (and its JSON) is canonical: the same measurements give the same state whatever
    the order they were added or merged in. Adding is O(n) (a list insert), a window query is
    O(log n + k log k) for the k measurements in the window.
    """

    WINDOWS: ClassVar[dict[str, float]] = {
        "1h": 3600.0,
        "24h": 86400.0,
        "7d": 604800.0,
        "30d": 2592000.0,
    }
    LONGEST: ClassVar[float] = max(WINDOWS.values())

    __slots__ = ("_items",)

    def __init__(self, measurements: Iterable[Measurement] = ()) -> None:
        self._items: list[Measurement] = sorted(
            (_finite("decided_at", t), _finite("value_seconds", v), bool(m))
            for t, v, m in measurements
        )

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Measurement]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RollingWindows):
            return NotImplemented
        return self._items == other._items

    def __repr__(self) -> str:
        return f"RollingWindows({len(self._items)} measurements)"

    def add(self, decided_at: float, value_seconds: float, within_target: bool) -> None:
        insort(
            self._items,
            (
                _finite("decided_at", decided_at),
                _finite("value_seconds", value_seconds),
                bool(within_target),
            ),
        )

    def remove(self, decided_at: float, value_seconds: float, within_target: bool) -> bool:
        """Remove one measurement equal to the given one (a restated view); False if absent."""
        item = (decided_at, value_seconds, bool(within_target))
        index = bisect_left(self._items, item)
        if index < len(self._items) and self._items[index] == item:
            del self._items[index]
            return True
        return False

    def evict_before(self, cutoff: float) -> int:
        """Drop measurements with decided_at < cutoff; returns how many were dropped."""
        index = bisect_left(self._items, cutoff, key=_decided_at)
        del self._items[:index]
        return index

    def expire(self, watermark: float, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> int:
        """Drop what no window can hold any more, keeping a grace period of slack."""
        return self.evict_before(watermark - self.LONGEST - grace_seconds)

    def stats(self, window: str, watermark: float) -> WindowStats:
        """count, p50, p90 and within-target ratio over watermark - W < decided_at <= watermark."""
        try:
            width = self.WINDOWS[window]
        except KeyError:
            raise ValueError(f"unknown window {window!r}; known: {list(self.WINDOWS)}") from None
        watermark = _finite("watermark", watermark)
        return self.stats_between(watermark - width, watermark)

    def stats_between(self, low: float, high: float, *, low_inclusive: bool = False) -> WindowStats:
        """The same statistics over low < decided_at <= high (low <= ... with low_inclusive)."""
        find_low = bisect_left if low_inclusive else bisect_right
        low = find_low(self._items, low, key=_decided_at)
        high = bisect_right(self._items, high, key=_decided_at)
        if low >= high:
            return WindowStats(count=0, p50=None, p90=None, within_target_ratio=None)
        inside = self._items[low:high]
        values = sorted(m[1] for m in inside)
        met = sum(1 for m in inside if m[2])
        return WindowStats(
            count=len(values),
            p50=nearest_rank(values, 0.5),
            p90=nearest_rank(values, 0.9),
            within_target_ratio=met / len(values),
        )

    def total_between(self, low: float, high: float, *, low_inclusive: bool = False) -> float:
        """The sum of the values over the same range as stats_between (math.fsum: exact
        enough, and independent of order)."""
        find_low = bisect_left if low_inclusive else bisect_right
        start = find_low(self._items, low, key=_decided_at)
        end = bisect_right(self._items, high, key=_decided_at)
        return math.fsum(m[1] for m in self._items[start:end])

    def all_stats(self, watermark: float) -> dict[str, WindowStats]:
        return {window: self.stats(window, watermark) for window in self.WINDOWS}

    def to_json(self) -> dict[str, Any]:
        # Columns rather than one object per measurement: about a third of the size.
        return {
            "t": [m[0] for m in self._items],
            "v": [m[1] for m in self._items],
            "m": "".join("1" if m[2] else "0" for m in self._items),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RollingWindows:
        if not data:
            return cls()
        times, values, met = data["t"], data["v"], data["m"]
        if not len(times) == len(values) == len(met) or set(met) - {"0", "1"}:
            raise ValueError("stored rolling-window state is malformed")
        restored = cls()
        restored._items = [
            (float(t), float(v), f == "1") for t, v, f in zip(times, values, met, strict=True)
        ]
        if any(a > b for a, b in pairwise(restored._items)):
            raise ValueError("stored rolling-window state is not sorted")
        return restored

    @staticmethod
    def merge(parts: Iterable[RollingWindows]) -> RollingWindows:
        """One state holding every part's measurements (e.g. one key across partitions)."""
        merged = RollingWindows()
        merged._items = list(heapq.merge(*(part._items for part in parts)))
        return merged


# --------------------------------------------------------------------------------------------
# 3. Calendar periods in Asia/Jakarta


def period_start(kind: PeriodKind, moment_epoch: float) -> date:
    """The first Jakarta day of the period of `kind` holding the instant."""
    day = jakarta_day_of_epoch(_finite("moment_epoch", moment_epoch))
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())  # ISO week: Monday first
    if kind == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown period kind {kind!r}")


def _next_start(kind: PeriodKind, start: date) -> date:
    if kind == "day":
        return start + timedelta(days=1)
    if kind == "week":
        if start.weekday() != 0:
            raise ValueError(f"a week starts on a Monday, {start} is not one")
        return start + timedelta(days=7)
    if kind == "month":
        if start.day != 1:
            raise ValueError(f"a month starts on its 1st, {start} does not")
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    raise ValueError(f"unknown period kind {kind!r}")


def _jakarta_midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=JAKARTA).timestamp()


def period_end(kind: PeriodKind, start: date) -> float:
    """Epoch seconds of the period's end (exclusive): the next period's Jakarta midnight."""
    return _jakarta_midnight(_next_start(kind, start))


def period_start_epoch(kind: PeriodKind, start: date) -> float:
    """Epoch seconds of the period's first instant (inclusive)."""
    _next_start(kind, start)  # validates that `start` begins a period of `kind`
    return _jakarta_midnight(start)


def periods_of(moment_epoch: float) -> dict[PeriodKind, date]:
    """The start of each period kind holding the instant."""
    day = period_start("day", moment_epoch)
    return {
        "day": day,
        "week": day - timedelta(days=day.weekday()),
        "month": day.replace(day=1),
    }


# --------------------------------------------------------------------------------------------
# 4. Finalised periods and restatements


@dataclass(frozen=True)
class PeriodScore:
    """One emission of a period's aggregate. `late` is True for restatements (revision > 1)."""

    kind: PeriodKind
    start: date
    revision: int
    count: int
    met: int
    sum_seconds: float
    p50: float | None
    p90: float | None
    within_target_ratio: float | None
    late: bool

    @property
    def end(self) -> float:
        return period_end(self.kind, self.start)


@dataclass
class _Period:
    values: list[float] = field(default_factory=list)  # ascending, for exact quantiles
    met: int = 0
    revision: int = 0  # last emitted revision; 0 = never emitted
    changed: bool = True  # has data not yet in an emission

    def score(self, kind: PeriodKind, start: date, revision: int) -> PeriodScore:
        count = len(self.values)
        return PeriodScore(
            kind=kind,
            start=start,
            revision=revision,
            count=count,
            met=self.met,
            # fsum over the sorted values: exact, so independent of arrival order.
            sum_seconds=math.fsum(self.values),
            p50=nearest_rank(self.values, 0.5) if count else None,
            p90=nearest_rank(self.values, 0.9) if count else None,
            within_target_ratio=self.met / count if count else None,
            late=revision > 1,
        )


_KIND_ORDER = {kind: index for index, kind in enumerate(PERIOD_KINDS)}


@dataclass
class PeriodLedger:
    """Per-key calendar-period aggregates with grace, revisions and retention.

    See the module docstring for the rules. `retention_seconds` is configuration, not state:
    it is not stored in the JSON and is given again to `from_json`.
    """

    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    watermark: float | None = None  # highest watermark passed to `due`
    too_late: int = 0  # events refused by `add` because their values were no longer kept
    _periods: dict[tuple[PeriodKind, date], _Period] = field(default_factory=dict, repr=False)

    def accepts(self, decided_at: float) -> bool:
        """Whether `add` would take an event at this time now."""
        if self.watermark is None:
            return True
        day_end = period_end("day", period_start("day", decided_at))
        return day_end + self.retention_seconds > self.watermark

    def add(self, decided_at: float, value_seconds: float, within_target: bool) -> bool:
        """Count a measurement in its day, week and month. False (and `too_late` += 1) when
        its day's values are no longer kept; the caller dead-letters it."""
        decided_at = _finite("decided_at", decided_at)
        value_seconds = _finite("value_seconds", value_seconds)
        if not self.accepts(decided_at):
            self.too_late += 1
            return False
        for kind, start in periods_of(decided_at).items():
            period = self._periods.setdefault((kind, start), _Period())
            insort(period.values, value_seconds)
            period.met += bool(within_target)
            period.changed = True
        return True

    def due(
        self, watermark: float, grace_seconds: float = DEFAULT_GRACE_SECONDS
    ) -> list[PeriodScore]:
        """Scores of the periods newly final or changed since their last emission, marked
        emitted with their next revision; ordered by period end, then day/week/month.

        Then drops periods past retention (they were emitted by then: retention >= grace).
        """
        watermark = _finite("watermark", watermark)
        if not 0.0 <= grace_seconds <= self.retention_seconds:
            raise ValueError("grace_seconds must be between 0 and the retention period")
        if self.watermark is None or watermark > self.watermark:
            self.watermark = watermark
        now = self.watermark  # never backwards, even if a caller's watermark is

        emitted: list[tuple[float, int, PeriodScore]] = []
        expired: list[tuple[PeriodKind, date]] = []
        for (kind, start), period in self._periods.items():
            end = period_end(kind, start)
            if period.changed and now >= end + grace_seconds:
                period.revision += 1
                period.changed = False
                emitted.append((end, _KIND_ORDER[kind], period.score(kind, start, period.revision)))
            if not period.changed and now >= end + self.retention_seconds:
                expired.append((kind, start))
        for key in expired:
            del self._periods[key]
        emitted.sort(key=lambda item: (item[0], item[1]))
        return [score for _, _, score in emitted]

    def provisional(self, kind: PeriodKind, start: date) -> PeriodScore | None:
        """The current aggregate of a period (open or final) without emitting it; revision is
        the last emitted one (0 if never). None when the period holds nothing."""
        period = self._periods.get((kind, start))
        if period is None:
            return None
        return period.score(kind, start, period.revision)

    def periods(self) -> list[tuple[PeriodKind, date]]:
        """The periods whose values are kept, by start then day/week/month."""
        return sorted(self._periods, key=lambda key: (key[1], _KIND_ORDER[key[0]]))

    def to_json(self) -> dict[str, Any]:
        return {
            "w": self.watermark,
            "x": self.too_late,
            "p": {
                f"{kind}:{start.isoformat()}": {
                    "v": period.values,
                    "m": period.met,
                    "r": period.revision,
                    "c": int(period.changed),
                }
                for (kind, start), period in self._periods.items()
            },
        }

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any] | None,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> PeriodLedger:
        ledger = cls(retention_seconds=retention_seconds)
        if not data:
            return ledger
        ledger.watermark = data["w"]
        ledger.too_late = int(data["x"])
        for key, stored in data["p"].items():
            kind, _, start_text = key.partition(":")
            if kind not in PERIOD_KINDS:
                raise ValueError(f"stored period has unknown kind {kind!r}")
            values = [float(v) for v in stored["v"]]
            if any(a > b for a, b in pairwise(values)):
                raise ValueError("stored period values are not sorted")
            ledger._periods[(kind, date.fromisoformat(start_text))] = _Period(
                values=values,
                met=int(stored["m"]),
                revision=int(stored["r"]),
                changed=bool(stored["c"]),
            )
        return ledger

    @staticmethod
    def merge(
        parts: Iterable[PeriodLedger], retention_seconds: float | None = None
    ) -> PeriodLedger:
        """One ledger holding every part's values (e.g. one key across partitions).

        Values and counts are unioned, `too_late` summed, the watermark is the highest. A
        period's revision is the highest of the parts; it is marked changed when any part has
        unemitted data or the parts disagree on its revision, since the union then differs
        from what any single part last emitted.
        """
        ledgers = list(parts)
        if retention_seconds is None:
            retention_seconds = (
                ledgers[0].retention_seconds if ledgers else DEFAULT_RETENTION_SECONDS
            )
        merged = PeriodLedger(retention_seconds=retention_seconds)
        watermarks = [p.watermark for p in ledgers if p.watermark is not None]
        merged.watermark = max(watermarks) if watermarks else None
        merged.too_late = sum(p.too_late for p in ledgers)
        holders: dict[tuple[PeriodKind, date], list[_Period]] = {}
        for part in ledgers:
            for key, period in part._periods.items():
                holders.setdefault(key, []).append(period)
        for key, periods in holders.items():
            revisions = {p.revision for p in periods}
            merged._periods[key] = _Period(
                values=list(heapq.merge(*(p.values for p in periods))),
                met=sum(p.met for p in periods),
                revision=max(revisions),
                changed=any(p.changed for p in periods) or len(revisions) > 1,
            )
        return merged
