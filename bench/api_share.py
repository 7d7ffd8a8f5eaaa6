"""How much of the event loop the agents keep while clients ask for worklists back to back,
without a broker: streams.loop_share at its default share against no bound (share 1).

    .venv/bin/python bench/api_share.py [--open 50000] [--clients 4] [--seconds 5]

Builds N open complaints' unit views the way the worker does (bench/profile_rebuild.py),
then runs, for each setting in turn, `--clients` tasks that request the biggest unit's
worklist (`Api.overdue`) back to back, beside a stand-in for the agents: a task doing 1 ms
of work per loop turn. Prints the stand-in's share of the wall time and the worklists
served.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench.profile_rebuild import PARTITIONS, build_unit_views, served_state  # noqa: E402
from sigap.gc_policy import tune_garbage_collector  # noqa: E402
from streams.api import Api, ApiError, parse_worklist_query  # noqa: E402
from streams.loop_share import SHARE, LoopShare  # noqa: E402


async def contend(api: Api, unit: str, clients: int, seconds: float) -> tuple[float, int, int]:
    """The stand-in agents' share of the wall time, worklists served, 503s."""
    done = False
    busy = 0.0
    served = refused = 0
    query = parse_worklist_query({})

    async def agents() -> None:
        nonlocal busy
        while not done:
            started = time.perf_counter()
            while time.perf_counter() - started < 0.001:
                pass
            busy += time.perf_counter() - started
            await asyncio.sleep(0)

    async def client() -> None:
        nonlocal served, refused
        while not done:
            try:
                await api.overdue(unit, query)
                served += 1
            except ApiError:
                refused += 1
                await asyncio.sleep(0.05)
            # The next request arrives through the loop, as a real client's does.
            await asyncio.sleep(0)

    tasks = [asyncio.ensure_future(agents())]
    tasks += [asyncio.ensure_future(client()) for _ in range(clients)]
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    done = True
    await asyncio.gather(*tasks)
    return busy / (time.perf_counter() - started), served, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open", type=int, default=50_000, help="open complaints")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    views = asyncio.run(build_unit_views(args.open))
    tune_garbage_collector()
    served_here = served_state(views)
    stage = served_here.unit_stage
    units = stage.owned_units(set(range(PARTITIONS)))
    unit = max(units, key=lambda u: len(stage.kpis.open_items(u)))
    timers = len(stage.kpis.open_items(unit))
    print(f"{args.open:,} open complaints; unit {unit}: {timers:,} open timers")
    for name, share in (("no bound (share 1)", 1.0), (f"share {SHARE}", SHARE)):
        api = Api(served_here, SimpleNamespace(), loop_share=LoopShare(share))  # type: ignore[arg-type]
        kept, served, refused = asyncio.run(contend(api, unit, args.clients, args.seconds))
        print(
            f"{name:20s} the agents kept {kept:6.1%} of the loop; "
            f"{served} worklists served, {refused} refused (503)"
        )


if __name__ == "__main__":
    main()
