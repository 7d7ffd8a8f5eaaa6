"""The league table's ranking rule (core.ranking): hand-worked cases, the Wilson interval
against published values, and the fairness properties with hypothesis."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigap.core.ranking import Candidate, IndicatorOutcome, rank_units, wilson_interval
from tests.properties import examples

CAP = 120.0


def outcome(percent: float | None) -> IndicatorOutcome:
    """An indicator whose target is achieved exactly when its achievement reaches 100%."""
    if percent is None:
        return IndicatorOutcome(None, None)
    return IndicatorOutcome(percent >= 100.0, percent)


def unit(code: str, percents: list[float | None], met: int = 40, missed: int = 0) -> Candidate:
    return Candidate(code, tuple(outcome(p) for p in percents), met, missed)


def test_a_unit_that_met_every_indicator_ranks_above_a_higher_average() -> None:
    # The case: damkar averages 111.2% with 4 of 5 achieved, satpol-pp 110% with 5/5.
    damkar = unit("damkar", [120.0, 120.0, 120.0, 120.0, 76.0])
    satpol = unit("satpol-pp", [110.0, 110.0, 110.0, 110.0, 110.0])
    assert sum([120.0] * 4 + [76.0]) / 5 == pytest.approx(111.2)
    standings = rank_units([damkar, satpol])
    assert [(s.unit, s.rank) for s in standings] == [("satpol-pp", 1), ("damkar", 2)]
    assert standings[0].achieved_share == 1.0 and standings[1].achieved_share == 0.8


def test_equal_shares_are_ordered_by_the_worst_indicator_then_the_geometric_mean() -> None:
    # a and b both achieve 1 of 2; a's worst is 90%, b's 80% though b's mean is higher.
    a = unit("a", [100.0, 90.0])
    b = unit("b", [120.0, 80.0])
    # c and d have the same worst (100%); the geometric mean decides: sqrt(100*110) > 100.
    c = unit("c", [100.0, 110.0])
    d = unit("d", [100.0, 100.0])
    standings = rank_units([b, a, d, c])
    assert [(s.unit, s.rank) for s in standings] == [("c", 1), ("d", 2), ("a", 3), ("b", 4)]
    got = {s.unit: s for s in standings}
    assert got["c"].balanced_achievement == pytest.approx(math.sqrt(100 * 110))
    assert got["b"].worst_achievement == 80.0


def test_equal_units_share_a_rank_and_the_next_rank_skips() -> None:
    standings = rank_units(
        [unit("z", [100.0]), unit("y", [100.0]), unit("x", [90.0]), unit("w", [120.0])]
    )
    assert [(s.unit, s.rank) for s in standings] == [("w", 1), ("y", 2), ("z", 2), ("x", 4)]


def test_units_below_the_minimum_sample_are_listed_not_ranked() -> None:
    standings = rank_units(
        [
            unit("small", [120.0] * 5, met=2, missed=0),  # one complaint: two timers
            unit("big", [100.0, 80.0], met=30, missed=5),
            unit("silent", [None] * 5, met=0, missed=0),
            unit("none", [], met=12, missed=0),
        ],
        min_decided_timers=10,
    )
    assert [(s.unit, s.rank, s.status) for s in standings] == [
        ("big", 1, "ranked"),
        ("small", None, "too_few_timers"),
        ("none", None, "no_indicator"),
        ("silent", None, "no_indicator"),
    ]
    small = standings[1]
    assert (small.decided, small.achieved_share, small.within_target_share) == (2, 1.0, 1.0)


def test_nothing_decided_and_no_indicator_do_not_divide_by_zero() -> None:
    (only,) = rank_units([unit("u", [None], met=0, missed=0)], min_decided_timers=0)
    assert only.status == "no_indicator" and only.rank is None
    assert only.within_target_share is None and only.band is None
    assert only.achieved_share is None and only.worst_achievement is None
    # A zero achievement (0% within target) gives a geometric mean of 0, not a log error.
    (zero,) = rank_units([unit("u", [0.0, 120.0], met=0, missed=12)])
    assert zero.balanced_achievement == 0.0 and zero.rank == 1
    assert zero.band is not None and zero.band[0] == 0.0


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Published 95% Wilson intervals (e.g. Newcombe 1998, table I; Agresti-Coull 1998).
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
    ],
)
def test_wilson_interval_matches_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    found = wilson_interval(successes, trials, 0.95)
    assert found is not None
    assert found == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_of_nothing_is_none_and_bad_confidence_is_refused() -> None:
    assert wilson_interval(0, 0, 0.95) is None
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, 1.0)


def test_overlapping_bands_are_marked_not_distinguishable() -> None:
    # 95/100 and 90/100 overlap; 50/100 is clearly lower than both.
    standings = rank_units(
        [
            unit("a", [120.0], met=95, missed=5),
            unit("b", [110.0], met=90, missed=10),
            unit("c", [100.0], met=50, missed=50),
        ]
    )
    got = {s.unit: (s.rank, s.not_distinguishable_from) for s in standings}
    assert got == {"a": (1, (2,)), "b": (2, (1,)), "c": (3, ())}


def test_a_duplicate_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        rank_units([unit("a", [100.0]), unit("a", [90.0])])


# ---- properties ---------------------------------------------------------------------------

percents = st.one_of(st.none(), st.floats(0.0, CAP, allow_nan=False))


@st.composite
def candidates(draw: st.DrawFn, code: str) -> Candidate:
    values = draw(st.lists(percents, min_size=0, max_size=5))
    met = draw(st.integers(0, 60))
    missed = draw(st.integers(0, 60))
    return unit(code, values, met, missed)


@st.composite
def tables(draw: st.DrawFn) -> list[Candidate]:
    count = draw(st.integers(1, 8))
    return [draw(candidates(f"u{i}")) for i in range(count)]


def met_all(c: Candidate) -> bool:
    known = [i for i in c.indicators if i.achieved is not None]
    return bool(known) and all(i.achieved for i in known)


def missed_one(c: Candidate) -> bool:
    return any(i.achieved is False for i in c.indicators)


@settings(max_examples=examples(300), deadline=None)
@given(tables(), st.integers(0, 20))
def test_a_unit_that_missed_an_indicator_never_outranks_one_that_met_all(
    table: list[Candidate], minimum: int
) -> None:
    standings = {s.unit: s for s in rank_units(table, min_decided_timers=minimum)}
    by_code = {c.unit: c for c in table}
    for loser in table:
        for winner in table:
            a, b = standings[loser.unit], standings[winner.unit]
            compared = a.rank is not None and b.rank is not None
            if compared and missed_one(by_code[loser.unit]) and met_all(by_code[winner.unit]):
                assert (a.rank or 0) > (b.rank or 0)


@settings(max_examples=examples(200), deadline=None)
@given(tables(), st.randoms(use_true_random=False))
def test_the_ranking_does_not_depend_on_the_order_of_the_units(
    table: list[Candidate], rng: random.Random
) -> None:
    shuffled = list(table)
    rng.shuffle(shuffled)
    assert rank_units(table) == rank_units(shuffled)


@settings(max_examples=examples(200), deadline=None)
@given(tables(), st.integers(3, 30), st.integers(0, 2))
def test_a_unit_with_one_complaint_can_never_top_the_table(
    table: list[Candidate], minimum: int, timers: int
) -> None:
    # One complaint gives its unit at most two decided timers (response, resolution): even
    # with every indicator at the cap it is not ranked.
    lucky = unit("lucky", [CAP] * 5, met=timers, missed=0)
    standings = rank_units([*table, lucky], min_decided_timers=minimum)
    found = next(s for s in standings if s.unit == "lucky")
    assert found.rank is None and found.status != "ranked"
    if standings[0].rank is not None:
        assert standings[0].unit != "lucky"


@settings(max_examples=examples(200), deadline=None)
@given(tables(), st.data())
def test_over_achieving_an_achieved_indicator_never_lifts_a_unit_above_a_better_worst(
    table: list[Candidate], data: st.DataObject
) -> None:
    # Raising an indicator that is already achieved (up to the cap) cannot move a unit
    # past one with the same share of indicators achieved and a better worst indicator.
    subject = data.draw(st.sampled_from(table))
    achieved = [n for n, i in enumerate(subject.indicators) if i.achieved]
    if not achieved:
        return
    index = data.draw(st.sampled_from(achieved))
    boosted = list(subject.indicators)
    boosted[index] = IndicatorOutcome(True, CAP)
    better = Candidate(subject.unit, tuple(boosted), subject.met, subject.missed)
    before = {s.unit: s for s in rank_units(table)}
    after = {s.unit: s for s in rank_units([better if c is subject else c for c in table])}
    me_before, me_after = before[subject.unit], after[subject.unit]
    for other in table:
        if other is subject:
            continue
        peer = after[other.unit]
        if me_after.rank is None or peer.rank is None:
            continue
        if peer.achieved_share == me_after.achieved_share and (peer.worst_achievement or 0.0) > (
            me_after.worst_achievement or 0.0
        ):
            assert peer.rank < me_after.rank
    if me_before.rank is not None and me_after.rank is not None:
        assert me_after.rank <= me_before.rank  # never worse for getting better


@settings(max_examples=examples(200), deadline=None)
@given(tables(), st.integers(0, 20))
def test_ranks_start_at_one_never_decrease_and_only_ranked_units_have_one(
    table: list[Candidate], minimum: int
) -> None:
    standings = rank_units(table, min_decided_timers=minimum)
    assert sorted(s.unit for s in standings) == sorted(c.unit for c in table)
    ranks = [s.rank for s in standings if s.rank is not None]
    assert all(s.rank is None for s in standings[len(ranks) :])
    if ranks:
        assert ranks[0] == 1 and ranks == sorted(ranks)
    for s in standings:
        assert (s.rank is not None) == (s.status == "ranked")
        if s.status == "ranked":
            assert s.decided >= minimum
        if s.band is not None and s.within_target_share is not None:
            assert s.band[0] <= s.within_target_share <= s.band[1]
