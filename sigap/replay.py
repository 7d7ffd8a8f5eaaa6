"""`sigap replay`: the KPIs and unit scores of an event file, without Kafka.

The same core functions as the streaming worker: each event is validated with the worker's
rules (core.complaint_state), each complaint evaluated once (core.timeline) into unit views,
the views folded into per-unit KPIs (core.unit_kpis) at the end of the data, and the daily
scores computed by core.scoring. Only reading the file and printing live here.
"""

from __future__ import annotations

import heapq
import multiprocessing
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from metrics.names import RESOLUTION_BUCKETS, histogram_bounds
from schemas.events import ComplaintEvent, EventRejected, check_event_time
from sigap.core.complaint_state import ComplaintState, current_views, record_event
from sigap.core.officer_scores import OfficerScore, officer_period_scores
from sigap.core.periods import period_kind
from sigap.core.registry import Registry
from sigap.core.scoring import PeriodScore, ScoreInput, all_period_scores, sort_key
from sigap.core.unit_kpis import ALL_CATEGORIES, UnitKpis, UnitSnapshot
from sigap.core.unit_view import UnitView
from sigap.core.worklist import WorklistPage, open_timers_of_view, worklist


@dataclass
class ReplayResult:
    events: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    watermark: float | None = None
    views: list[UnitView] = field(default_factory=list)
    units: dict[str, UnitSnapshot] = field(default_factory=dict)
    scores: list[PeriodScore] = field(default_factory=list)
    officer_scores: list[OfficerScore] = field(default_factory=list)


def replay(
    events: Iterable[ComplaintEvent],
    registry: Registry,
    *,
    reference_epoch: float | None = None,
    as_of: float | None = None,
    workers: int = 1,
) -> ReplayResult:
    """Every KPI of the events; `as_of` defaults to the latest event time (the watermark).

    `workers` > 1: the same result from that many processes (forked, Linux), sharded by
    complaint for the complaint stage and then by unit for the unit KPIs and the scores
    (see `_parallel_replay`)."""
    if workers > 1:
        return _parallel_replay(list(events), registry, reference_epoch, as_of, workers)
    result = ReplayResult()
    states, latest = _record(enumerate(events), registry, reference_epoch, result)
    watermark = as_of if as_of is not None else latest
    result.watermark = watermark
    # A fresh state: its current views are the ones a worker would send (no hashes to keep).
    for _, state in states.values():
        result.views.extend(current_views(state, registry))
    if watermark is not None:
        result.units, result.scores, result.officer_scores = _unit_results(
            result.views, registry, watermark, None
        )
    return result


def _record(
    events: Iterable[tuple[int, ComplaintEvent]],
    registry: Registry,
    reference_epoch: float | None,
    result: ReplayResult,
) -> tuple[dict[str, tuple[int, ComplaintState]], float | None]:
    """The complaint stage's validation of every event (counted in `result`): each
    complaint's state, with the input position of its first event, and the latest event time.
    """
    states: dict[str, tuple[int, ComplaintState]] = {}
    latest: float | None = None
    for position, event in events:
        result.events += 1
        try:
            check_event_time(event, reference_epoch)
            entry = states.get(event.complaint_id)
            if entry is None:
                entry = states[event.complaint_id] = (position, ComplaintState())
            dropped = record_event(entry[1], event, registry)
        except EventRejected as rejected:
            result.rejected[rejected.reason] += 1
            continue
        result.accepted += 1 - len(dropped)
        for _, reason in dropped:
            result.rejected[reason] += 1
        occurred_at = event.occurred_at.timestamp()
        latest = occurred_at if latest is None else max(latest, occurred_at)
    return states, latest


def _unit_results(
    views: Iterable[UnitView], registry: Registry, watermark: float, units: Iterable[str] | None
) -> tuple[dict[str, UnitSnapshot], list[PeriodScore], list[OfficerScore]]:
    """The unit stage on the views (in order): KPI snapshots of `units` (default: the
    registry's and every unit counted), the period scores and the officers' period scores
    (core.officer_scores), at the watermark."""
    views = list(views)
    bounds = histogram_bounds(registry)
    kpis = UnitKpis(bounds, bounds, resolution_bounds=RESOLUTION_BUCKETS)
    for view in views:
        # Every event is in: outcomes are final as of the watermark, nothing is late.
        kpis.apply(view, None, float("-inf"))
    wanted = sorted({*registry.units, *kpis.counters}) if units is None else sorted(units)
    snapshots = kpis.snapshot(wanted, watermark)
    scores = all_period_scores(
        (ScoreInput.from_view(view) for view in views), watermark, registry=registry
    )
    officer_scores = officer_period_scores(
        views,
        watermark,
        registry=registry,
        unit_keys=[
            (score.unit, score.category, period_kind(score.period), score.period_start)
            for score in scores
        ],
    )
    return snapshots, scores, officer_scores


# --- Parallel replay -------------------------------------------------------------------
#
# Stage 1, by complaint: process i records the events of the complaints with
# crc32(complaint_id) % N == i, in input order, and evaluates each of them into its views.
# The parent puts the views back in the order of each complaint's first event (the sequential
# replay's order). Stage 2, by unit: process j applies the views of the units with
# crc32(unit) % N == j, in that order, and computes their snapshots and period scores; a unit's
# KPIs and scores depend on its own views only. The shards reach the children by fork (no
# pickling of the events), only the results come back pickled.

_SHARDS: list[Any] = []
_SHARED: dict[str, Any] = {}


def _shard_of(key: str, workers: int) -> int:
    return zlib.crc32(key.encode()) % workers


def _complaint_shard(index: int) -> tuple[ReplayResult, list[tuple[int, list[UnitView]]], Any]:
    registry: Registry = _SHARED["registry"]
    partial = ReplayResult()
    states, latest = _record(_SHARDS[index], registry, _SHARED["reference_epoch"], partial)
    views = [(first, current_views(state, registry)) for first, state in states.values()]
    return partial, views, latest


def _unit_shard(
    index: int,
) -> tuple[dict[str, UnitSnapshot], list[PeriodScore], list[OfficerScore]]:
    views, units = _SHARDS[index]
    return _unit_results(views, _SHARED["registry"], _SHARED["watermark"], units)


def _parallel_replay(
    events: list[ComplaintEvent],
    registry: Registry,
    reference_epoch: float | None,
    as_of: float | None,
    workers: int,
) -> ReplayResult:
    context = multiprocessing.get_context("fork")
    shards: list[list[tuple[int, ComplaintEvent]]] = [[] for _ in range(workers)]
    for position, event in enumerate(events):
        shards[_shard_of(event.complaint_id, workers)].append((position, event))
    _SHARDS[:] = shards
    _SHARED.update(registry=registry, reference_epoch=reference_epoch)
    try:
        with context.Pool(workers) as pool:
            stage1 = pool.map(_complaint_shard, range(workers))
        result = ReplayResult()
        latest: float | None = None
        for partial, _, shard_latest in stage1:
            result.events += partial.events
            result.accepted += partial.accepted
            result.rejected.update(partial.rejected)
            if shard_latest is not None:
                latest = shard_latest if latest is None else max(latest, shard_latest)
        # Each shard's complaints come in the order of their first event: merge them.
        for _, views in heapq.merge(*(views for _, views, _ in stage1), key=lambda item: item[0]):
            result.views.extend(views)
        result.rejected = Counter(dict(sorted(result.rejected.items())))
        watermark = as_of if as_of is not None else latest
        result.watermark = watermark
        if watermark is None:
            return result
        units = sorted({*registry.units, *(view.unit for view in result.views)})
        by_unit: list[tuple[list[UnitView], list[str]]] = [([], []) for _ in range(workers)]
        for unit in units:
            by_unit[_shard_of(unit, workers)][1].append(unit)
        for view in result.views:
            by_unit[_shard_of(view.unit, workers)][0].append(view)
        _SHARDS[:] = by_unit
        _SHARED["watermark"] = watermark
        with context.Pool(workers) as pool:
            stage2 = pool.map(_unit_shard, range(workers))
    finally:
        _SHARDS.clear()
        _SHARED.clear()
    snapshots: dict[str, UnitSnapshot] = {}
    for shard_snapshots, _, _ in stage2:
        snapshots.update(shard_snapshots)
    result.units = {unit: snapshots[unit] for unit in units}
    result.scores = sorted((score for _, scores, _ in stage2 for score in scores), key=sort_key)
    result.officer_scores = sorted(
        (score for _, _, officer_scores in stage2 for score in officer_scores),
        key=lambda item: (*sort_key(item.score), item.officer),
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
        "officer_scores": [score.as_json() for score in result.officer_scores],
    }


def counted(events: Iterator[ComplaintEvent], progress: Any) -> Iterator[ComplaintEvent]:
    """Pass events through, advancing a progress bar."""
    for event in events:
        progress()
        yield event


def replay_worklist(
    result: ReplayResult,
    unit: str,
    watermark: float,
    registry: Registry,
    *,
    min_level: float = 0.5,
    timer: str | None = None,
    offset: int = 0,
    limit: int = 500,
) -> WorklistPage:
    """A unit's overdue worklist at ``watermark`` from the replayed views: what the live
    worker's `GET /api/units/{unit}/overdue` shows at the same watermark."""
    items = [
        item for view in result.views if view.unit == unit for item in open_timers_of_view(view)
    ]
    return worklist(
        items,
        watermark,
        registry.calendar_for(unit),
        min_level=min_level,
        timer=timer,
        offset=offset,
        limit=limit,
    )
