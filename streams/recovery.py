"""Table recovery that survives a broker outage (faust-streaming 0.15.3).

Faust's `Recovery._restart_recovery` waits for each broker call of a recovery (producer
flush, changelog highwaters, committed offsets, seeks) with `broker_request_timeout`
(90 s by default) through `Service.wait_first`. When that timeout passes, `wait_first`
answers "stopped" and `Recovery._wait` raises `ServiceStopped`: the recovery loop
`break`s for good while the worker process stays up, holds its partitions and heartbeats.
Nothing is processed again until the process is restarted. The soak (bench/soak.py,
rounds 12 and 14 of the 20-round run) hit it when the broker, stopped mid-recovery, took
about 90 s to come back on the loaded machine: the worker logged its last
`NotLeaderForPartitionError` from the recovery's offset fetches and then nothing for minutes.

`PatientRecovery` tells a timeout apart from a real stop: when the service is not stopping,
a timed-out step restarts the recovery of the current assignment (the same path Faust takes
when a new rebalance interrupts a recovery), after a warning. A recovery restart re-reads
highwaters and offsets, so it is idempotent. Retries are spaced by the request timeout.

It also watches the one step Faust waits for without a timeout, the reading of the changelogs
(`signal_recovery_end`): a changelog partition whose consumer position is past its
highwater, with no record of it received for `STALL_SECONDS`, nothing queued for the tables,
and Faust still counting records missing, will never end the recovery: no record of it is
left to fetch. That is the state a worker was found in by the rebalance fault test (CI,
2026-12-07 21:12: the second worker's recovery waiting for two partitions it already owned,
positions at their highwaters, nothing received, for over a minute); it matches records
fetched and then dropped by the library, as it drops fetched records of the events topic at
a rebalance (docs/delivery.md, P10). The worker then seeks those partitions back to the last
offset applied, so they are read again (applying a changelog record twice is harmless: each
sets a key to a value, and Faust skips offsets it has seen), and logs a warning.

`SigapTableManager` also carries two hooks into Faust's sequence that only the table
manager sees: the start of a revocation (the batch wake-up, streams.app.BatchWakeups) and
the last moment of a clean stop before the stores close (the unit snapshot,
streams.unit_snapshot).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from time import monotonic
from typing import Any, Final

from faust.tables.manager import TableManager
from faust.tables.recovery import RebalanceAgain, Recovery, ServiceStopped

logger = logging.getLogger(__name__)

# While the changelogs are read: how often the watch looks, and how long a partition must
# show nothing left to fetch and nothing received before it is read again. Far above the
# time a fetched record takes to reach the tables (milliseconds), far below Faust's own
# "no event received" warning (a minute).
STALL_CHECK_SECONDS: Final = 5.0
STALL_SECONDS: Final = 15.0
POSITION_SECONDS: Final = 1.0


class PatientRecovery(Recovery):
    """Recovery whose broker timeouts restart the recovery instead of ending it."""

    timeouts: int = 0
    rereads: int = 0  # changelog partitions read again by the watch, since start

    async def _wait(self, coro: Any, timeout: Any = None) -> None:
        if timeout is None:
            return await self._wait_watching(coro)
        # mode types the waitable as its own Event; Faust's signal is an asyncio.Event
        # (Faust's own `_wait` ignores the same type error).
        signal: Any = self.signal_recovery_start
        result = await self.wait_first(coro, signal, timeout=timeout)
        if signal in result.done:
            raise RebalanceAgain()  # another rebalance started (as Faust does)
        if not result.stopped:
            return None
        if self.should_stop or self.crashed:
            raise ServiceStopped()
        # Not stopping: the step timed out (the broker is away or slow). Start the recovery
        # of the current assignment again rather than leave the loop for good.
        self.timeouts += 1
        logger.warning(
            "table recovery step timed out after %s s (broker unavailable?); "
            "restarting recovery (timeout %d)",
            timeout,
            self.timeouts,
        )
        self.signal_recovery_start.set()
        raise RebalanceAgain()

    async def _wait_watching(self, coro: Any) -> None:
        """Faust's wait without a timeout, looking every STALL_CHECK_SECONDS for changelog
        partitions that can no longer end the recovery (the module's docstring)."""
        signal: Any = self.signal_recovery_start
        step = asyncio.ensure_future(coro)
        stalled_since: dict[Any, float] = {}
        try:
            while True:
                # wait_first cancels what is still pending when it returns: the step is
                # shielded so that it survives the watch's turns.
                result = await self.wait_first(
                    asyncio.shield(step), signal, timeout=STALL_CHECK_SECONDS
                )
                if signal in result.done:
                    raise RebalanceAgain()
                if not result.stopped:
                    return None
                if self.should_stop or self.crashed:
                    raise ServiceStopped()
                await self._read_stalled_again(stalled_since)
        finally:
            if not step.done():
                step.cancel()

    async def _read_stalled_again(self, stalled_since: dict[Any, float]) -> None:
        if not self.in_recovery:
            stalled_since.clear()
            return
        now = monotonic()
        queued = not self.tables.changelog_queue.empty()
        consumer = self.app.consumer
        again: dict[Any, int] = {}
        for tp, remaining in self.active_remaining().items():
            highwater = self.active_highwaters.get(tp)
            received = self._active_events_received_at.get(tp) or self._recovery_started_at or now
            if remaining <= 0 or highwater is None or queued or now - received < STALL_SECONDS:
                stalled_since.pop(tp, None)
                continue
            try:
                # Known at once for a partition being read; bounded for one being reset, so
                # that the watch does not hold up the end of the step it watches.
                position = await asyncio.wait_for(consumer.position(tp), POSITION_SECONDS)
            except Exception:  # not assigned any more, or no position yet: not stalled
                position = None
            # `highwater` is Faust's: the offset of the last record, one below the end.
            if position is None or position <= highwater:
                stalled_since.pop(tp, None)
                continue
            since = stalled_since.setdefault(tp, now)
            if now - since >= STALL_SECONDS:
                again[tp] = max(self.active_offsets.get(tp) or 0, 0)
        if not again:
            return
        self.rereads += len(again)
        logger.warning(
            "table recovery: changelog partitions %s were fetched to their end but %s of "
            "their records never reached the tables; reading them again from %s",
            sorted(f"{tp.topic}[{tp.partition}]" for tp in again),
            sum(self.active_remaining()[tp] for tp in again),
            sorted(again.values()),
        )
        await consumer.seek_wait(again)
        for tp in again:
            stalled_since.pop(tp, None)


class SigapTableManager(TableManager):
    """Faust's table manager with `PatientRecovery` (faust setting `TableManager`), and
    callbacks run when partitions are revoked (first, `on_revoke`) and when it stops, before
    its tables' stores close (`before_stop`).

    At a clean stop Faust stops the consumer's flow, waits for the agents' streams to be
    empty, then stops the table manager, whose stores then close (the RocksDB store forgets
    its databases): `before_stop` is the last moment the tables are read with nothing
    applied any more (streams.unit_snapshot writes the unit stage's snapshot there).
    """

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.before_stop: list[Callable[[], None]] = []
        # Run first when partitions are revoked (a rebalance or a stop), before the flow
        # stops: `App._on_partitions_revoked` calls this method before anything else.
        self.on_revoke: list[Callable[[], None]] = []

    def on_partitions_revoked(self, revoked: Any) -> None:
        for callback in self.on_revoke:
            callback()
        super().on_partitions_revoked(revoked)

    async def on_stop(self) -> None:
        for callback in self.before_stop:
            try:
                callback()
            except Exception:  # a failed snapshot must not keep the worker from stopping
                logger.exception("table manager stop callback %r failed", callback)
        await super().on_stop()

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = PatientRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
