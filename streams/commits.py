"""What an offset commit may cover: only events the agents processed, and only once the
changelog records written for them are acknowledged (faust-streaming 0.15.3).

Faust commits a source partition's offsets every `broker_commit_interval` (2.8 s), after
`producer.flush()`, up to the first offset not acknowledged by a stream. Two defects of the
library let a commit cover an event whose effects are not kept, so that a SIGKILL, or the
next owner of the partition after a rebalance, loses that event for good:

- `commit_only_processed_offsets`: Faust's `Consumer._new_offset` tolerates one missing
  acknowledgement right at the committed offset (it compares `min(acked) - committed > 1`,
  while the committed offset is already the next one to process), so a single message that
  never reached the agent is committed past. One does not reach it around a rebalance:
  the soak (bench/soak.py, kill-rebalance) showed a worker that had just been assigned its
  partitions process offsets 0-6 and 8-23 of one, never 7, and commit 24 (the event's
  complaint lost its `created` event: counted 77 of 78, three KPI series short); in 16
  rounds that logged it, three more such skips did no harm only because another worker had
  processed those events before.
- `acknowledge_before_commits`: the flush before a commit did not wait for the changelog
  record the producer buffer had handed to aiokafka but aiokafka had not taken into a batch
  yet (its `send` waits there while the partition's batch is full, or while it fetches a
  topic's metadata the first time a process writes to it).

docs/delivery.md (P11) states the resulting promise and the tests.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = [
    "CHANGELOG_ACK_SECONDS",
    "REFETCHES_BEFORE_ALARM",
    "REFUSALS_PER_REFETCH",
    "acknowledge_before_commits",
    "commit_only_processed_offsets",
]

log = logging.getLogger(__name__)

# How long a flush before an offset commit may wait for the changelog records to be
# acknowledged: bounded so that a broker outage cannot hold a rebalance past the session
# timeout (the commit fails then anyway).
CHANGELOG_ACK_SECONDS = 30.0

# Commits refused at one missing offset before it is asked for again (about 2.8 s each).
REFUSALS_PER_REFETCH = 5
# Refetches of a missing offset after which each further one is logged as an error: the
# partition's commits stay held (its lag grows) until the offset is processed, by this
# worker or, after a restart or rebalance, by the partition's next owner.
REFETCHES_BEFORE_ALARM = 3


def acknowledge_before_commits(buffer: Any, limit_seconds: float = CHANGELOG_ACK_SECONDS) -> None:
    """Make the producer buffer's flush() return only once every record put in it before the
    flush began has been acknowledged by the broker (or has failed).

    Table writes (changelog records) wait in Faust's ProducerBuffer; the consumer flushes the
    producer before it commits offsets (and on a rebalance and at stop): the buffer's flush,
    then the Kafka client's, which waits for the record batches the client holds. Neither
    waits for the record the buffer has taken out of its queue and not handed over yet.
    faust-streaming's own buffer flush also gives up after 0.1 s without a record leaving
    (`flush_atmost`), and one that waits for an empty buffer is held up by records put after
    it began. So each record put in the buffer is remembered until its send completes, and
    the flush waits for those put before it began.
    """
    unacknowledged: set[Any] = set()
    put = buffer.put

    def put_and_remember(fut: Any) -> None:
        unacknowledged.add(fut)
        fut.add_done_callback(unacknowledged.discard)
        put(fut)

    async def flush() -> None:
        waiting = [fut for fut in unacknowledged if not fut.done()]
        if not waiting:
            return
        _, late = await asyncio.wait(waiting, timeout=limit_seconds)
        if late:
            log.warning(
                "%d changelog records still unacknowledged after %.0f s", len(late), limit_seconds
            )

    buffer.put = put_and_remember
    buffer.flush = flush


def _first_settled(consumer: Any, tp: Any) -> int | None:
    """The lowest offset of `tp` that Faust counts as done: acknowledged by the streams, or in
    a gap its fetcher saw (offsets the broker never returned)."""
    acked = consumer._acked[tp]
    if not acked:
        return None
    first = min(acked)
    gaps = consumer._gap.get(tp)
    if gaps:
        starts = [interval.begin for interval in gaps.overlap(0, max(acked) + 1)]
        if starts:
            first = min(first, min(starts))
    return int(first)


def commit_only_processed_offsets(consumer: Any) -> None:
    """Never commit a source partition past an offset no stream acknowledged.

    Faust's `_new_offset(tp)` returns the offset to commit: the end of the first run of
    acknowledged offsets. When that run starts one past the committed offset (the message at
    the committed offset never reached an agent) it commits past it all the same. Here such a
    commit is refused, and the partition is read again from the committed offset so that the
    missing message may reach the agent (the ones after it come again too: the stages ignore
    what they already hold). A refetch can fail (Faust drops a refetched message when records
    fetched before the seek are delivered after it), so it is asked for again every
    REFUSALS_PER_REFETCH refused commits, and the commit is never let past it: a restart or a
    rebalance reads the partition from that offset. Offsets the fetcher saw no message at
    (Faust's gaps) do not hold the commit. Not covered: a partition with no committed offset
    yet, whose first message is missing (Faust keeps no committed offset for it to compare).
    """
    new_offset = consumer._new_offset
    # Per partition: the missing offset, the commits refused at it, the refetches asked.
    holes: dict[Any, tuple[int, int, int]] = {}
    refetching: set[asyncio.Future[None]] = set()  # kept until done (asyncio holds weak refs)

    def guarded_new_offset(tp: Any) -> int | None:
        committed = consumer._committed_offset[tp]
        first = _first_settled(consumer, tp)
        if committed is None or first is None or first <= committed:
            holes.pop(tp, None)
            return new_offset(tp)  # type: ignore[no-any-return]
        missing, refused, refetched = holes.get(tp, (committed, 0, 0))
        if missing != committed:
            refused, refetched = 0, 0
        refused += 1
        if refused % REFUSALS_PER_REFETCH == 1:
            refetched += 1
            level = logging.ERROR if refetched > REFETCHES_BEFORE_ALARM else logging.WARNING
            log.log(
                level,
                "offset %d of %s[%d] was not processed while later ones were: not committing "
                "past it; reading the partition again from it (refetch %d)",
                committed,
                tp.topic,
                tp.partition,
                refetched,
            )
            task = asyncio.ensure_future(_read_again(consumer, tp, committed))
            refetching.add(task)
            task.add_done_callback(refetching.discard)
        holes[tp] = (committed, refused, refetched)
        return None

    consumer._new_offset = guarded_new_offset


async def _read_again(consumer: Any, tp: Any, offset: int) -> None:
    try:
        await consumer.seek(tp, offset)
    except Exception:  # revoked meanwhile: its next owner reads it from the committed offset
        log.warning("could not read %s[%d] again from %d", tp.topic, tp.partition, offset)
