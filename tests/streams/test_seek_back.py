"""Records Faust drops when a rebalance stops the flow are read again, also from a partition
without a committed offset (streams/seek_back.py; the soak's kill-rebalance loss).

A real faust.App on the real broker reads a one-partition topic of 40 records it has not
committed. After the 5th record is delivered the flow stops, as a rebalance stops it: Faust
drops the rest of the fetched batch. Then, as at the end of a rebalance's recovery, the
consumer seeks back (`perform_seek`) and the flow resumes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import faust
import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.seek_back import seek_uncommitted_to_beginning

pytestmark = pytest.mark.kafka

RECORDS = 40
STOP_AFTER = 4  # the offset after whose delivery the flow stops


def publish_records(bootstrap: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for offset in range(RECORDS):
        producer.send(topic, key=b"k", value=str(offset).encode(), partition=0)
    producer.flush()
    producer.close()


def offsets_read(bootstrap: str, *, seek_back: bool) -> list[int]:
    """The offsets the agent receives, in order, until it has all or 10 s pass."""
    name = f"seek-back-{uuid.uuid4().hex[:8]}"
    publish_records(bootstrap, name)
    seen: list[int] = []

    async def run() -> None:
        app = faust.App(
            name,
            broker=f"kafka://{bootstrap}",
            store="memory://",
            web_enabled=False,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=3600.0,  # nothing committed: the partition of the loss
            topic_disable_leader=True,
        )
        topic = app.topic(name, key_type=bytes, value_type=bytes, value_serializer="raw")
        all_read = asyncio.Event()

        @app.agent(topic)
        async def read(stream: Any) -> None:
            async for event in stream.events():
                seen.append(event.message.offset)
                if set(seen) >= set(range(RECORDS)):
                    all_read.set()

        consumer: Any = app.consumer
        if seek_back:
            seek_uncommitted_to_beginning(consumer, {name})
        deliver = consumer.callback
        stopped: list[bool] = []

        async def resume_later() -> None:
            await asyncio.sleep(0.5)
            await consumer.perform_seek()  # as on_recovery_completed does, then resumes
            consumer.resume_flow()

        async def deliver_then_stop(message: Any) -> None:
            await deliver(message)
            if message.offset == STOP_AFTER and not stopped:
                stopped.append(True)
                consumer.stop_flow()  # what a rebalance starting does
                resume_task.append(asyncio.ensure_future(resume_later()))

        resume_task: list[asyncio.Future[None]] = []
        consumer.callback = deliver_then_stop
        await app.start()
        try:
            await asyncio.wait_for(all_read.wait(), timeout=10)
        except TimeoutError:
            pass
        finally:
            await app.stop()

    asyncio.run(run())
    return seen


def test_faust_skips_the_dropped_records_of_a_partition_without_a_commit(
    kafka_bootstrap: str,
) -> None:
    """The defect, in the library: offsets after the stop are never delivered."""
    seen = offsets_read(kafka_bootstrap, seek_back=False)
    assert STOP_AFTER in seen
    assert set(seen) != set(range(RECORDS)), seen


def test_every_dropped_record_is_read_again_after_the_seek_back(kafka_bootstrap: str) -> None:
    seen = offsets_read(kafka_bootstrap, seek_back=True)
    assert set(seen) == set(range(RECORDS)), seen
    # Read again from the beginning: the records before the stop come twice, in order.
    assert seen[: STOP_AFTER + 1] == list(range(STOP_AFTER + 1))
