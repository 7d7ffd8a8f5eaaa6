"""The holiday cliff's cost per scrape, without a broker: counting over every open timer
(as each scrape did until issue 19's third round) against two bisections per timer.

    .venv/bin/python bench/cliff_scrape.py [--open 200000] [--rounds 5]

In the week before a long break (core.holiday_cliff) every /metrics scrape counts each
unit's open deadlines in the cliff window. Builds N open complaints the way the worker does
(bench/profile_rebuild.py), rebuilds the unit stage, then times, alternated in this one
process, for all units at an instant inside the week before Christmas 2026:
`deadlines_after_break` over `UnitKpis.open_items` (the old path: a worklist item per open
timer) and `cliff_window` + `UnitKpis.running_deadlines_in` (the new one), and checks
that both count the same. The complaints are created now, so few or none of their
deadlines fall in that window: the old path visits every open timer whatever the window
holds, so its cost does not depend on it; that the counts agree where the window holds many
is tests/core/test_worklist.py's and tests/streams/test_after_break_gauge.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench.profile_rebuild import PARTITIONS, build_unit_views  # noqa: E402
from sigap.core.holiday_cliff import cliff_window, deadlines_after_break  # noqa: E402
from sigap.core.registry_file import load_registry  # noqa: E402
from streams.unit_stage import UnitStage  # noqa: E402

# Inside the cliff week of the Christmas 2026 break (24-27 December, Asia/Jakarta).
CLIFF_WEEK = datetime.fromisoformat("2026-12-21T10:00:00+07:00").timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open", type=int, default=200_000, help="open complaints")
    parser.add_argument("--rounds", type=int, default=5, help="alternations")
    args = parser.parse_args()
    views = asyncio.run(build_unit_views(args.open))
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    stage = UnitStage(registry=registry, unit_views=views, partitions=PARTITIONS, grace_seconds=600)
    stage.rebuild(set(range(PARTITIONS)))
    kpis = stage.kpis
    units = sorted(stage.owned_units(set(range(PARTITIONS))))
    timers = sum(len(kpis.open_items(unit)) for unit in units)

    def walked() -> dict[str, dict[str, int]]:
        counts = {}
        for unit in units:
            cliff = deadlines_after_break(
                kpis.open_items(unit), registry.calendar_for(unit), CLIFF_WEEK
            )
            counts[unit] = dict(cliff.by_timer) if cliff is not None else {}
        return counts

    def bisected() -> dict[str, dict[str, int]]:
        counts = {}
        for unit in units:
            window = cliff_window(registry.calendar_for(unit), CLIFF_WEEK)
            counts[unit] = (
                kpis.running_deadlines_in(unit, window.start, window.end) if window else {}
            )
        return counts

    counted = walked()
    assert counted == bisected(), "the two counts differ"
    in_window = sum(sum(by_timer.values()) for by_timer in counted.values())
    times: dict[str, list[float]] = {"walked": [], "bisected": []}
    for _ in range(args.rounds):
        for name, count in (("walked", walked), ("bisected", bisected)):
            t = time.perf_counter()
            count()
            times[name].append(time.perf_counter() - t)
    print(
        f"{len(views):,} open complaints, {timers:,} open timers, {len(units)} units, "
        f"{in_window:,} deadlines in the cliff window"
    )
    for name, values in times.items():
        values.sort()
        print(f"{name:9s} per scrape: median {values[len(values) // 2] * 1e3:9.3f} ms")
    ratio = sorted(times["walked"])[args.rounds // 2] / sorted(times["bisected"])[args.rounds // 2]
    print(f"walked / bisected: {ratio:,.0f}x")


if __name__ == "__main__":
    main()
