"""A complaint's evaluation kept up to date event by event: the cost of an event does not
grow with the number of events the complaint already has.

`evaluate_complaint` (core.timeline) and `attach_officers` (core.officers) replay all of a
complaint's events every time. A `ComplaintFold` keeps what they build while replaying -
the timeline's `_Replay` and the officers' `_Walk` - after the events applied so far, and
applies each new event to it. It gives exactly the outcome and unit views of the full
evaluation at the default as_of (core.timeline.default_as_of), property-tested in
tests/core/test_incremental.py. Pure: no clock reads, no I/O.

Rules (why each is the same as the full evaluation):

1. In order only. The full evaluation applies the events sorted by the timeline's order key
   (occurred_at, same-instant type order, event_id; rule 0). The fold remembers the key of
   the last item it applied; a batch of new events is applied only when every new event's
   key sorts after it (the common case: events arrive in event-time order). Anything else
   - an event sorting before one applied, a repeated event_id, a second `created`, an event
   before `created` - is refused (`advance` returns False and changes nothing): the caller
   builds a new fold from all the events (`ComplaintFold.build`, O(n) once), and `build`
   returns None for input it does not handle (no `created`, or unusual input), where the
   caller uses the full evaluation.
2. as_of. The full evaluation's as_of is the latest event time, hand-overs left out. So
   every event other than a hand-over is at or before as_of and applied; a hand-over later
   than as_of is pending (`pending_events`; the officer walk applies it after freezing at
   as_of). The fold keeps those hand-overs aside and applies them, in order, once as_of
   passes them.
3. Registry exclusions (timeline rule 12) are timed items between created_at (excluded)
   and as_of (included), sorted before the events of their instant. When as_of advances,
   the boundaries after the old as_of and at or before the new one are merged in order with
   the new events (and the pending hand-overs now due) before they are applied.
4. Reading the result changes nothing. `_Replay.outcome` and `Charge.result` do not mutate
   (an open pause and running rework are counted up to as_of in local copies); the walk is
   finished on a `_Walk.snapshot`, which copies only what finishing changes.

5. Nothing read twice. What the outcome's route and pause figures take from the stints
   and pauses that can no longer change is kept by the replay (`_Replay.memoize`, set
   here; core.timeline `_Replay.unit_spans` says why they cannot change), and its paused
   time comes from a running total, so an outcome does not go over all the pauses and
   stints again.

Where folds live: on the in-memory ComplaintState (core.complaint_state, from
FOLD_MIN_EVENTS events on), at most streams.complaint_stage.MAX_FOLDS of them.

What stays proportional to the complaint's size, per event: the views themselves when they
grow (a unit's transfers away, the officers' spans: one entry per transfer or officer
change; the route is capped at MAX_ROUTE), and bisections (O(log n)) of the pauses and of
the officer segments. The stage's fairness check copies the replay's lists (`rejection`).
bench/RESULTS.md (issue 19) has the measurements.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from schemas.events import ComplaintEvent
from sigap.core.calendar import JAKARTA
from sigap.core.officers import _split, _Walk, has_officer_data
from sigap.core.registry import Registry
from sigap.core.timeline import _BOUNDARY_TIE, ComplaintOutcome, _order_key, _Replay
from sigap.core.unit_view import UnitView, unit_views

__all__ = ["ComplaintFold"]

_OrderKey = tuple[datetime, int, str]
# What applying new events takes (ComplaintFold._plan).
_Plan = tuple[
    list[tuple[_OrderKey, ComplaintEvent | None]],
    datetime,
    list[tuple[_OrderKey, ComplaintEvent]],
    set[str],
]
_HAND_OVER: Final = "handed_over"


class ComplaintFold:
    """The evaluation of one complaint after the events applied so far (module docstring).

    `applied` counts the events applied to the replay since the fold was built (exclusion
    boundaries are counted apart, in `boundaries_applied`): the test of the cost per event
    reads them."""

    def __init__(self, registry: Registry, created: ComplaintEvent) -> None:
        self.registry = registry
        self.complaint_id = created.complaint_id
        self.channel = created.channel
        created_at = created.occurred_at.astimezone(JAKARTA)
        self.created_at = created_at
        self.replay = _Replay(registry, created, created_at)
        self.replay.memoize = True
        self.walk = _Walk(registry, created, created_at)
        self.as_of = created_at
        self.last_key: _OrderKey = _order_key(created)
        self.pending: list[tuple[_OrderKey, ComplaintEvent]] = []  # hand-overs after as_of
        self.event_ids: set[str] = {created.event_id}
        self.officer_data = has_officer_data((created,))
        # The instants of the registry's exclusion boundaries after created_at, sorted.
        instants = {
            instant.astimezone(JAKARTA)
            for exclusion in registry.causes.exclusions
            for instant in (exclusion.start, exclusion.end)
        }
        self.boundaries = sorted(instant for instant in instants if instant > created_at)
        self.applied = 0
        self.boundaries_applied = 0
        # The events the fold stands for, as the caller keeps them (see `follows`).
        self.count = 1
        self.last_event: ComplaintEvent = created

    @classmethod
    def build(cls, events: Sequence[ComplaintEvent], registry: Registry) -> ComplaintFold | None:
        """The fold of `events` (in any order), or None when the complaint has no `created`
        event or the input is unusual (repeated event_ids, two `created`, an event before
        `created`): the full evaluation handles those."""
        created = [event for event in events if event.type == "created"]
        if len(created) != 1:
            return None
        fold = cls(registry, created[0])
        rest = sorted((event for event in events if event is not created[0]), key=_order_key)
        if not fold.advance(rest):
            return None
        fold.count = len(events)
        fold.last_event = events[-1]
        return fold

    def follows(self, events: Sequence[ComplaintEvent]) -> bool:
        """`events` holds the events this fold stands for, in the order they were given,
        possibly followed by new ones (an append-only list: ComplaintState.events once
        the complaint is created)."""
        count = self.count
        return len(events) >= count and events[count - 1] is self.last_event

    def catch_up(self, events: Sequence[ComplaintEvent]) -> bool:
        """Apply the events of `events` after those this fold stands for (`follows` must
        hold); False, with nothing changed, when they cannot be applied in order."""
        new = events[self.count :]
        if new and not self.advance(new):
            return False
        self.count = len(events)
        self.last_event = events[-1]
        return True

    def advance(self, new: Sequence[ComplaintEvent]) -> bool:
        """Apply `new` events (rule 1: each sorting after everything applied); False, with
        nothing changed, when one does not."""
        plan = self._plan(new)
        if plan is None:
            return False
        due, as_of, pending, ids = plan
        replay, walk = self.replay, self.walk
        last_key = self.last_key
        for key, item in due:
            at = key[0].astimezone(JAKARTA)
            if item is None:
                replay.boundary(at)
                self.boundaries_applied += 1
                continue
            replay.apply(item, at)
            walk.apply(item, at.timestamp())
            self.applied += 1
            last_key = key
        self.last_key = last_key
        self.as_of = as_of
        self.pending = pending
        self.event_ids.update(ids)
        if not self.officer_data:
            self.officer_data = has_officer_data(new)
        return True

    def _plan(self, new: Sequence[ComplaintEvent]) -> _Plan | None:
        """What applying `new` takes: the items due in order (events, and boundaries as
        None), the new as_of, the hand-overs still pending, the new event_ids; None when a
        new event does not sort after everything applied (or is unusual: rule 1)."""
        last_key, created_at, seen = self.last_key, self.created_at, self.event_ids
        keyed: list[tuple[_OrderKey, ComplaintEvent]] = []
        ids: set[str] = set()
        as_of = self.as_of
        for event in new:
            key = _order_key(event)
            if (
                key <= last_key
                or event.type == "created"
                or event.event_id in seen
                or event.event_id in ids
                or event.occurred_at < created_at
            ):
                return None
            ids.add(event.event_id)
            keyed.append((key, event))
            if event.type != _HAND_OVER and event.occurred_at > as_of:
                as_of = event.occurred_at
        as_of = as_of.astimezone(JAKARTA)
        # Rule 2: hand-overs later than the new as_of wait; everything else is due.
        due: list[tuple[_OrderKey, ComplaintEvent | None]] = []
        pending: list[tuple[_OrderKey, ComplaintEvent]] = []
        for key, event in (*self.pending, *keyed):
            if event.occurred_at <= as_of:
                due.append((key, event))
            else:
                pending.append((key, event))
        # Rule 3: the exclusion boundaries in (old as_of, new as_of], before the events of
        # their instant.
        boundaries = self.boundaries
        first = bisect.bisect_right(boundaries, self.as_of)
        last = bisect.bisect_right(boundaries, as_of)
        due.extend(((instant, _BOUNDARY_TIE, ""), None) for instant in boundaries[first:last])
        due.sort(key=lambda item: item[0])
        pending.sort(key=lambda item: item[0])
        return due, as_of, pending, ids

    def outcome(self) -> ComplaintOutcome:
        """evaluate_complaint(events, registry) of the events applied (default as_of)."""
        return self.replay.outcome(self.complaint_id, self.channel, self.as_of, len(self.pending))

    def views(self) -> tuple[ComplaintOutcome, dict[str, UnitView]]:
        """The outcome and attach_officers(unit_views(outcome), events, outcome): the unit
        views of the complaint as the full evaluation makes them."""
        outcome = self.outcome()
        views = unit_views(outcome, self.registry)
        if not views or not self.officer_data:
            return outcome, dict(views)
        walk = self.walk.snapshot()
        as_of = self.as_of.timestamp()
        if self.pending:
            walk.freeze(as_of)  # core.officers: later hand-overs charge no time
            for key, event in self.pending:
                walk.apply(event, key[0].timestamp())
        walk.finish(as_of)
        return outcome, {
            unit: view.with_officers(_split(view, walk)) for unit, view in views.items()
        }

    def rejection(self, event: ComplaintEvent) -> tuple[bool, str | None]:
        """Whether the fold can tell if the timeline would reject `event` (rules 9-11) were it
        added now, and the reason (None: it would be applied). It cannot when the event does
        not sort after the events applied: the caller asks the full evaluation. Changes
        nothing: the event (with the boundaries and hand-overs due before it) is tried on a
        fork of the replay; the officer walk plays no part in rejections."""
        plan = self._plan([event])
        if plan is None:
            return False, None
        replay = self.replay.fork()
        for key, item in plan[0]:
            at = key[0].astimezone(JAKARTA)
            if item is None:
                replay.boundary(at)
            else:
                replay.apply(item, at)
        return True, replay.rejected.get(event.event_id)
