"""Officer accountability: each unit's share of a complaint split among its officers.

`attach_officers(views, events, outcome, registry)` returns the unit views
(core.unit_view.unit_views) each with its officer split (`UnitView.officers`), computed
from the complaint's events and its outcome (core.timeline). Pure: no clock reads, no I/O.

Officers are charged exactly as units are charged across transfers (core.timeline rule 3),
within the unit, against the unit's own target:

1. Who holds it. The officer on `created` receives the complaint; an `assigned` hands it to
   the receiving unit's officer on that event; `handed_over` moves it to its officer within
   the unit holding it; an `officer` on `responded` or `resolved` (who acted) takes it at
   that instant. A unit's holding without an officer code is its `unassigned` officer's
   (so complaints without any code count under one `unassigned` officer per unit). When a
   unit gets the complaint back, the `assigned` event's officer (or `unassigned`) holds it.
2. Outcomes. The officer holding the complaint when the unit's timer was decided gets the
   unit's outcome: `met` to whoever held it at the stop, `missed` to whoever held it when
   the deadline passed (a hand-over at or before the deadline is neither met nor missed for
   the officer who handed it over). A running, undecided timer's deadline is charged to
   whoever holds it then (known hand-overs included), and counts as missed there once the
   watermark passes it, as for the unit. A unit's transfer away is the holding officer's.
3. Counts. `received` to the receiving officer of the first unit; `responded`/`resolved`
   (with their durations, reopens and the reopen rate) to whoever held it at the stop;
   `open_at_end` to whoever held
   it at the period's end (the unit's span cut at the hand-overs; time away from the unit
   stays with the last officer, as it stays with the unit). The unit's rating goes with
   its resolution to the officer who resolved it (else to whoever held it when rated).
   A miss excused by an upheld objection counts for no officer, as for the unit.
4. Time. `held_seconds`: the wall time each officer held the complaint while the unit's
   resolution clock ran (pauses and time away excluded; registry exclusions are not
   taken out, unlike the unit's clock), split into before the first
   response, after it, and stints of the unit that ended in a transfer away.

Every unit outcome, count and second is charged to exactly one of the unit's officers, so
the officers' figures add up to the unit's (conservation, property-tested).
Hand-overs later than the outcome's `as_of` (core.timeline.default_as_of leaves them out)
still decide who holds the complaint at a future deadline; they charge no time.
"""

from __future__ import annotations

import bisect
import copy
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from schemas.events import OFFICER_EVENT_TYPES, ComplaintEvent
from sigap.core.calendar import JAKARTA
from sigap.core.officer_view import UNASSIGNED, OfficerView
from sigap.core.registry import UNKNOWN_UNIT, Registry
from sigap.core.timeline import _TIE_ORDER, ComplaintOutcome, _distinct
from sigap.core.unit_view import UnitView

__all__ = ["UNASSIGNED", "attach_officers", "has_officer_data"]

_Segment = tuple[str, float]  # (officer, start): holds from start to the next segment


def has_officer_data(events: Iterable[ComplaintEvent]) -> bool:
    """Some event carries an officer code or hands the complaint over (a loop, not any() of
    a generator: asked at every evaluation)."""
    for event in events:
        kind = event.type
        if kind == "handed_over" or (event.officer is not None and kind in OFFICER_EVENT_TYPES):
            return True
    return False


def _officer_phases() -> dict[str, dict[str, float]]:
    """officer -> phase -> seconds, missing entries 0 (a unit's entry of `_Walk.held`)."""
    phases: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    return phases


class _Walk:
    """Who held the complaint when, per unit, and the wall time each officer held it."""

    def __init__(self, registry: Registry, created: ComplaintEvent, at: datetime) -> None:
        self.registry = registry
        self.holder = self.map_unit(created.unit)
        self.officer = created.officer or UNASSIGNED
        start = at.timestamp()
        self.segments: dict[str, list[_Segment]] = {self.holder: [(self.officer, start)]}
        # Per unit, its segments' officers in order of first holding (the officer split's
        # order), kept so that it is not read from all the segments.
        self.unit_officers: dict[str, dict[str, None]] = {self.holder: {self.officer: None}}
        self.transfers_from: dict[str, list[str]] = defaultdict(list)
        self.rated: tuple[str, str] | None = None
        self.paused = False
        self.response_stopped = False
        self.resolution_stopped = False
        self.running_since: float | None = start
        self.frozen = False  # past as_of: hand-overs only, no time
        self.stint: dict[tuple[str, str], float] = defaultdict(float)  # (officer, phase)
        self.held: dict[str, dict[str, dict[str, float]]] = defaultdict(_officer_phases)

    def snapshot(self) -> _Walk:
        """A copy that can be finished (`finish`, and hand-overs later than as_of applied)
        without changing this walk: the incremental evaluation (core.incremental) keeps the
        walk up to as_of and finishes a copy after every event. Only what finishing can
        change is copied: the holding unit's segments and held time, and the running stint."""
        other = copy.copy(self)
        holder = self.holder
        other.segments = dict(self.segments)
        other.segments[holder] = list(self.segments.get(holder, ()))
        other.unit_officers = dict(self.unit_officers)
        other.unit_officers[holder] = dict(self.unit_officers.get(holder, {}))
        other.stint = defaultdict(float, self.stint)
        held: dict[str, dict[str, dict[str, float]]] = defaultdict(_officer_phases, self.held)
        phases = held[holder] = _officer_phases()
        for officer, seconds in self.held.get(holder, {}).items():
            phases[officer] = defaultdict(float, seconds)
        other.held = held
        return other

    def map_unit(self, unit: str | None) -> str:
        return unit if unit is not None and unit in self.registry.units else UNKNOWN_UNIT

    def advance(self, at: float) -> None:
        if self.running_since is None:
            return
        if at > self.running_since:
            phase = "after_response" if self.response_stopped else "before_response"
            self.stint[(self.officer, phase)] += at - self.running_since
        self.running_since = at

    def flush_stint(self, transferred: bool) -> None:
        for (officer, phase), seconds in self.stint.items():
            key = "before_transfer" if transferred else phase
            self.held[self.holder][officer][key] += seconds
        self.stint.clear()

    def take(self, officer: str, at: float) -> None:
        """`officer` holds the complaint at the holding unit from `at` on."""
        self.advance(at)
        self.officer = officer
        segments = self.segments.setdefault(self.holder, [])
        if not segments or segments[-1][0] != officer:
            segments.append((officer, at))
            self.unit_officers.setdefault(self.holder, {}).setdefault(officer, None)

    def freeze(self, as_of: float) -> None:
        if not self.frozen:
            self.advance(as_of)
            self.running_since = None
            self.frozen = True

    def apply(self, event: ComplaintEvent, at: float) -> None:
        kind = event.type
        if kind == "assigned":
            unit = self.map_unit(event.unit)
            if unit == self.holder:
                if event.officer is not None:
                    self.take(event.officer, at)
                return
            self.advance(at)
            self.flush_stint(transferred=True)
            self.transfers_from[self.holder].append(self.officer)
            self.holder = unit
            self.officer = ""  # take() below always starts a segment at the receipt
            self.take(event.officer or UNASSIGNED, at)
        elif kind == "handed_over" and event.officer is not None:
            self.take(event.officer, at)
        elif kind in ("responded", "resolved"):
            if event.officer is not None:
                self.take(event.officer, at)
            self.advance(at)
            self.response_stopped = True
            if kind == "resolved" and not self.resolution_stopped:
                self.resolution_stopped = True
                self.running_since = None
        elif kind == "paused" and not self.paused:
            self.advance(at)
            self.paused = True
            self.running_since = None
        elif kind == "resumed" and self.paused:
            self.paused = False
            if not self.resolution_stopped and not self.frozen:
                self.running_since = at
        elif kind == "rated":
            self.rated = (self.holder, self.officer)

    def finish(self, as_of: float) -> None:
        self.freeze(as_of)
        self.flush_stint(transferred=False)


def _segment_start(segment: _Segment) -> float:
    return segment[1]


# Up to this many segments a scan is cheaper than a bisection (with its key function).
_SCAN_SEGMENTS = 8


def _holder_at(segments: list[_Segment], at: float) -> str:
    """The officer holding at `at`: the last segment started at or before it (the first
    one before them all). Segments start in order (the walk applies events in order), so
    a long list is bisected."""
    if len(segments) > _SCAN_SEGMENTS:
        found = bisect.bisect_right(segments, at, key=_segment_start)
        return segments[found - 1 if found else 0][0]
    holder = segments[0][0]
    for officer, start in segments:
        if start > at:
            break
        holder = officer
    return holder


def _pieces(
    segments: list[_Segment], span: tuple[float, float] | None
) -> dict[str, list[tuple[float, float | None]]]:
    """The unit's open span (s, u] cut at the segment starts: (lo, hi] per officer."""
    found: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    if span is None:
        return found
    since, until = span
    # Segment i holds from its start (-inf for the first) to the next one's (+inf for the
    # last). Only the segments from the one holding at `since` to the last starting before
    # `until` can meet the span (segments start in order: bisected).
    count = len(segments)
    first, last = 0, count
    if count > _SCAN_SEGMENTS:
        first = max(bisect.bisect_right(segments, since, key=_segment_start) - 1, 0)
        last = max(bisect.bisect_left(segments, until, key=_segment_start), 1)
    for index in range(first, min(last, count)):
        officer = segments[index][0]
        lo = max(since, segments[index][1] if index else -float("inf"))
        hi = min(until, segments[index + 1][1] if index + 1 < count else float("inf"))
        if lo < hi:
            found[officer].append((lo, None if hi == float("inf") else hi))
    return found


def _open_span(view: UnitView) -> tuple[float, float] | None:
    """`ScoreInput.from_view(view).open_span()` (core.scoring: the unit's open_at_end span,
    which the officers' spans cut up), read from the view directly: the split needs only
    this of the score input, and building it all (its timer facts included) per view was
    a third of the split's cost. Same comparisons on the same floats, so the same span."""
    if view.deleted:
        return None
    resolution = view.timers.get("resolution")
    created_at = view.created_at
    received = resolution.received_at if resolution is not None else created_at
    since = max(created_at, received)
    if view.holder:
        if view.open:
            until = math.inf
        else:
            # ScoreInput.closed_at of a holder that is not open: never None.
            closed_at = view.resolved_at
            if closed_at is None and resolution is not None:
                closed_at = resolution.stopped_at
            if closed_at is None:
                closed_at = view.as_of
            until = closed_at
    elif view.transfers_away:
        until = max([at for at, _ in view.transfers_away])
        if view.resolved_at is not None:
            until = min(until, view.resolved_at)
    else:
        return None
    return (since, until) if until > since else None


def _split(view: UnitView, walk: _Walk) -> tuple[OfficerView, ...]:
    segments = walk.segments.get(view.unit)
    if not segments or view.deleted:
        return ()
    facts: dict[str, dict[str, object]] = {officer: {} for officer in walk.unit_officers[view.unit]}

    def charge(officer: str) -> dict[str, object]:
        return facts.setdefault(officer, {})

    if view.created_here:
        charge(segments[0][0])["received"] = True
    response = view.timers.get("response")
    responded_at = response.stopped_at if response is not None else None
    if view.response_seconds is not None and responded_at is not None:
        charge(_holder_at(segments, responded_at))["responded"] = True
    if view.resolved_at is not None:
        charge(_holder_at(segments, view.resolved_at))["resolved"] = True
    for timer, timer_view in view.timers.items():
        if timer_view.excused:
            continue  # an upheld objection removed the miss from the unit's scores too
        if timer_view.outcome is not None:
            if timer_view.decided_at is None:
                continue
            decided: tuple[str, float] = (timer_view.outcome, timer_view.decided_at)
        elif timer_view.is_open and timer_view.running:
            decided = ("open", timer_view.deadline)
        else:
            continue
        timers = charge(_holder_at(segments, decided[1])).setdefault("timers", {})
        assert isinstance(timers, dict)
        timers[timer] = decided
    transfer_officers = walk.transfers_from.get(view.unit, [])
    for index, (at, _) in enumerate(view.transfers_away):
        officer = (
            transfer_officers[index] if index < len(transfer_officers) else _holder_at(segments, at)
        )
        transfers = charge(officer).setdefault("transfers", [])
        assert isinstance(transfers, list)
        transfers.append(at)
    if view.rating is not None:
        # Counted like the unit's: with the unit's resolution (its officer), else at the
        # complaint's creation for whoever held it when it was rated.
        rated = walk.rated
        if view.resolved_at is not None:
            officer = _holder_at(segments, view.resolved_at)
        elif rated is not None and rated[0] == view.unit:
            officer = rated[1]
        else:
            officer = segments[-1][0]
        charge(officer)["rated"] = True
    pieces = _pieces(segments, _open_span(view))
    held = walk.held.get(view.unit, {})
    result = []
    for officer, found in facts.items():
        timers_found = found.get("timers", {})
        transfers_found = found.get("transfers", [])
        assert isinstance(timers_found, dict) and isinstance(transfers_found, list)
        result.append(
            OfficerView(
                officer=officer,
                received=bool(found.get("received")),
                responded=bool(found.get("responded")),
                resolved=bool(found.get("resolved")),
                timers=timers_found,
                transfers_away=tuple(transfers_found),
                rated=bool(found.get("rated")),
                spans=tuple(pieces.get(officer, ())),
                held_seconds={
                    phase: seconds for phase, seconds in held.get(officer, {}).items() if seconds
                },
            )
        )
    return tuple(result)


def attach_officers(
    views: Mapping[str, UnitView],
    events: Iterable[ComplaintEvent],
    outcome: ComplaintOutcome,
    registry: Registry,
) -> dict[str, UnitView]:
    """The views with their officer split; unchanged (officers None) when the complaint has
    no officer code and no hand-over. `outcome` is evaluate_complaint(events) (default
    as_of): events later than its as_of apply only if they are hand-overs."""
    distinct, _ = _distinct(events)
    if not views or not outcome.known or outcome.created_at is None:
        return dict(views)
    if not has_officer_data(distinct):
        return dict(views)
    as_of = outcome.as_of
    created_at = outcome.created_at
    applicable = [
        event for event in distinct if event.occurred_at <= as_of or event.type == "handed_over"
    ]
    created = min(
        (event for event in applicable if event.type == "created"),
        key=lambda event: (event.occurred_at, event.event_id),
    )
    walk = _Walk(registry, created, created_at)
    timed = []
    for event in applicable:
        if event is created or event.type == "created":
            continue
        at = max(event.occurred_at.astimezone(JAKARTA), created_at)
        timed.append((at, _TIE_ORDER[event.type], event.event_id, event))
    timed.sort(key=lambda item: item[:3])
    as_of_epoch = as_of.timestamp()
    for at, _, _, event in timed:
        instant = at.timestamp()
        if instant > as_of_epoch:
            walk.freeze(as_of_epoch)
        walk.apply(event, instant)
    walk.finish(as_of_epoch)
    return {unit: view.with_officers(_split(view, walk)) for unit, view in views.items()}
