"""The worker's local state (RocksDB, SIGAP_STATE_DIR) deleted while it is stopped: on
restart the tables are recovered from their changelog topics, the metrics are those of
before (the watermark too: it does not fall back to the latest event time), and later
events apply on top of the recovered state."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

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
    samples,
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
WATERMARK = ("sigap_events_watermark_timestamp_seconds", ())
# How far the idle watermark runs ahead of the latest event time on the wall clock before
# the restart: more than a restart takes, so that a watermark restarted from the latest
# event time (as before the unit-progress table) cannot pass for the one saved.
QUIET_SECONDS = 30


def after_later_events(before: dict[Any, float]) -> dict[Any, float]:
    """dishub's series once LATER is processed on top of `before`: k0002 answered 4 h and
    resolved 5 h after its creation, new-1 opened (the open count unchanged)."""

    def plus(name: str, added: float) -> tuple[tuple[str, Any], float]:
        return (name, DISHUB), before[(name, DISHUB)] + added

    return dict(
        [
            plus("sigap_complaints_created_total", 1),
            plus("sigap_complaints_resolved_total", 1),
            plus("sigap_complaints_open", 0),
            plus("sigap_complaint_resolution_wall_seconds_count", 1),
            plus("sigap_complaint_resolution_wall_seconds_sum", 5 * 3600),
            plus("sigap_complaint_first_response_wall_seconds_count", 1),
            plus("sigap_complaint_first_response_wall_seconds_sum", 4 * 3600),
        ]
    )


def watermark(text: str) -> float:
    return samples(text).get(WATERMARK, 0.0)


def test_state_recovered_from_changelogs(kafka_bootstrap: str, tmp_path: Path) -> None:
    # Unchanged heartbeats repeated every second: the watermark is saved that often.
    env = fresh_env(
        kafka_bootstrap,
        tmp_path,
        "run",
        SIGAP_HEARTBEAT_SECONDS="1",
        SIGAP_HEARTBEAT_REPEAT_SECONDS="1",
    )
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
        latest_event = max(datetime.fromisoformat(e["occurred_at"]) for e in EVENTS).timestamp()
        # The events are weeks old and every partition is caught up: the watermark advances
        # with the wall clock from the latest event time.
        reached = wait_for(
            lambda: watermark(worker.scrape()),
            lambda mark: mark >= latest_event + QUIET_SECONDS,
            QUIET_SECONDS + 60,
            "the idle watermark",
        )
        assert reached >= latest_event + QUIET_SECONDS
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
        # Restored from the unit-progress changelog: about the save interval (1 s repeat,
        # 1 s step; more when the timer runs late on a loaded machine) behind the value
        # reached, or ahead of it (saved until the stop); restarted from the latest event
        # time it would be about QUIET_SECONDS behind.
        restored = watermark(worker.scrape())
        assert restored >= reached - QUIET_SECONDS / 3, (
            restored - reached,
            restored - latest_event,
        )

        publish(kafka_bootstrap, env["SIGAP_EVENTS_TOPIC"], LATER)
        # k0002's resolution, 5 h after its creation at 08:03, is measured: the created
        # event came back from the changelog, not from the events topic.
        wanted = after_later_events(before)
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
