"""`sigap replay`: the KPIs and unit scores of an event file, without Kafka.

The same core functions as the streaming worker: each event is validated with the worker's
rules (core.complaint_state), each complaint evaluated once (core.timeline) into unit views,
the views folded into per-unit KPIs (core.unit_kpis) at the end of the data, and the daily
scores computed by core.scoring. Only reading the file and printing live here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.complaint_state import ComplaintState, changed_views, record_event
from core.registry import Registry
from core.scoring import PeriodScore, ScoreInput, all_period_scores
from core.totals import RESOLUTION_BUCKETS
from core.unit_kpis import ALL_CATEGORIES, UnitKpis, UnitSnapshot
from core.unit_view import UnitView, target_bucket_bounds
from schemas.events import ComplaintEvent, EventRejected, check_event_time


@dataclass
class ReplayResult:
    events: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    watermark: float | None = None
    views: list[UnitView] = field(default_factory=list)
    units: dict[str, UnitSnapshot] = field(default_factory=dict)
    scores: list[PeriodScore] = field(default_factory=list)


def replay(
    events: Iterable[ComplaintEvent],
    registry: Registry,
    *,
    reference_epoch: float | None = None,
    as_of: float | None = None,
) -> ReplayResult:
    """Every KPI of the events; `as_of` defaults to the latest event time (the watermark)."""
    result = ReplayResult()
    states: dict[str, ComplaintState] = {}
    latest: float | None = None
    for event in events:
        result.events += 1
        try:
            check_event_time(event, reference_epoch)
            state = states.setdefault(event.complaint_id, ComplaintState())
            dropped = record_event(state, event, registry)
        except EventRejected as rejected:
            result.rejected[rejected.reason] += 1
            continue
        result.accepted += 1 - len(dropped)
        for _, reason in dropped:
            result.rejected[reason] += 1
        occurred_at = event.occurred_at.timestamp()
        latest = occurred_at if latest is None else max(latest, occurred_at)
    watermark = as_of if as_of is not None else latest
    result.watermark = watermark
    bounds = tuple(sorted(set(RESOLUTION_BUCKETS) | set(target_bucket_bounds(registry))))
    kpis = UnitKpis(bounds, bounds)
    for state in states.values():
        for view in changed_views(state, registry):
            result.views.append(view)
            # Every event is in: outcomes are final as of the watermark, nothing is late.
            kpis.apply(view, None, float("-inf"))
    if watermark is not None:
        units = sorted({*registry.units, *kpis.counters})
        result.units = kpis.snapshot(units, watermark)
    if watermark is not None:
        result.scores = all_period_scores(
            (ScoreInput.from_view(view) for view in result.views), watermark, registry=registry
        )
    return result


def unit_summary(unit: str, snapshot: UnitSnapshot) -> dict[str, Any]:
    counters = snapshot.counters
    sla = {
        timer: {
            "met": counters.sla.get(f"{timer}:met", 0),
            "missed": counters.sla.get(f"{timer}:missed", 0) + snapshot.sla_missed_open[timer],
        }
        for timer in ("response", "resolution")
    }
    windows = {
        timer: {
            window: {
                "count": stats.count,
                # Wall and working seconds are separate samples (docs/metrics.md).
                "by_clock": {
                    clock: {
                        "count": clock_stats.count,
                        "p50_seconds": clock_stats.p50,
                        "p90_seconds": clock_stats.p90,
                    }
                    for clock, clock_stats in stats.by_clock.items()
                },
                "within_target_ratio": stats.within_target_ratio,
            }
            for window, stats in per_window.items()
        }
        for (timer, category), per_window in sorted(snapshot.windows.items())
        if category == ALL_CATEGORIES
    }
    return {
        "unit": unit,
        "created": counters.created,
        "resolved": counters.resolved,
        "open": snapshot.open_complaints,
        "reopened": counters.reopened,
        "transfers_away": sum(counters.transfers.values()),
        "sla": sla,
        "open_past_target": {
            f"{timer}:{threshold:g}": count
            for (timer, threshold), count in sorted(snapshot.open_past.items())
        },
        "windows": windows,
    }


def result_json(result: ReplayResult) -> dict[str, Any]:
    return {
        "events": result.events,
        "accepted": result.accepted,
        "rejected": dict(sorted(result.rejected.items())),
        "watermark": result.watermark,
        "units": [
            unit_summary(unit, snapshot)
            for unit, snapshot in sorted(result.units.items())
            if snapshot.counters.created or snapshot.counters.resolved or snapshot.open_complaints
        ],
        "scores": [score.as_json() for score in result.scores],
    }


def counted(events: Iterator[ComplaintEvent], progress: Any) -> Iterator[ComplaintEvent]:
    """Pass events through, advancing a progress bar."""
    for event in events:
        progress()
        yield event
