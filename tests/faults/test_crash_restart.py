"""SIGKILL the worker three times in the middle of the stream; the final KPIs and scores
equal those of a clean run of the same events (on fresh topics, run alongside)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.helpers import (
    Sample,
    Worker,
    crash_lines,
    create_topics,
    differences,
    expected_counts,
    fresh_env,
    kpi_samples,
    make_events,
    publish,
    publishing,
    scores,
    subset_differences,
    total,
)
from tests.integration.processes import SigapProcess, http_get, wait_for

pytestmark = pytest.mark.kafka

EVENTS = make_events(120)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[SigapProcess | Worker]]:
    started: list[SigapProcess | Worker] = []
    try:
        yield started
    finally:
        for item in started:
            if isinstance(item, Worker):
                if item.alive():
                    item.stop()
                print(item.logs()[-6000:])
            else:
                item.stop()


# Found a real bug on its first runs: one event's effects were written as separate messages
# (complaint state, unit view, per-unit counters), and a SIGKILL could keep some and lose
# others for good. Now each unit view is stored with its own contribution to the counters,
# and a redelivered event the state already holds sends its views again.
# Then, under extra CPU load, about one run in three ended with the crashed run far short of
# the clean one although no agent crashed: the group's offsets had been committed while the
# complaints' changelog records were still in Faust's producer buffer (its flush gives up
# after 0.1 s without progress), and the SIGKILL lost them. The worker now drains the buffer
# before each commit (streams.commits.acknowledge_before_commits).
def test_sigkill_mid_stream_loses_and_doubles_nothing(
    kafka_bootstrap: str, tmp_path: Path, processes: list[SigapProcess | Worker]
) -> None:
    clean_env = fresh_env(kafka_bootstrap, tmp_path, "clean")
    crash_env = fresh_env(kafka_bootstrap, tmp_path, "crash")
    for env in (clean_env, crash_env):
        create_topics(env)
    clean = Worker(clean_env, tmp_path, "clean")
    crashed = Worker(crash_env, tmp_path, "crashed")
    processes.extend([clean, crashed])
    writers = [
        SigapProcess(["score-writer"], env, tmp_path / f"{name}-writer.log")
        for env, name in ((clean_env, "clean"), (crash_env, "crashed"))
    ]
    processes.extend(writers)
    clean.start()
    crashed.start()

    # The clean run gets every event at once.
    publish(kafka_bootstrap, clean_env["SIGAP_EVENTS_TOPIC"], EVENTS)

    # The other run gets them in four parts, published at a steady pace while the worker
    # runs; during each of the first three it is killed once it has counted something new.
    topic = crash_env["SIGAP_EVENTS_TOPIC"]
    parts = [EVENTS[0:70], EVENTS[70:160], EVENTS[160:250], EVENTS[250:]]
    crashed.wait_serving()
    counted = 0.0
    for part in parts[:3]:
        with publishing(kafka_bootstrap, topic, part, pause=0.03):
            before = counted

            def progressed(found: dict[Sample, float], before: float = before) -> bool:
                return total(found, "sigap_complaints_created_total") > before

            text = wait_for(
                lambda: kpi_samples(crashed.scrape()), progressed, 60, "progress before the kill"
            )
            counted = total(text, "sigap_complaints_created_total")
            assert counted > before, crashed.logs()
            crashed.kill()
        crashed.start()
        crashed.wait_serving()
    publish(kafka_bootstrap, topic, parts[3])

    expected = expected_counts(EVENTS)
    clean_found = wait_for(
        lambda: kpi_samples(http_get(clean.url)),
        lambda found: not subset_differences(found, expected),
        60,
        "the clean run",
    )
    assert subset_differences(clean_found, expected) == []
    assert clean.crashes() == [] and crashed.crashes() == [], crashed.crashes()[:5]
    final = wait_for(
        lambda: kpi_samples(crashed.scrape()),
        lambda found: not differences(found, clean_found),
        60,
        "the crashed run",
    )
    assert differences(final, clean_found) == []
    # And still the same a little later (nothing was counted twice after the comparison).
    assert kpi_samples(http_get(clean.url)) == clean_found
    assert differences(kpi_samples(crashed.scrape()), clean_found) == []

    clean_scores = wait_for(
        lambda: scores(clean_env),
        lambda rows: sum(row.get("resolved", 0) for row in rows) == 72,
        60,
        "the clean scores",
    )
    assert sum(row.get("resolved", 0) for row in clean_scores) == 72, clean_scores
    crash_scores = wait_for(
        lambda: scores(crash_env), lambda rows: rows == clean_scores, 60, "the scores"
    )
    assert crash_scores == clean_scores
    assert clean.crashes() == [] and crashed.crashes() == [], crashed.crashes()[:5]
    for writer in writers:
        assert writer.process.poll() is None, "a score writer exited:\n" + writer.log_text()[-3000:]
        assert crash_lines(writer) == []
    assert crashed.stop() == 0, "worker did not stop cleanly on SIGTERM"
