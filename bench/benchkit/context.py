"""The state of one benchmark run (`Bench`): sizes, topics, the events, the figures."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from .broker import Broker, create_topics, publish
from .common import MODES, NAIVE_TABLES, PY, WORKER_TABLES, log
from .measure import machine_info
from .workloads import Worker, simulated_events


class Bench:
    worker: Worker

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        params = dict(MODES[self.mode])
        if args.open_complaints is not None:
            params["open"] = args.open_complaints
        self.params = params
        self.partitions = int(params["partitions"])
        self.workdir = Path(tempfile.mkdtemp(prefix="sigap-bench-"))
        self.broker = Broker(self.workdir)
        self.bootstrap = self.broker.bootstrap
        self.run_id = f"bench-{uuid.uuid4().hex[:8]}"
        self.events_topic = f"{self.run_id}-events"
        self.views_topic = f"{self.run_id}-views"
        self.figures: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.machine = machine_info(self.broker.external is not None)
        self.command = [Path(PY).name, *sys.argv]

    def figure(self, name: str, value: float, unit: str, meaning: str, **extra: Any) -> None:
        self.figures[name] = {
            "value": value,
            "unit": unit,
            "meaning": meaning,
            **extra,
            "load_average_1m": os.getloadavg()[0],
            "machine": self.machine,
            "command": self.command,
        }
        log(f"{name} = {value:,.3f} {unit}")

    def ratio(self, name: str, numerator: str, denominator: str, meaning: str) -> None:
        """A ratio of two figures of this run (skipped when one of them is missing)."""
        if numerator in self.figures and denominator in self.figures:
            self.figure(
                name,
                self.figures[numerator]["value"] / self.figures[denominator]["value"],
                "ratio",
                meaning,
            )

    @property
    def poll_seconds(self) -> float:
        """How often the worker phases read the worker's progress: every 0.5 s (a poll costs
        the worker ~10-30 ms of its loop), every 0.1 s for the smoke's ~1,600 events, which
        the worker now takes in under a second (fewer than two polls gave no rate)."""
        return 0.1 if self.mode == "smoke" else 0.5

    def timeout(self) -> float:
        # Generous: on a shared 2-core machine at a load average of 15 the naive Faust app
        # ran at ~200 events/s and a 120 s limit lost a whole quick run.
        return max(300.0, self.n / 100.0)

    def prepare(self) -> None:
        """Simulate the events, create every topic up front, publish the backlog; the same
        events go to `events.jsonl` in the work directory for the offline phases."""
        p = self.params
        log(f"mode {self.mode}: simulating {p['days_back']} days at rate x{p['rate_scale']}")
        t = time.perf_counter()
        self.events = simulated_events(p["days_back"], p["rate_scale"], seed=11)
        self.n = len(self.events)
        types: dict[str, int] = {}
        for event in self.events:
            types[event["type"]] = types.get(event["type"], 0) + 1
        self.event_mix = dict(sorted(types.items()))
        log(
            f"{self.n} events ({len({e['complaint_id'] for e in self.events})} complaints, "
            f"{len({e.get('unit') for e in self.events if 'unit' in e})} units) "
            f"in {time.perf_counter() - t:.1f}s"
        )
        self.raw = [orjson.dumps(e) for e in self.events]
        self.events_file = self.workdir / "events.jsonl"
        self.events_file.write_bytes(b"".join(raw + b"\n" for raw in self.raw))
        create_topics(
            self.bootstrap,
            [
                (self.events_topic, self.partitions),
                (self.views_topic, self.partitions),
                (f"{self.views_topic}2", self.partitions),
                (f"{self.events_topic}.dlq", 1),
                (f"{self.run_id}-naive-units", self.partitions),
                # The naive app's changelogs, up front: Faust's own creation of seven changelog
                # topics at once raced with its partition check (PartitionsMismatch, 0 partitions).
                *(
                    (f"{self.run_id}-naive-{table}-changelog", self.partitions)
                    for table in NAIVE_TABLES
                ),
                # The worker's changelogs too: its first start hit the same race (see RESULTS.md).
                *(
                    (f"{self.run_id}-{app}-{table}-changelog", self.partitions)
                    for table in WORKER_TABLES
                    for app in ("w", "w2")
                ),
            ],
        )
        t = time.perf_counter()
        publish(
            self.bootstrap,
            self.events_topic,
            (
                (e["complaint_id"].encode(), raw)
                for e, raw in zip(self.events, self.raw, strict=True)
            ),
        )
        seconds = time.perf_counter() - t
        log(f"published the backlog in {seconds:.1f}s ({self.n / seconds:,.0f}/s)")
