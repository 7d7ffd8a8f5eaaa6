"""Compare `sigap worker` of two (or more) checkouts in one sitting, alternated, on one broker.

    .venv/bin/python bench/ab_worker.py main=/work/wt-main/.venv/bin/sigap \\
        new=.venv/bin/sigap --order main,new,new,main [--smoke] [--out FILE]

Each turn takes the named checkout's `sigap` (each with its own virtualenv), fresh topics
and a fresh backlog (the `--quick` sizes, or `--smoke`), and runs bench/run.py's worker
phase (the backlog, both stages) and its two latency phases (1,000 and 200 events/s). The
figures of each turn are printed as one JSON line and written to `--out`. On a shared machine
compare the turns of one sitting, never figures across sittings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import phases_offline, phases_worker, workloads
from benchkit.common import log
from benchkit.context import Bench

FIGURES = (
    "worker_events_per_second",
    "worker_all_stages_events_per_second",
    "latency_p50_seconds",
    "latency_p99_seconds",
    "latency_200_p50_seconds",
    "latency_200_p99_seconds",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", help="NAME=PATH of a checkout's sigap command")
    parser.add_argument("--order", required=True, help="comma-separated NAMEs, in turn order")
    parser.add_argument("--smoke", action="store_true", help="the smoke sizes (a quick check)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    commands: dict[str, str] = {}
    for item in args.checkouts:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            parser.error(f"{item}: expected NAME=PATH of an existing sigap command")
        commands[name] = path
    order = args.order.split(",")
    unknown = sorted(set(order) - set(commands))
    if unknown:
        parser.error(f"--order names no checkout given: {', '.join(unknown)}")
    sizes = argparse.Namespace(quick=not args.smoke, smoke=args.smoke, open_complaints=None)
    rows: list[dict[str, object]] = []
    first: Bench | None = None
    try:
        for turn, name in enumerate(order):
            bench = Bench(sizes)
            if first is None:
                first = bench
                bench.broker.start()
                os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bench.bootstrap
            bench.prepare()
            phases_offline.replay_phase(bench)  # the created count the unit stage must reach
            workloads.SIGAP = commands[name]
            log(f"turn {turn}: {name} ({commands[name]})")
            phases_worker.worker_phase(bench)
            phases_worker.latency_phase(bench)
            phases_worker.latency_phase(bench, rate=200.0, prefix="latency_200")
            bench.worker.stop()
            row: dict[str, object] = {"turn": turn, "checkout": name}
            row.update({k: round(bench.figures[k]["value"], 3) for k in FIGURES})
            row["load_average_1m"] = round(os.getloadavg()[0], 2)
            print(orjson.dumps(row).decode(), flush=True)
            rows.append(row)
            if bench is not first:  # the first one's directory holds the broker's data
                shutil.rmtree(bench.workdir, ignore_errors=True)
    finally:
        os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        if first is not None:
            first.broker.stop()
            shutil.rmtree(first.workdir, ignore_errors=True)
    if args.out is not None:
        args.out.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
