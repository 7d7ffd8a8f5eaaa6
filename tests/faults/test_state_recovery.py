"""The worker's local state (RocksDB, SIGAP_STATE_DIR) deleted while it is stopped: on
restart the tables are recovered from their changelog topics, the metrics are those of
before, and later events apply on top of the recovered state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.faults.helpers import (
    Worker,
    create_topics,
    differences,
    expected_counts,
    fresh_env,
    kpi_samples,
    make_events,
    publish,
    subset_differences,
)
from tests.integration.processes import SigapProcess, wait_for

pytestmark = pytest.mark.kafka

EVENTS = make_events(60)
# Later: c0002 (dishub, created 08:03, open without an answer) is answered and resolved
# after the restart, and a new complaint is created.
LATER = [
    {
        "event_id": "later-1",
        "type": "responded",
        "complaint_id": "k0002",
        "occurred_at": "2026-11-02T12:03:00+07:00",
    },
    {
        "event_id": "later-2",
        "type": "resolved",
        "complaint_id": "k0002",
        "occurred_at": "2026-11-02T13:03:00+07:00",
    },
    {
        "event_id": "later-3",
        "type": "created",
        "complaint_id": "new-1",
        "occurred_at": "2026-11-02T13:30:00+07:00",
        "unit": "dishub",
    },
]
DISHUB: tuple[tuple[str, str], ...] = (("unit", "dishub"),)


def test_state_recovered_from_changelogs(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = fresh_env(kafka_bootstrap, tmp_path, "run")
    create_topics(env)
    worker = Worker(env, tmp_path)
    writer = SigapProcess(["score-writer"], env, tmp_path / "writer.log")
    try:
        worker.start()
        worker.wait_serving()
        publish(kafka_bootstrap, env["SIGAP_EVENTS_TOPIC"], EVENTS)
        expected = expected_counts(EVENTS)
        before = wait_for(
            lambda: kpi_samples(worker.scrape()),
            lambda found: not subset_differences(found, expected),
            60,
            "the first events",
        )
        assert subset_differences(before, expected) == []
        assert worker.stop() == 0

        state_dir = Path(env["SIGAP_STATE_DIR"])
        assert state_dir.is_dir() and any(state_dir.iterdir())
        shutil.rmtree(state_dir)

        worker.start()
        after = wait_for(
            lambda: kpi_samples(worker.scrape()),
            lambda found: not differences(found, before),
            60,
            "the recovered metrics",
        )
        assert differences(after, before) == []
        assert state_dir.is_dir()  # the state is rebuilt locally

        publish(kafka_bootstrap, env["SIGAP_EVENTS_TOPIC"], LATER)
        # k0002's resolution, 5 h after its creation at 08:03, is measured: the created
        # event came back from the changelog, not from the events topic.
        wanted = {
            ("complaints_created_total", DISHUB): before[("complaints_created_total", DISHUB)] + 1,
            ("complaints_resolved_total", DISHUB): before[("complaints_resolved_total", DISHUB)]
            + 1,
            ("complaints_open", DISHUB): before[("complaints_open", DISHUB)],
            ("complaint_resolution_seconds_count", DISHUB): before[
                ("complaint_resolution_seconds_count", DISHUB)
            ]
            + 1,
            ("complaint_resolution_seconds_sum", DISHUB): before[
                ("complaint_resolution_seconds_sum", DISHUB)
            ]
            + 5 * 3600,
            ("complaint_first_response_seconds_count", DISHUB): before[
                ("complaint_first_response_seconds_count", DISHUB)
            ]
            + 1,
            ("complaint_first_response_seconds_sum", DISHUB): before[
                ("complaint_first_response_seconds_sum", DISHUB)
            ]
            + 4 * 3600,
        }
        final = wait_for(
            lambda: kpi_samples(worker.scrape()),
            lambda found: not subset_differences(found, wanted),
            60,
            "the later events",
        )
        assert subset_differences(final, wanted) == []
        # The other units did not move.
        for key, value in before.items():
            if ("unit", "dishub") not in key[1] and key[0].endswith(("_total", "_count", "_sum")):
                assert final.get(key) == value, key
        assert worker.stop() == 0
    finally:
        if worker.alive():
            worker.stop()
        writer.stop()
        print(worker.logs()[-6000:])
