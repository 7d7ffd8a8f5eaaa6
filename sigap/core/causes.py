"""Why targets are missed: causes, paused and excluded time, and the routing ledger.

Pure functions over the stored unit views (core.unit_view.UnitView), like core.feedback: no
I/O, no clock reads; the period is [begin, end) in epoch seconds and "now" is the
watermark. The stream's score writer stores the views, `sigap replay` and `sigap verify`
derive them from the events: the same views give the same figures on every path.

Misses by cause (`cause_analysis`)
    The unit's misses decided in the period, counted exactly as core.scoring counts
    `response_missed` and `resolution_missed` (a timer missed at its deadline; an open timer
    still running whose deadline is at or before the watermark), grouped by the cause the
    unit gave (`miss_explained`), or `unexplained`. Largest first. Misses removed by an
    upheld objection are counted apart (`excused`), not in the causes.
Paused and excluded time
    Over the unit's complaints whose part ended in the period (a timer decided in it,
    excused ones included, or a transfer away in it): the paused wall time while the unit
    held the complaint, by pause reason, and the wall time excluded by the registry's
    exclusions, by reason. Largest first.
Routing ledger (`routing_ledger`), "no wrong door"
    - transfers: the unit's transfers away in the period, by receiving unit and reason;
    - ping-pong: a complaint the unit sent to another unit that sent it straight back
      (A -> B -> A), counted for A at the return;
    - first-touch resolution: of the complaints created at the unit and first resolved in
      the period, the share resolved without any transfer before the resolution;
    - misrouting time: the right unit is the one holding the complaint at its first
      resolution. Every stint at another unit before the right unit's last receipt is time
      lost; it is charged to the unit that sent the complaint there (the unit itself when
      it was created there), in the period of that last receipt, as the stint's wall time
      with pauses left out. It is a separate indicator: the receiving unit's clocks start
      at its own receipt, as always.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sigap.core.cause_settings import UNEXPLAINED
from sigap.core.unit_view import TimerView, UnitView

__all__ = [
    "MAX_IDS",
    "CauseAnalysis",
    "CauseCount",
    "ReasonTime",
    "RoutingLedger",
    "TransferCount",
    "cause_analysis",
    "figure_columns",
    "missed_at",
    "routing_ledger",
    "unit_figures",
]

TIMERS: tuple[str, ...] = ("response", "resolution")
MAX_IDS = 20  # complaint ids kept behind each figure (bounded: the report links a sample)


@dataclass(frozen=True, slots=True)
class CauseCount:
    cause: str  # a vocabulary code, or "unexplained"
    response: int
    resolution: int
    complaint_ids: tuple[str, ...]  # the first MAX_IDS, sorted

    @property
    def total(self) -> int:
        return self.response + self.resolution

    @property
    def explained(self) -> bool:
        return self.cause != UNEXPLAINED


@dataclass(frozen=True, slots=True)
class ReasonTime:
    reason: str
    seconds: float
    complaints: int


@dataclass(frozen=True, slots=True)
class CauseAnalysis:
    unit: str
    misses: tuple[CauseCount, ...]  # largest first, then by cause
    excused: int  # misses removed by an upheld objection
    objections_pending: int  # misses with an objection filed and not yet decided
    extensions: int  # timers decided in the period that had an extension
    extension_days: int
    paused: tuple[ReasonTime, ...]  # largest first
    excluded: tuple[ReasonTime, ...]

    @property
    def missed(self) -> int:
        return sum(item.total for item in self.misses)

    @property
    def explained(self) -> int:
        return sum(item.total for item in self.misses if item.explained)

    @property
    def unexplained(self) -> int:
        return self.missed - self.explained

    def count(self, cause: str) -> int:
        return sum(item.total for item in self.misses if item.cause == cause)


@dataclass(frozen=True, slots=True)
class TransferCount:
    from_unit: str
    to_unit: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class RoutingLedger:
    unit: str
    transfers: tuple[TransferCount, ...]  # largest first
    ping_pongs: int
    ping_pong_ids: tuple[str, ...]
    first_touch_resolved: int
    first_touch_total: int
    misrouting_seconds: float
    misrouted_complaints: int
    misrouted_ids: tuple[str, ...]

    @property
    def first_touch_share(self) -> float | None:
        return (
            self.first_touch_resolved / self.first_touch_total if self.first_touch_total else None
        )

    @property
    def transfers_away(self) -> int:
        return sum(item.count for item in self.transfers)


def missed_at(timer: TimerView, watermark: float) -> float | None:
    """The instant a miss counts at (core.scoring's rule), excused or not; None: no miss."""
    if timer.outcome == "missed" and timer.decided_at is not None:
        return timer.decided_at
    if timer.outcome is None and timer.is_open and timer.running and timer.deadline <= watermark:
        return timer.deadline
    return None


def _own(views: Iterable[UnitView], unit: str) -> list[UnitView]:
    return [view for view in views if view.unit == unit and not view.deleted]


def _decided_at(timer: TimerView, watermark: float) -> float | None:
    missed = missed_at(timer, watermark)
    if missed is not None:
        return missed
    return timer.decided_at if timer.outcome == "met" else None


def _by_reason(items: dict[str, list[float]]) -> tuple[ReasonTime, ...]:
    rows = [ReasonTime(reason, sum(values), len(values)) for reason, values in items.items()]
    return tuple(sorted(rows, key=lambda r: (-r.seconds, r.reason)))


def cause_analysis(
    views: Iterable[UnitView], unit: str, begin: float, end: float, watermark: float
) -> CauseAnalysis:
    """Misses by cause, paused and excluded time of `unit` over [begin, end)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TIMERS, 0))
    ids: dict[str, set[str]] = defaultdict(set)
    excused = pending = extensions = extension_days = 0
    paused: dict[str, list[float]] = defaultdict(list)
    excluded: dict[str, list[float]] = defaultdict(list)
    for view in _own(views, unit):
        ended_here = any(begin <= at < end for at, _ in view.transfers_away)
        for name, timer in view.timers.items():
            if name not in TIMERS:
                continue
            decided = _decided_at(timer, watermark)
            if decided is None or not begin <= decided < end:
                continue
            ended_here = True
            if timer.extension_days:
                extensions += 1
                extension_days += timer.extension_days
            if missed_at(timer, watermark) is None:
                continue
            if timer.excused:
                excused += 1
                continue
            if timer.objection == "filed":
                pending += 1
            cause = timer.cause or UNEXPLAINED
            counts[cause][name] += 1
            ids[cause].add(view.complaint_id)
        if ended_here:
            for reason, seconds in view.paused_by_reason:
                paused[reason].append(seconds)
            for reason, seconds in view.excluded_by_reason:
                excluded[reason].append(seconds)
    misses = [
        CauseCount(cause, c["response"], c["resolution"], tuple(sorted(ids[cause])[:MAX_IDS]))
        for cause, c in counts.items()
    ]
    misses.sort(key=lambda item: (-item.total, item.cause))
    return CauseAnalysis(
        unit=unit,
        misses=tuple(misses),
        excused=excused,
        objections_pending=pending,
        extensions=extensions,
        extension_days=extension_days,
        paused=_by_reason(paused),
        excluded=_by_reason(excluded),
    )


def _right_arrival(view: UnitView) -> int | None:
    """Index in the route of the right unit's last receipt before the first resolution."""
    resolved = view.first_resolved_at
    if resolved is None or not view.route:
        return None
    index = None
    for position, stint in enumerate(view.route):
        if stint[1] <= resolved:
            index = position
    return index


def routing_ledger(views: Iterable[UnitView], unit: str, begin: float, end: float) -> RoutingLedger:
    """The routing ledger of `unit` over [begin, end) (see the module docstring)."""
    transfers: dict[tuple[str, str], int] = defaultdict(int)
    ping_ids: set[str] = set()
    ping_pongs = 0
    first_touch = first_total = 0
    lost_seconds = 0.0
    lost_ids: set[str] = set()

    def inside(at: float | None) -> bool:
        return at is not None and begin <= at < end

    for view in _own(views, unit):
        route = view.route
        for index in range(len(route) - 1):
            sender, receiver = route[index], route[index + 1]
            if sender[0] != unit or not inside(receiver[1]):
                continue
            transfers[(receiver[0], receiver[3] or "unspecified")] += 1
        for index in range(len(route) - 2):
            if (
                route[index][0] == unit
                and route[index + 2][0] == unit
                and inside(route[index + 2][1])
            ):
                ping_pongs += 1
                ping_ids.add(view.complaint_id)
        if view.created_here and inside(view.first_resolved_at):
            assert view.first_resolved_at is not None
            first_total += 1
            before = [stint for stint in route if stint[1] <= view.first_resolved_at]
            if len(before) <= 1:
                first_touch += 1
        arrival = _right_arrival(view)
        if arrival is None or not inside(route[arrival][1]):
            continue
        right = route[arrival][0]
        for index in range(arrival):
            stint = route[index]
            if stint[0] == right:
                continue
            charged = route[index - 1][0] if index > 0 else stint[0]
            if charged == unit:
                lost_seconds += stint[4]
                lost_ids.add(view.complaint_id)
    rows = [TransferCount(unit, to, reason, count) for (to, reason), count in transfers.items()]
    rows.sort(key=lambda r: (-r.count, r.to_unit, r.reason))
    return RoutingLedger(
        unit=unit,
        transfers=tuple(rows),
        ping_pongs=ping_pongs,
        ping_pong_ids=tuple(sorted(ping_ids)[:MAX_IDS]),
        first_touch_resolved=first_touch,
        first_touch_total=first_total,
        misrouting_seconds=lost_seconds,
        misrouted_complaints=len(lost_ids),
        misrouted_ids=tuple(sorted(lost_ids)[:MAX_IDS]),
    )


def figure_columns(causes: CauseAnalysis, routing: RoutingLedger) -> dict[str, Any]:
    """Every figure of a unit's period as flat named columns (for `sigap verify`): counts and
    seconds only, zero figures left out, so that absent and zero compare equal."""
    columns: dict[str, Any] = {}
    for item in causes.misses:
        for timer in TIMERS:
            columns[f"missed.{item.cause}.{timer}"] = getattr(item, timer)
    for name in ("excused", "objections_pending", "extensions", "extension_days"):
        columns[name] = getattr(causes, name)
    for prefix, rows in (("paused", causes.paused), ("excluded", causes.excluded)):
        for row in rows:
            columns[f"{prefix}.{row.reason}.seconds"] = row.seconds
            columns[f"{prefix}.{row.reason}.complaints"] = row.complaints
    for transfer in routing.transfers:
        columns[f"transfers.{transfer.to_unit}.{transfer.reason}"] = transfer.count
    columns.update(
        ping_pongs=routing.ping_pongs,
        first_touch_resolved=routing.first_touch_resolved,
        first_touch_total=routing.first_touch_total,
        misrouting_seconds=routing.misrouting_seconds,
        misrouted_complaints=routing.misrouted_complaints,
    )
    return {name: value for name, value in columns.items() if value}


def unit_figures(
    views: Iterable[UnitView], unit: str, begin: float, end: float, watermark: float
) -> dict[str, Any]:
    """figure_columns of `unit` over [begin, end), from the views (of any unit)."""
    own = _own(views, unit)
    return figure_columns(
        cause_analysis(own, unit, begin, end, watermark), routing_ledger(own, unit, begin, end)
    )
