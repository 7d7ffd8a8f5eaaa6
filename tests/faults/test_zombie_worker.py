"""A zombie worker: two workers share the group (FAST_GROUP: 10 s session timeout); one is
frozen (SIGSTOP) while it reads a bulk of events and stays frozen past the session timeout;
the other takes its partitions and reads the bulk and later events of the same complaints;
then the frozen one wakes up (SIGCONT) holding its batch, its fetched records and its old
states, works on them before it notices that it lost its partitions, and rejoins the group.

Checked once the rest of the events is read:
- the KPI series of the two workers (each exports the units it owns) equal a hand count
  (helpers.expected_counts) and the replay of the published events (watermark_free: every
  event type moves one of the series compared, so equal series mean every event counted once);
- the complaints table's changelog, read to its end: each complaint's last record holds
  every event published for it (a zombie's late write of an older state, left last or read
  back by a worker recovering the partition, fails it);
- no agent crashed.

The woken worker fences itself (streams/stall_guard.py): frozen longer than the session
timeout, it exits with stall_guard.EXIT_CODE before sending anything, and is restarted as a
supervisor would; the restarted worker recovers from the changelog. Without the guard the
test fails (seen in 13 of 14 runs: 24-33 KPI series off, 87-173 complaints whose last
changelog record lacks events, 81-204 records going back): the woken worker finished its
batch and flushed changelog records built from its old states after the new owner's, and
Faust's recovery of a partition it got back started at its own late write. A harness step
that goes wrong calls pytest.fail. The new owner's offsets are committed before the wake-up:
otherwise the zombie may read the events of the pause again and mend its states by chance.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from sigap.pipeline_lag import group_lag
from streams.app import COMPLAINTS_TABLE, changelog_topic
from streams.stall_guard import EXIT_CODE
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
    total,
)
from tests.faults.test_deadlines_during_faults import watermark_free
from tests.integration.processes import wait_for

pytestmark = pytest.mark.kafka


def many_events(groups: int) -> list[dict[str, Any]]:
    """`groups` copies of the fault event set under different complaint ids, merged in
    event-time order: a backlog that takes the worker about a second to read."""
    merged = [
        (event["occurred_at"], g, n, event)
        for g in range(groups)
        for n, event in enumerate(make_events(120, prefix=f"z{g}-"))
    ]
    return [event for *_, event in sorted(merged, key=lambda item: item[:3])]


EVENTS = many_events(10)  # 3,120 events of 1,200 complaints
# Before the freeze, read by both workers; a bulk published at once, during which one worker
# is frozen mid-batch (states computed, changelog and views records not all sent); later
# events of the same complaints, read by the new owner alone; the rest, after the wake-up.
CUTS = (900, 2100, 2700)
BEFORE, BULK, DURING, AFTER = (
    EVENTS[: CUTS[0]],
    EVENTS[CUTS[0] : CUTS[1]],
    EVENTS[CUTS[1] : CUTS[2]],
    EVENTS[CUTS[2] :],
)
PROCESSED = "sigap_events_processed_total"


def owners(workers: list[Worker]) -> dict[str, list[str]]:
    """Per unit, the workers that export it (in two scrapes in a row)."""
    first = {w.name: samples(w.scrape()) for w in workers}
    second = {w.name: samples(w.scrape()) for w in workers}
    found: dict[str, list[str]] = {unit: [] for unit in UNITS}
    for worker in workers:
        for unit in UNITS:
            key: Sample = ("sigap_complaints_created_total", (("unit", unit),))
            if key in first[worker.name] and key in second[worker.name]:
                found[unit].append(worker.name)
    return found


def expected(events: list[dict[str, Any]]) -> dict[Sample, float]:
    return {**watermark_free(events), **expected_counts(events)}


def read_changelog(bootstrap: str, topic: str) -> list[tuple[str, bytes | None]]:
    """Every (key, value) record of the topic to its end, a key's records in their order (a
    key is in one partition). Keys are JSON: Faust's codec for a table without a key type."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[tuple[str, bytes | None]] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=1000, max_records=500).values():
                records.extend((orjson.loads(record.key), record.value) for record in batch)
        return records
    finally:
        consumer.close()


def event_ids(value: bytes | None) -> set[str]:
    if value is None:
        return set()
    return {event["event_id"] for event in orjson.loads(value)["e"]}


def changelog_problems(
    records: list[tuple[str, bytes | None]], events: list[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """(complaints whose last record lacks some of their events, records that went back:
    a state written after one holding events it lacks)."""
    published: dict[str, set[str]] = {}
    for event in events:
        published.setdefault(event["complaint_id"], set()).add(event["event_id"])
    last: dict[str, set[str]] = {}
    backwards = []
    for key, value in records:
        held = event_ids(value)
        if key in last and not last[key] <= held:
            backwards.append(f"{key}: {len(held)} events after {len(last[key])}")
        last[key] = held
    short = [
        f"{complaint}: last record lacks {sorted(ids - last.get(complaint, set()))}"
        for complaint, ids in sorted(published.items())
        if not ids <= last.get(complaint, set())
    ]
    return short, backwards


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    box: list[Worker] = []
    try:
        yield box
    finally:
        for worker in box:
            if worker.alive():
                os.kill(worker.process.process.pid, signal.SIGCONT)
                worker.stop()
            print(worker.logs()[-6000:])


def wait_committed(bootstrap: str, group: str, topic: str, timeout: float = 30) -> int:
    """Wait until the group has committed the topic to its end; returns the messages left."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        return wait_for(
            lambda: sum(group_lag(admin, consumer, group, topic)[0].values()),
            lambda left: left == 0,
            timeout,
            "the offsets committed",
        )
    finally:
        consumer.close()
        admin.close()


def frozen_mid_bulk(worker: Worker, before: float, timeout: float = 30) -> float:
    """SIGSTOP the worker as soon as it shows it has started on the bulk (its processed
    counter moved), so that it is frozen with a batch in hand; returns that counter."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processed = total(samples(worker.scrape()), PROCESSED)
        if processed > before:
            os.kill(worker.process.process.pid, signal.SIGSTOP)
            return processed
    os.kill(worker.process.process.pid, signal.SIGSTOP)
    return before


def test_a_zombie_worker_does_not_take_states_or_counts_back(
    kafka_bootstrap: str, tmp_path: Path, workers: list[Worker]
) -> None:
    # Complaints of the bulk have later events in DURING: when the frozen worker wakes up,
    # its states of them are older than the new owner's.
    if not {e["complaint_id"] for e in BULK} & {e["complaint_id"] for e in DURING}:
        pytest.fail("the event set does not exercise the case")
    env = fresh_env(kafka_bootstrap, tmp_path, "a", SIGAP_TOPIC_PARTITIONS="4")
    env_b = {
        **env,
        "SIGAP_WEB_PORT": str(free_port()),
        "SIGAP_STATE_DIR": str(tmp_path / "b" / "state"),
    }
    create_topics(env)
    zombie = Worker(env, tmp_path, "zombie")
    owner = Worker(env_b, tmp_path, "owner")
    workers.extend([zombie, owner])
    zombie.start()
    owner.start()
    zombie.wait_serving()
    owner.wait_serving()

    def both_own_units(seen: dict[str, list[str]]) -> bool:
        return all(len(names) == 1 for names in seen.values()) and {
            name for names in seen.values() for name in names
        } == {"zombie", "owner"}

    split = wait_for(lambda: owners([zombie, owner]), both_own_units, 60, "two owners")
    if not both_own_units(split):
        pytest.fail(f"the two workers did not share the units: {split}")

    topic = env["SIGAP_EVENTS_TOPIC"]
    publish(kafka_bootstrap, topic, BEFORE)
    want = expected(BEFORE)
    problems = wait_for(
        lambda: subset_differences(summed([zombie.scrape(), owner.scrape()]), want),
        lambda p: not p,
        60,
        "the first events",
    )
    if problems:
        pytest.fail(f"the first events: {problems[:10]}")

    # Frozen mid-batch: no heartbeat, no processing, no scrape (its web server is frozen).
    before = total(samples(zombie.scrape()), PROCESSED)
    publish(kafka_bootstrap, topic, BULK)
    at_freeze = frozen_mid_bulk(zombie, before)
    frozen_at = time.monotonic()
    want = expected(BEFORE + BULK)
    problems = wait_for(
        lambda: subset_differences(summed([owner.scrape()]), want),
        lambda p: not p,
        90,
        "the owner alone, every partition",
    )
    if problems:
        pytest.fail(f"the owner did not take every partition: {problems[:10]}")
    publish(kafka_bootstrap, topic, DURING)
    want = expected(BEFORE + BULK + DURING)
    problems = wait_for(
        lambda: subset_differences(summed([owner.scrape()]), want),
        lambda p: not p,
        60,
        "the owner alone, later events",
    )
    if problems:
        pytest.fail(f"the owner alone, later events: {problems[:10]}")

    # The new owner has committed its offsets: what it wrote meanwhile is not read again.
    uncommitted = wait_committed(kafka_bootstrap, env["SIGAP_APP_ID"], topic)
    if uncommitted:
        pytest.fail(f"the owner left {uncommitted} events uncommitted")

    # Wakes up with its batch and old states: it must exit before it sends anything
    # (self-fencing), and is restarted as its supervisor would.
    frozen_for = time.monotonic() - frozen_at
    os.kill(zombie.process.process.pid, signal.SIGCONT)
    try:
        fenced = zombie.process.process.wait(30)
    except subprocess.TimeoutExpired:
        fenced = None
    assert fenced == EXIT_CODE, (fenced, zombie.logs()[-3000:])
    zombie.process.stop()  # closes the log file
    zombie.start()
    zombie.wait_serving()
    split = wait_for(lambda: owners([zombie, owner]), both_own_units, 60, "two owners again")
    publish(kafka_bootstrap, topic, AFTER)
    want = expected(EVENTS)
    found = wait_for(
        lambda: summed([zombie.scrape(), owner.scrape()]),
        lambda f: not subset_differences(f, want),
        60,
        "every event",
    )
    records = read_changelog(
        kafka_bootstrap, changelog_topic(env["SIGAP_APP_ID"], COMPLAINTS_TABLE)
    )
    short, backwards = changelog_problems(records, EVENTS)
    print(
        f"frozen {frozen_for:.0f} s after {at_freeze - before:.0f} bulk events; owners after: "
        f"{split}; changelog: {len(records)} records, {len(backwards)} went back: "
        f"{backwards[:10]}"
    )

    counted = subset_differences(found, want)
    print(f"KPI series off: {len(counted)}; complaints short in the changelog: {len(short)}")
    crashes = zombie.crashes() + owner.crashes()
    if crashes:
        pytest.fail(f"an agent crashed: {crashes[:5]}")
    assert counted == [] and short == [] and backwards == [], (
        counted[:10],
        short[:10],
        backwards[:10],
    )
    if zombie.stop() != 0 or owner.stop() != 0:
        pytest.fail("a worker did not stop cleanly on SIGTERM")
