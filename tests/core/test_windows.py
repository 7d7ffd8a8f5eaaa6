"""sigap.core.windows: event-time watermark, rolling windows, Jakarta periods and the period ledger.

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

from sigap.core.periods import period_end, period_start, period_start_epoch, periods_of
from sigap.core.windows import DAY, HOUR, RollingWindows, WindowStats
from tests.properties import examples


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


@settings(max_examples=examples(200))
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


def test_remove_takes_out_exactly_one_equal_measurement() -> None:
    windows = RollingWindows([(10.0, 5.0, True), (10.0, 5.0, True), (20.0, 1.0, False)])
    assert windows.remove(10.0, 5.0, True)
    assert list(windows) == [(10.0, 5.0, True), (20.0, 1.0, False)]
    assert not windows.remove(20.0, 1.0, True)  # within_target differs: not the same
    assert windows.remove(20.0, 1.0, False)
    assert list(windows) == [(10.0, 5.0, True)]
