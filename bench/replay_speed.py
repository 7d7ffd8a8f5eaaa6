"""Replay's speed against its yardstick, without Kafka: a quick loop for work on the core.

    .venv/bin/python bench/replay_speed.py [--days-back 7] [--rate-scale 6] [--profile]

Simulates the events (bench/run.py's quick workload by default), writes them to a file, then
times, in this one process: the bare `orjson.loads` loop over the file (best of 3), parsing
(sigap.replay_sources, schemas.events.parse_event per line) and sigap.replay.replay.
Prints events/s and the ratio to the bare loop (issue 19: >= 0.1). bench/run.py remains the
figure of record; this is the same measurement without the broker phases.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from benchkit.workloads import simulated_events  # noqa: E402

from sigap.core.registry_file import load_registry  # noqa: E402
from sigap.gc_policy import tune_garbage_collector  # noqa: E402
from sigap.replay import replay  # noqa: E402
from sigap.replay_sources import open_source  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days-back", type=float, default=7.0)
    parser.add_argument("--rate-scale", type=float, default=6.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="pyinstrument of replay")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's collector thresholds (`sigap replay` tunes them: sigap.gc_policy)",
    )
    parser.add_argument(
        "--events", type=Path, help="an events file to read instead (e.g. to compare checkouts)"
    )
    args = parser.parse_args()
    if args.events is not None:
        path = args.events
    else:
        events = simulated_events(args.days_back, args.rate_scale, seed=11)
        path = Path(tempfile.mkdtemp(prefix="sigap-replay-speed-")) / "events.jsonl"
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        print(f"events in {path}")
    with open(path, "rb") as file:
        n = sum(1 for _ in file)
    registry = load_registry(ROOT / "deploy" / "registry.yaml")

    bare = 0.0
    for _ in range(3):
        t = time.perf_counter()
        with open(path, "rb") as file:
            for line in file:
                orjson.loads(line)
        bare = max(bare, n / (time.perf_counter() - t))

    if not args.default_gc:
        tune_garbage_collector()
    t = time.perf_counter()
    stream, _report = open_source(path, None)
    parsed = list(stream)
    parse_s = time.perf_counter() - t
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    t = time.perf_counter()
    cpu = time.process_time()
    result = replay(parsed, registry, reference_epoch=time.time(), workers=args.workers)
    core_s = time.perf_counter() - t
    core_cpu = time.process_time() - cpu
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    created = sum(s.counters.created for s in result.units.values())
    rate = n / (parse_s + core_s)
    print(
        f"{n:,} events ({created:,} created), load {os.getloadavg()[0]:.1f}: "
        f"bare orjson {bare:,.0f}/s; parse {n / parse_s:,.0f}/s; replay core {n / core_s:,.0f}/s "
        f"({n / core_cpu:,.0f}/s of CPU time); "
        f"replay {rate:,.0f}/s = {rate / bare:.4f}x bare"
    )


if __name__ == "__main__":
    main()
