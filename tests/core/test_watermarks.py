"""core.watermarks: the unit stage's watermark from its source partitions' stamps, with the
hold of a source announced behind whose event time is not known yet (a restarted or newly
assigned complaint stage before it has read that partition)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sigap.core.watermarks import SourceWatermarks

RESTORED = -1
WALL = 10_000.0


def restored(at: float) -> SourceWatermarks:
    marks = SourceWatermarks()
    marks.observe(RESTORED, at, True, WALL)
    return marks


def test_idle_sources_advance_with_the_wall_clock_and_a_behind_one_holds_at_its_time() -> None:
    marks = SourceWatermarks()
    marks.observe(0, 100.0, True, WALL)
    assert marks.current(WALL + 5) == 105.0
    marks.observe(1, 50.0, False, WALL + 5)
    assert marks.current(WALL + 10) == 105.0  # never back; held while 1 is behind
    marks.observe(1, 200.0, True, WALL + 10)
    assert marks.current(WALL + 10) == 200.0


def test_a_source_announced_behind_holds_the_watermark_until_it_sends_an_event_time() -> None:
    """The defect this fixes: after a restart, partition 0's whole backlog (caught up at
    500) moved the watermark past deadlines lying in partition 1's backlog, not read yet."""
    marks = restored(100.0)
    marks.observe(0, None, False, WALL)
    marks.observe(1, None, False, WALL)
    assert marks.held
    marks.observe(0, 300.0, False, WALL)
    marks.observe(0, 500.0, True, WALL + 1)
    assert marks.current(WALL + 60) == 100.0  # 1 not heard from: held at the restored value
    marks.observe(1, 150.0, False, WALL + 61)
    assert not marks.held
    assert marks.current(WALL + 61) == 150.0  # now 1 holds it at its own progress
    marks.observe(1, 400.0, True, WALL + 62)
    # All caught up: the newest time, advanced with the wall clock since it was reached.
    assert marks.current(WALL + 62) == 500.0 + 61


def test_a_source_caught_up_without_an_event_time_releases_its_hold() -> None:
    """An empty partition, or one with nothing new since its committed offset."""
    marks = restored(100.0)
    marks.observe(0, None, False, WALL)
    marks.observe(1, None, False, WALL)
    marks.observe(0, 300.0, True, WALL)
    assert marks.current(WALL + 1) == 100.0
    marks.observe(1, None, True, WALL + 2)
    assert marks.current(WALL + 2) == 300.0 + 2  # idle: advanced since 300 was reached


def test_an_announcement_forgets_what_the_source_said_before() -> None:
    """A partition read anew from its committed offset starts behind its earlier stamps:
    its first stamps (older) must count, or its old "caught up" would release the hold."""
    marks = SourceWatermarks()
    marks.observe(0, 500.0, True, WALL)
    assert marks.current(WALL) == 500.0
    marks.observe(0, None, False, WALL + 1)
    marks.observe(0, 300.0, False, WALL + 2)
    assert marks.latest == {0: 300.0} and marks.caught_up == {0: False}
    assert marks.current(WALL + 3) == 500.0  # never back, and no further while behind
    marks.observe(0, 600.0, True, WALL + 4)
    assert marks.current(WALL + 4) == 600.0


def test_held_before_any_value_was_returned_is_at_the_lowest_known_time() -> None:
    marks = restored(100.0)
    marks.observe(0, None, False, WALL)
    assert marks.current(WALL + 100) == 100.0
    assert SourceWatermarks(unknown={0}).current(WALL) is None


# --- Properties -----------------------------------------------------------------------------

PARTITIONS = st.integers(min_value=0, max_value=3)
STAMP = st.tuples(
    PARTITIONS,
    st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False)),
    st.booleans(),
    st.floats(min_value=0, max_value=100, allow_nan=False),  # wall clock step
)


@given(st.lists(STAMP, max_size=40))
def test_the_watermark_never_decreases(stamps: list[tuple[int, float | None, bool, float]]) -> None:
    marks = restored(50.0)
    wall = WALL
    previous = marks.current(wall)
    for partition, latest, caught_up, step in stamps:
        wall += step
        marks.observe(partition, latest, caught_up, wall)
        now = marks.current(wall)
        assert now is not None and previous is not None and now >= previous
        previous = now


@given(st.lists(STAMP, max_size=40), PARTITIONS)
def test_a_source_announced_behind_moves_nothing_until_heard_from(
    stamps: list[tuple[int, float | None, bool, float]], held: int
) -> None:
    marks = restored(50.0)
    wall = WALL
    marks.observe(held, None, False, wall)
    at_announcement = marks.current(wall)
    for partition, latest, caught_up, step in stamps:
        if partition == held:
            continue
        wall += step
        marks.observe(partition, latest, caught_up, wall)
        assert marks.current(wall) == at_announcement


@given(st.lists(STAMP, max_size=40), st.sets(PARTITIONS))
def test_an_empty_source_never_blocks(
    stamps: list[tuple[int, float | None, bool, float]], empty: set[int]
) -> None:
    """Sources announced and then reported caught up without an event time (nothing to
    read) end up exactly as if they had never been announced."""
    with_empty = restored(50.0)
    without = restored(50.0)
    wall = WALL
    for partition in sorted(empty):
        with_empty.observe(partition + 10, None, False, wall)
    for partition, latest, caught_up, step in stamps:
        wall += step
        with_empty.observe(partition, latest, caught_up, wall)
        without.observe(partition, latest, caught_up, wall)
    for partition in sorted(empty):
        with_empty.observe(partition + 10, None, True, wall)
    assert with_empty == without
    assert with_empty.current(wall + 1) == without.current(wall + 1)
