"""What the benchmark reads: /metrics, counters over time, memory and disk, the machine."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metrics import names

from .common import QUIX_PY, ROOT

Samples = dict[str, list[tuple[str, float]]]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


# The series the phases poll for progress. A poll asks for these only (`name[]`, which
# prometheus_client's exposition honours): the whole page (~7,500 series, ~0.9 MB with the
# simulator's 8 units) takes the worker's event loop 55-100 ms to render, and polled every
# 0.3-0.5 s it took 11-25% of the worker it measured (bench/RESULTS.md, "The benchmark's own
# polling"); Prometheus renders it once per scrape interval (15 s).
PROGRESS_SERIES: tuple[str, ...] = (
    f"{names.EVENTS_PROCESSED}_total",
    f"{names.EVENTS_REJECTED}_total",
    f"{names.COMPLAINTS_CREATED}_total",
    names.CONSUMER_LAG,
)


def scrape(
    port: int, timeout: float = 2.0, series: tuple[str, ...] | None = None
) -> Samples | None:
    """The worker's /metrics parsed; only the samples named in `series` when given."""
    query = "?" + "&".join(f"name[]={name}" for name in series) if series else ""
    try:
        url = f"http://127.0.0.1:{port}/metrics{query}"
        with urllib.request.urlopen(url, timeout=timeout) as page:
            text = page.read().decode()
    except OSError:
        return None
    samples: Samples = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        match = _SAMPLE.match(line)
        if match:
            samples.setdefault(match.group(1), []).append(
                (match.group(2) or "", float(match.group(3)))
            )
    return samples


def total(samples: Samples | None, name: str, label: str | None = None) -> float:
    if samples is None:
        return 0.0
    return sum(value for labels, value in samples.get(name, []) if label is None or label in labels)


def consumed(samples: Samples | None) -> float:
    return total(samples, "sigap_events_processed_total") + total(
        samples, "sigap_events_rejected_total"
    )


def watch_throughput(
    read: Callable[[], float], target: float, timeout: float, interval: float = 0.1
) -> dict[str, float]:
    """Poll a counter until it reaches target; rate from the first observation above zero
    (startup and rebalance excluded) to the first one at or above target."""
    deadline = time.perf_counter() + timeout
    first: tuple[float, float] | None = None
    started = time.perf_counter()
    while True:
        now = time.perf_counter()
        value = read()
        if value > 0 and first is None:
            first = (now, value)
        if value >= target:
            break
        if now > deadline:
            raise TimeoutError(f"counter at {value} of {target} after {timeout:.0f}s")
        time.sleep(interval)
    assert first is not None
    elapsed = now - first[0]
    counted = value - first[1]
    return {
        "events_per_second": counted / elapsed if elapsed > 0 else float("nan"),
        "measured_events": counted,
        "measured_seconds": elapsed,
        "startup_seconds": first[0] - started,
    }


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def du_bytes(path: Path) -> int:
    size = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                size += (Path(root) / name).stat().st_blocks * 512
    return size


def _quix_version() -> str:
    if not QUIX_PY.exists():
        return "absent (make bench-quix-venv)"
    done = subprocess.run(
        [str(QUIX_PY), "-c", "import importlib.metadata as m; print(m.version('quixstreams'))"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "absent"


def machine_info(bootstrap_external: bool) -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>(.*?)</kafka.version>", pom)
    broker = match.group(1) if match else "unknown"
    mem_total = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_total = int(line.split()[1]) * 1024

    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem_total,
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kafka_broker": broker
        + (
            " (external cluster, version not checked)"
            if bootstrap_external
            else " (local, deploy/kafka)"
        ),
        "faust_streaming": version("faust-streaming"),
        "aiokafka": version("aiokafka"),
        "kafka_python": version("kafka-python"),
        "orjson": version("orjson"),
        "quixstreams": _quix_version(),
    }
