"""What Kafka transactions would cost: the naive Faust app with `processing_guarantee`
at_least_once (the worker's) and exactly_once, alternately, on one broker and one topic.

    .venv/bin/python bench/guarantees.py [--quick | --smoke] [--rounds 2] [--out FILE]

The naive app (bench/faust_apps.py `naive`, with the worker's tuned settings) is the
representative workload here: like the worker, it keeps state in changelogged tables and
forwards records to a second topic, so under exactly_once every commit is a transaction
spanning changelog writes, forwarded records and the consumed offsets. The empty agent
would measure no transaction at all (it writes nothing). Rounds alternate the two
guarantees (A B A B ...) so that the machine's changing load falls on both; the figure kept
per guarantee is the median of its rounds, and the ratio compares them within this run.
See docs/delivery.md ("Not exactly-once in Kafka's sense") for the decision it informs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit.broker import create_topics
from benchkit.common import NAIVE_TABLES, PY, ROOT, free_port, log
from benchkit.context import Bench
from benchkit.workloads import run_peer_app

GUARANTEES = ("at_least_once", "exactly_once")


def naive_round(bench: Bench, guarantee: str, round_number: int) -> dict[str, Any]:
    """One naive-app run from the topic's beginning, on fresh app id, tables and units topic."""
    name = f"naive-{guarantee}-{round_number}"
    app_id = f"{bench.run_id}-{name}"
    units_topic = f"{app_id}-units"
    # Created up front, as bench/run.py does (Faust's own creation of seven changelogs at
    # once raced with its partition check).
    create_topics(
        bench.bootstrap,
        [
            (units_topic, bench.partitions),
            *((f"{app_id}-{table}-changelog", bench.partitions) for table in NAIVE_TABLES),
        ],
    )
    env = {
        **os.environ,
        "BENCH_BOOTSTRAP": bench.bootstrap,
        "BENCH_TOPIC": bench.events_topic,
        "BENCH_UNITS_TOPIC": units_topic,
        "BENCH_PARTITIONS": str(bench.partitions),
        "BENCH_APP_ID": app_id,
        "BENCH_STATE_DIR": str(bench.workdir / f"state-{name}"),
        "BENCH_WEB_PORT": str(free_port()),
        "BENCH_TARGET": str(bench.n),
        "BENCH_RESULT": str(bench.workdir / f"{name}.json"),
        "BENCH_GUARANTEE": guarantee,
    }
    result = run_peer_app(
        [PY, str(ROOT / "bench" / "faust_apps.py"), "naive", "tuned"],
        env,
        bench.workdir / f"faust-{name}.log",
        bench.workdir / f"{name}.json",
        bench.timeout(),
    )
    if result.get("processing_guarantee") != guarantee:
        raise RuntimeError(f"{name}: the app ran with {result.get('processing_guarantee')!r}")
    log(
        f"{name}: stage 1 {result['events_per_second']:,.0f} events/s, both stages "
        f"{result['all_stages_events_per_second']:,.0f} events/s, load {os.getloadavg()[0]:.1f}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="~25k events")
    size.add_argument("--smoke", action="store_true", help="~2k events")
    parser.add_argument("--rounds", type=int, default=2, help="runs per guarantee (alternated)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results-guarantees.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    args.open_complaints = None  # Bench's sizes; the open-complaints phases are not run here
    bench = Bench(args)
    bench.broker.start()
    runs: dict[str, list[dict[str, Any]]] = {guarantee: [] for guarantee in GUARANTEES}
    try:
        bench.prepare()
        for round_number in range(args.rounds):
            for guarantee in GUARANTEES:
                runs[guarantee].append(naive_round(bench, guarantee, round_number))
    finally:
        bench.broker.stop()
        if not args.keep:
            shutil.rmtree(bench.workdir, ignore_errors=True)
    for guarantee, results in runs.items():
        for key, label in (
            ("events_per_second", "stage 1"),
            ("all_stages_events_per_second", "both stages"),
        ):
            values = [result[key] for result in results]
            bench.figure(
                f"naive_{guarantee}_{key}",
                statistics.median(values),
                "events/s",
                f"naive Faust app (tuned settings), processing_guarantee={guarantee}, "
                f"{label}: median of {len(values)} alternated rounds",
                rounds=values,
            )
    for key in ("events_per_second", "all_stages_events_per_second"):
        bench.ratio(
            f"exactly_once_vs_at_least_once_{key}",
            f"naive_exactly_once_{key}",
            f"naive_at_least_once_{key}",
            "exactly_once throughput as a share of at_least_once, same run",
        )
    summary = {"events": bench.n, "partitions": bench.partitions, "figures": bench.figures}
    args.out.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    for name, figure in bench.figures.items():
        print(f"{name:60s} {figure['value']:>12,.3f} {figure['unit']}")
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
