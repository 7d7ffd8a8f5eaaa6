"""Officers are charged exactly as units are charged across transfers, and their figures add
up to their unit's (conservation)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ComplaintEvent, EventRejected
from sigap.core.complaint_state import ComplaintState, current_views, record_event
from sigap.core.officer_view import UNASSIGNED
from sigap.core.officers import has_officer_data
from sigap.core.registry_file import load_registry
from sigap.core.scoring import COUNT_COLUMNS
from sigap.core.timeline import evaluate_complaint
from sigap.replay import replay
from tests.histories import complaint_events as history_of
from tests.officers.helpers import with_officers
from tests.properties import examples

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
JAKARTA = ZoneInfo("Asia/Jakarta")
START = datetime(2026, 10, 5, 8, 0, tzinfo=JAKARTA)  # a Monday
UNITS = ["dlh", "dsda", "dishub", "damkar", "not-registered"]


def events_of(
    complaint_id: str, steps: list[tuple[str, datetime, dict[str, Any]]]
) -> list[ComplaintEvent]:
    return [
        ComplaintEvent.model_validate(
            {
                "event_id": f"{complaint_id}-{number}",
                "type": kind,
                "complaint_id": complaint_id,
                "occurred_at": at,
                **extra,
            }
        )
        for number, (kind, at, extra) in enumerate(steps)
    ]


def officer_rows(events: list[ComplaintEvent], period: str = "quarter") -> dict[str, Any]:
    result = replay(events, REGISTRY, as_of=(START + timedelta(days=60)).timestamp())
    return {
        score.officer: score.score
        for score in result.officer_scores
        if score.score.period == period and score.score.category == "*"
    }


# -- hand-written cases, each checked against the rule it illustrates -------------------


def test_a_hand_over_before_the_deadline_is_neither_met_nor_missed_for_who_handed_over() -> None:
    # dlh: response within 24 wall hours. A holds it 3 h, hands it to B; nobody answers.
    rows = officer_rows(
        events_of(
            "c1",
            [
                ("created", START, {"unit": "dlh", "officer": "a"}),
                ("handed_over", START + timedelta(hours=3), {"officer": "b"}),
            ],
        )
    )
    assert rows["a"].received == 1
    assert (rows["a"].response_met, rows["a"].response_missed) == (0, 0)
    assert (rows["b"].received, rows["b"].response_missed) == (0, 1)


def test_whoever_held_it_when_the_deadline_passed_has_missed() -> None:
    # A holds it past the 24 h response deadline, then hands it over; B responds.
    rows = officer_rows(
        events_of(
            "c2",
            [
                ("created", START, {"unit": "dlh", "officer": "a"}),
                ("handed_over", START + timedelta(hours=30), {"officer": "b"}),
                ("responded", START + timedelta(hours=31), {}),
            ],
        )
    )
    assert rows["a"].response_missed == 1 and rows["a"].responded == 0
    assert rows["b"].response_missed == 0 and rows["b"].responded == 1
    assert rows["b"].response_met == 0  # the unit's timer was decided once, missed


def test_the_acting_officer_on_a_response_gets_the_met_outcome() -> None:
    rows = officer_rows(
        events_of(
            "c3",
            [
                ("created", START, {"unit": "dlh", "officer": "a"}),
                ("responded", START + timedelta(hours=2), {"officer": "c"}),
            ],
        )
    )
    assert rows["c"].response_met == 1 and rows["c"].responded == 1
    assert rows["a"].response_met == 0 and rows["a"].received == 1


def test_complaints_without_codes_count_under_one_unassigned_officer_per_unit() -> None:
    events = events_of(
        "c4",
        [
            ("created", START, {"unit": "dlh"}),
            ("assigned", START + timedelta(hours=1), {"unit": "dsda"}),
            ("resolved", START + timedelta(hours=5), {}),
        ],
    )
    result = replay(events, REGISTRY, as_of=(START + timedelta(days=60)).timestamp())
    assert {(s.unit, s.officer) for s in result.officer_scores} == {
        ("dlh", UNASSIGNED),
        ("dsda", UNASSIGNED),
    }


def test_a_transfer_away_is_charged_to_the_officer_who_held_it() -> None:
    rows = officer_rows(
        events_of(
            "c5",
            [
                ("created", START, {"unit": "dlh", "officer": "a"}),
                ("handed_over", START + timedelta(hours=1), {"officer": "b"}),
                ("assigned", START + timedelta(hours=2), {"unit": "dsda", "officer": "x"}),
            ],
        )
    )
    assert rows["b"].transfers_away == 1 and rows["a"].transfers_away == 0


def test_held_time_is_split_by_phase_and_a_pause_stops_it() -> None:
    events = events_of(
        "c6",
        [
            ("created", START, {"unit": "dlh", "officer": "a"}),  # Monday 08:00
            ("responded", START + timedelta(hours=1), {}),
            ("handed_over", START + timedelta(hours=2), {"officer": "b"}),
            ("paused", START + timedelta(hours=3), {}),
            ("resumed", START + timedelta(hours=5), {}),
            ("resolved", START + timedelta(hours=6), {"officer": "b"}),
        ],
    )
    state = ComplaintState()
    for event in events:
        record_event(state, event)
    (view,) = current_views(state, REGISTRY)
    assert view.officers is not None
    held = {officer.officer: dict(officer.held_seconds) for officer in view.officers}
    assert held == {
        "a": {"before_response": 3600.0, "after_response": 3600.0},
        "b": {"after_response": 2 * 3600.0},
    }


# -- conservation: the officers' figures add up to the unit's ------------------------------


def histories() -> st.SearchStrategy[Any]:
    return st.lists(st.integers(0, 10**6), min_size=1, max_size=8).flatmap(
        lambda seeds: st.tuples(
            st.tuples(
                *[
                    history_of(
                        n,
                        start=START,
                        units=UNITS,
                        created_within_days=40,
                        max_later_events=8,
                        days_between_events=3,
                    )
                    for n in range(len(seeds))
                ]
            ),
            st.randoms(use_true_random=False),
        )
    )


@settings(max_examples=examples(60), deadline=None)
@given(histories(), st.booleans())
def test_officer_scores_add_up_to_the_unit_scores(drawn: Any, with_codes: bool) -> None:
    per_complaint, rng = drawn
    events = [
        event
        for history in per_complaint
        for event in (with_officers(history, rng) if with_codes else history)
    ]
    as_of = max(event.occurred_at for event in events) + timedelta(days=rng.randrange(0, 20))
    result = replay(events, REGISTRY, as_of=as_of.timestamp())
    units = {(s.unit, s.category, s.period, s.period_start): s for s in result.scores}
    sums: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_COLUMNS, 0))
    for item in result.officer_scores:
        score = item.score
        key = (score.unit, score.category, score.period, score.period_start)
        assert key in units, key
        for column in COUNT_COLUMNS:
            sums[key][column] += getattr(score, column)
    for key, unit_score in units.items():
        assert sums[key] == {column: getattr(unit_score, column) for column in COUNT_COLUMNS}, key
    if not with_codes:
        assert {item.officer for item in result.officer_scores} <= {UNASSIGNED}


@settings(max_examples=examples(60), deadline=None)
@given(histories())
def test_officers_held_time_adds_up_to_the_units_resolution_clock(drawn: Any) -> None:
    per_complaint, rng = drawn
    for history in per_complaint:
        events = with_officers(history, rng)
        state = ComplaintState()
        for event in events:
            try:
                record_event(state, event)
            except EventRejected:  # duplicates and events before created, as live
                continue
        if state.created is None:
            continue
        outcome = evaluate_complaint(state.events, REGISTRY)
        for view in current_views(state, REGISTRY):
            if view.officers is None:  # no code and no hand-over in this complaint
                assert not has_officer_data(state.events)
                continue
            held = sum(sum(o.held_seconds.values()) for o in view.officers)
            charge = next(
                (c for c in outcome.charges if c.unit == view.unit and c.timer == "resolution"),
                None,
            )
            expected = charge.elapsed_wall_seconds if charge is not None else 0.0
            assert held == pytest.approx(expected, abs=1e-3), view.unit
