"""core.windows: event-time watermark, rolling windows, Jakarta periods and the period ledger.

Quantiles are checked against an oracle written here from the definition (the smallest v with
at least a fraction q of the sample <= v), using integer arithmetic so no rounding is involved.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.windows import (
    DAY,
    DEFAULT_RETENTION_SECONDS,
    HOUR,
    PeriodKind,
    PeriodLedger,
    PeriodScore,
    RollingWindows,
    Watermark,
    WindowStats,
    period_end,
    period_start,
    period_start_epoch,
    periods_of,
)


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def json_round_trip(data: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


def oracle_quantile(values: list[float], numerator: int, denominator: int) -> float:
    """Smallest v in the sample with #(x <= v) >= (numerator/denominator) * n."""
    n = len(values)
    return min(v for v in values if sum(x <= v for x in values) * denominator >= numerator * n)


def oracle_stats(
    measurements: list[tuple[float, float, bool]], width: float, watermark: float
) -> WindowStats:
    inside = [m for m in measurements if watermark - width < m[0] <= watermark]
    if not inside:
        return WindowStats(count=0, p50=None, p90=None, within_target_ratio=None)
    values = [m[1] for m in inside]
    return WindowStats(
        count=len(inside),
        p50=oracle_quantile(values, 1, 2),
        p90=oracle_quantile(values, 9, 10),
        within_target_ratio=sum(m[2] for m in inside) / len(inside),
    )


T0 = utc("2026-11-02T03:00:00")  # a Monday, 10:00 in Jakarta

# Times on a coarse grid (quarter hours over ~40 days) so boundaries and ties come up often.
times = st.integers(min_value=0, max_value=40 * 96).map(lambda q: T0 + q * 900.0)
values = st.integers(min_value=0, max_value=50).map(lambda v: v * 600.0)
measurements = st.lists(st.tuples(times, values, st.booleans()), max_size=60)


# --------------------------------------------------------------------------------------------
# Rolling windows


@pytest.mark.parametrize(("window", "width"), list(RollingWindows.WINDOWS.items()))
def test_window_membership_boundaries(window: str, width: float) -> None:
    watermark = T0 + 40 * DAY
    state = RollingWindows()
    state.add(watermark - width, 1.0, True)  # exactly at w - W: out
    state.add(watermark - width + 0.5, 2.0, False)  # just inside
    state.add(watermark, 3.0, True)  # exactly at w: in
    state.add(watermark + 0.5, 4.0, True)  # after the watermark: out
    stats = state.stats(window, watermark)
    assert stats.count == 2
    assert (stats.p50, stats.p90) == (2.0, 3.0)
    assert stats.within_target_ratio == 0.5


def test_window_quantiles_and_ratio_by_hand() -> None:
    state = RollingWindows()
    for index, value in enumerate([10.0, 70.0, 30.0, 20.0, 100.0, 60.0, 40.0, 90.0, 50.0, 80.0]):
        state.add(T0 + index * 60, value, within_target=value <= 60)
    stats = state.stats("1h", T0 + 3000)
    # 10 values: p50 is the 5th smallest, p90 the 9th.
    assert stats == WindowStats(count=10, p50=50.0, p90=90.0, within_target_ratio=0.6)
    assert state.stats("1h", T0 - 1) == WindowStats(0, None, None, None)
    assert set(state.all_stats(T0 + 3000)) == {"1h", "24h", "7d", "30d"}


@settings(max_examples=200)
@given(measurements, times)
def test_window_stats_match_oracle(
    items: list[tuple[float, float, bool]], watermark: float
) -> None:
    state = RollingWindows()
    for item in items:
        state.add(*item)
    for window, width in RollingWindows.WINDOWS.items():
        assert state.stats(window, watermark) == oracle_stats(items, width, watermark)


def test_eviction() -> None:
    state = RollingWindows([(T0, 1.0, True), (T0 + 10, 2.0, True), (T0 + 20, 3.0, False)])
    assert state.evict_before(T0 + 10) == 1  # strictly before the cutoff
    assert [m[0] for m in state] == [T0 + 10, T0 + 20]
    assert state.evict_before(T0) == 0

    watermark = T0 + 10 + 30 * DAY + HOUR
    assert state.expire(watermark, grace_seconds=HOUR) == 0  # T0+10 is still inside the slack
    assert state.expire(watermark + 10, grace_seconds=HOUR) == 1
    assert len(state) == 1


@given(measurements, times)
def test_expire_never_changes_window_stats(
    items: list[tuple[float, float, bool]], watermark: float
) -> None:
    state = RollingWindows(items)
    before = state.all_stats(watermark)
    state.expire(watermark, grace_seconds=0.0)
    assert state.all_stats(watermark) == before


@given(measurements)
def test_windows_json_round_trip(items: list[tuple[float, float, bool]]) -> None:
    state = RollingWindows(items)
    restored = RollingWindows.from_json(json_round_trip(state.to_json()))
    assert restored == state
    assert RollingWindows.from_json(None) == RollingWindows()


def test_windows_json_rejects_corrupt_state() -> None:
    with pytest.raises(ValueError):
        RollingWindows.from_json({"t": [2.0, 1.0], "v": [1.0, 1.0], "m": "11"})
    with pytest.raises(ValueError):
        RollingWindows.from_json({"t": [1.0], "v": [1.0, 2.0], "m": "1"})


@given(measurements, st.integers(min_value=1, max_value=4), st.randoms(use_true_random=False))
def test_merge_equals_single_state_over_union(
    items: list[tuple[float, float, bool]], partitions: int, rng: random.Random
) -> None:
    parts = [RollingWindows() for _ in range(partitions)]
    single = RollingWindows()
    for item in items:
        rng.choice(parts).add(*item)
    for item in reversed(items):  # another order: the state must not depend on it
        single.add(*item)
    merged = RollingWindows.merge(parts)
    assert merged == single
    assert merged.to_json() == single.to_json()
    for watermark in (T0, T0 + 7 * DAY, T0 + 40 * DAY):
        assert merged.all_stats(watermark) == single.all_stats(watermark)


def test_windows_reject_bad_input() -> None:
    state = RollingWindows()
    with pytest.raises(ValueError):
        state.add(float("nan"), 1.0, True)
    with pytest.raises(ValueError):
        state.add(T0, float("inf"), True)
    with pytest.raises(ValueError):
        state.stats("2h", T0)


# --------------------------------------------------------------------------------------------
# Watermark


def test_watermark_follows_events_and_ignores_older_ones() -> None:
    mark = Watermark()
    assert mark.current(wall_now=T0, caught_up=True) is None
    mark.observe(T0 - 100, wall_now=T0)
    assert mark.current(wall_now=T0, caught_up=False) == T0 - 100
    mark.observe(T0 - 50, wall_now=T0 + 1)
    mark.observe(T0 - 80, wall_now=T0 + 2)  # out of order: does not lower the maximum
    assert mark.max_event_time == T0 - 50
    assert mark.wall_at_max == T0 + 1
    assert mark.current(wall_now=T0 + 2, caught_up=False) == T0 - 50


def test_watermark_advances_with_wall_clock_only_when_caught_up() -> None:
    mark = Watermark()
    mark.observe(T0, wall_now=T0 + 5)
    # Lagging: wall time passing does not move it.
    assert mark.current(wall_now=T0 + 3600, caught_up=False) == T0
    # Caught up: it moves by the wall time elapsed since the newest event was seen.
    assert mark.current(wall_now=T0 + 3605, caught_up=True) == T0 + 3600
    # Lagging again: it stays where it was, never backwards.
    assert mark.current(wall_now=T0 + 7200, caught_up=False) == T0 + 3600
    # An event older than the high-water mark does not pull it back either.
    mark.observe(T0 + 100, wall_now=T0 + 7300)
    assert mark.current(wall_now=T0 + 7300, caught_up=True) == T0 + 3600
    assert mark.current(wall_now=T0 + 10900, caught_up=True) == T0 + 3700


def test_watermark_never_beyond_wall_clock_and_never_backwards() -> None:
    mark = Watermark()
    mark.observe(T0 + 1000, wall_now=T0)  # a producer clock running 1000 s ahead
    assert mark.current(wall_now=T0, caught_up=False) == T0
    assert mark.current(wall_now=T0 + 500, caught_up=True) == T0 + 500
    assert mark.current(wall_now=T0 + 5000, caught_up=True) == T0 + 5000
    # The wall clock steps back (NTP): the watermark keeps its high-water mark.
    assert mark.current(wall_now=T0 + 4000, caught_up=True) == T0 + 5000


operations = st.lists(
    st.one_of(
        st.tuples(st.just("observe"), st.floats(0, 10_000), st.floats(0, 10_000)),
        st.tuples(st.just("current"), st.floats(0, 10_000), st.booleans()),
    ),
    max_size=40,
)


@given(operations)
def test_watermark_properties(ops: list[tuple[str, float, Any]]) -> None:
    mark = Watermark()
    previous: float | None = None
    for op in ops:
        if op[0] == "observe":
            mark.observe(op[1], wall_now=op[2])
            continue
        _, wall_now, caught_up = op
        value = mark.current(wall_now, caught_up)
        if mark.max_event_time is None:
            assert value is None
            continue
        assert value is not None
        if previous is not None:
            assert value >= previous  # never backwards
        floor = previous if previous is not None else value
        assert value <= max(floor, wall_now)  # only the high-water mark can exceed the wall
        if not caught_up:
            assert value <= max(floor, mark.max_event_time)
        else:
            assert value >= min(mark.max_event_time, wall_now)
        previous = value
        restored = Watermark.from_json(json_round_trip(mark.to_json()))
        assert restored == mark


# --------------------------------------------------------------------------------------------
# Calendar periods


def test_periods_near_jakarta_midnight() -> None:
    # 2026-11-30T17:30Z is 2026-12-01 00:30 in Jakarta (UTC+7).
    assert periods_of(utc("2026-11-30T17:30:00")) == {
        "day": date(2026, 12, 1),
        "week": date(2026, 11, 30),
        "month": date(2026, 12, 1),
    }
    # One second before Jakarta midnight is still November 30.
    assert periods_of(utc("2026-11-30T16:59:59")) == {
        "day": date(2026, 11, 30),
        "week": date(2026, 11, 30),
        "month": date(2026, 11, 1),
    }
    assert period_start("day", utc("2026-11-30T17:00:00")) == date(2026, 12, 1)
    # Sunday 23:59:59 in Jakarta belongs to the ISO week that began on the Monday before.
    assert period_start("week", utc("2026-11-29T16:59:59")) == date(2026, 11, 23)
    assert period_start("week", utc("2026-11-29T17:00:00")) == date(2026, 11, 30)


def test_period_end() -> None:
    assert period_end("day", date(2026, 12, 1)) == utc("2026-12-01T17:00:00")
    assert period_end("week", date(2026, 11, 30)) == utc("2026-12-06T17:00:00")
    assert period_end("month", date(2026, 11, 1)) == utc("2026-11-30T17:00:00")
    assert period_end("month", date(2026, 12, 1)) == utc("2026-12-31T17:00:00")
    assert period_start_epoch("month", date(2027, 1, 1)) == utc("2026-12-31T17:00:00")
    with pytest.raises(ValueError):
        period_end("week", date(2026, 12, 1))  # a Tuesday
    with pytest.raises(ValueError):
        period_end("month", date(2026, 12, 2))


@given(st.floats(min_value=utc("2000-01-01T00:00:00"), max_value=utc("2100-01-01T00:00:00")))
def test_instant_lies_in_its_periods(moment: float) -> None:
    for kind, start in periods_of(moment).items():
        assert period_start(kind, moment) == start
        assert period_start_epoch(kind, start) <= moment < period_end(kind, start)


# --------------------------------------------------------------------------------------------
# Period ledger

DAY_START = date(2026, 11, 3)  # a Tuesday; its week ends 2026-11-08 and month 2026-11-30
DAY_END = period_end("day", DAY_START)
GRACE = HOUR


def at(hour: float) -> float:
    """An instant on DAY_START, `hour` hours after Jakarta midnight."""
    return period_start_epoch("day", DAY_START) + hour * HOUR


def aggregate(score: PeriodScore) -> tuple[Any, ...]:
    return (
        score.kind,
        score.start,
        score.count,
        score.met,
        score.sum_seconds,
        score.p50,
        score.p90,
        score.within_target_ratio,
    )


def test_day_is_final_at_end_plus_grace_and_emitted_once() -> None:
    ledger = PeriodLedger()
    for hour, value in [(9, 600.0), (10, 1800.0), (11, 3600.0)]:
        assert ledger.add(at(hour), value, within_target=value <= 1800)
    assert ledger.due(at(12), GRACE) == []
    assert ledger.due(DAY_END, GRACE) == []  # the day is over but in its grace period
    assert ledger.due(DAY_END + GRACE - 0.001, GRACE) == []
    scores = ledger.due(DAY_END + GRACE, GRACE)
    assert scores == [
        PeriodScore(
            kind="day",
            start=DAY_START,
            revision=1,
            count=3,
            met=2,
            sum_seconds=6000.0,
            p50=1800.0,
            p90=3600.0,
            within_target_ratio=2 / 3,
            late=False,
        )
    ]
    assert scores[0].end == DAY_END
    assert ledger.due(DAY_END + 2 * GRACE, GRACE) == []  # nothing changed: nothing emitted


def test_late_event_restates_with_next_revision() -> None:
    ledger = PeriodLedger()
    ledger.add(at(9), 600.0, True)
    ledger.add(at(10), 1200.0, True)
    [first] = ledger.due(DAY_END + GRACE, GRACE)
    assert (first.revision, first.count, first.p90, first.late) == (1, 2, 1200.0, False)

    # An event for the final day, and one for the still-open next day.
    assert ledger.add(at(23), 7200.0, False)
    assert ledger.add(at(30), 60.0, True)
    [second] = ledger.due(DAY_END + 2 * GRACE, GRACE)
    assert second.kind == "day" and second.start == DAY_START
    assert (second.revision, second.late) == (2, True)
    assert (second.count, second.met, second.sum_seconds) == (3, 2, 9000.0)
    assert (second.p50, second.p90, second.within_target_ratio) == (1200.0, 7200.0, 2 / 3)
    assert ledger.due(DAY_END + 3 * GRACE, GRACE) == []

    ledger.add(at(8), 300.0, True)
    [third] = ledger.due(DAY_END + 3 * GRACE, GRACE)
    assert (third.revision, third.count, third.late) == (3, 4, True)


def test_week_and_month_finalise_and_restate_together() -> None:
    ledger = PeriodLedger()
    ledger.add(at(9), 600.0, True)
    month_end = period_end("month", date(2026, 11, 1))
    scores = ledger.due(month_end + GRACE, GRACE)
    assert [(s.kind, s.start, s.revision) for s in scores] == [
        ("day", DAY_START, 1),
        ("week", date(2026, 11, 2), 1),
        ("month", date(2026, 11, 1), 1),
    ]
    assert ledger.add(at(10), 1200.0, False)
    restated = ledger.due(month_end + GRACE, GRACE)
    assert [(s.kind, s.revision, s.count, s.late) for s in restated] == [
        ("day", 2, 2, True),
        ("week", 2, 2, True),
        ("month", 2, 2, True),
    ]


def test_due_never_goes_backwards() -> None:
    ledger = PeriodLedger()
    ledger.add(at(9), 600.0, True)
    assert len(ledger.due(DAY_END + GRACE, GRACE)) == 1
    ledger.add(at(10), 600.0, True)
    # A lower watermark than before still sees the day as final.
    [restated] = ledger.due(at(12), GRACE)
    assert restated.revision == 2
    assert ledger.watermark == DAY_END + GRACE


def test_too_late_events_are_refused_and_periods_dropped_after_retention() -> None:
    ledger = PeriodLedger()
    ledger.add(at(9), 600.0, True)
    retained_until = DAY_END + DEFAULT_RETENTION_SECONDS
    ledger.due(retained_until - 1, GRACE)
    assert ("day", DAY_START) in ledger.periods()
    assert ledger.accepts(at(10))
    assert ledger.add(at(10), 600.0, True)  # one second before the values are dropped
    restated = ledger.due(retained_until - 1, GRACE)
    assert [(s.kind, s.revision, s.count) for s in restated] == [
        ("day", 2, 2),
        ("week", 2, 2),
        ("month", 2, 2),
    ]

    ledger.due(retained_until, GRACE)
    assert ("day", DAY_START) not in ledger.periods()
    # The week and the month end later, so they keep their values.
    assert ("week", date(2026, 11, 2)) in ledger.periods()
    assert ("month", date(2026, 11, 1)) in ledger.periods()
    assert not ledger.add(at(11), 600.0, True)
    assert ledger.too_late == 1
    # A refused event changes nothing: nothing is restated.
    assert ledger.due(retained_until, GRACE) == []
    month = ledger.provisional("month", date(2026, 11, 1))
    assert month is not None and month.count == 2
    # A later day of the same month is still accepted and restates the month.
    assert ledger.add(utc("2026-11-20T03:00:00"), 60.0, True)
    month_end = period_end("month", date(2026, 11, 1))
    emitted = ledger.due(month_end + DEFAULT_RETENTION_SECONDS, GRACE)
    assert [(s.kind, s.start, s.revision, s.count) for s in emitted] == [
        ("day", date(2026, 11, 20), 1, 1),
        ("week", date(2026, 11, 16), 1, 1),
        ("month", date(2026, 11, 1), 3, 3),
    ]
    assert ledger.periods() == []


def test_ledger_json_round_trip_keeps_revisions() -> None:
    ledger = PeriodLedger()
    ledger.add(at(9), 600.0, True)
    ledger.due(DAY_END + GRACE, GRACE)
    ledger.add(at(10), 1200.0, False)
    restored = PeriodLedger.from_json(json_round_trip(ledger.to_json()))
    assert restored == ledger
    assert restored.due(DAY_END + GRACE, GRACE) == ledger.due(DAY_END + GRACE, GRACE)
    assert PeriodLedger.from_json(None) == PeriodLedger()


def test_ledger_rejects_bad_grace() -> None:
    with pytest.raises(ValueError):
        PeriodLedger().due(T0, grace_seconds=-1.0)
    with pytest.raises(ValueError):
        PeriodLedger(retention_seconds=DAY).due(T0, grace_seconds=2 * DAY)


def last_aggregates(scores: list[PeriodScore]) -> dict[tuple[PeriodKind, date], tuple[Any, ...]]:
    latest: dict[tuple[PeriodKind, date], PeriodScore] = {}
    for score in scores:
        previous = latest.get((score.kind, score.start))
        assert previous is None or score.revision == previous.revision + 1
        assert score.late == (score.revision > 1)
        latest[(score.kind, score.start)] = score
    return {key: aggregate(score) for key, score in latest.items()}


@settings(max_examples=150)
@given(
    measurements,
    # Checks stay below every event's day end + retention, so no add is refused.
    st.lists(st.integers(min_value=0, max_value=35 * 96).map(lambda q: T0 + q * 900.0), max_size=8),
    st.randoms(use_true_random=False),
)
def test_final_aggregates_do_not_depend_on_order_or_interleaved_checks(
    items: list[tuple[float, float, bool]], checks: list[float], rng: random.Random
) -> None:
    final = T0 + 45 * DAY

    batch = PeriodLedger()
    for item in items:
        assert batch.add(*item)
    expected = last_aggregates(batch.due(final, GRACE))

    shuffled = list(items)
    rng.shuffle(shuffled)
    steps: list[tuple[str, Any]] = [("add", item) for item in shuffled]
    for check in checks:
        steps.insert(rng.randint(0, len(steps)), ("due", check))
    ledger = PeriodLedger()
    emitted: list[PeriodScore] = []
    highest = float("-inf")
    for step, payload in steps:
        if step == "add":
            assert ledger.add(*payload)
        else:
            scores = ledger.due(payload, GRACE)
            # Only final periods are emitted, against the highest watermark seen so far.
            highest = max(highest, payload)
            assert all(s.end + GRACE <= highest for s in scores)
            emitted.extend(scores)
    emitted.extend(ledger.due(final, GRACE))

    assert last_aggregates(emitted) == expected
    assert ledger.due(final, GRACE) == []


@given(measurements, st.integers(min_value=1, max_value=3), st.randoms(use_true_random=False))
def test_ledger_merge_equals_single_ledger(
    items: list[tuple[float, float, bool]], partitions: int, rng: random.Random
) -> None:
    parts = [PeriodLedger() for _ in range(partitions)]
    single = PeriodLedger()
    for item in items:
        rng.choice(parts).add(*item)
        single.add(*item)
    check = T0 + 10 * DAY
    for part in parts:
        part.due(check, GRACE)
    single.due(check, GRACE)
    merged = PeriodLedger.merge(parts)
    assert merged.periods() == single.periods()
    for kind, start in single.periods():
        expected = single.provisional(kind, start)
        actual = merged.provisional(kind, start)
        assert expected is not None and actual is not None
        assert aggregate(actual) == aggregate(expected)
    # The merged ledger re-emits at least what the single one would, with the same aggregates.
    final = T0 + 45 * DAY
    from_merged = last_aggregates(merged.due(final, GRACE))
    from_single = last_aggregates(single.due(final, GRACE))
    assert from_single.keys() <= from_merged.keys()
    for key, values in from_merged.items():
        expected = single.provisional(*key)
        assert expected is not None and values == aggregate(expected)


def test_remove_takes_out_exactly_one_equal_measurement() -> None:
    windows = RollingWindows([(10.0, 5.0, True), (10.0, 5.0, True), (20.0, 1.0, False)])
    assert windows.remove(10.0, 5.0, True)
    assert list(windows) == [(10.0, 5.0, True), (20.0, 1.0, False)]
    assert not windows.remove(20.0, 1.0, True)  # within_target differs: not the same
    assert windows.remove(20.0, 1.0, False)
    assert list(windows) == [(10.0, 5.0, True)]
