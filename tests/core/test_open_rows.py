"""A unit's open timers held as columns (core.open_rows): the rows that go in come out, field
for field, whatever the order of puts and removes, and the columns shrink after a peak.

The reference is a plain dict keyed by (complaint id, timer), which is how the unit stage
held the rows before."""

from __future__ import annotations

import math
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigap.core.charging import TIMERS
from sigap.core.open_rows import COMPACT_MIN_FREE, OpenRows
from sigap.core.worklist import OpenTimerRow
from tests.properties import examples

PROPERTY = settings(database=None, deadline=None, max_examples=examples(300))

COMPLAINTS = ("c-1", "c-2", "c-3", "SBY-2026-000004")
# "escalation" is not in core.charging.TIMERS: kept as a plain row.
TIMER_NAMES = (*TIMERS, "escalation")
numbers = st.one_of(
    st.floats(allow_nan=False, width=64),
    st.just(math.inf),
    st.floats(min_value=1.7e9, max_value=1.9e9),
)
rows = st.tuples(
    st.sampled_from(COMPLAINTS),
    st.sampled_from(TIMER_NAMES),
    st.sampled_from(("jalan-rusak", "banjir", "other")),
    numbers,
    numbers,
    st.sampled_from(("wall", "working")),
    numbers,
    st.booleans(),
    numbers,
    numbers,
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), rows),
        st.tuples(
            st.just("remove"), st.tuples(st.sampled_from(COMPLAINTS), st.sampled_from(TIMER_NAMES))
        ),
    ),
    max_size=60,
)


def row(complaint_id: str, timer: str = "response", deadline: float = 1.8e9) -> OpenTimerRow:
    return (complaint_id, timer, "banjir", 1.7e9, deadline, "wall", 86400.0, True, 1.75e9, 1.77e9)


@PROPERTY
@given(operations)
def test_the_rows_held_are_the_last_put_of_each_complaint_and_timer_not_removed(
    steps: list[tuple[str, tuple[object, ...]]],
) -> None:
    held = OpenRows()
    reference: dict[tuple[str, str], OpenTimerRow] = {}
    for kind, value in steps:
        if kind == "put":
            put: OpenTimerRow = value  # type: ignore[assignment]
            held.put(put)
            reference[(put[0], put[1])] = put
        else:
            complaint_id, timer = value
            held.remove(str(complaint_id), str(timer))
            reference.pop((str(complaint_id), str(timer)), None)
        got = list(held.rows())
        assert len(held) == len(got) == len(reference)
        assert {(r[0], r[1]): r for r in got} == reference


@PROPERTY
@given(operations, operations)
def test_the_state_taken_back_holds_the_same_rows_and_takes_the_same_changes(
    before: list[tuple[str, tuple[object, ...]]], after: list[tuple[str, tuple[object, ...]]]
) -> None:
    held = OpenRows()
    apply(held, before)
    loaded = OpenRows.from_state(held.to_state())
    assert sorted(loaded.rows()) == sorted(held.rows()) and len(loaded) == len(held)
    apply(held, after)
    apply(loaded, after)
    assert sorted(loaded.rows()) == sorted(held.rows()) and len(loaded) == len(held)
    assert loaded.slots() == held.slots()


def apply(held: OpenRows, steps: list[tuple[str, tuple[object, ...]]]) -> None:
    for kind, value in steps:
        if kind == "put":
            held.put(value)  # type: ignore[arg-type]
        else:
            held.remove(str(value[0]), str(value[1]))


def test_a_state_whose_columns_do_not_fit_together_is_refused() -> None:
    state = OpenRows([row("a"), row("b"), row("c")]).to_state()
    one_slot_twice = array("q", [0, 0, 2]).tobytes()
    for broken in (
        (["a", "b"], *state[1:]),  # an id short
        (["a", "a", "c"], *state[1:]),  # an id twice
        (state[0], one_slot_twice, *state[2:]),  # two complaints in one slot
        (state[0], array("q", [0, 1, 3]).tobytes(), *state[2:]),  # a slot beyond the columns
        (*state[:6], state[6][:-8], *state[7:]),  # a number short
        (*state[:7], [], *state[8:]),  # no strings for the indexes
        (*state[:9], 4),  # a row more than the flags show
    ):
        with pytest.raises(ValueError, match="do not fit"):
            OpenRows.from_state(broken)


def test_a_row_comes_out_with_the_types_it_went_in_with() -> None:
    put = ("c-9", "resolution", "banjir", 1.7e9, math.inf, "working", 3600.0, False, 1.75e9, 2e9)
    (got,) = OpenRows([put]).rows()
    assert got == put
    assert [type(field) for field in got] == [type(field) for field in put]


def test_a_freed_slot_is_taken_by_the_next_new_complaint() -> None:
    held = OpenRows([row("a"), row("a", "resolution"), row("b")])
    assert held.slots() == 2
    held.remove("a", "response")
    assert held.slots() == 2 and len(held) == 2  # "a" still holds its resolution timer
    held.remove("a", "resolution")
    held.put(row("c"))
    assert held.slots() == 2
    assert sorted(r[0] for r in held.rows()) == ["b", "c"]


def test_the_columns_shrink_when_most_complaints_have_closed_after_a_peak() -> None:
    peak = 3 * COMPACT_MIN_FREE
    held = OpenRows(row(f"c-{i}", deadline=1.8e9 + i) for i in range(peak))
    assert held.slots() == peak
    kept = {f"c-{i}" for i in range(0, peak, 100)}
    for i in range(peak):
        if f"c-{i}" not in kept:
            held.remove(f"c-{i}", "response")
    assert held.slots() < peak // 2
    assert {r[0]: r[4] for r in held.rows()} == {c: 1.8e9 + int(c[2:]) for c in kept}
