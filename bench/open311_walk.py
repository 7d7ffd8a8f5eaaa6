"""GET /open311/v2/requests.json on the worker's event loop, without a broker: how long the
agents would wait behind one search over every stored view, before and after the walk was
cut into slices, each a turn of the loop share (streams.open311, streams.loop_share).

    .venv/bin/python bench/open311_walk.py [--open 50000] [--rounds 3]

Builds N complaints' unit views the way the worker does (bench/profile_rebuild.py, dict
tables), then, alternated in this one process:
- one pass: `service_requests` over every holder view, as the worker answered until issue
  19's third round: the event loop runs nothing else meanwhile, so the stall is the whole
  search;
- the walk (`Open311.requests`) beside a task that measures the longest gap between its
  turns of the loop: the longest stall the agents would see, and the search's wall time.
Both replies are checked equal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench.profile_rebuild import build_unit_views, served_state  # noqa: E402
from sigap.core.open311 import parse_request_query, service_requests  # noqa: E402
from sigap.core.unit_view import UnitView  # noqa: E402
from streams.loop_share import SHARE  # noqa: E402
from streams.open311 import WALK_SLICE, Open311  # noqa: E402


def one_pass(views: dict[str, Any], open311: Open311) -> tuple[list[dict[str, Any]], float]:
    started = time.perf_counter()
    parsed = parse_request_query({}, open311.registry, open311.now())
    holders = []
    for data in list(views.values()):
        stored = orjson.loads(data)["v"]
        if stored.get("h"):
            holders.append(UnitView.from_json(stored))
    reply = service_requests(holders, open311.registry, parsed)
    return reply, time.perf_counter() - started


async def walked(open311: Open311) -> tuple[list[dict[str, Any]], float, float]:
    """The reply, the longest gap between another task's turns, and the wall time."""
    longest = 0.0
    done = False

    async def other_task() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    started = time.perf_counter()
    task = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)
    reply = await open311.requests({})
    wall = time.perf_counter() - started
    done = True
    await task
    return reply, longest, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open", type=int, default=50_000, help="complaints (all open)")
    parser.add_argument("--rounds", type=int, default=3, help="alternations")
    parser.add_argument("--gc-policy", action="store_true", help="sigap.gc_policy, as the worker")
    args = parser.parse_args()
    views = asyncio.run(build_unit_views(args.open))
    if args.gc_policy:
        from sigap.gc_policy import tune_garbage_collector

        tune_garbage_collector()
    open311 = Open311(served_state(views))
    stalls: list[float] = []
    longest: list[float] = []
    walls: list[float] = []
    for _ in range(args.rounds):
        reference, stall = one_pass(views, open311)
        stalls.append(stall)
        reply, gap, wall = asyncio.run(walked(open311))
        assert reply == reference, "the walk's reply differs from one pass"
        longest.append(gap)
        walls.append(wall)

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    print(f"{len(views):,} stored views; WALK_SLICE {WALK_SLICE}, loop share {SHARE}")
    print(
        f"one pass: the loop stalls {median(stalls) * 1e3:,.0f} ms "
        f"({median(stalls) / len(views) * 1e6:.1f} us per view)"
    )
    print(
        f"walk: longest stall {median(longest) * 1e3:,.1f} ms, "
        f"search wall time {median(walls) * 1e3:,.0f} ms"
    )
    print(f"stall one pass / walk: {median(stalls) / median(longest):,.0f}x")


if __name__ == "__main__":
    main()
