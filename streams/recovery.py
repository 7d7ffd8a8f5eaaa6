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

`SigapTableManager` also carries two hooks into Faust's sequence that only the table
manager sees: the start of a revocation (the batch wake-up, streams.app.BatchWakeups) and
the last moment of a clean stop before the stores close (the unit snapshot,
streams.unit_snapshot).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from faust.tables.manager import TableManager
from faust.tables.recovery import RebalanceAgain, Recovery, ServiceStopped

logger = logging.getLogger(__name__)


class PatientRecovery(Recovery):
    """Recovery whose broker timeouts restart the recovery instead of ending it."""

    timeouts: int = 0

    async def _wait(self, coro: Any, timeout: Any = None) -> None:
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
