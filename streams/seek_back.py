"""Records Faust drops during a rebalance are read again, also from partitions without a
committed offset (faust-streaming 0.15.3).

When a rebalance stops the flow after the consumer has fetched a batch, Faust's
`Consumer.getmany` drops the batch ("getmany called while flow not active. Seek back to
committed offsets.") and calls `perform_seek`, which seeks every assigned partition back to
its committed offset. aiokafka's `seek_to_committed` seeks only partitions whose committed
offset is above 0: a partition with no commit yet (or a commit at 0) stays where the
dropped batch left it, past records no agent received, and the next commit covers them.
The soak found it (bench/RESULTS.md, "Soak: the kill-rebalance loss"; docs/delivery.md):
a worker just assigned an events partition with no committed offset processed offsets 0-6
and 8-23 of it, never 7, and committed 24; that complaint lost its `created` event.

`seek_uncommitted_to_beginning` completes `perform_seek`: after it, each assigned partition
of the source topics (events and views; never a changelog, whose positions the table
recovery owns) that has no committed offset is sought to its beginning, which is where the
group starts such a partition (`auto_offset_reset="earliest"`). Records read twice are
harmless: both stages ignore what they already hold (event ids, view versions).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from faust.transport.drivers.aiokafka import ensure_aiokafka_TPset

log = logging.getLogger(__name__)


def uncommitted_partitions(consumer: Any, source_topics: Iterable[str]) -> set[Any]:
    """The assigned partitions of `source_topics` with no committed offset above 0 (Faust
    keeps a committed 0 as None)."""
    topics = set(source_topics)
    committed = consumer._committed_offset
    return {tp for tp in consumer.assignment() if tp.topic in topics and not committed.get(tp)}


def seek_uncommitted_to_beginning(consumer: Any, source_topics: Iterable[str]) -> None:
    """Make `consumer.perform_seek` also seek the source partitions it leaves alone (no
    committed offset) back to their beginning, so that no record it dropped is skipped."""
    topics = frozenset(source_topics)
    perform_seek = consumer.perform_seek

    async def perform_seek_all() -> None:
        await perform_seek()
        uncommitted = uncommitted_partitions(consumer, topics)
        if not uncommitted:
            return
        # Faust's Consumer has no seek_to_beginning; its aiokafka consumer thread has.
        await consumer._thread.seek_to_beginning(*ensure_aiokafka_TPset(uncommitted))
        for tp in uncommitted:
            consumer._read_offset[tp] = None  # the first record read is delivered
        log.info(
            "%d source partition(s) without a committed offset read again from the beginning",
            len(uncommitted),
        )

    consumer.perform_seek = perform_seek_all
