"""Period scores from unit views: the same functions for the score writer, replay, verify,
the reports and the API. Pure: no I/O, no clock reads (the watermark is a parameter).

A score is one unit's, for one category (ALL = "*" for every category, or a view's category:
a registry category or "other") and one calendar period (day, ISO week from Monday, month,
quarter; Asia/Jakarta time; a period holds the instants start <= t < end). It is computed
from the latest view of each (unit, complaint) (core.unit_view.UnitView) of that unit, and
deleted views count for nothing. Columns (PeriodScore.values()):

- `received`: views created at this unit (created_here) with `created_at` in the period.
- `responded`: views whose first response (or a resolution without a response before it,
  which also stops the response timer) was made by this unit (`response_seconds` set), at
  the instant the response timer stopped (`timers["response"].stopped_at`) in the period.
- `response_p50/p90_wall_seconds`, `response_p50/p90_working_seconds`: exact nearest-rank
  quantiles (core.quantiles) of those responses' `response_seconds` (wall, from receipt,
  pauses excluded) and `response_working_seconds` (working time on the holders' calendars);
  None when there is none (a view without a working time is left out of the working ones).
- `resolved`: views first resolved by this unit (`resolved_at` set) in the period; the
  `resolution_p50/p90_wall_seconds` and `..._working_seconds` are the quantiles of their
  `resolution_seconds` and `resolution_working_seconds`.
- `response_met`, `response_missed`, `resolution_met`, `resolution_missed`: the unit's
  timers decided in the period, each at its `decided_at` (the stop when met, the deadline
  when missed); a timer still open and running whose deadline is at or before the
  watermark and in the period counts as missed there. A miss excused by an upheld
  objection (`TimerView.excused`) counts in neither.
- `response_within_target_share`, `resolution_within_target_share`: met / (met + missed),
  None when both are 0.
- `transfers_away`: transfers of the complaint away from this unit (`transfers_away[*].at`)
  in the period.
- `reopened`: of the `resolved` views, those reopened at least once while this unit held
  the complaint (`reopens > 0`); `reopen_rate` = reopened / resolved (None when 0 resolved).
  Views carry no reopen time, so a reopen is counted with the resolution it undid (a late
  reopen restates that resolution's period).
- `rating_count`, `rating_mean`: the citizen ratings given to this unit (`rating`), counted
  in the period of this unit's resolution of the complaint (`resolved_at`), or of its
  creation when this unit did not resolve it (views carry no rating time).
- `open_at_end`: complaints this unit held open at the period's end E. Views hold the
  latest state only (as of their `as_of`), so this is an approximation, exactly:
  a view counts iff `created_at < E`, the unit had received the complaint before E (its
  resolution timer's `received_at`, or `created_at` without one), and
    * the unit holds the complaint at `as_of` (`holder`) and it is open there (`open`): it
      counts at every period end after its receipt (a complaint reopened later also counts
      as open while it was resolved, and time away between two holdings counts as held);
    * the unit holds it and it is closed there: it counts iff it closed at or after E, the
      closing instant being `resolved_at`, else the resolution timer's `stopped_at`, else
      `as_of`;
    * the unit no longer holds it: it counts iff the unit transferred it away at or after E
      (`transfers_away`) and had not resolved it before E (`resolved_at`).

A period has a score (all_period_scores) when at least one activity column (received,
responded, resolved, the four met/missed, transfers_away, rating_count) is non-zero in it:
`open_at_end` alone does not make a row (`PeriodScore.empty`).

IKU indicators (core.iku) are computed from these values and the registry's targets.

A period is final once the watermark is past its end by the grace period (`is_final`); the
storage keeps its first final score as revision 1 and adds a revision for each later change.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sigap.core.charging import TIMERS
from sigap.core.iku import IndicatorScore, indicator_scores
from sigap.core.periods import (
    SCORE_PERIOD_KINDS,
    PeriodKind,
    period_end,
    period_start,
    period_start_epoch,
    period_start_of_day,
)
from sigap.core.quantiles import quantiles
from sigap.core.registry import Registry
from sigap.core.unit_view import UnitView

ALL = "*"  # the category of a unit's score over every category
DAY: PeriodKind = "day"
PERIOD_ORDER: dict[str, int] = {kind: index for index, kind in enumerate(SCORE_PERIOD_KINDS)}

# The columns of a score, in order (PeriodScore.values()).
COUNT_COLUMNS = (
    "received",
    "responded",
    "resolved",
    "open_at_end",
    "response_met",
    "response_missed",
    "resolution_met",
    "resolution_missed",
    "transfers_away",
    "reopened",
    "rating_count",
)
ACTIVITY_COLUMNS = (
    "received",
    "responded",
    "resolved",
    "response_met",
    "response_missed",
    "resolution_met",
    "resolution_missed",
    "transfers_away",
    "rating_count",
)
VALUE_COLUMNS = (
    "received",
    "responded",
    "resolved",
    "open_at_end",
    "response_p50_wall_seconds",
    "response_p90_wall_seconds",
    "response_p50_working_seconds",
    "response_p90_working_seconds",
    "resolution_p50_wall_seconds",
    "resolution_p90_wall_seconds",
    "resolution_p50_working_seconds",
    "resolution_p90_working_seconds",
    "response_met",
    "response_missed",
    "resolution_met",
    "resolution_missed",
    "response_within_target_share",
    "resolution_within_target_share",
    "transfers_away",
    "reopened",
    "reopen_rate",
    "rating_count",
    "rating_mean",
)


def is_empty(values: Mapping[str, Any]) -> bool:
    """No activity in the period (open_at_end alone does not count): such a period has no
    score in all_period_scores, and the storage does not show a provisional one."""
    return not any(values[column] for column in ACTIVITY_COLUMNS)


@dataclass(frozen=True)
class TimerFacts:
    decided_at: float | None  # when the outcome was decided; None while undecided
    outcome: str | None
    open_deadline: float | None  # the deadline of a running, undecided timer


@dataclass(frozen=True)
class ScoreInput:
    """What one (unit, complaint) view contributes to its unit's period scores."""

    unit: str
    created_here: bool
    created_at: float
    resolved_at: float | None
    resolution_seconds: float | None
    timers: Mapping[str, TimerFacts] = field(default_factory=dict)
    category: str = "other"
    channel: str | None = None
    deleted: bool = False
    received_at: float | None = None  # this unit's receipt (default: created_at)
    responded_at: float | None = None  # the response timer's stop, when this unit responded
    response_seconds: float | None = None
    response_working_seconds: float | None = None
    resolution_working_seconds: float | None = None
    transfers_away: tuple[float, ...] = ()
    reopens: int = 0
    rating: int | None = None
    holder: bool = False
    open: bool = False
    closed_at: float | None = None  # for a holder whose complaint is closed at as_of

    @classmethod
    def from_view(cls, view: UnitView) -> ScoreInput:
        timers = {}
        for name, timer in view.timers.items():
            if timer.excused:
                continue  # an upheld objection removed the miss (core.timeline rule 11)
            running_open = timer.is_open and timer.running
            timers[name] = TimerFacts(
                decided_at=timer.decided_at if timer.outcome is not None else None,
                outcome=timer.outcome,
                open_deadline=timer.deadline if running_open else None,
            )
        resolution = view.timers.get("resolution")
        response = view.timers.get("response")
        responded_at = None
        if view.response_seconds is not None and response is not None:
            responded_at = response.stopped_at
        closed_at = None
        if view.holder and not view.open:
            closed_at = view.resolved_at
            if closed_at is None and resolution is not None:
                closed_at = resolution.stopped_at
            if closed_at is None:
                closed_at = view.as_of
        return cls(
            unit=view.unit,
            created_here=view.created_here and not view.deleted,
            created_at=view.created_at,
            resolved_at=view.resolved_at,
            resolution_seconds=view.resolution_seconds,
            timers=timers,
            category=view.category,
            channel=view.channel,
            deleted=view.deleted,
            received_at=resolution.received_at if resolution is not None else None,
            responded_at=responded_at,
            response_seconds=view.response_seconds,
            response_working_seconds=view.response_working_seconds,
            resolution_working_seconds=view.resolution_working_seconds,
            transfers_away=tuple(at for at, _ in view.transfers_away),
            reopens=view.reopens,
            rating=view.rating,
            holder=view.holder,
            open=view.open,
            closed_at=closed_at,
        )

    @property
    def rating_at(self) -> float:
        return self.resolved_at if self.resolved_at is not None else self.created_at

    def instants(self) -> list[float]:
        """Every instant at which this input may count in an activity column."""
        if self.deleted:
            return []
        found = [self.created_at, *self.transfers_away]
        for instant in (self.resolved_at, self.responded_at):
            if instant is not None:
                found.append(instant)
        for facts in self.timers.values():
            found += [t for t in (facts.decided_at, facts.open_deadline) if t is not None]
        return found

    def open_span(self) -> tuple[float, float] | None:
        """(s, u): this input counts in open_at_end of a period ending at E iff s < E <= u
        (u = inf while it is open here); None if at no E. See the module docstring."""
        if self.deleted:
            return None
        received = self.received_at if self.received_at is not None else self.created_at
        since = max(self.created_at, received)
        if self.holder:
            until = math.inf if self.open or self.closed_at is None else self.closed_at
        elif self.transfers_away:
            until = max(self.transfers_away)
            if self.resolved_at is not None:
                until = min(until, self.resolved_at)
        else:
            return None
        return (since, until) if until > since else None

    def open_at(self, end: float) -> bool:
        """Counted in open_at_end of a period ending at `end`."""
        span = self.open_span()
        return span is not None and span[0] < end <= span[1]


ScoreItem = ScoreInput | UnitView


def as_input(item: ScoreItem) -> ScoreInput:
    return item if isinstance(item, ScoreInput) else ScoreInput.from_view(item)


@dataclass(frozen=True)
class PeriodScore:
    unit: str
    category: str
    period: str
    period_start: date
    received: int
    responded: int
    resolved: int
    open_at_end: int
    response_p50_wall_seconds: float | None
    response_p90_wall_seconds: float | None
    response_p50_working_seconds: float | None
    response_p90_working_seconds: float | None
    resolution_p50_wall_seconds: float | None
    resolution_p90_wall_seconds: float | None
    resolution_p50_working_seconds: float | None
    resolution_p90_working_seconds: float | None
    response_met: int
    response_missed: int
    resolution_met: int
    resolution_missed: int
    response_within_target_share: float | None
    resolution_within_target_share: float | None
    transfers_away: int
    reopened: int
    reopen_rate: float | None
    rating_count: int
    rating_mean: float | None
    indicators: tuple[IndicatorScore, ...] = ()

    @property
    def empty(self) -> bool:
        return is_empty(self.values())

    def values(self) -> dict[str, Any]:
        return {column: getattr(self, column) for column in VALUE_COLUMNS}

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "category": self.category,
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            **self.values(),
            "indicators": [indicator.as_json() for indicator in self.indicators],
        }


def _share(met: int, missed: int) -> float | None:
    return met / (met + missed) if met + missed else None


class _Totals:
    """What the inputs add to a period's values before the quantiles and ratios: counts and
    the samples. Additive: the totals of a period are the sum of its days' totals (every
    column counts an input at an instant inside the period, and a period is a run of whole
    Jakarta days), so week, month and quarter are merged from the days' totals."""

    __slots__ = (
        "counts",
        "ratings",
        "resolution_wall",
        "resolution_working",
        "response_wall",
        "response_working",
        "timer_counts",
    )

    def __init__(self) -> None:
        self.counts = dict.fromkeys(COUNT_COLUMNS, 0)
        self.response_wall: list[float] = []
        self.response_working: list[float] = []
        self.resolution_wall: list[float] = []
        self.resolution_working: list[float] = []
        self.ratings: list[int] = []
        self.timer_counts = {
            (timer, outcome): 0 for timer in TIMERS for outcome in ("met", "missed")
        }

    def add(
        self,
        items: Iterable[ScoreInput],
        begin: float,
        end: float,
        watermark: float,
        *,
        count_open: bool,
    ) -> None:
        """Add the inputs' activity inside [begin, end); `count_open`: also count the inputs
        open at `end` (otherwise the caller knows open_at_end)."""

        def inside(instant: float | None) -> bool:
            return instant is not None and begin <= instant < end

        counts = self.counts
        timer_counts = self.timer_counts
        for item in items:
            if item.deleted:
                continue
            if item.created_here and inside(item.created_at):
                counts["received"] += 1
            if inside(item.responded_at) and item.response_seconds is not None:
                counts["responded"] += 1
                self.response_wall.append(item.response_seconds)
                if item.response_working_seconds is not None:
                    self.response_working.append(item.response_working_seconds)
            if inside(item.resolved_at) and item.resolution_seconds is not None:
                counts["resolved"] += 1
                self.resolution_wall.append(item.resolution_seconds)
                if item.resolution_working_seconds is not None:
                    self.resolution_working.append(item.resolution_working_seconds)
                if item.reopens > 0:
                    counts["reopened"] += 1
            if count_open and item.open_at(end):
                counts["open_at_end"] += 1
            counts["transfers_away"] += sum(1 for at in item.transfers_away if inside(at))
            if item.rating is not None and inside(item.rating_at):
                self.ratings.append(item.rating)
            for timer, facts in item.timers.items():
                if timer not in TIMERS:
                    continue
                if facts.outcome is not None and inside(facts.decided_at):
                    timer_counts[(timer, facts.outcome)] += 1
                elif (
                    facts.outcome is None
                    and facts.open_deadline is not None
                    and facts.open_deadline <= watermark
                    and inside(facts.open_deadline)
                ):
                    timer_counts[(timer, "missed")] += 1

    def merge(self, other: _Totals) -> None:
        for column, count in other.counts.items():
            self.counts[column] += count
        for key, count in other.timer_counts.items():
            self.timer_counts[key] += count
        self.response_wall += other.response_wall
        self.response_working += other.response_working
        self.resolution_wall += other.resolution_wall
        self.resolution_working += other.resolution_working
        self.ratings += other.ratings

    def values(self, open_at_end: int | None) -> dict[str, Any]:
        """The VALUE_COLUMNS (`open_at_end` given: that count instead of the one added)."""
        counts = dict(self.counts)
        ratings = self.ratings
        counts["rating_count"] = len(ratings)
        if open_at_end is not None:
            counts["open_at_end"] = open_at_end
        for (timer, outcome), count in self.timer_counts.items():
            counts[f"{timer}_{outcome}"] = count
        # Nearest-rank quantiles and fsum do not depend on the order of the samples.
        rsp50, rsp90 = quantiles(self.response_wall, (0.5, 0.9))
        rspw50, rspw90 = quantiles(self.response_working, (0.5, 0.9))
        res50, res90 = quantiles(self.resolution_wall, (0.5, 0.9))
        resw50, resw90 = quantiles(self.resolution_working, (0.5, 0.9))
        values: dict[str, Any] = {
            **counts,
            "response_p50_wall_seconds": rsp50,
            "response_p90_wall_seconds": rsp90,
            "response_p50_working_seconds": rspw50,
            "response_p90_working_seconds": rspw90,
            "resolution_p50_wall_seconds": res50,
            "resolution_p90_wall_seconds": res90,
            "resolution_p50_working_seconds": resw50,
            "resolution_p90_working_seconds": resw90,
            "response_within_target_share": _share(
                counts["response_met"], counts["response_missed"]
            ),
            "resolution_within_target_share": _share(
                counts["resolution_met"], counts["resolution_missed"]
            ),
            "reopen_rate": counts["reopened"] / counts["resolved"] if counts["resolved"] else None,
            "rating_mean": math.fsum(ratings) / len(ratings) if ratings else None,
        }
        return {column: values[column] for column in VALUE_COLUMNS}


def period_values(
    kind: PeriodKind,
    start: date,
    items: Iterable[ScoreInput],
    watermark: float,
    *,
    open_at_end: int | None = None,
) -> dict[str, Any]:
    """The values (VALUE_COLUMNS) of the given inputs, all taken as the unit's and
    category's, over one period (`open_at_end` given: that count, not the inputs')."""
    totals = _Totals()
    totals.add(
        items,
        period_start_epoch(kind, start),
        period_end(kind, start),
        watermark,
        count_open=open_at_end is None,
    )
    return totals.values(open_at_end)


def period_score(
    unit: str,
    kind: PeriodKind,
    start: date,
    items: Iterable[ScoreItem],
    watermark: float,
    *,
    category: str = ALL,
    channel: str | None = None,
    registry: Registry | None = None,
) -> PeriodScore:
    """The score of one unit, category (ALL for every one) and period from views or score
    inputs; those of other units, categories (and channels, when given) are ignored.

    The IKU targets come from `registry` (the defaults without one)."""
    selected = [
        entry
        for entry in map(as_input, items)
        if entry.unit == unit
        and (category == ALL or entry.category == category)
        and (channel is None or entry.channel == channel)
    ]
    values = period_values(kind, start, selected, watermark)
    return scored(unit, category, kind, start, values, registry)


def scored(
    unit: str,
    category: str,
    kind: PeriodKind,
    start: date,
    values: Mapping[str, Any],
    registry: Registry | None,
) -> PeriodScore:
    """The PeriodScore of a (unit, category, period) from its values (VALUE_COLUMNS), with
    its IKU indicators (the registry's targets; the defaults without one)."""
    return PeriodScore(
        unit=unit,
        category=category,
        period=kind,
        period_start=start,
        **values,
        indicators=indicator_scores(unit, category, values, registry),
    )


def is_final(kind: PeriodKind, start: date, watermark: float, grace_seconds: float) -> bool:
    return watermark >= period_end(kind, start) + grace_seconds


ScoreKey = tuple[str, str, PeriodKind, date]  # (unit, category, kind, start)


def periods_touched(
    item: ScoreItem, kinds: Iterable[PeriodKind] = SCORE_PERIOD_KINDS
) -> set[ScoreKey]:
    """The (unit, category, kind, start) of every period where the item has activity, for
    the category ALL and the item's own category."""
    entry = as_input(item)
    kinds = tuple(kinds)
    starts = {(kind, period_start(kind, instant)) for instant in entry.instants() for kind in kinds}
    return {
        (entry.unit, category, kind, start)
        for kind, start in starts
        for category in (ALL, entry.category)
    }


def sort_key(score: PeriodScore) -> tuple[date, str, int, bool, str]:
    """Oldest first, then by unit, period kind (day first), category (ALL first)."""
    return (
        score.period_start,
        score.unit,
        PERIOD_ORDER[score.period],
        score.category != ALL,
        score.category,
    )


def all_period_scores(
    items: Iterable[ScoreItem],
    watermark: float,
    kinds: Iterable[PeriodKind] = SCORE_PERIOD_KINDS,
    registry: Registry | None = None,
) -> list[PeriodScore]:
    """Every (unit, category, period) with activity (not `empty`), for the category ALL and
    each category seen; sorted by `sort_key`. The same values as period_score over all the
    items (a test checks it), from each day's totals (only the inputs with activity that day)
    merged into weeks, months and quarters, and open_at_end by counting the open spans
    around the period's end."""
    kinds = tuple(kinds)
    groups: dict[tuple[str, str], list[ScoreInput]] = defaultdict(list)
    for item in items:
        entry = as_input(item)
        if entry.deleted:
            continue
        groups[(entry.unit, ALL)].append(entry)
        groups[(entry.unit, entry.category)].append(entry)
    days_of: dict[int, set[date]] = {}
    scores = []
    for (unit, category), entries in groups.items():
        for kind, start, values in group_period_values(entries, watermark, kinds, days_of):
            if is_empty(values):
                continue  # e.g. only an open timer whose deadline is still ahead
            scores.append(scored(unit, category, kind, start, values, registry))
    return sorted(scores, key=sort_key)


def group_period_values(
    entries: Sequence[ScoreInput],
    watermark: float,
    kinds: tuple[PeriodKind, ...],
    days_of: dict[int, set[date]],
    *,
    also: Mapping[PeriodKind, Iterable[date]] | None = None,
    only: Mapping[PeriodKind, Collection[date]] | None = None,
) -> Iterator[tuple[PeriodKind, date, dict[str, Any]]]:
    """(kind, start, values) of every period of `kinds` in which one group of inputs (all
    taken as one unit's and category's) has activity, and of the period starts in `also`
    (activity or not): the values of period_values over the group, computed from each
    day's totals (only the inputs with activity that day) merged into weeks, months and
    quarters (_Totals is additive), and open_at_end by counting the open spans around the
    period's end, instead of going over every input for every period.

    `only`: of those, just the periods whose start it lists for their kind, and only the
    days inside them are totalled. The values are the same (a period's come from its own
    days and from the open spans), for a fraction of the work when one period is wanted:
    the score writer rewrites one (unit, category, period) at a time, and computing every
    period of its views there computed ~100 periods for each one kept on a four-year export
    (bench/RESULTS.md).

    `days_of` remembers each input's Jakarta days by id(): pass the same dict for groups
    that share inputs (every input is in its category's group and in ALL's)."""
    spans = [span for span in map(ScoreInput.open_span, entries) if span is not None]
    since = sorted(s for s, _ in spans)
    until = sorted(u for _, u in spans)
    on_day: dict[date, list[ScoreInput]] = defaultdict(list)
    for entry in entries:
        days = days_of.get(id(entry))
        if days is None:
            days = days_of[id(entry)] = {period_start(DAY, t) for t in entry.instants()}
        for day in days:
            on_day[day].append(entry)
    if only is not None:
        wanted = [(kind, only.get(kind, ())) for kind in kinds]
        on_day = defaultdict(
            list,
            {
                day: inside
                for day, inside in on_day.items()
                if any(period_start_of_day(kind, day) in starts for kind, starts in wanted)
            },
        )
    day_totals: dict[date, _Totals] = {}
    for day, inside in on_day.items():
        totals = day_totals[day] = _Totals()
        totals.add(
            inside, period_start_epoch(DAY, day), period_end(DAY, day), watermark, count_open=False
        )
    for kind in kinds:
        periods: dict[date, _Totals]
        if kind == DAY:
            periods = dict(day_totals)
        else:
            periods = {}
            for day, totals in day_totals.items():
                start = period_start_of_day(kind, day)
                merged = periods.get(start)
                if merged is None:
                    merged = periods[start] = _Totals()
                merged.merge(totals)
        if also is not None:
            for start in also.get(kind, ()):
                if start not in periods:
                    periods[start] = _Totals()
        if only is not None:
            starts = only.get(kind, ())
            periods = {start: totals for start, totals in periods.items() if start in starts}
        for start, totals in periods.items():
            end = period_end(kind, start)
            # Spans with s < E, less those also ending before E (u < E implies s < E).
            open_count = bisect_left(since, end) - bisect_left(until, end)
            yield kind, start, totals.values(open_count)


__all__ = [
    "ACTIVITY_COLUMNS",
    "ALL",
    "PERIOD_ORDER",
    "VALUE_COLUMNS",
    "PeriodScore",
    "ScoreInput",
    "TimerFacts",
    "all_period_scores",
    "group_period_values",
    "is_empty",
    "is_final",
    "period_score",
    "period_values",
    "periods_touched",
    "scored",
    "sort_key",
]
