"""A clean stop writes the unit stage's snapshot and the next start loads it instead of
decoding the stored views (streams.unit_snapshot), on the real broker: the metrics after the
restart are those of before, and later events apply on top of the loaded state."""

from __future__ import annotations

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
from tests.faults.test_state_recovery import LATER, after_later_events
from tests.integration.processes import wait_for

pytestmark = pytest.mark.kafka

EVENTS = make_events(60)


def test_a_clean_restart_loads_the_unit_snapshot(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = fresh_env(kafka_bootstrap, tmp_path, "snap")
    create_topics(env)
    worker = Worker(env, tmp_path)
    snapshots = Path(env["SIGAP_STATE_DIR"]) / "unit-snapshots"
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
        first_log = worker.runs[0].log_text()
        written = sorted(path.name for path in snapshots.glob("*.snapshot"))
        # Every views partition this (only) worker owned, each logged.
        assert written and first_log.count("unit snapshot") == len(written), first_log[-3000:]
        assert "written" in first_log

        worker.start()
        after = wait_for(
            lambda: kpi_samples(worker.scrape()),
            lambda found: not differences(found, before),
            60,
            "the metrics after the restart",
        )
        assert differences(after, before) == []
        second_log = worker.runs[1].log_text()
        assert second_log.count("loaded:") == len(written), second_log[-3000:]
        assert "not loaded" not in second_log
        assert list(snapshots.glob("*.snapshot")) == []  # read once

        publish(kafka_bootstrap, env["SIGAP_EVENTS_TOPIC"], LATER)
        # On top of the loaded state: the open count, the histograms and counters move.
        wanted = after_later_events(before)
        final = wait_for(
            lambda: kpi_samples(worker.scrape()),
            lambda found: not subset_differences(found, wanted),
            60,
            "the later events",
        )
        assert subset_differences(final, wanted) == []
        assert worker.stop() == 0
        assert worker.crashes() == []
    finally:
        if worker.alive():
            worker.stop()
        print(worker.logs()[-6000:])
