"""A commit never passes an offset no agent processed
(streams.commits.commit_only_processed_offsets; docs/delivery.md P10).

These run faust-streaming's own `Consumer._new_offset` on a real aiokafka-driver consumer (no
broker is contacted) with the bookkeeping the soak left behind: an offset that never reached
the agent between acknowledged ones."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.commits import (
    REFETCHES_BEFORE_ALARM,
    REFUSALS_PER_REFETCH,
    commit_only_processed_offsets,
)

EVENTS = TP("events", 1)


@pytest.fixture
def consumer() -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        app = faust.App("commit-guard", broker="kafka://127.0.0.1:1", loop=loop)
        yield app.consumer
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def acknowledge(consumer: Any, tp: TP, committed: int | None, offsets: list[int]) -> None:
    consumer._committed_offset[tp] = committed
    consumer._acked[tp].extend(offsets)
    consumer._acked_index[tp].update(offsets)


def test_faust_commits_past_one_offset_no_agent_acknowledged(consumer: Any) -> None:
    """The defect, in the library: offset 7 is the next to process, never acknowledged."""
    acknowledge(consumer, EVENTS, 7, [8, 9])
    assert consumer._new_offset(EVENTS) == 10
    acknowledge(consumer, TP("events", 2), 7, [9, 10])  # two missing: Faust waits
    assert consumer._new_offset(TP("events", 2)) is None


def test_the_guard_holds_the_commit_and_reads_the_missing_offset_again(consumer: Any) -> None:
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    consumer.seek = seek
    commit_only_processed_offsets(consumer)
    acknowledge(consumer, EVENTS, 7, [8, 9])
    loop = asyncio.get_event_loop()
    assert consumer._new_offset(EVENTS) is None
    loop.run_until_complete(asyncio.sleep(0))
    assert sought == [(EVENTS, 7)]
    # The refetched message is processed: the commit goes on, past everything acknowledged.
    consumer._acked[EVENTS].append(7)
    consumer._acked_index[EVENTS].add(7)
    assert consumer._new_offset(EVENTS) == 10


def test_offsets_the_broker_never_returned_do_not_hold_the_commit(consumer: Any) -> None:
    """A gap the fetcher saw (no message there) counts as done, as in Faust."""
    commit_only_processed_offsets(consumer)
    acknowledge(consumer, EVENTS, 7, [7, 10, 11])
    asyncio.get_event_loop().run_until_complete(consumer._add_gap(EVENTS, 8, 9))
    assert consumer._new_offset(EVENTS) == 12


def test_in_order_acknowledgements_commit_as_before(consumer: Any) -> None:
    commit_only_processed_offsets(consumer)
    acknowledge(consumer, EVENTS, 7, [7, 8, 9, 11])
    assert consumer._new_offset(EVENTS) == 10
    acknowledge(consumer, TP("events", 3), None, [0, 1, 2])  # nothing committed yet
    assert consumer._new_offset(TP("events", 3)) == 3


def test_a_missing_offset_that_does_not_come_holds_the_commit_and_is_asked_for_again(
    consumer: Any,
) -> None:
    """A refetch can fail inside Faust; the commit never passes the offset, it is asked for
    again every few refused commits, and each one past the alarm threshold is an error."""
    sought: list[int] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append(offset)

    consumer.seek = seek
    commit_only_processed_offsets(consumer)
    acknowledge(consumer, EVENTS, 7, [8, 9])
    loop = asyncio.get_event_loop()
    refusals = REFUSALS_PER_REFETCH * (REFETCHES_BEFORE_ALARM + 2)
    for _ in range(refusals):
        assert consumer._new_offset(EVENTS) is None
        loop.run_until_complete(asyncio.sleep(0))
    assert sought == [7] * (REFETCHES_BEFORE_ALARM + 2)
