"""The record floor: how fast Faust alone moves the worker's records per event, for today's
record pattern and for the patterns issue 19's directions would give, beside the empty
agent and the worker itself, in one sitting on one broker.

    .venv/bin/python bench/record_floor.py [--rounds 2] [--rate-scale 18] [--smoke] \\
        [--no-worker] [--out FILE]

Each round publishes a fresh backlog (bench/run.py's simulated traffic; `--rate-scale` sets
its size, ~5,000 events per 1.0 at 7 days) and reads it with: the empty agent with the
worker's settings (the goal's denominator), `bench/faust_apps.py skeleton PATTERN` for each
pattern (the worker's records without its work: see that file), and `sigap worker` (both
stages). Rounds alternate the order. Every figure is printed as one JSON line; `--out`
writes them all. A pattern's rate is the ceiling of a worker built on it: the worker's own
code (bench/stage_costs.py: ~170 us per event offline) comes on top.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import phases_offline, phases_worker
from benchkit.broker import create_topics
from benchkit.common import log
from benchkit.context import Bench
from benchkit.phases_peers import faust_app_phase

PATTERNS = ("records", "views-recovered", "source-recovered", "one-stage")
TABLES = ("complaints", "unit-views")


def peer(bench: Bench, mode: str, pattern: str) -> dict[str, Any]:
    """One run of bench/faust_apps.py on the round's backlog, with its own group and topics."""
    app_id = f"{bench.run_id}-{mode}-{pattern}"  # as phases_peers.faust_app_phase names it
    units_topic = f"{app_id}-views"
    # Up front, as bench/run.py does: Faust creating several topics at once raced with its
    # partition check (PartitionsMismatch).
    create_topics(
        bench.bootstrap,
        [
            (units_topic, bench.partitions),
            *((f"{app_id}-{table}-changelog", bench.partitions) for table in TABLES),
        ],
    )
    return faust_app_phase(bench, mode, pattern, units_topic=units_topic)


def one_round(bench: Bench, order: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"events": bench.n}
    for item in order:
        log(f"{item} ...")
        if item == "worker":
            phases_offline.replay_phase(bench)  # the created count the unit stage must reach
            phases_worker.worker_phase(bench)
            bench.worker.stop()
            row["worker"] = round(bench.figures["worker_all_stages_events_per_second"]["value"])
        elif item == "empty":
            row["empty"] = round(peer(bench, "empty", "worker")["events_per_second"])
        else:
            result = peer(bench, "skeleton", item)
            row[item] = round(result["all_stages_events_per_second"])
            # Views sent to the units agent, all applied before the figure was taken.
            row.setdefault("views_forwarded", {})[item] = result["forwarded"]
        log(f"{item}: {row[item]:,} events/s")
    row["load_average_1m"] = round(os.getloadavg()[0], 2)
    empty = row["empty"]
    row["ratios_to_empty"] = {
        name: round(row[name] / empty, 3) for name in (*PATTERNS, "worker") if name in row
    }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate-scale", type=float, default=18.0, help="backlog size")
    parser.add_argument("--smoke", action="store_true", help="smoke sizes, one pattern each")
    parser.add_argument("--no-worker", action="store_true", help="leave `sigap worker` out")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sizes = argparse.Namespace(quick=not args.smoke, smoke=args.smoke, open_complaints=None)
    items = ["empty", *PATTERNS, *([] if args.no_worker else ["worker"])]
    rows: list[dict[str, Any]] = []
    first: Bench | None = None
    try:
        for turn in range(args.rounds):
            bench = Bench(sizes)
            if not args.smoke:
                bench.params["rate_scale"] = args.rate_scale
            if first is None:
                first = bench
                bench.broker.start()
                os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bench.bootstrap
            bench.prepare()
            order = items if turn % 2 == 0 else items[::-1]
            started = time.strftime("%H:%M:%S")
            row = {"round": turn, "started": started, **one_round(bench, order)}
            print(orjson.dumps(row).decode(), flush=True)
            rows.append(row)
            if bench is not first:  # the first one's directory holds the broker's data
                shutil.rmtree(bench.workdir, ignore_errors=True)
    finally:
        if first is not None:
            first.broker.stop()
            shutil.rmtree(first.workdir, ignore_errors=True)
    if args.out is not None:
        args.out.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
