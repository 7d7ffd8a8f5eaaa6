"""`kill -USR1` on a live worker logs its consumer's state (streams/diagnostics.py): what the
person on duty reads before restarting a worker that holds partitions but processes nothing.
The dump names each assigned partition with its fetch position, and carries no event content
or identifiers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sigap.gc_policy import GC_THRESHOLDS
from tests.faults.helpers import (
    Worker,
    create_topics,
    expected_counts,
    fresh_env,
    make_events,
    publish,
    subset_differences,
    summed,
)
from tests.integration.processes import wait_for

pytestmark = pytest.mark.kafka

EVENTS = make_events(12, prefix="dumpcase")


def test_sigusr1_logs_each_partitions_fetch_state_without_event_content(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = fresh_env(kafka_bootstrap, tmp_path, "a", SIGAP_TOPIC_PARTITIONS="2")
    create_topics(env)
    worker = Worker(env, tmp_path, "dump")
    try:
        worker.start()
        worker.wait_serving()
        publish(kafka_bootstrap, env["SIGAP_EVENTS_TOPIC"], EVENTS)
        problems = wait_for(
            lambda: subset_differences(summed([worker.scrape()]), expected_counts(EVENTS)),
            lambda p: not p,
            60,
            "events counted",
        )
        assert problems == []

        dump = worker.dump_state()

        assert "flow_active=True" in dump and "state_ready=True" in dump, dump
        # The worker process runs with SIGAP's collector policy (sigap/gc_policy.py).
        assert f"gc_thresholds={GC_THRESHOLDS}" in dump, dump
        events_topic = env["SIGAP_EVENTS_TOPIC"]
        positions = {
            int(partition): int(position)
            for partition, position in re.findall(
                rf"{re.escape(events_topic)}\[(\d)\] status=CONSUMING position=(\d+)", dump
            )
        }
        # Both events partitions are fetched, and together they are past every event sent.
        assert sorted(positions) == [0, 1], dump
        assert sum(positions.values()) == len(EVENTS), dump
        assert "agent " in dump and "task " in dump, dump
        # No complaint identifier, unit or event content: offsets, flags and code only.
        assert "dumpcase" not in dump and "created" not in dump, dump
        assert worker.alive() and worker.crashes() == []
        assert worker.stop() == 0
    finally:
        if worker.alive():
            worker.stop()
