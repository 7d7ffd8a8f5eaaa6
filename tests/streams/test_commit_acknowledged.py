"""No offset is committed before the changelog records written before it are acknowledged
(streams.commits.acknowledge_before_commits; docs/delivery.md P10).

Faust's consumer commits after `producer.flush()`: the producer buffer's flush (table writes
wait in that buffer) and then the Kafka client's flush, which waits for the record batches
the client holds. A record the buffer has taken out of its queue but not handed to the
client yet is in neither: aiokafka's `send` waits there while the partition's batch is full
(or while it fetches a topic's metadata, the first time a process writes to a topic). These
run a real faust-streaming producer against the test broker with batches that hold one
record, so that every record after the first waits in `send` for the one before it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import faust
import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from streams.commits import acknowledge_before_commits

pytestmark = pytest.mark.kafka

RECORDS = 12
RECORD_BYTES = 12_000
BATCH_BYTES = 16_384  # one record per batch


def former_drain(buffer: Any) -> None:
    """The flush the worker used before: wait until the buffer's queue is empty."""
    drain_some = buffer.flush_atmost

    async def flush() -> None:
        while buffer.size:
            await drain_some(None)

    buffer.flush = flush


def _topic(bootstrap: str) -> str:
    name = f"commit-ack-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    return name


async def _unacknowledged_after_flush(bootstrap: str, install: Any) -> int:
    """Records put in the buffer before `producer.flush()` (the call Faust makes before a
    commit) still not acknowledged once it returns."""
    name = _topic(bootstrap)
    app = faust.App(
        f"commit-ack-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        producer_max_batch_size=BATCH_BYTES,
        producer_linger=0.0,
    )
    topic = app.topic(name, partitions=1, value_serializer="raw")
    producer = app.producer
    await producer.start()
    try:
        install(producer.buffer)
        # Table writes are put in the buffer like this (Table._send_changelog).
        sent = [topic.send_soon(value=b"x" * RECORD_BYTES, partition=0) for _ in range(RECORDS)]
        await producer.flush()
        unacknowledged = sum(1 for fut in sent if not fut.done())
        await asyncio.wait(sent, timeout=30)
        assert all(fut.done() and fut.exception() is None for fut in sent)
        return unacknowledged
    finally:
        await producer.stop()


def test_the_former_drain_let_a_commit_pass_a_record_being_handed_to_the_client(
    kafka_bootstrap: str,
) -> None:
    """The defect, with the drain the worker used before (empty buffer = done)."""
    left = asyncio.run(_unacknowledged_after_flush(kafka_bootstrap, former_drain))
    assert left >= 1


def test_a_flush_returns_once_every_record_put_before_it_is_acknowledged(
    kafka_bootstrap: str,
) -> None:
    left = asyncio.run(_unacknowledged_after_flush(kafka_bootstrap, acknowledge_before_commits))
    assert left == 0
