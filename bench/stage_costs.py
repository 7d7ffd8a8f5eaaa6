"""Per-event cost of each stage for `created` events of new complaints (the latency phase's
traffic), without a broker, Faust or RocksDB: dicts for the tables, each batch's views
handed from the complaint stage to the unit stage in memory.

    .venv/bin/python bench/stage_costs.py [--events 20000] [--batch 300] [--profile]
    .venv/bin/python bench/stage_costs.py --backlog 18 [--batch 1000]

`--backlog SCALE`: instead of created events, bench/run.py's simulated week of traffic at
that rate scale (every event type, ~3.5 events per complaint), with the worker's in-memory
copies of table entries (streams.app.CACHE_SIZE): the traffic of bench/record_floor.py.

Compared with the same stages in a live worker (bench/RESULTS.md, "stalls of the worker's
event loop"), the difference is what Faust's tables and topics and RocksDB add per event.
Runs with the worker's collector policy (sigap.gc_policy).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from benchkit.workloads import created_event, simulated_events  # noqa: E402

from bench.profile_hot_path import Event, Message, Topic  # noqa: E402
from schemas.views import unit_partition  # noqa: E402
from sigap.core.registry_file import load_registry  # noqa: E402
from sigap.gc_policy import tune_garbage_collector  # noqa: E402
from streams.app import CACHE_SIZE  # noqa: E402
from streams.complaint_stage import ComplaintStage  # noqa: E402
from streams.unit_stage import UnitStage  # noqa: E402

PARTITIONS = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="created events")
    parser.add_argument("--batch", type=int, default=300, help="events per complaint batch")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries")
    parser.add_argument("--backlog", type=float, default=None, help="simulated traffic's scale")
    args = parser.parse_args()
    cache = {} if args.backlog is None else {"cache_size": CACHE_SIZE}
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    topic = Topic()
    complaints = ComplaintStage(
        registry=registry,
        complaints={},
        rejections={},
        views_topic=topic,
        dead_letter_topic=Topic(),
        **cache,
    )
    complaints.views_partitions = PARTITIONS
    views: dict[str, Any] = {}
    units = UnitStage(
        registry=registry, unit_views=views, partitions=PARTITIONS, grace_seconds=600, **cache
    )
    start = time.time() - 60
    if args.backlog is None:
        events = [created_event(f"c-{i}", "dlh", start + i * 1e-3) for i in range(args.events)]
    else:
        events = simulated_events(7, args.backlog, seed=11)
        args.events = len(events)
    batches = []
    for first in range(0, len(events), args.batch):
        batch = []
        for i in range(first, min(first + args.batch, len(events))):
            event = events[i]
            key = event["complaint_id"].encode()
            message = Message(
                partition=unit_partition(key.decode(), PARTITIONS), offset=i, timestamp=time.time()
            )
            batch.append(Event(key, orjson.dumps(event), message))
        batches.append(batch)
    tune_garbage_collector()
    spent = {"complaint stage": 0.0, "unit stage": 0.0}

    async def run() -> None:
        for batch in batches:
            t0 = time.perf_counter()
            await complaints.process_batch(batch)
            t1 = time.perf_counter()
            for _, value in topic.sent:
                await units.process(Event(None, value, Message(0, 0, 0.0)))
            topic.sent.clear()
            t2 = time.perf_counter()
            spent["complaint stage"] += t1 - t0
            spent["unit stage"] += t2 - t1

    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    asyncio.run(run())
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    for stage, seconds in spent.items():
        print(f"{stage}: {seconds / args.events * 1e6:.1f} us per event")


if __name__ == "__main__":
    main()
