"""Period scores from unit views: the same functions for the score writer and for replay.

Per unit and calendar period (day, ISO week, month, in Asia/Jakarta time):
- `received`: complaints the unit received first (created there) in the period;
- `resolved`, `resolution_p50_seconds`, `resolution_p90_seconds`: complaints the unit resolved
  (first resolution) in the period, and the exact nearest-rank quantiles of their resolution
  time (wall seconds from creation, pauses excluded);
- per timer, `met` and `missed`: the unit's timers decided in the period, each at the earlier of
  its stop and its deadline; an open timer whose deadline is at or before the watermark is a
  miss decided at its deadline.

A period is final once the watermark is past its end by the grace period; its score is then
kept as revision 1, and a later change (a late event) adds revision 2, 3, ... (never rewrites).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.quantiles import quantiles
from core.unit_view import UnitView
from core.windows import PERIOD_KINDS, PeriodKind, period_end, period_start, period_start_epoch

DAY: PeriodKind = "day"
TIMER_NAMES = ("response", "resolution")


@dataclass(frozen=True)
class TimerFacts:
    decided_at: float | None  # when the outcome was decided; None while undecided
    outcome: str | None
    open_deadline: float | None  # the deadline of a running, undecided timer


@dataclass(frozen=True)
class ScoreInput:
    """What one (unit, complaint) contributes to its unit's period scores."""

    unit: str
    created_here: bool
    created_at: float
    resolved_at: float | None
    resolution_seconds: float | None
    timers: Mapping[str, TimerFacts] = field(default_factory=dict)

    @classmethod
    def from_view(cls, view: UnitView) -> ScoreInput:
        timers = {}
        for name, timer in view.timers.items():
            running_open = timer.is_open and timer.running
            timers[name] = TimerFacts(
                decided_at=timer.decided_at if timer.outcome is not None else None,
                outcome=timer.outcome,
                open_deadline=timer.deadline if running_open else None,
            )
        return cls(
            unit=view.unit,
            created_here=view.created_here and not view.deleted,
            created_at=view.created_at,
            resolved_at=view.resolved_at,
            resolution_seconds=view.resolution_seconds,
            timers=timers,
        )

    def instants(self) -> list[float]:
        """Every instant at which this input may count in a period."""
        found = [self.created_at]
        if self.resolved_at is not None:
            found.append(self.resolved_at)
        for facts in self.timers.values():
            found += [t for t in (facts.decided_at, facts.open_deadline) if t is not None]
        return found


@dataclass(frozen=True)
class PeriodScore:
    unit: str
    period: str
    period_start: date
    received: int
    resolved: int
    resolution_p50_seconds: float | None
    resolution_p90_seconds: float | None
    response_met: int
    response_missed: int
    resolution_met: int
    resolution_missed: int

    @property
    def empty(self) -> bool:
        return not (
            self.received
            or self.resolved
            or self.response_met
            or self.response_missed
            or self.resolution_met
            or self.resolution_missed
        )

    def values(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "resolved": self.resolved,
            "resolution_p50_seconds": self.resolution_p50_seconds,
            "resolution_p90_seconds": self.resolution_p90_seconds,
            "response_met": self.response_met,
            "response_missed": self.response_missed,
            "resolution_met": self.resolution_met,
            "resolution_missed": self.resolution_missed,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            **self.values(),
        }


def periods_touched(
    item: ScoreInput, kinds: Iterable[PeriodKind] = PERIOD_KINDS
) -> set[tuple[str, PeriodKind, date]]:
    return {
        (item.unit, kind, period_start(kind, instant))
        for instant in item.instants()
        for kind in kinds
    }


def period_score(
    unit: str, kind: PeriodKind, start: date, items: Iterable[ScoreInput], watermark: float
) -> PeriodScore:
    """The score of one unit and period from its inputs (others are ignored)."""
    begin = period_start_epoch(kind, start)
    end = period_end(kind, start)

    def inside(instant: float | None) -> bool:
        return instant is not None and begin <= instant < end

    received = resolved = 0
    durations: list[float] = []
    counts = {(timer, outcome): 0 for timer in TIMER_NAMES for outcome in ("met", "missed")}
    for item in items:
        if item.unit != unit:
            continue
        if item.created_here and inside(item.created_at):
            received += 1
        if inside(item.resolved_at) and item.resolution_seconds is not None:
            resolved += 1
            durations.append(item.resolution_seconds)
        for timer, facts in item.timers.items():
            if facts.outcome is not None and inside(facts.decided_at):
                counts[(timer, facts.outcome)] += 1
            elif (
                facts.open_deadline is not None
                and facts.open_deadline <= watermark
                and inside(facts.open_deadline)
            ):
                counts[(timer, "missed")] += 1
    p50, p90 = quantiles(durations, (0.5, 0.9))
    return PeriodScore(
        unit=unit,
        period=kind,
        period_start=start,
        received=received,
        resolved=resolved,
        resolution_p50_seconds=p50,
        resolution_p90_seconds=p90,
        response_met=counts[("response", "met")],
        response_missed=counts[("response", "missed")],
        resolution_met=counts[("resolution", "met")],
        resolution_missed=counts[("resolution", "missed")],
    )


def is_final(kind: PeriodKind, start: date, watermark: float, grace_seconds: float) -> bool:
    return watermark >= period_end(kind, start) + grace_seconds


def all_period_scores(
    items: Iterable[ScoreInput], watermark: float, kinds: Iterable[PeriodKind] = PERIOD_KINDS
) -> list[PeriodScore]:
    """Every period with something in it, oldest first, then by unit and kind."""
    # An input can count only in the periods holding one of its instants: each period is
    # scored from those inputs alone, not from all of its unit's.
    by_period: dict[tuple[str, PeriodKind, date], list[ScoreInput]] = defaultdict(list)
    kinds = tuple(kinds)
    for item in items:
        for key in periods_touched(item, kinds):
            by_period[key].append(item)
    scores = [
        period_score(unit, kind, start, inputs, watermark)
        for (unit, kind, start), inputs in by_period.items()
    ]
    # Periods where nothing counted (e.g. an open timer whose deadline is still ahead) go.
    return sorted(
        (score for score in scores if not score.empty),
        key=lambda s: (s.period_start, s.unit, PERIOD_ORDER[s.period]),
    )


PERIOD_ORDER: dict[str, int] = {kind: index for index, kind in enumerate(PERIOD_KINDS)}
