"""Two workers in one group on 4 partitions: a second worker joins, then the first leaves.
The counters summed over the live workers equal the expected totals, and each unit's series
is exported by one worker only (a worker drops a unit's series when its partition goes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.faults.helpers import (
    UNITS,
    Sample,
    Worker,
    create_topics,
    expected_counts,
    fresh_env,
    make_events,
    publish,
    samples,
    subset_differences,
    summed,
)
from tests.integration.processes import wait_for

pytestmark = pytest.mark.kafka

EVENTS = make_events(90)
PARTS = [EVENTS[:80], EVENTS[80:160], EVENTS[160:]]


def owners(workers: list[Worker]) -> dict[str, list[str]]:
    """Per unit, the workers that export its sigap_complaints_created_total.

    A worker counts when both of two scrapes taken around the others' show the unit, so
    that a rebalance completing between two scrapes is not seen as a double export."""
    first = {w.name: w.scrape() for w in workers}
    second = {w.name: w.scrape() for w in workers}
    found: dict[str, list[str]] = {unit: [] for unit in UNITS}
    for worker in workers:
        for unit in UNITS:
            key: Sample = ("sigap_complaints_created_total", (("unit", unit),))
            if all(key in samples(text) for text in (first[worker.name], second[worker.name])):
                found[unit].append(worker.name)
    return found


def split_problems(seen: dict[str, list[str]]) -> list[str]:
    """Both workers own some unit: the first alone owning all of them (the second started
    serving /metrics but has not joined the group yet) is not the two-worker state."""
    owning = {name for names in seen.values() for name in names}
    return [f"{name} owns no unit yet" for name in ("first", "second") if name not in owning]


def test_rebalance_keeps_totals_and_single_owner(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = fresh_env(kafka_bootstrap, tmp_path, "a", SIGAP_TOPIC_PARTITIONS="4")
    env_b = {
        **env,
        "SIGAP_WEB_PORT": str(free_port()),
        "SIGAP_STATE_DIR": str(tmp_path / "b" / "state"),
    }
    create_topics(env)
    first = Worker(env, tmp_path, "first")
    second = Worker(env_b, tmp_path, "second")
    doubles: list[Any] = []

    def check(live: list[Worker], events: list[dict[str, Any]]) -> list[str]:
        seen = owners(live)
        doubles.extend((unit, names) for unit, names in seen.items() if len(names) > 1)
        return subset_differences(summed([w.scrape() for w in live]), expected_counts(events))

    try:
        first.start()
        first.wait_serving()
        publish(kafka_bootstrap, env["SIGAP_EVENTS_TOPIC"], PARTS[0])
        problems = wait_for(lambda: check([first], PARTS[0]), lambda p: not p, 60, "part 1")
        assert problems == []

        second.start()
        second.wait_serving()
        publish(kafka_bootstrap, env["SIGAP_EVENTS_TOPIC"], PARTS[1])
        seen = PARTS[0] + PARTS[1]
        problems = wait_for(
            lambda: (
                check([first, second], seen)
                + [f"{u} unowned" for u, names in owners([first, second]).items() if not names]
                + split_problems(owners([first, second]))
            ),
            lambda p: not p,
            60,
            "part 2, both workers",
        )
        assert problems == []
        split = owners([first, second])
        assert all(len(names) == 1 for names in split.values()), split

        assert first.stop() == 0, "the first worker did not stop cleanly"
        publish(kafka_bootstrap, env["SIGAP_EVENTS_TOPIC"], PARTS[2])
        problems = wait_for(lambda: check([second], EVENTS), lambda p: not p, 60, "all parts")
        assert first.crashes() == [] and second.crashes() == [], second.crashes()[:5]
        assert problems == []
        assert all(names == ["second"] for names in owners([second]).values())
        assert doubles == []
        assert second.stop() == 0
    except BaseException:
        # What each live worker's consumer was doing (streams/diagnostics.py), in its log.
        for worker in (first, second):
            if worker.alive():
                print(f"--- {worker.name} state ---", worker.dump_state())
        raise
    finally:
        for worker in (first, second):
            if worker.alive():
                worker.stop()
        print(first.logs()[-3000:], second.logs()[-3000:])
