"""Running `sigap` commands as real processes for the integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class SigapProcess:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sigap", *args],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def run_sigap(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sigap", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    """Call probe until done(result) or the timeout; returns the last result either way
    (the caller asserts on it, with a message that says what differs)."""
    deadline = time.monotonic() + timeout
    result = probe()
    while not done(result):
        if time.monotonic() > deadline:
            return result
        time.sleep(0.5)
        result = probe()
    return result


def http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""


@dataclass
class Stack:
    env: dict[str, str]
    metrics_url: str
    worker: SigapProcess
    score_writer: SigapProcess
    database: Path


@contextmanager
def running_stack(env_overrides: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    """A worker and a score writer on fresh topics, groups, state and database."""
    from tests.conftest import free_port

    run_id = uuid.uuid4().hex[:8]
    port, writer_port = free_port(), free_port()
    database = tmp_path / "scores.db"
    env = {
        "SIGAP_APP_ID": f"sigap-test-{run_id}",
        "SIGAP_EVENTS_TOPIC": f"test-{run_id}-events",
        "SIGAP_VIEWS_TOPIC": f"test-{run_id}-views",
        "SIGAP_SCORE_WRITER_GROUP": f"test-{run_id}-writer",
        "SIGAP_WEB_PORT": str(port),
        "SIGAP_SCORE_WRITER_METRICS_PORT": str(writer_port),
        "SIGAP_STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": f"sqlite:///{database}",
        **env_overrides,
    }
    created = run_sigap(["topics", "create"], env)
    assert created.returncode == 0, created.stderr
    worker = SigapProcess(["worker"], env, tmp_path / "worker.log")
    score_writer = SigapProcess(["score-writer"], env, tmp_path / "score-writer.log")
    stack = Stack(env, f"http://127.0.0.1:{port}/metrics", worker, score_writer, database)
    try:
        yield stack
    finally:
        worker_rc = worker.stop()
        writer_rc = score_writer.stop()
        print("--- worker log ---\n" + worker.log_text()[-4000:])
        print("--- score writer log ---\n" + score_writer.log_text()[-2000:])
    assert writer_rc == 0, "score writer did not stop cleanly on SIGTERM"
    assert worker_rc == 0, "worker did not stop cleanly on SIGTERM"
