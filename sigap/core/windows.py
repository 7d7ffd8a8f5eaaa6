"""Event-time KPI state: rolling windows (calendar periods are core.periods, the watermark
core.watermarks; finalised period scores with revisions are core.scoring and storage).

Faust's windowed tables expire windows by wall-clock time and lose their expiry tracking after
a recovery, so SIGAP keeps its own event-time state in plain key-value tables. This module is
the pure logic of that state; the Faust worker and the batch replay both call it. Pure: no clock
reads (the wall clock is always a parameter), no I/O. Every state has `to_json`/`from_json`
(JSON-able dicts for a table's changelog) and a `merge` for combining partitions at export.

Times are epoch seconds (float). Quantiles are exact nearest-rank (`core.quantiles`).

Rules
-----
Window membership (`RollingWindows.stats`): a measurement is in window W at watermark w iff
  `w - W < decided_at <= w` (exactly `w - W` is out, exactly `w` is in).

Rolling-window retention: measurements older than the 30-day window plus the grace period
  before the watermark are dropped by `RollingWindows.expire`.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import Any, ClassVar, Final

from sigap.core.quantiles import nearest_rank

HOUR = 3600.0
DAY = 86400.0

DEFAULT_GRACE_SECONDS = 1 * HOUR

# The rolling windows, by name (the `window` label of the metrics), and their widths.
WINDOWS: Final[Mapping[str, float]] = MappingProxyType(
    {"1h": 1 * HOUR, "24h": 1 * DAY, "7d": 7 * DAY, "30d": 30 * DAY}
)
WINDOW_NAMES: Final[tuple[str, ...]] = tuple(WINDOWS)


def _finite(name: str, value: float) -> float:
    # NaN would break the sort order every query relies on; inf has no calendar period.
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# Rolling windows


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

    WINDOWS: ClassVar[Mapping[str, float]] = WINDOWS
    LONGEST: ClassVar[float] = max(WINDOWS.values())

    __slots__ = ("_items",)

    def __init__(self, measurements: Iterable[Measurement] = ()) -> None:
        self._items: list[Measurement] = sorted(
            (_finite("decided_at", t), _finite("value_seconds", v), bool(m))
            for t, v, m in measurements
        )

    @classmethod
    def from_sorted(cls, measurements: list[Measurement]) -> RollingWindows:
        """The windows of measurements taken from another instance's iteration (sorted
        and checked then), as a snapshot holds them: no sort, no check per measurement."""
        windows = cls()
        windows._items = [(float(t), float(v), bool(m)) for t, v, m in measurements]
        return windows

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

    def append_unsorted(self, decided_at: float, value_seconds: float, within_target: bool) -> None:
        """As `add`, without keeping the order: call `sort` before any query (bulk restore)."""
        self._items.append(
            (
                _finite("decided_at", decided_at),
                _finite("value_seconds", value_seconds),
                bool(within_target),
            )
        )

    def sort(self) -> None:
        self._items.sort()

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
