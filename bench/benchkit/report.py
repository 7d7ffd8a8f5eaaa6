"""The targets (issue 19's goals), the JSON report and the printed table."""

from __future__ import annotations

import os
from typing import Any

from .common import UNITS
from .context import Bench

TARGETS = {
    # figure: (comparison, threshold, description)
    "replay_vs_bare_orjson": (">=", 0.1, "replay >= 0.1 x a bare orjson.loads loop (aim 0.25)"),
    "worker_all_stages_events_per_second": (
        ">=",
        5000.0,
        "worker, both stages >= 5,000 events/s end to end",
    ),
    "worker_all_stages_vs_empty_faust": (
        ">=",
        0.4,
        "worker, both stages >= 0.4 x empty-Faust ceiling",
    ),
    "latency_p99_seconds": ("<=", 1.0, "p99 publish-to-/metrics <= 1 s at 1,000 ev/s"),
    "bytes_per_open_complaint": ("<=", 300.0, "< 300 bytes per open complaint (RSS + state)"),
    "restart_to_ready_seconds_at_1m": ("<=", 10.0, "restart-to-ready < 10 s at 1M open"),
}


def targets(bench: Bench) -> list[dict[str, Any]]:
    rows = []
    for name, (op, threshold, text) in TARGETS.items():
        if name not in bench.figures:
            continue
        value = float(bench.figures[name]["value"])
        met = value >= threshold if op == ">=" else value <= threshold
        ratio = value / threshold if op == ">=" else threshold / value if value else 0.0
        rows.append(
            {
                "target": text,
                "figure": name,
                "value": value,
                "threshold": threshold,
                "met": met,
                "ratio_to_target": ratio,
            }
        )
    return rows


def report(bench: Bench) -> dict[str, Any]:
    return {
        "mode": bench.mode,
        "command": bench.command,
        "machine": bench.machine,
        "params": {
            **bench.params,
            "events": bench.n,
            "event_mix": bench.event_mix,
            "units": list(UNITS),
            "partitions": bench.partitions,
            "bootstrap": bench.bootstrap,
            "topic": bench.events_topic,
        },
        "figures": bench.figures,
        "targets": targets(bench),
        "load_average_at_end": list(os.getloadavg()),
        "notes": bench.notes,
    }


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\nSIGAP benchmark ({report['mode']}): {report['params']['events']:,} events, "
        f"{report['params']['partitions']} partitions"
    )
    machine = report["machine"]
    print(
        f"machine: {machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']}, "
        f"Kafka {machine['kafka_broker']}, faust {machine['faust_streaming']}, "
        f"aiokafka {machine['aiokafka']}, quixstreams {machine['quixstreams']}"
    )
    print(f"command: {' '.join(report['command'])}\n")
    width = max(len(name) for name in report["figures"])
    for name, figure in report["figures"].items():
        print(
            f"  {name:<{width}}  {figure['value']:>16,.3f}  {figure['unit']:<8}"
            f" load {figure['load_average_1m']:.1f}"
        )
    print("\ntargets:")
    for row in report["targets"]:
        mark = "MET   " if row["met"] else "MISSED"
        print(
            f"  {mark} {row['target']:<52} value {row['value']:,.3f} "
            f"(x{row['ratio_to_target']:.2f} of target)"
        )
