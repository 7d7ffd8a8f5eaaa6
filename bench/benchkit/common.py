"""Paths, sizes and small helpers shared by the benchmark's modules."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PY = sys.executable
SIGAP = str(Path(PY).with_name("sigap"))
LOCAL_KAFKA = ROOT / "deploy" / "kafka" / "local-kafka.sh"
# The Quix Streams peer's own virtualenv (make bench-quix-venv): quixstreams pins pydantic
# below the project's pin, so it cannot be installed in .venv.
QUIX_PY = Path(os.environ.get("BENCH_QUIX_PYTHON", str(ROOT / ".venv-quix" / "bin" / "python")))
NAIVE_TABLES = (
    "created-at",
    "created-1h",
    "created-1d",
    "resolved-1h",
    "resolved-1d",
    "ressum-1h",
    "ressum-1d",
)
WORKER_TABLES = ("complaints", "rejections", "unit-views")
# The empty-agent settings sweep (bench/faust_apps.py): Faust's defaults, then one change at a
# time, up to the worker's own settings (the ceiling the worker is compared with).
EMPTY_VARIANTS = ("defaults", "uvloop", "tuned", "take", "batch", "worker")
UNITS = ("dlh", "dsda", "dishub", "satpol-pp", "dispendukcapil", "dinkes", "damkar", "bpbd")

MODES: dict[str, dict[str, Any]] = {
    # days_back x rate_scale sets the backlog N (about 720 events per simulated day per 1.0)
    "full": {
        "days_back": 14,
        "rate_scale": 20.0,
        "open": 1_000_000,
        "latency_s": 20.0,
        "partitions": 4,
    },
    "quick": {
        "days_back": 7,
        "rate_scale": 6.0,
        "open": 20_000,
        "latency_s": 10.0,
        "partitions": 4,
    },
    "smoke": {"days_back": 2, "rate_scale": 2.0, "open": 2_000, "latency_s": 1.5, "partitions": 2},
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port(count: int = 1) -> int:
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + count > 65535:
            continue
        ok = True
        for offset in range(count):
            with socket.socket() as other:
                try:
                    other.bind(("127.0.0.1", port + offset))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no free port")


def wait_for(
    predicate: Callable[[], bool], timeout: float, interval: float = 0.1, what: str = ""
) -> float:
    """Seconds until predicate() holds; raises after timeout."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - start
