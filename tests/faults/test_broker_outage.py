"""A broker outage in the middle of the stream, on a broker of this test's own (the session
broker is not disturbed): the worker and the score writer reconnect by themselves and the
final metrics and scores are the expected ones."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import LOCAL_KAFKA, free_port
from tests.faults.helpers import (
    Worker,
    crash_lines,
    create_topics,
    expected_counts,
    fresh_env,
    kpi_samples,
    make_events,
    publish,
    scores,
    subset_differences,
)
from tests.integration.processes import SigapProcess, wait_for

pytestmark = pytest.mark.kafka

EVENTS = make_events(60)
RESOLVED = sum(1 for event in EVENTS if event["type"] == "resolved")


def local_kafka(command: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", str(LOCAL_KAFKA), command], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_worker_and_writer_survive_broker_outage(tmp_path: Path) -> None:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs a local broker of its own; KAFKA_BOOTSTRAP_SERVERS is set")
    port = free_port(count=2)
    broker_env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_DATA_DIR": str(tmp_path / "kafka"),
    }
    bootstrap = f"127.0.0.1:{port}"
    local_kafka("start", broker_env)
    worker: Worker | None = None
    writer: SigapProcess | None = None
    try:
        env = fresh_env(bootstrap, tmp_path, "run")
        create_topics(env)
        worker = Worker(env, tmp_path)
        worker.start()
        writer = SigapProcess(["score-writer"], env, tmp_path / "writer.log")
        worker.wait_serving()
        half = len(EVENTS) // 2
        publish(bootstrap, env["SIGAP_EVENTS_TOPIC"], EVENTS[:half])
        first = expected_counts(EVENTS[:half])
        found = wait_for(
            lambda: kpi_samples(worker.scrape()) if worker else {},
            lambda f: not subset_differences(f, first),
            60,
            "the first half",
        )
        assert subset_differences(found, first) == []

        local_kafka("stop", broker_env)
        time.sleep(10)
        assert worker.alive(), "the worker exited during the outage:\n" + worker.logs()
        assert writer.process.poll() is None, "the score writer exited during the outage"
        local_kafka("start", broker_env)

        publish(bootstrap, env["SIGAP_EVENTS_TOPIC"], EVENTS[half:])
        expected = expected_counts(EVENTS)
        found = wait_for(
            lambda: kpi_samples(worker.scrape()) if worker else {},
            lambda f: not subset_differences(f, expected),
            90,
            "all events after the outage",
        )
        assert worker.crashes() == [], worker.crashes()[:5]
        assert subset_differences(found, expected) == []
        rows = wait_for(
            lambda: scores(env),
            lambda r: sum(row.get("resolved", 0) for row in r) == RESOLVED,
            60,
            "the scores after the outage",
        )
        # A writer that died after the outage (it once did, on a commit that timed out)
        # leaves the scores behind for good: say so rather than only that they differ.
        assert writer.process.poll() is None, (
            "the score writer exited:\n" + writer.log_text()[-2000:]
        )
        assert sum(row.get("resolved", 0) for row in rows) == RESOLVED, rows
        assert worker.crashes() == [] and crash_lines(writer) == []
        assert worker.stop() == 0, "worker did not stop cleanly on SIGTERM"
        assert writer.stop() == 0, "score writer did not stop cleanly on SIGTERM"
    finally:
        if worker is not None:
            if worker.alive():
                worker.stop()
            print(worker.logs()[-6000:])
        if writer is not None:
            writer.stop()
            print(writer.log_text()[-3000:])
        local_kafka("stop", broker_env)
