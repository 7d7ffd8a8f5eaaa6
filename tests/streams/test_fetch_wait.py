"""The worker's consumer asks the broker to hold a fetch at most 100 ms
(streams.fetch_wait), on the aiokafka consumer faust-streaming itself creates, against the
real broker: the fetch requests it sends are recorded."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import faust
import pytest
from aiokafka import TopicPartition
from aiokafka.protocol.fetch import FetchRequest
from kafka.admin import KafkaAdminClient, NewTopic

from streams.fetch_wait import FETCH_MAX_WAIT_MS, shorten_fetch_wait


async def fetch_waits_asked(bootstrap: str, topic: str, *, shorten: bool) -> list[int]:
    """The max-wait of every fetch request Faust's consumer sends for a few polls."""
    app = faust.App(f"fetch-wait-{uuid.uuid4().hex[:6]}", broker=f"kafka://{bootstrap}")
    faust_consumer: Any = app.consumer
    thread = faust_consumer._thread
    # Faust's own construction of its aiokafka consumer (fetch_max_wait_ms=1500).
    thread._consumer = aiokafka_consumer = thread._create_consumer(loop=asyncio.get_running_loop())
    await aiokafka_consumer.start()
    asked: list[int] = []
    client = aiokafka_consumer._client
    send = client.send

    async def recording_send(node_id: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, FetchRequest):
            asked.append(request._max_wait_ms)
        return await send(node_id, request, *args, **kwargs)

    client.send = recording_send
    try:
        aiokafka_consumer.assign([TopicPartition(topic, 0)])
        if shorten:
            assert shorten_fetch_wait(faust_consumer)
        for _ in range(3):  # an empty partition: each poll waits for a fetch to come back
            await aiokafka_consumer.getmany(timeout_ms=400)
    finally:
        await aiokafka_consumer.stop()
    return asked


@pytest.fixture(scope="module")
def empty_topic(kafka_bootstrap: str) -> str:
    name = f"fetch-wait-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        admin.close()
    return name


def test_faust_own_consumer_lets_the_broker_hold_each_fetch_one_and_a_half_seconds(
    kafka_bootstrap: str, empty_topic: str
) -> None:
    asked = asyncio.run(fetch_waits_asked(kafka_bootstrap, empty_topic, shorten=False))
    assert asked and set(asked) == {1500}


def test_the_worker_consumer_asks_the_broker_to_hold_a_fetch_at_most_100_ms(
    kafka_bootstrap: str, empty_topic: str
) -> None:
    asked = asyncio.run(fetch_waits_asked(kafka_bootstrap, empty_topic, shorten=True))
    assert FETCH_MAX_WAIT_MS == 100
    # Every fetch sent after the change (none was sent before the assignment).
    assert asked and set(asked) == {FETCH_MAX_WAIT_MS}


def test_an_aiokafka_without_the_expected_fetcher_is_named_and_left_as_it_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Thread:
        def _ensure_consumer(self) -> object:
            return object()  # no _fetcher

    class Consumer:
        _thread = Thread()

    assert not shorten_fetch_wait(Consumer())
    assert "_fetch_max_wait_ms" in caplog.text
