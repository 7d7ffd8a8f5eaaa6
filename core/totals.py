"""Per-unit running totals behind the counters, the open gauge and the resolution histogram.

The worker keeps one `UnitTotals` per (partition, unit) in a Faust table, so the totals are
restored from the changelog after a restart and each worker exports only the partitions it
owns (sum across workers in PromQL).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

# Resolution-time histogram bounds: 5 minutes to 60 days.
RESOLUTION_BUCKETS: tuple[float, ...] = (
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    1 * HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    12 * HOUR,
    1 * DAY,
    2 * DAY,
    3 * DAY,
    5 * DAY,
    7 * DAY,
    14 * DAY,
    30 * DAY,
    60 * DAY,
)


@dataclass
class UnitTotals:
    created: int = 0
    resolved: int = 0
    resolution_seconds_sum: float = 0.0
    # Non-cumulative count per bucket of RESOLUTION_BUCKETS, plus one for +Inf.
    resolution_bucket_counts: list[int] = field(
        default_factory=lambda: [0] * (len(RESOLUTION_BUCKETS) + 1)
    )

    @property
    def open(self) -> int:
        return self.created - self.resolved

    def observe_resolution(self, seconds: float) -> None:
        self.resolved += 1
        self.resolution_seconds_sum += seconds
        # Prometheus buckets are upper-inclusive (le): a value equal to a bound belongs in it.
        self.resolution_bucket_counts[bisect.bisect_left(RESOLUTION_BUCKETS, seconds)] += 1

    def cumulative_buckets(self) -> list[tuple[float, int]]:
        """(upper bound, cumulative count) pairs ending with +Inf, as Prometheus exposes."""
        bounds: Sequence[float] = (*RESOLUTION_BUCKETS, float("inf"))
        running = 0
        pairs = []
        for bound, count in zip(bounds, self.resolution_bucket_counts, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs

    def add(self, other: UnitTotals) -> None:
        self.created += other.created
        self.resolved += other.resolved
        self.resolution_seconds_sum += other.resolution_seconds_sum
        for index, count in enumerate(other.resolution_bucket_counts):
            self.resolution_bucket_counts[index] += count

    def to_json(self) -> dict[str, Any]:
        return {
            "c": self.created,
            "r": self.resolved,
            "s": self.resolution_seconds_sum,
            "b": self.resolution_bucket_counts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> UnitTotals:
        if not data:
            return cls()
        counts = list(data["b"])
        if len(counts) != len(RESOLUTION_BUCKETS) + 1:
            raise ValueError("stored histogram has other bucket bounds than this version")
        return cls(
            created=data["c"],
            resolved=data["r"],
            resolution_seconds_sum=data["s"],
            resolution_bucket_counts=counts,
        )
