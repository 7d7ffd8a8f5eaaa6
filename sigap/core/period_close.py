"""The official close of a period: when it happens, and what it is made of. Pure.

Close rule. A period (day, week, month, quarter; core.periods) closes a number of working days
after it ends, on the registry's default calendar (`close_instant`). The rule is versioned in
the registry's `close:` section by the period's start: the rule with the latest
`effective_from` on or before the period's first day applies; a period starting before every
rule never closes (it stays provisional). The close instant is the end of the Nth working day
after the period's end (core.calendar.WorkingCalendar.working_days_deadline: the period ends
at Jakarta midnight, so the first working day on or after that midnight is day 1): with 5
working days and office hours, the day Friday 2026-11-27 closes on Friday 2026-12-04 16:00 WIB.

What the official revision is. The scores of a period as computed (core.scoring) from the
events APPENDED to the events topic up to the close instant, by the record's timestamp (the
broker's LogAppendTime), never by the producer's `occurred_at`: a pure function of the log,
so `sigap verify --period P` reproduces it exactly at any later time. Timers count at the
close instant: the watermark of the official figures is the close instant itself, so a
timer still open whose deadline (inside the period, hence before the close) has passed counts
as missed, unless an event appended by the close stopped it. An event file (`sigap replay
--store`, `sigap verify --source FILE`) has no append times: each event is taken as appended
when it occurred (`occurred_at`), and events are applied in that order (ties in file order).

Restatements. Anything appended after the close that changes a closed period's scores makes a
restatement: a new revision of the changed (unit, category) rows, flagged as a restatement,
with the columns that changed and why (the events appended after the close, by type, of the
complaints counted in the row, and the registry version). It is shown beside the official
figures, never instead of them. A restatement is computed at the watermark of the close too
(every deadline inside the period has passed by then), so a deadline passing never makes one:
only appended events (or a new registry version) do.

`ScoreIndex` keeps the current score input of every (unit, complaint) indexed by the periods
where it has activity and by its open span, so that the scores of one period are computed
from its own inputs only (the same core.scoring.period_values as everywhere else) and the
periods a changed input can alter are found without scanning them all.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from schemas.events import ComplaintEvent, EventRejected
from sigap.core.calendar import WorkingCalendar
from sigap.core.close_rules import CloseRule, CloseRules
from sigap.core.complaint_state import ComplaintState, current_views, record_event
from sigap.core.iku import indicator_scores
from sigap.core.periods import (
    JAKARTA,
    SCORE_PERIOD_KINDS,
    PeriodKind,
    next_start,
    period_end,
    period_start,
)
from sigap.core.registry import Registry
from sigap.core.scoring import ALL, PeriodScore, ScoreInput, is_empty, period_values
from sigap.core.unit_view import UnitView

PeriodId = tuple[PeriodKind, date]
RowKey = tuple[str, str]  # (unit, category)


def close_instant(
    rules: CloseRules, calendar: WorkingCalendar, kind: PeriodKind, start: date
) -> float | None:
    """The epoch instant the period closes at (None: no rule covers it)."""
    rule = rules.rule_for(start)
    if rule is None:
        return None
    end = period_end(kind, start)
    if rule.working_days == 0:
        return end
    moment = datetime.fromtimestamp(end, JAKARTA)
    return calendar.working_days_deadline(moment, rule.working_days).timestamp()


def registry_close_instant(registry: Registry, kind: PeriodKind, start: date) -> float | None:
    return close_instant(
        registry.close_rules, registry.calendars[registry.default_calendar_name], kind, start
    )


def periods_between(first: float, last: float) -> Iterator[PeriodId]:
    """Every period of every kind holding an instant of [first, last]."""
    for kind in SCORE_PERIOD_KINDS:
        start = period_start(kind, first)
        final = period_start(kind, last)
        while start <= final:
            yield kind, start
            start = next_start(kind, start)


def due_closes(
    registry: Registry, first_event: float, cut: float, closed: Iterable[PeriodId] = ()
) -> list[tuple[float, PeriodKind, date]]:
    """(close instant, kind, start) of every period from the one holding `first_event` whose
    close instant is at or before `cut` and that is not in `closed`, by close instant."""
    done = set(closed)
    found = []
    for kind, start in periods_between(first_event, cut):
        if (kind, start) in done:
            continue
        instant = registry_close_instant(registry, kind, start)
        if instant is not None and instant <= cut:
            found.append((instant, kind, start))
    found.sort(key=lambda item: (item[0], SCORE_PERIOD_KINDS.index(item[1]), item[2]))
    return found


class ScoreIndex:
    """The current score input of every (unit, complaint), indexed for period scores.

    `put` replaces a (unit, complaint)'s input (None removes it) and returns the periods
    whose scores the change may alter (core.scoring: activity of the old or new input, and
    the period ends where open_at_end membership differs, among `ends_of` the periods known
    to the caller, given by sorted (end, kind, start) tuples)."""

    def __init__(self) -> None:
        self.inputs: dict[tuple[str, str], ScoreInput] = {}
        self.by_period: dict[PeriodId, set[tuple[str, str]]] = defaultdict(set)
        # (unit, category) -> sorted open-span starts and ends (core.scoring.all_period_scores)
        self._since: dict[RowKey, list[float]] = defaultdict(list)
        self._until: dict[RowKey, list[float]] = defaultdict(list)

    @staticmethod
    def _periods(entry: ScoreInput) -> set[PeriodId]:
        return {
            (kind, period_start(kind, t)) for t in entry.instants() for kind in SCORE_PERIOD_KINDS
        }

    def put(self, key: tuple[str, str], entry: ScoreInput | None) -> list[tuple[float, float]]:
        """Replace the input; returns the ranges (lo, hi] of period ends at which its
        open_at_end membership may have changed (for finding the periods it alters)."""
        old = self.inputs.pop(key, None)
        changed: list[tuple[float, float]] = []
        old_span = new_span = None
        if old is not None:
            for period in self._periods(old):
                members = self.by_period.get(period)
                if members is not None:
                    members.discard(key)
            old_span = old.open_span()
            if old_span is not None:
                for row in ((old.unit, ALL), (old.unit, old.category)):
                    _remove(self._since[row], old_span[0])
                    _remove(self._until[row], old_span[1])
        if entry is not None and not entry.deleted:
            self.inputs[key] = entry
            for period in self._periods(entry):
                self.by_period[period].add(key)
            new_span = entry.open_span()
            if new_span is not None:
                for row in ((entry.unit, ALL), (entry.unit, entry.category)):
                    bisect.insort(self._since[row], new_span[0])
                    bisect.insort(self._until[row], new_span[1])
        moved = old is not None and entry is not None and old.category != entry.category
        if moved or old_span is None or new_span is None:
            changed += [span for span in (old_span, new_span) if span is not None]
        elif old_span != new_span:
            # (a1, b1] and (a2, b2] differ only between the two starts and the two ends.
            starts = sorted((old_span[0], new_span[0]))
            ends = sorted((old_span[1], new_span[1]))
            changed += [(lo, hi) for lo, hi in (tuple(starts), tuple(ends)) if lo < hi]
        return changed

    def open_count(self, row: RowKey, end: float) -> int:
        return bisect.bisect_left(self._since.get(row, []), end) - bisect.bisect_left(
            self._until.get(row, []), end
        )

    def period_scores(
        self, kind: PeriodKind, start: date, watermark: float, registry: Registry
    ) -> dict[RowKey, PeriodScore]:
        """The scores of every (unit, category) with activity in the period (as
        core.scoring.all_period_scores over all the inputs gives for it)."""
        groups: dict[RowKey, list[ScoreInput]] = defaultdict(list)
        for key in self.by_period.get((kind, start), ()):
            entry = self.inputs[key]
            groups[(entry.unit, ALL)].append(entry)
            groups[(entry.unit, entry.category)].append(entry)
        end = period_end(kind, start)
        scores = {}
        for (unit, category), entries in groups.items():
            values = period_values(
                kind, start, entries, watermark, open_at_end=self.open_count((unit, category), end)
            )
            if is_empty(values):
                continue
            scores[(unit, category)] = PeriodScore(
                unit=unit,
                category=category,
                period=kind,
                period_start=start,
                **values,
                indicators=indicator_scores(unit, category, values, registry),
            )
        return scores

    def complaints_of(self, kind: PeriodKind, start: date, row: RowKey) -> set[str]:
        """The complaints with activity in the period for the row (unit, category)."""
        unit, category = row
        return {
            complaint
            for (key_unit, complaint) in self.by_period.get((kind, start), ())
            if key_unit == unit
            and (category == ALL or self.inputs[(key_unit, complaint)].category == category)
        }


def _remove(values: list[float], value: float) -> None:
    index = bisect.bisect_left(values, value)
    if index < len(values) and values[index] == value:
        del values[index]


def changed_columns(old: dict[str, Any] | None, new: PeriodScore) -> list[str]:
    """The value columns (and indicator achievements) that differ; all when old is None."""
    new_values = score_columns(new)
    if old is None:
        return [name for name, value in new_values.items() if value not in (None, 0, False)]
    return [name for name in new_values if not _same(old.get(name), new_values[name])]


def score_columns(score: PeriodScore) -> dict[str, Any]:
    """The compared columns of a score: the values and `<indicator>.achieved`/`.realisation`."""
    columns = dict(score.values())
    for indicator in score.indicators:
        columns[f"{indicator.name}.realisation"] = indicator.realisation
        columns[f"{indicator.name}.target"] = indicator.target
        columns[f"{indicator.name}.achieved"] = indicator.achieved
    return columns


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def empty_score(
    unit: str, category: str, kind: PeriodKind, start: date, registry: Registry
) -> PeriodScore:
    """The score of a row that lost all its activity (restated to nothing)."""
    values = period_values(kind, start, (), 0.0, open_at_end=0)
    return PeriodScore(
        unit=unit,
        category=category,
        period=kind,
        period_start=start,
        **values,
        indicators=indicator_scores(unit, category, values, registry),
    )


def ends_in(
    ranges: Sequence[tuple[float, float]], ends: Sequence[tuple[float, PeriodKind, date]]
) -> set[PeriodId]:
    """The periods (from `ends`, sorted (end, kind, start)) whose end E lies in a range
    (lo, hi] of `ranges`."""
    found: set[PeriodId] = set()
    for low, high in ranges:
        index = bisect.bisect_right(ends, (low, "~", date.max))
        while index < len(ends) and ends[index][0] <= high:
            found.add((ends[index][1], ends[index][2]))
            index += 1
    return found


# --------------------------------------------------------------------------------------
# The log, folded in append order
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewChange:
    """A (unit, complaint)'s score input changed by events appended up to `at`."""

    at: float
    key: tuple[str, str]
    old: ScoreInput | None
    new: ScoreInput | None
    open_ranges: tuple[tuple[float, float], ...]


class LogFold:
    """The event log folded in append order (core.complaint_state, as the worker and
    replay): `add` events with their append instant, `advance(cut)` applies those appended
    at or before `cut` (by append instant, then the order they were added: offset order of
    a partition, or file order) and brings every changed complaint's views into `index`.
    Each view change is kept in `changes` (until `take_changes`) with the instant of the
    last event that made it, to find the closed periods it restates."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.index = ScoreIndex()
        self.cut = -math.inf
        self.first_event: float | None = None  # the earliest occurred_at added
        self.last_appended: float | None = None
        self.applied = 0
        self.rejected: Counter[str] = Counter()
        self._pending: list[tuple[float, int, ComplaintEvent]] = []
        self._seq = 0
        self._states: dict[str, ComplaintState] = {}
        self._units: dict[str, set[str]] = {}
        # complaint -> (append instant, event type) of its applied events
        self.appended: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.changes: list[ViewChange] = []

    def add(self, event: ComplaintEvent, appended_at: float) -> None:
        occurred = event.occurred_at.timestamp()
        if self.first_event is None or occurred < self.first_event:
            self.first_event = occurred
        heapq.heappush(self._pending, (appended_at, self._seq, event))
        self._seq += 1

    @property
    def pending(self) -> int:
        return len(self._pending)

    def advance(self, cut: float) -> None:
        dirty: dict[str, float] = {}
        while self._pending and self._pending[0][0] <= cut:
            appended_at, _, event = heapq.heappop(self._pending)
            state = self._states.setdefault(event.complaint_id, ComplaintState())
            try:
                dropped = record_event(state, event, self.registry)
            except EventRejected as rejected:
                self.rejected[rejected.reason] += 1
                continue
            for _, reason in dropped:
                self.rejected[reason] += 1
            self.applied += 1 - len(dropped)
            self.last_appended = max(self.last_appended or appended_at, appended_at)
            self.appended[event.complaint_id].append((appended_at, event.type))
            dirty[event.complaint_id] = appended_at
        for complaint, at in dirty.items():
            self._refresh(complaint, at)
        self.cut = max(self.cut, cut)

    def _refresh(self, complaint: str, at: float) -> None:
        views = current_views(self._states[complaint], self.registry)
        units = {view.unit for view in views}
        for view in views:
            self._put((view.unit, complaint), ScoreInput.from_view(view), at)
        for unit in self._units.get(complaint, set()) - units:
            self._put((unit, complaint), None, at)
        self._units[complaint] = units

    def _put(self, key: tuple[str, str], new: ScoreInput | None, at: float) -> None:
        old = self.index.inputs.get(key)
        if old == new:
            return
        ranges = self.index.put(key, new)
        self.changes.append(ViewChange(at, key, old, new, tuple(ranges)))

    def take_changes(self) -> list[ViewChange]:
        changes, self.changes = self.changes, []
        return changes

    def views(self) -> list[UnitView]:
        """Every current unit view (for storing them: replay --store)."""
        found = []
        for state in self._states.values():
            found += current_views(state, self.registry)
        return found


@dataclass(frozen=True)
class ScoreRevision:
    """A row to store: the official score of a (unit, category, period) at its close, or a
    restatement of it (`restatement`), computed from the events appended up to `cut`."""

    score: PeriodScore
    restatement: bool
    cut: float
    watermark: float
    changed: tuple[str, ...] = ()
    reason: Mapping[str, Any] = field(default_factory=dict)


def official_revisions(
    fold: LogFold, kind: PeriodKind, start: date, instant: float
) -> list[ScoreRevision]:
    """The official rows of a period closing at `instant` (the fold advanced to it)."""
    if fold.cut != instant:
        raise ValueError(f"the fold is at {fold.cut}, not at the close instant {instant}")
    scores = fold.index.period_scores(kind, start, instant, fold.registry)
    return [
        ScoreRevision(
            scores[row],
            restatement=False,
            cut=instant,
            watermark=instant,
            reason={"registry_version": fold.registry.version},
        )
        for row in sorted(scores)
    ]


def contributions(entry: ScoreInput) -> dict[PeriodId, list[tuple[Any, ...]]]:
    """What the input brings to each period where it has activity: everything
    core.scoring.period_values reads from it there (open_at_end aside: see open spans),
    at a watermark past the period's end. Two inputs with the same contributions to a
    closed period give it the same values."""
    if entry.deleted:
        return {}
    category = entry.category
    items: list[tuple[float, tuple[Any, ...]]] = []
    if entry.created_here:
        items.append((entry.created_at, ("received", category)))
    if entry.responded_at is not None and entry.response_seconds is not None:
        response = (entry.response_seconds, entry.response_working_seconds)
        items.append((entry.responded_at, ("responded", category, *response)))
    if entry.resolved_at is not None and entry.resolution_seconds is not None:
        resolution = (entry.resolution_seconds, entry.resolution_working_seconds)
        items.append((entry.resolved_at, ("resolved", category, *resolution, entry.reopens > 0)))
    items += [(at, ("transfer", category)) for at in entry.transfers_away]
    if entry.rating is not None:
        items.append((entry.rating_at, ("rating", category, entry.rating)))
    for timer, facts in sorted(entry.timers.items()):
        if facts.outcome is not None and facts.decided_at is not None:
            items.append((facts.decided_at, (timer, category, facts.outcome)))
        elif facts.open_deadline is not None:
            # Closed periods are scored at their close instant, after every deadline in
            # them: an open timer whose deadline is in the period counts as missed there.
            items.append((facts.open_deadline, (timer, category, "missed")))
    found: dict[PeriodId, list[tuple[Any, ...]]] = defaultdict(list)
    for instant, item in items:
        for kind in SCORE_PERIOD_KINDS:
            found[(kind, period_start(kind, instant))].append((instant, *item))
    for listed in found.values():
        listed.sort()
    return found


def suspected_periods(
    changes: Iterable[ViewChange], closed: Mapping[PeriodId, float]
) -> dict[PeriodId, set[tuple[str, str]]]:
    """The closed periods (id -> close instant) each change made after their close may
    alter, with the (unit, complaint)s that changed them."""
    ends = sorted((period_end(kind, start), kind, start) for kind, start in closed)
    found: dict[PeriodId, set[tuple[str, str]]] = defaultdict(set)
    for change in changes:
        before = contributions(change.old) if change.old is not None else {}
        after = contributions(change.new) if change.new is not None else {}
        periods = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        # Only periods closed before the change can be restated by it, and their ends are
        # before their close: an open range reaches no further than the change's instant.
        capped = [(low, min(high, change.at)) for low, high in change.open_ranges]
        periods |= ends_in([(low, high) for low, high in capped if low < high], ends)
        for period in periods:
            instant = closed.get(period)
            if instant is not None and instant < change.at:
                found[period].add(change.key)
    return found


def restatements(
    fold: LogFold,
    kind: PeriodKind,
    start: date,
    instant: float,
    latest: Mapping[RowKey, Mapping[str, Any]],
    changed_keys: Iterable[tuple[str, str]],
) -> list[ScoreRevision]:
    """The restatements of a closed period (closing at `instant`) at the fold's cut: every
    (unit, category) whose scores differ from their latest stored revision (`latest`: the
    score columns, score_columns), including rows that appeared or lost all activity."""
    scores = fold.index.period_scores(kind, start, instant, fold.registry)
    complaints_by_unit: dict[str, set[str]] = defaultdict(set)
    for unit, complaint in changed_keys:
        complaints_by_unit[unit].add(complaint)
    found = []
    for row in sorted(set(scores) | set(latest)):
        score = scores.get(row) or empty_score(*row, kind, start, fold.registry)
        before = latest.get(row)
        if before is None and row not in scores:
            continue
        columns = changed_columns(dict(before) if before is not None else None, score)
        if not columns:
            continue
        events: Counter[str] = Counter()
        for complaint in complaints_by_unit.get(row[0], ()):
            events.update(
                kind_ for at, kind_ in fold.appended.get(complaint, ()) if instant < at <= fold.cut
            )
        reason: dict[str, Any] = {
            "appended_after_close": dict(sorted(events.items())),
            "registry_version": fold.registry.version,
        }
        previous_version = before.get("registry_version") if before is not None else None
        if previous_version is not None and previous_version != fold.registry.version:
            reason["previous_registry_version"] = previous_version
        found.append(
            ScoreRevision(
                score,
                restatement=True,
                cut=fold.cut,
                watermark=instant,
                changed=tuple(columns),
                reason=reason,
            )
        )
    return found


__all__ = [
    "CloseRule",
    "CloseRules",
    "LogFold",
    "ScoreIndex",
    "ScoreRevision",
    "ViewChange",
    "changed_columns",
    "close_instant",
    "due_closes",
    "empty_score",
    "ends_in",
    "official_revisions",
    "registry_close_instant",
    "restatements",
    "score_columns",
    "suspected_periods",
]
