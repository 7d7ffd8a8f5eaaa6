"""A poll the score writer cannot write within max_poll_interval_ms does not come back for
ever (consumers.poll_budget).

Before: the writer took up to 1,000 records per poll and wrote them in one go. When that took
longer than the group's max_poll_interval_ms, the consumer left the group, the commit failed,
and the same records came back, to be written and refused again. Found with `sigap verify` on
the St. Louis export: the writer spent minutes on one poll, rejoined, and started over.

Here, on the real broker, each view takes 0.4 s to write (a stand-in for a slow database or a
long export) and the interval is 8 s: 40 records of one view each (one poll of all 40 takes
16 s: the poll budget), then one record of 30 views (12 s, more than the interval however few
records a poll takes: the polls with the partitions paused between chunks).
"""

from __future__ import annotations

import threading
import time
import uuid

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

import consumers.score_writer as score_writer_module
from consumers.poll_budget import PollBudget
from consumers.score_writer import ScoreWriter, build_consumer
from sigap.settings import Settings
from sigap.storage.database import make_engine
from sigap.topics import ensure_topics
from tests.faults.helpers import writer_settings
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


def _settings(kafka_bootstrap: str) -> Settings:
    settings = writer_settings(kafka_bootstrap, f"longpoll-{uuid.uuid4().hex[:8]}")
    ensure_topics(settings)
    return settings


def _publish(settings: Settings, records: list[list[str]]) -> None:
    """One views record per item, holding the views of those complaints."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    for complaints in records:
        views = [_versions(complaint)[1] for complaint in complaints]
        envelope = {"src": 0, "wm": views[0].as_of, "cu": True, "vs": [v.to_json() for v in views]}
        producer.send(settings.views_topic, orjson.dumps(envelope))
    producer.flush()
    producer.close()


def _run_slow_writer(settings: Settings, database: str, expected: int) -> tuple[int, ScoreWriter]:
    """Run a writer whose views take SECONDS_PER_VIEW each until the group's committed
    offset reaches `expected` (or 90 s pass); the offset reached, and the writer."""
    engine = make_engine(database)
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
    committed = -1
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            committed = _committed(
                settings.kafka_bootstrap_servers, settings.score_writer_group, settings.views_topic
            )
            if committed >= expected:
                break
            time.sleep(1)
    finally:
        writer.stop()
        thread.join(60)
        writer.consumer.close()
        engine.dispose()
    return committed, writer


@pytest.mark.kafka
def test_records_that_take_longer_than_the_poll_interval_are_written_and_committed(
    kafka_bootstrap: str, tmp_path: object
) -> None:
    settings = _settings(kafka_bootstrap)
    _publish(settings, [[f"slow{n}"] for n in range(RECORDS)])
    # All 40 in one poll take 16 s: twice the interval. Without the budget they come back
    # every time and the group's offset never moves; with it, all are committed after the
    # first oversized poll (16 s) and ten polls of 4 (1.6 s each).
    committed, writer = _run_slow_writer(settings, f"sqlite:///{tmp_path}/scores.db", RECORDS)
    assert committed == RECORDS
    assert writer.poll_budget.records < RECORDS


@pytest.mark.kafka
def test_one_record_that_takes_longer_than_the_poll_interval_is_written_and_committed(
    kafka_bootstrap: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(score_writer_module, "WRITE_CHUNK_VIEWS", 5)
    settings = _settings(kafka_bootstrap)
    _publish(settings, [[f"big{n}" for n in range(30)]])
    # 30 views: 12 s in chunks of 5 (2 s each). Without the polls between chunks the group
    # drops the writer every time and the offset never moves.
    committed, writer = _run_slow_writer(settings, f"sqlite:///{tmp_path}/scores.db", 1)
    assert committed == 1
    assert writer.keepalive_polls >= 3
    assert writer.written >= 30
