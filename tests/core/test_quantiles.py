"""Exact nearest-rank quantiles, against the definition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sigap.core.quantiles import nearest_rank, quantiles


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
