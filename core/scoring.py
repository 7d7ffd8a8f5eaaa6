"""Period scores from unit views: the same functions for the score writer and for replay.

v1: per unit and Asia/Jakarta calendar day, the complaints resolved that day (by the unit
that resolved them) and the exact nearest-rank p50 and p90 of their resolution time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from core.periods import jakarta_day_of_epoch
from core.quantiles import quantiles

DAY = "day"


@dataclass(frozen=True)
class Resolution:
    unit: str
    resolved_at: float  # epoch seconds of the first resolution
    resolution_seconds: float


@dataclass(frozen=True)
class DailyScore:
    unit: str
    period_start: date
    resolved: int
    resolution_p50_seconds: float | None
    resolution_p90_seconds: float | None
    period: str = DAY

    def as_json(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            "resolved": self.resolved,
            "resolution_p50_seconds": self.resolution_p50_seconds,
            "resolution_p90_seconds": self.resolution_p90_seconds,
        }


def daily_scores(resolutions: Iterable[Resolution]) -> list[DailyScore]:
    """One score per (unit, day) with at least one resolution, oldest day first."""
    by_day: dict[tuple[date, str], list[float]] = defaultdict(list)
    for item in resolutions:
        by_day[(jakarta_day_of_epoch(item.resolved_at), item.unit)].append(item.resolution_seconds)
    scores = []
    for (day, unit), durations in sorted(by_day.items()):
        p50, p90 = quantiles(durations, (0.5, 0.9))
        scores.append(DailyScore(unit, day, len(durations), p50, p90))
    return scores
