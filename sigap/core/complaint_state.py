"""The complaint stage: what the worker keeps per complaint, and what each event changes.

Pure: `accept_event(state, event, registry)` either raises `EventRejected` (the caller
dead-letters the message) or records the event and returns the unit views that changed,
to be sent to the unit stage. Batch replay drives the same function.

Rules (README, "Event contract"):
- a repeated event_id is rejected as `duplicate_event_id`, whatever its content;
- a second `created` is rejected as `duplicate_created`;
- an event earlier than the complaint's `created` is rejected as `<type>_before_created`
  (e.g. `resolved_before_created`); events held before `created` arrived that turn out to be
  earlier than it are dropped then and returned in `dropped`, with the same reason, so that
  the kept events do not depend on the arrival order;
- a complaint keeps at most MAX_EVENTS_PER_COMPLAINT events: any further new event is
  rejected as `complaint_too_long`. That bounds the state (its changelog record stays under
  the broker's 1 MiB record limit, tests/core/test_complaint_state_bounds.py) and the time
  to evaluate a complaint.
The duplicate check is a set lookup (O(1)), not a scan of the complaint's events.

Evaluation is incremental (core.incremental) from FOLD_MIN_EVENTS events on: the state
carries, in memory only, the fold of its events (`ComplaintState.fold`), and each new event
in event-time order is applied to it instead of replaying all the complaint's events;
out-of-order events, a state just read from storage and anything unusual rebuild the fold
from all the events once (or use the full evaluation). The stored form (`to_json`) does not
change: the fold is never written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson

from schemas.events import ComplaintEvent, EventRejected
from sigap.core.incremental import ComplaintFold
from sigap.core.officers import attach_officers
from sigap.core.registry import Registry
from sigap.core.timeline import evaluate_complaint
from sigap.core.unit_view import UnitView, deleted_view, unit_views

STATE_VERSION = 2
# A real complaint has tens of events; a thousand is a broken or hostile producer. With the
# contract's field limits a state of this many events is at most ~0.7 MiB of JSON.
MAX_EVENTS_PER_COMPLAINT: Final = 1000
COMPLAINT_TOO_LONG: Final = "complaint_too_long"
# A complaint of fewer events is evaluated from all its events at each one, without a fold:
# for a few events that is as cheap, and a fold kept in memory is not free (its objects
# made the garbage collector's full passes over the worker's heap ~50% longer on the
# simulator's traffic, 3.5 events per complaint: bench/RESULTS.md, issue 19). So the cost
# of an event stays bounded: at most a full evaluation of FOLD_MIN_EVENTS - 1 events.
FOLD_MIN_EVENTS: Final = 10
# The rejection reason of a repeated event_id: usually a redelivery after a restart or a
# rebalance (at-least-once delivery), which the pipeline alerts treat apart.
DUPLICATE_EVENT_ID: Final = "duplicate_event_id"


class StateVersionError(ValueError):
    """Stored state written by another version of SIGAP: not silently misread."""


@dataclass
class ComplaintState:
    events: list[ComplaintEvent] = field(default_factory=list)
    view_hashes: dict[str, str] = field(default_factory=dict)  # unit -> last view sent
    # The stored form of each event, by event_id: an event is encoded once, not at every
    # write of the state (the state is written after each of the complaint's events).
    encoded: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # The events by event_id, built on first use and kept by record_event: O(1) lookups.
    _by_id: dict[str, ComplaintEvent] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    # The evaluation after these events, kept up to date event by event (core.incremental):
    # in memory only, never stored (to_json), rebuilt from the events after a restart. It
    # lives as long as this object, or until the complaint stage drops it: the stage keeps
    # at most streams.complaint_stage.MAX_FOLDS folds (its `fold_cache_size`).
    fold: ComplaintFold | None = field(default=None, init=False, repr=False, compare=False)

    def by_id(self) -> dict[str, ComplaintEvent]:
        if self._by_id is None or len(self._by_id) != len(self.events):
            self._by_id = {event.event_id: event for event in self.events}
        return self._by_id

    def to_json(self) -> dict[str, Any]:
        encoded = self.encoded
        stored = []
        for event in self.events:
            data = encoded.get(event.event_id)
            if data is None:
                data = encoded[event.event_id] = event.model_dump(mode="json", exclude_none=True)
            stored.append(data)
        return {"v": STATE_VERSION, "e": stored, "h": self.view_hashes}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ComplaintState:
        if not data:
            return cls()
        if data.get("v") != STATE_VERSION:
            raise StateVersionError(
                f"complaint state of format {data.get('v')!r}, this SIGAP reads "
                f"{STATE_VERSION}: run it under a new SIGAP_APP_ID (fresh changelogs) and "
                "replay the events topic from the beginning"
            )
        stored = data["e"]
        return cls(
            events=[_event_from_json(item) for item in stored],
            view_hashes=dict(data["h"]),
            encoded={item["event_id"]: item for item in stored},
        )

    @property
    def created(self) -> ComplaintEvent | None:
        """The first `created` event (a loop: asked several times per event)."""
        for event in self.events:
            if event.type == "created":
                return event
        return None


def _event_from_json(data: Mapping[str, Any]) -> ComplaintEvent:
    # Stored events were validated on arrival: rebuild them without validating again.
    values = dict(data)
    values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
    return ComplaintEvent.model_construct(**values)


@dataclass(frozen=True)
class Accepted:
    views: list[UnitView]  # changed views, deleted ones included
    dropped: list[tuple[ComplaintEvent, str]]  # held events rejected now, with the reason


def view_hash(view: UnitView) -> str:
    return encoded_view_hash(view.to_json())


def encoded_view_hash(encoded: dict[str, Any]) -> str:
    """The digest of a view's JSON form (UnitView.to_json: its keys come in a fixed order)."""
    return hashlib.blake2b(orjson.dumps(encoded), digest_size=8).hexdigest()


def accept_event(state: ComplaintState, event: ComplaintEvent, registry: Registry) -> Accepted:
    """Record a valid event in the complaint's state (mutated), or raise EventRejected."""
    dropped = record_event(state, event, registry)
    return Accepted(views=changed_views(state, registry), dropped=dropped)


def record_event(
    state: ComplaintState, event: ComplaintEvent, registry: Registry | None = None
) -> list[tuple[ComplaintEvent, str]]:
    """The validation half of accept_event, without evaluating the complaint: batch replay
    records every event first and evaluates each complaint once.

    With the registry, the events of core.timeline rules 9-11 are checked too: a reason or
    cause outside the registry's vocabulary is rejected (`unknown_reason`, `unknown_cause`),
    and one the timeline would not apply at its instant, given the events known now, is
    rejected with the timeline's reason (e.g. `extension_over_limit`). One that arrives
    before `created` is held, like any event; the timeline ignores it if it turns out
    invalid (its reason is then in the complaint's anomalies)."""
    by_id = state.by_id()
    if event.event_id in by_id:
        raise EventRejected(DUPLICATE_EVENT_ID)
    if len(state.events) >= MAX_EVENTS_PER_COMPLAINT:
        raise EventRejected(COMPLAINT_TOO_LONG)
    if registry is not None and event.type in CHECKED_TYPES:
        _check_fairness_event(state, event, registry)
    escalated = event.type == "escalated"
    if escalated and registry is not None and not registry.escalation.known(event.level):
        raise EventRejected("unknown_level")
    created = state.created
    dropped: list[tuple[ComplaintEvent, str]] = []
    if event.type == "created":
        if created is not None:
            raise EventRejected("duplicate_created")
        kept = []
        for held in state.events:
            if held.occurred_at < event.occurred_at:
                dropped.append((held, f"{held.type}_before_created"))
                del by_id[held.event_id]
            else:
                kept.append(held)
        state.events = kept
    elif created is not None and event.occurred_at < created.occurred_at:
        raise EventRejected(f"{event.type}_before_created")
    state.events.append(event)
    by_id[event.event_id] = event
    return dropped


CHECKED_TYPES: Final = frozenset(
    ("extension_granted", "miss_explained", "objection_filed", "objection_decided")
)


def _check_fairness_event(state: ComplaintState, event: ComplaintEvent, registry: Registry) -> None:
    vocabulary = registry.causes
    if event.type == "extension_granted" and not vocabulary.known(event.reason):
        raise EventRejected("unknown_reason")
    if event.type == "miss_explained" and not vocabulary.known(event.cause):
        raise EventRejected("unknown_cause")
    created = state.created
    if created is None or event.occurred_at < created.occurred_at:
        return  # held until created arrives / rejected as <type>_before_created below
    fold = synced_fold(state, registry, build=False)
    if fold is not None:
        decided, reason = fold.rejection(event)
        if decided:
            if reason is not None:
                raise EventRejected(reason)
            return
    outcome = evaluate_complaint([*state.events, event], registry)
    reason = dict(outcome.rejected).get(event.event_id)
    if reason is not None:
        raise EventRejected(reason)


def is_redelivery(state: ComplaintState, event: ComplaintEvent) -> bool:
    """The very event already recorded (a redelivery after a crash, not a producer bug)."""
    return state.by_id().get(event.event_id) == event


def current_views(state: ComplaintState, registry: Registry) -> list[UnitView]:
    """Every unit view of the complaint as it stands (sent again after a redelivery)."""
    if state.created is None:
        return []
    outcome = evaluate_complaint(state.events, registry)
    views = attach_officers(unit_views(outcome, registry), state.events, outcome, registry)
    return list(views.values())


def changed_views(state: ComplaintState, registry: Registry) -> list[UnitView]:
    """The complaint's unit views that differ from those last sent (recorded as sent)."""
    return [view for view, _ in changed_encoded_views(state, registry)]


def changed_encoded_views(
    state: ComplaintState, registry: Registry, *, every_view: bool = False
) -> list[tuple[UnitView, dict[str, Any]]]:
    """As changed_views, each with its JSON form; `every_view`: the unchanged ones too (to
    send again after a redelivery)."""
    if state.created is None:
        return []
    fold = synced_fold(state, registry, build=len(state.events) >= FOLD_MIN_EVENTS)
    if fold is not None:
        outcome, views = fold.views()
    else:
        outcome = evaluate_complaint(state.events, registry)
        views = attach_officers(unit_views(outcome, registry), state.events, outcome, registry)
    changed = []
    hashes = state.view_hashes
    for unit, view in views.items():
        encoded = view.to_json()
        digest = encoded_view_hash(encoded)
        if hashes.get(unit) != digest or every_view:
            hashes[unit] = digest
            changed.append((view, encoded))
    for unit in sorted(set(hashes) - set(views)):
        del hashes[unit]
        gone = deleted_view(unit, outcome.complaint_id, outcome.as_of.timestamp())
        changed.append((gone, gone.to_json()))
    return changed


def synced_fold(
    state: ComplaintState, registry: Registry, *, build: bool = True
) -> ComplaintFold | None:
    """The state's fold brought up to its events: the new events applied in order, or,
    when they cannot be (out of order, another registry, events changed otherwise than by
    appending), a fold built anew from all the events (once). None when there is no fold
    and `build` is False, or when the events are not foldable (core.incremental): the
    caller then uses the full evaluation. While it is being brought up to date the state
    holds no fold, so an exception on the way leaves none behind."""
    fold, state.fold = state.fold, None
    if fold is None and not build:
        return None
    events = state.events
    if not (
        fold is not None
        and fold.registry is registry
        and fold.follows(events)
        and fold.catch_up(events)
    ):
        fold = ComplaintFold.build(events, registry)
    state.fold = fold
    return fold
