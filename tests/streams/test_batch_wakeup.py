"""A batch the complaints agent holds when a rebalance starts is handed over, not left waiting
(streams.app.BatchWakeups), on faust-streaming's own stream, channel and flow control.

The rebalance's first steps (`App._on_partitions_revoked`) are replayed here as Faust runs
them: the table manager's revocation callback, then `flow_control.suspend()` and
`flow_control.clear()`, all at the moment the stream has handed over an event while more
were buffered. Faust then waits for that event's acknowledgement (`Consumer.wait_empty`),
which the batch gives only once it is processed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.types import Message

from streams.app import BatchWakeups, event_batches

WAIT_SECONDS = 2.0


async def rebalance_after_first_event(
    *, wake: bool
) -> tuple[list[list[bytes]], list[Message], faust.App]:
    """Events a, b, c buffered; a rebalance starts once a is taken. The batches seen."""
    app = faust.App("batch-wakeup-test", broker="kafka://127.0.0.1:9", store="memory://")
    app.flow_control.resume()
    channel: Any = app.channel()
    stream: Any = app.stream(channel)
    wakeups = BatchWakeups()
    batches: list[list[bytes]] = []

    def rebalance_starts() -> None:
        if wake:
            wakeups.wake_after_revocation_starts()  # SigapTableManager.on_revoke
        app.flow_control.suspend()
        app.flow_control.clear()  # the buffered b and c are dropped

    def on_value(value: bytes) -> bytes:
        if value == b"a":
            asyncio.get_running_loop().call_soon(rebalance_starts)
        return value

    stream.add_processor(on_value)

    async def agent() -> None:
        async for batch in event_batches(stream, wakeups=wakeups):
            batches.append([event.value for event in batch])

    task = asyncio.ensure_future(agent())
    await asyncio.sleep(0.05)  # the agent waits for its first event
    messages = [
        Message("events", 0, offset, 0.0, 0, None, None, value, None, generation_id=0)
        for offset, value in enumerate([b"a", b"b", b"c"])
    ]
    for message in messages:
        await channel.put(await channel.decode(message))
    await asyncio.sleep(WAIT_SECONDS)
    if wake:
        # After the rebalance the flow resumes and the agent goes on as before.
        app.flow_control.resume()
        later = Message("events", 0, 3, 0.0, 0, None, None, b"d", None, generation_id=0)
        await channel.put(await channel.decode(later))
        messages.append(later)
        await asyncio.sleep(0.2)
    task.cancel()
    return batches, messages, app


def test_the_held_batch_is_handed_over_when_a_rebalance_starts() -> None:
    batches, messages, _ = asyncio.run(rebalance_after_first_event(wake=True))
    # a, held by the batch, is processed and acknowledged: wait_empty can end.
    assert batches[0] == [b"a"]
    assert messages[0].acked
    # b and c were dropped by the rebalance (read again from the committed offset by the
    # partition's next owner, streams/seek_back.py); d, after it, comes as usual.
    assert batches[1:] == [[b"d"]]


def test_without_the_wakeup_the_held_batch_waits_for_an_event_that_never_comes() -> None:
    """What faust-streaming 0.15.3 does with the worker's batching alone: the rebalance waits
    for a's acknowledgement and the agent for the next event, until the group coordinator
    expels the worker (the rebalance timeout)."""
    batches, messages, _ = asyncio.run(rebalance_after_first_event(wake=False))
    assert batches == []
    assert not messages[0].acked
