"""A poll the score writer cannot write within max_poll_interval_ms does not come back for
ever (consumers.poll_budget).

Before: the writer took up to 1,000 records per poll and wrote them in one go. When that took
longer than the group's max_poll_interval_ms, the consumer left the group, the commit failed,
and the same records came back, to be written and refused again. Found with `sigap verify` on
the St. Louis export: the writer spent minutes on one poll, rejoined, and started over.

Here, on the real broker, each view takes 0.4 s to write (a stand-in for a slow database or a
long export), 40 records wait, and the interval is 8 s: one poll of all 40 takes 16 s.
"""

from __future__ import annotations

import threading
import time
import uuid

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.poll_budget import PollBudget
from consumers.score_writer import ScoreWriter, build_consumer
from sigap.settings import Settings
from sigap.storage.database import make_engine
from sigap.topics import ensure_topics
from tests.storage.test_scores import REGISTRY
from tests.storage.test_view_order import _versions

RECORDS = 40
SECONDS_PER_VIEW = 0.4
INTERVAL_MS = 8000


def test_the_budget_takes_what_fits_in_a_quarter_of_the_interval() -> None:
    budget = PollBudget(1000, 300.0)
    assert budget.records == 1000
    budget.observe(1000, 600.0)  # 0.6 s per record: 75 s hold 125
    assert budget.records == 125
    budget.observe(125, 1.25)  # faster now: grows, at most twofold per poll
    assert budget.records == 250
    budget.observe(250, 2.5)
    assert budget.records == 500
    budget.observe(10, 3000.0)  # slower than the whole share per record: one at a time
    assert budget.records == 1


def test_the_budget_ignores_empty_polls_and_instant_writes() -> None:
    budget = PollBudget(200, 60.0)
    budget.observe(0, 50.0)
    assert budget.records == 200
    budget.observe(10, 0.0)
    assert budget.records == 200


@pytest.mark.parametrize(
    ("max_records", "interval", "share"), [(0, 300.0, 0.25), (10, 0.0, 0.25), (10, 300.0, 0.0)]
)
def test_a_budget_that_cannot_work_is_refused(
    max_records: int, interval: float, share: float
) -> None:
    with pytest.raises(ValueError, match="must be"):
        PollBudget(max_records, interval, share)


def _committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset of the topic's partition 0 (read without joining it)."""
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        found = reader.committed(TopicPartition(topic, 0))
    finally:
        reader.close()
    return -1 if found is None else found


@pytest.mark.kafka
def test_records_that_take_longer_than_the_poll_interval_are_written_and_committed(
    kafka_bootstrap: str, tmp_path: object
) -> None:
    prefix = f"longpoll-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        events_topic=f"{prefix}-events",
        views_topic=f"{prefix}-views",
        app_id=prefix,
        score_writer_group=f"{prefix}-writer",
        topic_partitions=1,
    )
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for n in range(RECORDS):
        view = _versions(f"slow{n}")[1]
        envelope = {"src": 0, "wm": view.as_of, "cu": True, "vs": [view.to_json()]}
        producer.send(settings.views_topic, orjson.dumps(envelope))
    producer.flush()
    producer.close()

    engine = make_engine(f"sqlite:///{tmp_path}/scores.db")
    writer = ScoreWriter(
        engine=engine,
        consumer=build_consumer(
            settings, max_poll_interval_ms=INTERVAL_MS, session_timeout_ms=INTERVAL_MS
        ),
        grace_seconds=600,
        registry=REGISTRY,
    )
    write = writer._write

    def slow_write(views: list, finalize: bool) -> None:  # type: ignore[type-arg]
        time.sleep(SECONDS_PER_VIEW * len(views))
        write(views, finalize)

    writer._write = slow_write  # type: ignore[method-assign]
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        # All 40 in one poll take 16 s: twice the interval. Without the budget they come back
        # every time and the group's offset never moves; with it, all are committed after the
        # first oversized poll (16 s) and ten polls of 4 (1.6 s each).
        deadline = time.monotonic() + 90
        committed = -1
        while time.monotonic() < deadline:
            committed = _committed(
                kafka_bootstrap, settings.score_writer_group, settings.views_topic
            )
            if committed >= RECORDS:
                break
            time.sleep(1)
    finally:
        writer.stop()
        thread.join(60)
        writer.consumer.close()
        engine.dispose()
    assert committed == RECORDS
    assert writer.poll_budget.records < RECORDS
