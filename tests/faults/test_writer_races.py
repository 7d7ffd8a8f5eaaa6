"""The score writer killed between its database commit and its offset commit, and two
writers racing through a rebalance: the stored views and scores equal a replay of the log
(one clean writer over the whole views topic), on the real broker and a real PostgreSQL.

The writers run in child processes (spawned), so that a SIGKILL is a real one: no shutdown,
no offset commit. The views are the complaint stage's own (core.complaint_state) for the
fault event set, sent as the complaint stage sends them (schemas of the views envelope).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy import create_engine, text

from consumers.score_writer import ScoreWriter, build_consumer
from schemas.events import parse_event
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.settings import Settings
from sigap.storage.database import make_engine
from sigap.storage.score_queries import score_rows, stored_views
from sigap.topics import ensure_topics
from tests.faults.helpers import make_events, writer_settings
from tests.storage.test_scores import REGISTRY

pytestmark = pytest.mark.kafka

PARTITIONS = 3


def _schema_url(postgres_url: str) -> str:
    schema = f"race_{uuid.uuid4().hex[:8]}"
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    make_engine(url).dispose()  # migrated once, before writers race to do it
    return url


def _settings(bootstrap: str, prefix: str, group: str, database_url: str) -> Settings:
    return writer_settings(
        bootstrap, prefix, group=group, partitions=PARTITIONS, database_url=database_url
    )


def _view_records() -> list[tuple[int, bytes]]:
    """(views partition, envelope) per accepted event, in event order."""
    from schemas.views import unit_partition

    states: dict[str, ComplaintState] = {}
    records = []
    for raw in make_events(90, prefix="w"):
        event = parse_event(orjson.dumps(raw))
        state = states.setdefault(event.complaint_id, ComplaintState())
        for view in accept_event(state, event, REGISTRY).views:
            envelope = {"src": 0, "wm": view.as_of, "cu": False, "vs": [view.to_json()]}
            records.append((unit_partition(view.unit, PARTITIONS), orjson.dumps(envelope)))
    return records


def _produce(bootstrap: str, topic: str, records: list[tuple[int, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for partition, value in records:
        producer.send(topic, value=value, partition=partition)
    producer.flush()
    producer.close()


def run_writer(settings_fields: dict[str, Any], kill_at_commit: int, seconds: float) -> None:
    """A writer process: SIGKILLs itself at its `kill_at_commit`-th offset commit, after the
    batch is committed to the database and before the offsets are (0: never)."""
    settings = Settings(**settings_fields)
    consumer = build_consumer(settings, session_timeout_ms=6000, heartbeat_interval_ms=1000)
    commits = 0
    original = consumer.commit

    def commit(*args: Any, **kwargs: Any) -> None:
        nonlocal commits
        commits += 1
        if commits == kill_at_commit:
            os.kill(os.getpid(), signal.SIGKILL)
        original(*args, **kwargs)

    consumer.commit = commit  # type: ignore[method-assign]
    writer = ScoreWriter(
        engine=make_engine(settings.database_url, create_schema=False),
        consumer=consumer,
        grace_seconds=600,
        max_records=5,  # many small batches: many commits to die between
        registry=REGISTRY,
    )
    deadline = time.monotonic() + seconds
    writer.finalize_every_seconds = 1.0
    import threading

    threading.Timer(max(0.0, deadline - time.monotonic()), writer.stop).start()
    writer.run()
    consumer.close()


def _start(settings: Settings, kill_at_commit: int = 0, seconds: float = 60.0) -> Any:
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=run_writer, args=(settings.__dict__.copy(), kill_at_commit, seconds)
    )
    process.start()
    return process


def _group_lag(settings: Settings) -> int:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.score_writer_group,
        enable_auto_commit=False,
    )
    try:
        from kafka import TopicPartition

        partitions = [TopicPartition(settings.views_topic, p) for p in range(PARTITIONS)]
        ends = consumer.end_offsets(partitions)
        lag = 0
        for tp in partitions:
            committed = consumer.committed(tp)
            lag += ends[tp] - (committed or 0)
        return lag
    finally:
        consumer.close()


def _state(database_url: str) -> tuple[list[Any], list[dict[str, Any]]]:
    engine = create_engine(database_url)
    views = sorted(
        (view.unit, view.complaint_id, orjson.dumps(view.to_json()))
        for view in stored_views(engine)
    )
    rows = []
    for period in ("day", "week", "month"):
        for row in score_rows(engine, period=period, category=None, start=None):
            rows.append({k: v for k, v in row.items() if k not in ("revision", "computed_at")})
    engine.dispose()
    return views, rows


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def setup(kafka_bootstrap: str, postgres_url: str) -> Iterator[tuple[str, str, str]]:
    prefix = f"race-{uuid.uuid4().hex[:8]}"
    replay_url = _schema_url(postgres_url)
    yield prefix, replay_url, _schema_url(postgres_url)


def _replay(kafka_bootstrap: str, prefix: str, url: str, expected_views: int) -> Any:
    """One clean writer over the whole log, in its own group and database."""
    settings = _settings(kafka_bootstrap, prefix, f"{prefix}-replay", url)
    process = _start(settings, seconds=150.0)
    _wait(lambda: _group_lag(settings) == 0, 150, "the replay writer")
    process.terminate()
    process.join(60)
    return _state(url)


def test_sigkill_between_database_commit_and_offset_commit(
    kafka_bootstrap: str, setup: tuple[str, str, str]
) -> None:
    prefix, replay_url, url = setup
    records = _view_records()
    settings = _settings(kafka_bootstrap, prefix, f"{prefix}-writer", url)
    ensure_topics(settings)
    _produce(kafka_bootstrap, settings.views_topic, records)
    # Killed three times, each time right after a database commit, offsets uncommitted.
    for kill_at in (3, 7, 2):
        process = _start(settings, kill_at_commit=kill_at)
        process.join(120)
        assert process.exitcode == -signal.SIGKILL
    survivor = _start(settings, seconds=150.0)
    _wait(lambda: _group_lag(settings) == 0, 150, "the surviving writer")
    survivor.terminate()
    survivor.join(60)
    replayed = _replay(kafka_bootstrap, prefix, replay_url, len(records))
    stored = _state(url)
    assert replayed[0] and replayed[1]
    assert stored[0] == replayed[0]
    assert stored[1] == replayed[1]


def test_two_writers_racing_through_a_rebalance(
    kafka_bootstrap: str, setup: tuple[str, str, str]
) -> None:
    prefix, replay_url, url = setup
    records = _view_records()
    settings = _settings(kafka_bootstrap, prefix, f"{prefix}-writer", url)
    ensure_topics(settings)
    first = _start(settings, seconds=120.0)
    second = _start(settings, kill_at_commit=6, seconds=120.0)  # dies mid-stream
    half = len(records) // 2
    _produce(kafka_bootstrap, settings.views_topic, records[:half])
    second.join(120)
    assert second.exitcode == -signal.SIGKILL
    third = _start(settings, seconds=120.0)  # joins: another rebalance
    _produce(kafka_bootstrap, settings.views_topic, records[half:])
    _wait(lambda: _group_lag(settings) == 0, 150, "the writers")
    for process in (first, third):
        process.terminate()
        process.join(60)
    replayed = _replay(kafka_bootstrap, prefix, replay_url, len(records))
    stored = _state(url)
    assert stored[0] == replayed[0]
    assert stored[1] == replayed[1]
    assert math.isfinite(len(stored[1]))
    _ = date
