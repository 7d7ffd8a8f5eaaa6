"""A restarted simulator (`sigap simulate --state FILE`, what `make demo` runs) publishes no
event twice and leaves no gap: the skip rule of sigap/simulator_mark.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sigap.simulator import TrafficModel
from sigap.simulator_mark import PublishedMark, load_mark, save_mark, starting_point

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY = 86400.0


def run(
    state: Path, seed: int, now: float, until: float, step: float = 3600.0
) -> list[dict[str, Any]]:
    """One simulator run as `sigap simulate --state` does it: resume from the mark, publish
    in steps up to ``until``, save the mark after each (flushed) step."""
    start, published_until = starting_point(load_mark(state), seed, now - 14 * DAY)
    model = TrafficModel(start, seed=seed)
    if published_until is not None:
        model.advance(published_until)
    published: list[dict[str, Any]] = []
    while model.now < until:
        published += model.advance(min(model.now + step, until))
        save_mark(state, PublishedMark(seed=seed, start=start, until=model.now))
    return published


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in events]


def test_a_second_run_continues_without_republishing(tmp_path: Path) -> None:
    state = tmp_path / "simulator.json"
    first = run(state, 7, now=START + 14 * DAY, until=START + 10 * DAY)
    # Started again later (a new `make demo`): its fresh clock would start elsewhere.
    second = run(state, 7, now=START + 20 * DAY, until=START + 16 * DAY)
    assert first and second
    both = ids(first) + ids(second)
    assert len(both) == len(set(both)), "an event id was published twice"
    # Exactly the events one uninterrupted run publishes: nothing skipped, nothing new.
    once = TrafficModel(START, seed=7).advance(START + 16 * DAY)
    assert both == ids(once)


def test_without_the_mark_a_rerun_republishes_the_seeded_ids(tmp_path: Path) -> None:
    # What `make demo` did before: the same seed starts again and repeats the ids.
    first = run(tmp_path / "a.json", 7, now=START + 14 * DAY, until=START + 2 * DAY)
    again = run(tmp_path / "b.json", 7, now=START + 15 * DAY, until=START + 3 * DAY)
    assert set(ids(first)) & set(ids(again))


def test_another_seed_or_a_broken_mark_starts_afresh(tmp_path: Path) -> None:
    state = tmp_path / "simulator.json"
    save_mark(state, PublishedMark(seed=7, start=START, until=START + DAY))
    assert starting_point(load_mark(state), 7, START + 5 * DAY) == (START, START + DAY)
    assert starting_point(load_mark(state), 8, START + 5 * DAY) == (START + 5 * DAY, None)
    state.write_text("{not json")
    assert load_mark(state) is None
    assert starting_point(None, 7, START + 5 * DAY) == (START + 5 * DAY, None)
    assert load_mark(tmp_path / "missing.json") is None
