"""What is measured: the events, `sigap worker`, and the peer apps (Faust, Quix Streams)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .common import ROOT, SIGAP
from .measure import PROGRESS_SERIES, Samples, scrape

if TYPE_CHECKING:
    from .context import Bench


def simulated_events(days_back: float, rate_scale: float, seed: int) -> list[dict[str, Any]]:
    from sigap.simulator import TrafficModel

    now = time.time()
    model = TrafficModel(start=now - days_back * 86400, seed=seed, rate_scale=rate_scale)
    return model.advance(now - 60)


def created_event(complaint_id: str, unit: str, at: float) -> dict[str, Any]:
    return {
        "event_id": f"{complaint_id}-c",
        "type": "created",
        "complaint_id": complaint_id,
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
        "unit": unit,
        "category": "bench",
        "channel": "wargaku",
        "priority": "normal",
    }


def encoded(events: Iterator[dict[str, Any]]) -> Iterator[tuple[bytes, bytes]]:
    for event in events:
        yield event["complaint_id"].encode(), orjson.dumps(event)


def run_peer_app(
    command: list[str], env: dict[str, str], log_path: Path, result_path: Path, timeout: float
) -> dict[str, Any]:
    """Run a peer app (bench/faust_apps.py, bench/quix_app.py) until it writes its result."""
    name = Path(command[1]).name
    with open(log_path, "wb") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.perf_counter() + timeout
            while process.poll() is None:
                crashed = b"PartitionsMismatch" in log_path.read_bytes()
                if time.perf_counter() > deadline or crashed:
                    raise subprocess.TimeoutExpired(name, timeout)
                time.sleep(0.5)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
            if process.poll() is None:
                process.kill()
            raise RuntimeError(f"{' '.join(command[1:])} did not finish; see {log_path}") from None
    if not result_path.exists():
        raise RuntimeError(f"{' '.join(command[1:])} wrote no result; see {log_path}")
    return dict(orjson.loads(result_path.read_bytes()))


class Worker:
    """`sigap worker` as a subprocess with its own app id, state dir, web port and topics."""

    def __init__(self, bench: Bench, name: str) -> None:
        from .common import free_port

        self.bench = bench
        self.port = free_port()
        self.state_dir = bench.workdir / f"state-{name}"
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bench.bootstrap,
            "SIGAP_EVENTS_TOPIC": bench.events_topic,
            "SIGAP_VIEWS_TOPIC": bench.views_topic,
            "SIGAP_TOPIC_PARTITIONS": str(bench.partitions),
            "SIGAP_APP_ID": f"{bench.run_id}-{name}",
            "SIGAP_STATE_DIR": str(self.state_dir),
            "SIGAP_WEB_PORT": str(self.port),
            "SIGAP_WEB_HOST": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{bench.workdir / 'unused.db'}",
        }
        self.log_path = bench.workdir / f"worker-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [SIGAP, "worker", "--loglevel", "warning"],
            env=self.env,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        return started

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def scrape(self, series: tuple[str, ...] | None = PROGRESS_SERIES) -> Samples | None:
        """Its /metrics: by default the progress series only (measure.PROGRESS_SERIES)."""
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            raise RuntimeError(f"the worker exited ({code}); see {self.log_path}")
        if b"PartitionsMismatch" in self.log_path.read_bytes():  # a crashed agent stays up
            raise RuntimeError(f"the worker logged a traceback; see {self.log_path}")
        return scrape(self.port, series=series)

    def stop(self, timeout: float = 60.0) -> float:
        """SIGTERM; seconds until it exited."""
        assert self.process is not None
        start = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()
        return time.perf_counter() - start
