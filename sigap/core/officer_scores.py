"""Per (unit, officer, category, period) scores: the same columns and IKU indicators as the
unit scores (core.scoring), from the officer split of the unit views (core.officers).

Each officer's share of a view becomes a `ScoreInput` of the unit (its `received`,
responses, resolutions, decided timers, open deadlines, transfers and rating), so the
officer's score is computed like `core.scoring.all_period_scores` over that officer's
inputs (`period_values`), with the unit's IKU targets. An officer held a unit's open
complaint over one or more pieces of the unit's open span: the first piece rides on the
officer's input, every further piece on an input without activity (it only counts in `open_at_end`).

A view without an officer split (no officer code in the complaint) is entirely the unit's
`unassigned` officer's. Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sigap.core.officer_view import UNASSIGNED, OfficerView
from sigap.core.periods import SCORE_PERIOD_KINDS, PeriodKind
from sigap.core.registry import Registry
from sigap.core.scoring import (
    ALL,
    PeriodScore,
    ScoreInput,
    ScoreKey,
    TimerFacts,
    group_period_values,
    is_empty,
    scored,
    sort_key,
)
from sigap.core.unit_view import UnitView

__all__ = [
    "OfficerInputCache",
    "OfficerScore",
    "held_seconds",
    "officer_inputs",
    "officer_period_scores",
]


@dataclass(frozen=True)
class OfficerScore:
    officer: str
    score: PeriodScore

    @property
    def unit(self) -> str:
        return self.score.unit

    def as_json(self) -> dict[str, Any]:
        """The unit score's JSON with `officer` after `unit` (the same column names)."""
        encoded = self.score.as_json()
        return {"unit": encoded.pop("unit"), "officer": self.officer, **encoded}


def _span_input(view: UnitView, since: float, until: float | None) -> ScoreInput:
    """An input without activity that is open in (since, until] only."""
    return ScoreInput(
        unit=view.unit,
        created_here=False,
        created_at=view.created_at,
        resolved_at=None,
        resolution_seconds=None,
        category=view.category,
        channel=view.channel,
        received_at=since,
        holder=True,
        open=until is None,
        closed_at=until,
    )


def _officer_input(view: UnitView, officer: OfficerView) -> list[ScoreInput]:
    timers = {}
    for timer, (kind, instant) in officer.timers.items():
        if kind == "open":
            timers[timer] = TimerFacts(decided_at=None, outcome=None, open_deadline=instant)
        else:
            timers[timer] = TimerFacts(decided_at=instant, outcome=kind, open_deadline=None)
    response = view.timers.get("response")
    first_span = officer.spans[0] if officer.spans else None
    since = first_span[0] if first_span is not None else view.created_at
    until: float | None = first_span[1] if first_span is not None else view.created_at
    main = ScoreInput(
        unit=view.unit,
        created_here=officer.received,
        created_at=view.created_at,
        resolved_at=view.resolved_at if officer.resolved else None,
        resolution_seconds=view.resolution_seconds if officer.resolved else None,
        timers=timers,
        category=view.category,
        channel=view.channel,
        # The open span of this input is exactly its first piece (ScoreInput.open_span).
        received_at=max(since, view.created_at),
        responded_at=(response.stopped_at if officer.responded and response is not None else None),
        response_seconds=view.response_seconds if officer.responded else None,
        response_working_seconds=view.response_working_seconds if officer.responded else None,
        resolution_working_seconds=(view.resolution_working_seconds if officer.resolved else None),
        transfers_away=officer.transfers_away,
        reopens=view.reopens if officer.resolved else 0,
        rating=view.rating if officer.rated else None,
        holder=True,
        open=first_span is not None and until is None,
        closed_at=until,
    )
    extra = [_span_input(view, lo, hi) for lo, hi in officer.spans[1:]]
    return [main, *extra]


def officer_inputs(view: UnitView) -> Iterator[tuple[str, ScoreInput]]:
    """(officer, input) for every officer's share of the view (deleted views: none)."""
    if view.deleted:
        return
    if view.officers is None:
        yield UNASSIGNED, ScoreInput.from_view(view)
        return
    for officer in view.officers:
        for entry in _officer_input(view, officer):
            yield officer.officer, entry


@dataclass
class OfficerInputCache:
    """The officer inputs of views and their Jakarta days, kept across calls of
    officer_period_scores on the same view objects: the score writer writes a period's rows
    category by category, and the same views count in a day, its week, month and quarter.
    Keyed by id(): the views must outlive the cache (the writer keeps both for one batch)."""

    inputs: dict[int, list[tuple[str, ScoreInput]]] = field(default_factory=dict)
    days_of: dict[int, set[date]] = field(default_factory=dict)


def officer_period_scores(
    views: Iterable[UnitView],
    watermark: float,
    kinds: Iterable[PeriodKind] = SCORE_PERIOD_KINDS,
    registry: Registry | None = None,
    *,
    unit_keys: Iterable[ScoreKey] = (),
    only_unit_keys: bool = False,
    cache: OfficerInputCache | None = None,
) -> list[OfficerScore]:
    """Every (unit, officer, category, period) with activity, as core.scoring
    all_period_scores does for units; and, for each (unit, category, period) of `unit_keys`
    (the unit scores' keys), every officer who held some of the unit's open complaints at
    its end, so that the officers' rows add up to the unit's row, `open_at_end` included.
    Sorted like the unit scores, then by officer.

    `only_unit_keys`: just the rows of the (unit, category, period)s of `unit_keys`, the
    same rows as without it, computed for those periods only (the score writer's case).
    `cache`: reuse the officer inputs of views already seen (OfficerInputCache)."""
    kinds = tuple(kinds)
    unit_starts: dict[tuple[str, str], dict[PeriodKind, set[date]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for unit, category, kind, start in unit_keys:
        unit_starts[(unit, category)][kind].add(start)
    if cache is None:
        cache = OfficerInputCache()
    known = cache.inputs
    groups: dict[tuple[str, str, str], list[ScoreInput]] = defaultdict(list)
    for view in views:
        found = known.get(id(view))
        if found is None:
            found = known[id(view)] = list(officer_inputs(view))
        for officer, entry in found:
            groups[(view.unit, officer, ALL)].append(entry)
            groups[(view.unit, officer, entry.category)].append(entry)
    days_of = cache.days_of
    scores = []
    for (unit, officer, category), entries in groups.items():
        also = unit_starts.get((unit, category))
        if only_unit_keys and also is None:
            continue
        for kind, start, values in group_period_values(
            entries, watermark, kinds, days_of, also=also, only=also if only_unit_keys else None
        ):
            # An officer with no activity in a period of the unit's still has a row when
            # they held some of the unit's complaints open at its end.
            if is_empty(values) and not (
                values["open_at_end"] and also is not None and start in also.get(kind, ())
            ):
                continue
            scores.append(
                OfficerScore(officer, scored(unit, category, kind, start, values, registry))
            )
    return sorted(scores, key=lambda item: (*sort_key(item.score), item.officer))


def held_seconds(views: Iterable[UnitView]) -> dict[tuple[str, str], dict[str, float]]:
    """(unit, officer) -> phase -> wall seconds held (views with an officer split only)."""
    totals: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for view in views:
        if view.deleted or view.officers is None:
            continue
        for officer in view.officers:
            for phase, seconds in officer.held_seconds.items():
                totals[(view.unit, officer.officer)][phase] += seconds
    return {key: dict(value) for key, value in totals.items()}
