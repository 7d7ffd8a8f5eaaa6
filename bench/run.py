"""SIGAP benchmark suite: one command, one broker, every figure from the same run.

    .venv/bin/python bench/run.py [--quick | --smoke] [--out bench/results.json]

See bench/README.md for what each figure means. Timings are wall-clock on a shared machine:
compare the ratios measured in one run, not figures from different runs. The modules, by
concern, are in bench/benchkit/.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import phases_offline, phases_peers, phases_worker
from benchkit.common import ROOT, log
from benchkit.context import Bench
from benchkit.report import print_table, report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument(
        "--open-complaints",
        type=int,
        default=None,
        help="M for the memory/restart figures (full default 1,000,000)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    bench = Bench(args)
    bench.broker.start()
    try:
        bench.prepare()
        phases_offline.bare_orjson_phase(bench)
        phases_offline.replay_phase(bench)
        phases_offline.replay_phase(bench, workers=2)
        phases_peers.bare_consumer_phase(bench)
        # A peer that does not finish costs its figures (and ratios), not the run.
        for phase in (phases_peers.ceilings_and_baseline, phases_peers.quix_phase):
            try:
                phase(bench)
            except RuntimeError as error:
                log(f"{phase.__name__} failed: {error}")
                bench.notes.append(f"{phase.__name__} failed: {error}")
        phases_worker.worker_phase(bench)
        if bench.mode != "smoke":
            phases_worker.two_workers_phase(bench)
        phases_worker.latency_phase(bench)
        phases_worker.latency_phase(bench, rate=200.0, prefix="latency_200")
        phases_worker.restart_baseline_phase(bench)
        phases_worker.open_complaints_phase(bench)
        phases_worker.restart_phase(bench)
    finally:
        phases_worker.finish(bench)
        bench.broker.stop()
        if not args.keep:
            shutil.rmtree(bench.workdir, ignore_errors=True)
        else:
            log(f"kept {bench.workdir}")
    summary = report(bench)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print_table(summary)
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
