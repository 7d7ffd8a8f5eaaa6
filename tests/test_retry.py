"""Start-up against an unreachable broker or database: bounded retry with backoff, then one
clear line (sigap/retry.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sigap.retry import Unreachable, with_backoff
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_backoff_grows_is_bounded_and_gives_up_with_one_message() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    def refuse() -> None:
        raise ConnectionRefusedError

    with pytest.raises(Unreachable, match="Kafka at h:1 did not answer") as error:
        with_backoff(
            refuse,
            what="Kafka at h:1",
            retry_on=(ConnectionRefusedError,),
            timeout_seconds=60,
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert "\n" not in str(error.value)
    assert sum(waits) <= 60 and len(waits) < 20  # not many times a second
    assert waits[1] > waits[0] * 1.3 and max(waits) <= 10.0


def test_it_returns_as_soon_as_the_service_answers() -> None:
    calls = [0]

    def flaky() -> str:
        calls[0] += 1
        if calls[0] < 3:
            raise ConnectionRefusedError
        return "up"

    assert (
        with_backoff(
            flaky,
            what="x",
            retry_on=(ConnectionRefusedError,),
            timeout_seconds=60,
            sleep=lambda _: None,
        )
        == "up"
    )


@pytest.mark.slow  # a worker process that retries the broker until it gives up (~5 s)
def test_the_worker_against_no_broker_stops_with_one_clear_line() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sigap", "worker"],
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "SIGAP_CONNECT_TIMEOUT_SECONDS": "3",
        },
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    # Within the start-up budget (3 s) plus the process's start, not kafka-python's own 30 s
    # bootstrap wait and reconnect backoff.
    assert elapsed < 20, elapsed
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "KAFKA_BOOTSTRAP_SERVERS" in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
