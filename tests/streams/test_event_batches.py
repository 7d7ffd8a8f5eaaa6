"""The complaints agent's batches (streams.app.event_batches) under live load, on
faust-streaming's own stream and channel, fed the way Faust's consumer feeds them: one
record at a time, each put awaited through `Service.wait_first` (Consumer._drain_messages).
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.types import Message
from mode import Service

from streams.app import event_batches


class Handover(Service):
    """Faust's consumer loop, reduced to how it hands records to the agents' channels."""

    def __init__(self, channel: Any, suspend_flow: asyncio.Event) -> None:
        super().__init__()
        self.channel = channel
        self.suspend_flow = suspend_flow

    async def hand_over(self, messages: list[Message]) -> None:
        for message in messages:
            event = await self.channel.decode(message)
            await self.wait_first(self.channel.put(event), self.suspend_flow.wait())


async def batches_of(count: int, *, pause_after: int | None = None) -> list[list[bytes]]:
    app = faust.App("event-batches-test", broker="kafka://127.0.0.1:9", store="memory://")
    app.flow_control.resume()
    channel: Any = app.channel()
    stream: Any = app.stream(channel)
    batches: list[list[bytes]] = []

    async def agent() -> None:
        async for batch in event_batches(stream):
            batches.append([event.value for event in batch])

    task = asyncio.ensure_future(agent())
    await asyncio.sleep(0.05)  # the agent waits for its first event
    messages = [
        Message(
            "events", 0, offset, 0.0, 0, None, None, str(offset).encode(), None, generation_id=0
        )
        for offset in range(count)
    ]
    handover = Handover(channel, asyncio.Event())
    cut = len(messages) if pause_after is None else pause_after
    first, rest = messages[:cut], messages[cut:]
    await handover.hand_over(first)
    if rest:
        await asyncio.sleep(0.3)  # a quiet moment: nothing fetched
        await handover.hand_over(rest)
    await asyncio.sleep(0.3)
    task.cancel()
    return batches


def test_records_handed_over_back_to_back_come_in_batches_not_one_by_one() -> None:
    batches = asyncio.run(batches_of(200))
    assert [value for batch in batches for value in batch] == [
        str(offset).encode() for offset in range(200)
    ]
    # Ended at the first empty buffer, each batch held one event (200 batches): the
    # consumer puts the next record only a few loop turns after the previous one.
    assert len(batches) <= 4, [len(batch) for batch in batches]


def test_a_quiet_stream_hands_over_what_it_has_without_waiting_for_more() -> None:
    batches = asyncio.run(batches_of(6, pause_after=1))
    # The first event alone (nothing else came), processed before the next ones arrived.
    assert batches[0] == [b"0"]
    assert [value for batch in batches for value in batch] == [
        str(offset).encode() for offset in range(6)
    ]
