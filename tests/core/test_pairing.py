"""Pairing created/resolved events (contract v1), quantiles and totals: the pure core."""

from __future__ import annotations

import itertools
import math
import random

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.pairing import Change, ComplaintRecord, apply_event
from core.quantiles import nearest_rank, quantiles
from core.totals import RESOLUTION_BUCKETS, UnitTotals
from schemas.events import ComplaintEvent, parse_event


def event(event_id: str, type_: str, at: str, unit: str | None = None) -> ComplaintEvent:
    body = {"event_id": event_id, "type": type_, "complaint_id": "c", "occurred_at": at}
    if unit:
        body["unit"] = unit
    return parse_event(orjson.dumps(body))


CREATED = event("e1", "created", "2026-11-02T09:00:00+07:00", "dlh")
RESOLVED = event("e2", "resolved", "2026-11-02T10:30:00+07:00")


def test_created_then_resolved_measures_event_time() -> None:
    record = ComplaintRecord()
    assert apply_event(record, CREATED).changes == (Change.CREATED,)
    applied = apply_event(record, RESOLVED)
    assert applied.changes == (Change.RESOLVED,)
    assert applied.resolution is not None
    assert applied.resolution.resolution_seconds == 5400.0
    assert applied.resolution.unit == "dlh"


def test_resolved_first_is_held_then_measured() -> None:
    record = ComplaintRecord()
    assert apply_event(record, RESOLVED).changes == (Change.HELD,)
    applied = apply_event(record, CREATED)
    assert applied.changes == (Change.CREATED, Change.RESOLVED)
    assert applied.resolution is not None and applied.resolution.resolution_seconds == 5400.0


def test_repeated_event_id_is_ignored_and_record_round_trips() -> None:
    record = ComplaintRecord()
    apply_event(record, CREATED)
    restored = ComplaintRecord.from_json(orjson.loads(orjson.dumps(record.to_json())))
    assert apply_event(restored, CREATED).changes == (Change.DUPLICATE,)


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        (CREATED, event("e3", "created", "2026-11-02T09:00:00+07:00", "dlh"), "duplicate_created"),
        (RESOLVED, event("e4", "resolved", "2026-11-02T11:00:00+07:00"), "already_resolved"),
        (CREATED, event("e5", "resolved", "2026-11-02T08:00:00+07:00"), "resolved_before_created"),
        (
            RESOLVED,
            event("e6", "created", "2026-11-02T11:00:00+07:00", "dlh"),
            "resolved_before_created",
        ),
    ],
)
def test_contradictions_are_rejected_with_a_reason(
    first: ComplaintEvent, second: ComplaintEvent, reason: str
) -> None:
    record = ComplaintRecord()
    apply_event(record, first)
    before = record.to_json()
    applied = apply_event(record, second)
    assert applied.changes == (Change.REJECTED,)
    assert applied.reason == reason
    assert record.to_json() == before  # a rejected event changes nothing


def test_both_arrival_orders_give_the_same_measurement() -> None:
    results = set()
    for order in itertools.permutations([CREATED, RESOLVED]):
        record = ComplaintRecord()
        measured = [apply_event(record, e).resolution for e in order]
        results.add(next(r for r in measured if r is not None))
    assert len(results) == 1


def independent_nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    for v in ordered:  # smallest v with at least a fraction q of the sample <= v
        if sum(1 for x in ordered if x <= v) >= q * len(ordered) - 1e-12:
            return v
    raise AssertionError("unreachable")


@given(
    st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=60),
    st.sampled_from([0.5, 0.9, 0.99, 1.0]),
)
def test_nearest_rank_matches_definition(values: list[float], q: float) -> None:
    assert nearest_rank(sorted(values), q) == independent_nearest_rank(values, q)


def test_quantiles_of_small_samples() -> None:
    assert quantiles([9000.0, 1200.0], (0.5, 0.9)) == [1200.0, 9000.0]
    assert quantiles(range(1, 11), (0.5, 0.9)) == [5, 9]
    assert quantiles([], (0.5,)) == [None]


def test_totals_histogram_counts_bounds_as_upper_inclusive() -> None:
    totals = UnitTotals()
    rng = random.Random(3)
    values = [rng.choice(RESOLUTION_BUCKETS) for _ in range(50)] + [1e9, 1.0]
    for value in values:
        totals.observe_resolution(value)
    for bound, cumulative in totals.cumulative_buckets():
        assert cumulative == sum(1 for v in values if v <= bound)
    assert math.isinf(totals.cumulative_buckets()[-1][0])
    assert UnitTotals.from_json(totals.to_json()) == totals
