"""The officer contract: `officer` on created/assigned/responded/resolved, `handed_over`, and
unit figures that do not move whether or not an app sends officer codes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EventRejected, parse_event
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.replay import replay, result_json
from tests.histories import complaint_events as history_of
from tests.officers.helpers import with_officers
from tests.properties import examples
from tests.schemas.test_events import SHIPPED

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
JAKARTA = ZoneInfo("Asia/Jakarta")
START = datetime(2026, 10, 5, 8, 0, tzinfo=JAKARTA)

BASE: dict[str, Any] = {
    "event_id": "e1",
    "complaint_id": "c1",
    "occurred_at": "2026-11-02T09:00:00+07:00",
}


@pytest.mark.parametrize("kind", ["created", "assigned", "responded", "resolved"])
def test_officer_is_optional_on_the_acting_types(kind: str) -> None:
    body = {**BASE, "type": kind, "unit": "dlh", "officer": "dlh-o17"}
    event = parse_event(orjson.dumps(body))
    assert event.officer == "dlh-o17"
    jsonschema.validate(body, SHIPPED)
    without = {key: value for key, value in body.items() if key != "officer"}
    assert parse_event(orjson.dumps(without)).officer is None
    jsonschema.validate(without, SHIPPED)


def test_handed_over_requires_an_officer_in_model_and_schema() -> None:
    body = {**BASE, "type": "handed_over", "officer": "o2"}
    assert parse_event(orjson.dumps(body)).type == "handed_over"
    jsonschema.validate(body, SHIPPED)
    missing = {**BASE, "type": "handed_over"}
    with pytest.raises(EventRejected) as rejected:
        parse_event(orjson.dumps(missing))
    assert rejected.value.reason == "missing_officer"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, SHIPPED)


@pytest.mark.parametrize(
    "code",
    ["Budi Santoso", "197001012000031001 ", "o1\n", "o1\x00", "o\t1", "-o1", "", "O1", "x" * 65],
)
def test_an_officer_code_is_pseudonymous_and_has_no_control_characters(code: str) -> None:
    with pytest.raises(EventRejected) as rejected:
        parse_event(orjson.dumps({**BASE, "type": "responded", "officer": code}))
    assert rejected.value.reason == "invalid_officer"
    # The reason's detail never echoes the code.
    assert code.strip() == "" or code.strip() not in str(rejected.value)


def test_the_complaint_stage_accepts_a_hand_over() -> None:
    state = ComplaintState()
    events = [
        {**BASE, "type": "created", "unit": "dlh", "officer": "o1"},
        {
            **BASE,
            "event_id": "e2",
            "type": "handed_over",
            "officer": "o2",
            "occurred_at": "2026-11-02T10:00:00+07:00",
        },
    ]
    for body in events:
        accept_event(state, parse_event(orjson.dumps(body)), REGISTRY)
    assert [event.type for event in state.events] == ["created", "handed_over"]
    assert ComplaintState.from_json(orjson.loads(orjson.dumps(state.to_json()))).events == (
        state.events
    )


# -- unit figures are the same with and without officer codes ----------------------------

UNITS = ["dlh", "dsda", "dishub", "damkar", "not-registered"]


@settings(max_examples=examples(40), deadline=None)
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=8).flatmap(
        lambda seeds: st.tuples(
            st.tuples(
                *[
                    history_of(
                        n,
                        start=START,
                        units=UNITS,
                        created_within_days=60,
                        max_later_events=7,
                        days_between_events=4,
                    )
                    for n in range(len(seeds))
                ]
            ),
            st.randoms(use_true_random=False),
        )
    )
)
def test_officer_codes_and_hand_overs_leave_unit_scores_unchanged(drawn: Any) -> None:
    per_complaint, rng = drawn
    plain = [event for events in per_complaint for event in events]
    officered = [event for events in per_complaint for event in with_officers(events, rng)]
    as_of = max(event.occurred_at for event in officered).timestamp()
    before = result_json(replay(plain, REGISTRY, as_of=as_of))
    after = result_json(replay(officered, REGISTRY, as_of=as_of))
    assert after["units"] == before["units"]
    assert after["scores"] == before["scores"]
