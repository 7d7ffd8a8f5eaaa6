"""Incremental complaint evaluation (core.incremental): after every event, the views, view
hashes and outcome the worker gets from the kept fold are those of the full evaluation
(core.timeline.evaluate_complaint + core.unit_view.unit_views + core.officers.attach_officers
from all the events), whatever the arrival order; and an in-order event costs the same
whatever the number of events the complaint already has (counted, not timed)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ComplaintEvent, EventRejected
from sigap.core import complaint_state, officers, timeline
from sigap.core.calendar import JAKARTA
from sigap.core.complaint_state import (
    ComplaintState,
    changed_encoded_views,
    encoded_view_hash,
    record_event,
)
from sigap.core.incremental import ComplaintFold
from sigap.core.officers import attach_officers
from sigap.core.registry import Registry
from sigap.core.registry_file import load_registry, parse_registry
from sigap.core.timeline import evaluate_complaint
from sigap.core.unit_view import deleted_view, unit_views
from tests.properties import examples

REPO = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(REPO / "deploy" / "registry.yaml")
START = datetime(2026, 1, 5, 8, tzinfo=JAKARTA)  # a Monday


def _registry_with_exclusions(exclusions: list[dict[str, str]]) -> Registry:
    data = yaml.safe_load((REPO / "deploy" / "registry.yaml").read_text())
    data["exclusions"] = exclusions
    return parse_registry(data, "test-registry.yaml", REGISTRY.calendar_for("dlh").holidays)


REGISTRIES = [
    REGISTRY,
    _registry_with_exclusions(
        [
            {
                "unit": "*",
                "start": "2026-01-05T12:00:00+07:00",
                "end": "2026-01-06T10:00:00+07:00",
                "reason": "force_majeure",
            },
            {
                "unit": "dlh",
                "start": "2026-01-07T08:00:00+07:00",
                "end": "2026-01-08T16:00:00+07:00",
                "reason": "force_majeure",
            },
            {
                "unit": "dsda",
                "start": "2026-01-06T09:00:00+07:00",
                "end": "2026-01-06T09:30:00+07:00",
                "reason": "other",
            },
        ]
    ),
]
UNITS = ["dlh", "dsda", "dishub", "nowhere"]  # "nowhere": not in the registry
OFFICERS = [None, "o-1", "o-2", "o-3"]
TIMERS = ["response", "resolution"]
VOCABULARY = ["citizen_unreachable", "procurement", "force_majeure", "other"]
KINDS = [
    "assigned",
    "responded",
    "paused",
    "resumed",
    "resolved",
    "reopened",
    "rated",
    "closed",
    "handed_over",
    "handed_over",
    "extension_granted",
    "miss_explained",
    "objection_filed",
    "objection_decided",
    "escalated",
]
TIMEZONES = [JAKARTA, UTC]


def _fields(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if kind in ("created", "assigned"):
        body["unit"] = draw(st.sampled_from(UNITS))
        body["officer"] = draw(st.sampled_from(OFFICERS))
        if kind == "assigned":
            body["reason"] = draw(st.sampled_from([None, "wrong_unit"]))
    elif kind in ("responded", "resolved"):
        body["officer"] = draw(st.sampled_from(OFFICERS))
    elif kind == "handed_over":
        body["officer"] = draw(st.sampled_from(OFFICERS[1:]))
    elif kind == "paused":
        body["reason"] = draw(st.sampled_from([None, *VOCABULARY]))
    elif kind == "rated":
        body["rating"] = draw(st.integers(1, 5))
    elif kind == "extension_granted":
        body["timer"] = draw(st.sampled_from(TIMERS))
        body["working_days"] = draw(st.integers(1, 9))
        body["reason"] = draw(st.sampled_from(VOCABULARY))
    elif kind in ("miss_explained", "objection_filed", "objection_decided"):
        body["unit"] = draw(st.sampled_from(UNITS[:3]))
        body["timer"] = draw(st.sampled_from(TIMERS))
        if kind == "miss_explained":
            body["cause"] = draw(st.sampled_from(VOCABULARY))
        if kind == "objection_decided":
            body["decision"] = draw(st.sampled_from(["upheld", "rejected"]))
    elif kind == "escalated":
        body["level"] = draw(st.sampled_from(["kecamatan", "dinas", "walikota"]))
    return {key: value for key, value in body.items() if value is not None}


@st.composite
def histories(draw: st.DrawFn) -> list[ComplaintEvent]:
    """One complaint's events in event-time order: `created`, then up to 30 events of any
    type (same-instant ties included), some possibly earlier than `created`."""
    at = START + timedelta(minutes=draw(st.integers(0, 60 * 30)))
    kinds = ["created", *draw(st.lists(st.sampled_from(KINDS), max_size=30))]
    events = []
    for index, kind in enumerate(kinds):
        if index:
            at += timedelta(minutes=draw(st.sampled_from([0, 0, 5, 60, 300, 1500, 4000])))
        when = at
        if index and draw(st.integers(0, 19)) == 0:
            when = START - timedelta(minutes=draw(st.integers(1, 600)))  # before `created`
        body = {
            "event_id": f"e{index}",
            "type": kind,
            "complaint_id": "c-1",
            "occurred_at": when.astimezone(draw(st.sampled_from(TIMEZONES))),
            **_fields(draw, kind),
        }
        events.append(ComplaintEvent.model_validate(body))
    return events


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[ComplaintEvent], Registry, list[int]]:
    """A history in an arrival order (mostly in order, some events late, or shuffled), a
    registry (with or without exclusions), and batch sizes (the stage evaluates a complaint
    once per batch)."""
    events = draw(histories())
    mode = draw(st.sampled_from(["in_order", "in_order", "late", "shuffled"]))
    if mode == "late":
        delays = [draw(st.sampled_from([0, 0, 0, 1, 3])) for _ in events]
        order = sorted(range(len(events)), key=lambda i: (i + delays[i], i))
        events = [events[i] for i in order]
    elif mode == "shuffled":
        events = draw(st.permutations(events))
    redelivered = draw(st.lists(st.sampled_from(events), max_size=2))
    events = [*events, *redelivered]
    batches = draw(st.lists(st.integers(1, 3), min_size=len(events), max_size=len(events)))
    return events, draw(st.sampled_from(REGISTRIES)), batches


def _record(state: ComplaintState, event: ComplaintEvent, registry: Registry) -> Any:
    try:
        return record_event(state, event, registry)
    except EventRejected as rejected:
        return rejected.reason


def _full(events: list[ComplaintEvent], registry: Registry) -> tuple[Any, dict[str, Any]]:
    outcome = evaluate_complaint(events, registry)
    views = attach_officers(unit_views(outcome, registry), events, outcome, registry)
    return outcome, {unit: view.to_json() for unit, view in views.items()}


def _batches(events: list[ComplaintEvent], sizes: list[int]) -> Iterator[list[ComplaintEvent]]:
    index = 0
    for size in sizes:
        if index >= len(events):
            return
        yield events[index : index + size]
        index += size


@settings(max_examples=examples(300))
@given(arrivals())
def test_incremental_views_equal_full_evaluation_for_any_arrival_order(
    case: tuple[list[ComplaintEvent], Registry, list[int]],
) -> None:
    events, registry, sizes = case
    with mock.patch.object(complaint_state, "FOLD_MIN_EVENTS", 1):  # a fold from `created` on
        _compare_with_full_evaluation(events, registry, sizes)


def _compare_with_full_evaluation(
    events: list[ComplaintEvent], registry: Registry, sizes: list[int]
) -> None:
    incremental = ComplaintState()  # evaluated through its fold, as the worker does
    reference = ComplaintState()  # never evaluated incrementally: no fold
    sent: dict[str, str] = {}  # the hashes the full evaluation would have sent
    for batch in _batches(events, sizes):
        for event in batch:
            # The same events accepted and rejected (fairness checks too) with the fold.
            assert _record(incremental, event, registry) == _record(reference, event, registry)
        assert incremental.events == reference.events
        changed = [
            (view.unit, encoded) for view, encoded in changed_encoded_views(incremental, registry)
        ]
        if reference.created is None:
            assert changed == []
            continue
        outcome, full = _full(reference.events, registry)
        expected = []
        for unit, encoded in full.items():
            digest = encoded_view_hash(encoded)
            if sent.get(unit) != digest:
                sent[unit] = digest
                expected.append((unit, encoded))
        for unit in sorted(set(sent) - set(full)):
            del sent[unit]
            expected.append((unit, deleted_view(unit, "c-1", outcome.as_of.timestamp()).to_json()))
        assert changed == expected
        assert incremental.view_hashes == sent
        fold = incremental.fold
        assert fold is not None  # created is known: the complaint is folded
        assert fold.outcome() == outcome


@settings(max_examples=examples(200))
@given(histories(), st.sampled_from(REGISTRIES), st.data())
def test_a_fold_gives_the_full_outcome_and_views_after_every_event_it_applies(
    events: list[ComplaintEvent], registry: Registry, data: st.DataObject
) -> None:
    """Straight on the fold, without the stage's validation: events before `created` make
    `build` decline (the full evaluation handles them); an event out of order is refused
    without changing the fold."""
    order = data.draw(st.permutations(range(len(events))))
    given_so_far: list[ComplaintEvent] = []
    fold: ComplaintFold | None = None
    for index in order:
        event = events[index]
        given_so_far.append(event)
        if fold is None or not fold.advance([event]):
            fold = ComplaintFold.build(given_so_far, registry)
        if fold is None:
            created = [e for e in given_so_far if e.type == "created"]
            assert not created or any(e.occurred_at < created[0].occurred_at for e in given_so_far)
            continue
        outcome, views = fold.views()
        expected_outcome, expected_views = _full(given_so_far, registry)
        assert outcome == expected_outcome
        assert {unit: view.to_json() for unit, view in views.items()} == expected_views
        assert fold.views()[0] == outcome  # reading it twice changes nothing


def _ev(index: int, kind: str, at: datetime, **fields: Any) -> ComplaintEvent:
    return ComplaintEvent.model_validate(
        {"event_id": f"e{index}", "type": kind, "complaint_id": "c-1", "occurred_at": at, **fields}
    )


def _long_history(count: int) -> list[ComplaintEvent]:
    """`created`, then in event-time order a repeating mix of the events of a long-running
    complaint: hand-overs, pauses, escalations, ratings, transfers back and forth."""
    cycle: list[tuple[str, dict[str, Any]]] = [
        ("handed_over", {"officer": "o-2"}),
        ("paused", {"reason": "procurement"}),
        ("resumed", {}),
        ("escalated", {"level": "dinas"}),
        ("assigned", {"unit": "dsda", "officer": "o-3"}),
        ("rated", {"rating": 4}),
        ("assigned", {"unit": "dlh"}),
        ("responded", {"officer": "o-1"}),
    ]
    events = [_ev(0, "created", START, unit="dlh", officer="o-1")]
    for index in range(1, count):
        kind, fields = cycle[index % len(cycle)]
        events.append(_ev(index, kind, START + timedelta(minutes=7 * index), **fields))
    return events


class _Counter:
    calls = 0


def _counted(function: Any, counter: _Counter) -> Any:
    """`function` (a method), counting its calls in `counter` (events a replay applies)."""

    def counting(*args: Any) -> Any:
        counter.calls += 1
        return function(*args)

    return counting


@pytest.mark.parametrize("k", [10, 100, 900])
def test_the_kth_in_order_event_applies_one_event_whatever_k(
    k: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cost of an event: how many events the evaluation applies for it (not timed).
    Incremental: 1 to the timeline's replay and 1 to the officer walk, for k = 10, 100 or
    900 (and a hand-over held back until the event passed it); the full evaluation applies
    k - 1 to each (all the events but `created`)."""
    monkeypatch.setattr(complaint_state, "FOLD_MIN_EVENTS", 1)  # folded at every k
    registry = REGISTRIES[1]
    events = _long_history(k)
    state = ComplaintState()
    for event in events[:-1]:
        record_event(state, event, registry)
        changed_encoded_views(state, registry)
    replay_apply, walk_apply = _Counter(), _Counter()
    monkeypatch.setattr(timeline._Replay, "apply", _counted(timeline._Replay.apply, replay_apply))
    monkeypatch.setattr(officers._Walk, "apply", _counted(officers._Walk.apply, walk_apply))
    fold = state.fold
    assert fold is not None
    # A hand-over later than every other event waits for as_of to pass it (k = 10 here).
    held_back = len(fold.pending)
    assert held_back <= 1
    record_event(state, events[-1], registry)
    changed_encoded_views(state, registry)
    assert state.fold is fold  # the same fold, one event further
    assert (replay_apply.calls, walk_apply.calls) == (1 + held_back, 1 + held_back)

    replay_apply.calls = walk_apply.calls = 0
    _full(state.events, registry)
    assert (replay_apply.calls, walk_apply.calls) == (k - 1, k - 1)


def _bounded_history(count: int) -> list[ComplaintEvent]:
    """`created`, then a repeating mix whose views keep their size whatever the count:
    pauses with a reason, escalations (at most MAX_ESCALATIONS kept), ratings, responses and
    hand-overs by the officer already holding it (no transfer, no new officer span)."""
    cycle: list[tuple[str, dict[str, Any]]] = [
        ("handed_over", {"officer": "o-1"}),
        ("paused", {"reason": "procurement"}),
        ("resumed", {}),
        ("escalated", {"level": "dinas"}),
        ("rated", {"rating": 4}),
        ("paused", {}),
        ("resumed", {}),
        ("responded", {"officer": "o-1"}),
    ]
    events = [_ev(0, "created", START, unit="dlh", officer="o-1")]
    for index in range(1, count):
        kind, fields = cycle[index % len(cycle)]
        events.append(_ev(index, kind, START + timedelta(minutes=7 * index), **fields))
    return events


def _calls_for_last_event(events: list[ComplaintEvent], incremental: bool) -> int:
    """The function calls (Python and builtin) evaluating the last of `events` makes, the
    others recorded (and, incrementally, evaluated) before: a count, not a time."""
    state = ComplaintState()
    for event in events[:-1]:
        record_event(state, event, REGISTRY)
        if incremental:
            changed_encoded_views(state, REGISTRY)
    record_event(state, events[-1], REGISTRY)
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    previous = sys.getprofile()
    sys.setprofile(count)
    try:
        if incremental:
            changed_encoded_views(state, REGISTRY)
        else:
            _full(state.events, REGISTRY)
    finally:
        sys.setprofile(previous)
    return calls


def test_the_kth_in_order_event_makes_as_many_calls_whatever_k_when_views_keep_their_size() -> None:
    """All the work of an event, not only the events applied: with views of a constant
    size, the k-th event (a rating, for k = 101, 501, 901) makes the same number of calls
    give or take the bisections' steps (a few per halving of the pauses), while the full
    evaluation's grow with k."""
    incremental = [_calls_for_last_event(_bounded_history(k), True) for k in (101, 501, 901)]
    assert max(incremental) <= 1.1 * min(incremental)
    full = [_calls_for_last_event(_bounded_history(k), False) for k in (101, 901)]
    assert full[1] > 5 * full[0]
    assert full[1] > 20 * incremental[2]


def test_a_late_event_rebuilds_the_fold_from_all_the_events_once() -> None:
    events = _long_history(20)
    state = ComplaintState()
    for event in events[:-2]:
        record_event(state, event, REGISTRY)
        changed_encoded_views(state, REGISTRY)
    first = state.fold
    record_event(state, events[-1], REGISTRY)
    changed_encoded_views(state, REGISTRY)
    assert state.fold is first
    record_event(state, events[-2], REGISTRY)  # sorts before the one applied last
    changed_encoded_views(state, REGISTRY)
    rebuilt = state.fold
    assert rebuilt is not None and rebuilt is not first and rebuilt.applied == len(events) - 1
    assert rebuilt.outcome() == evaluate_complaint(state.events, REGISTRY)


def test_the_stored_state_is_the_same_with_the_fold_and_a_restart_rebuilds_it() -> None:
    events = _long_history(30)
    state = ComplaintState()
    for event in events[:-1]:
        record_event(state, event, REGISTRY)
        changed_encoded_views(state, REGISTRY)
    stored = state.to_json()
    assert set(stored) == {"v", "e", "h"}  # the fold is never written
    restored = ComplaintState.from_json(stored)
    assert restored.fold is None
    assert restored == state  # the fold takes no part in comparisons
    record_event(restored, events[-1], REGISTRY)
    record_event(state, events[-1], REGISTRY)
    assert changed_encoded_views(restored, REGISTRY) == changed_encoded_views(state, REGISTRY)
    assert restored.fold is not None and restored.fold.applied == len(events) - 1


@mock.patch.object(complaint_state, "FOLD_MIN_EVENTS", 1)
def test_an_exclusion_boundary_passed_by_as_of_is_applied_before_the_next_event() -> None:
    registry = REGISTRIES[1]
    day = datetime(2026, 1, 7, tzinfo=JAKARTA)
    events = [
        _ev(0, "created", day.replace(hour=7), unit="dlh"),
        _ev(1, "responded", day.replace(hour=7, minute=30)),
        # dlh's exclusion starts at 08:00 on the 7th and ends at 16:00 on the 8th.
        _ev(2, "rated", (day + timedelta(days=1)).replace(hour=17), rating=3),
        _ev(3, "resolved", (day + timedelta(days=9)).replace(hour=9)),
    ]
    state = ComplaintState()
    for event in events:
        record_event(state, event, registry)
        changed_encoded_views(state, registry)
        fold = state.fold
        assert fold is not None
        assert fold.outcome() == evaluate_complaint(state.events, registry)
    assert fold.boundaries_applied == 2
    assert fold.applied == 3


def test_a_complaint_is_folded_from_fold_min_events_events_on() -> None:
    """Fewer events: the full evaluation at each one, no fold kept (cheap enough, and a
    fold in memory is not free); from FOLD_MIN_EVENTS on, the fold, with the same views."""
    events = _long_history(complaint_state.FOLD_MIN_EVENTS + 3)
    state = ComplaintState()
    sent: dict[str, str] = {}
    for count, event in enumerate(events, 1):
        record_event(state, event, REGISTRY)
        changed = changed_encoded_views(state, REGISTRY)
        assert (state.fold is not None) == (count >= complaint_state.FOLD_MIN_EVENTS)
        _, full = _full(state.events, REGISTRY)
        expected = []
        for unit, encoded in full.items():
            if sent.get(unit) != encoded_view_hash(encoded):
                sent[unit] = encoded_view_hash(encoded)
                expected.append((unit, encoded))
        assert [(view.unit, encoded) for view, encoded in changed] == expected
