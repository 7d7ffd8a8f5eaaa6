"""Self-fencing: a worker that was frozen longer than its consumer group session exits before
it sends anything to the broker.

A worker frozen past the session timeout (SIGSTOP, a VM pause, a swap storm) has lost its
partitions: the group gave them to another worker, which recovered the complaint states from
the changelog and went on. When the frozen worker wakes, faust-streaming finishes the batch
it held and flushes its producer: changelog records built from the states it held before the
pause land after the new owner's, and its own recovery later starts at its own late write
(tests/faults/test_zombie_worker.py found both: states taken back, events lost). Kafka
transactions would fence it, but faust-streaming's `processing_guarantee="exactly_once"` did
not work with this worker (docs/delivery.md). So the worker fences itself: every request any
of its Kafka clients sends (produce, offset commit, fetch, heartbeat: all go through
`aiokafka.client.AIOKafkaClient.send`) first checks that the process has not been frozen
longer than the session timeout since the last tick of a watchdog thread; if it has, the
process exits at once (EXIT_CODE), without flushing anything. Its supervisor restarts it, and
a restarted worker recovers from the changelog like one killed with SIGKILL (which the fault
tests show is sound). The watchdog thread checks its own sleep too, so whichever of the two
threads runs first after the wake-up exits.

A process starved of CPU for that long (not frozen) exits too: the group has dropped it
either way. The tick is short (0.1 s) and the limit long (the session timeout, 10-60 s), so
a busy event loop cannot trigger it: the interpreter hands the GIL to the watchdog thread
every few milliseconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# EX_TEMPFAIL: a temporary failure; the supervisor should restart the worker.
EXIT_CODE = 75
TICK_SECONDS = 0.1


class StallGuard:
    """Detects that this process was frozen (or starved) longer than `limit_seconds`.

    `check()` is called before every broker request; the watchdog thread (`start()`) ticks
    every TICK_SECONDS and checks its own oversleep. Either exits the process through `exit`.
    Pure apart from the clock, the exit and the thread, which are parameters for the tests.
    """

    def __init__(
        self,
        limit_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        exit_process: Callable[[int], Any] = os._exit,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        if limit_seconds <= tick_seconds:
            raise ValueError(f"stall limit {limit_seconds} s must exceed the tick {tick_seconds} s")
        self.limit_seconds = limit_seconds
        self.clock = clock
        self.exit_process = exit_process
        self.tick_seconds = tick_seconds
        self.last_tick = clock()

    def tick(self) -> None:
        """The watchdog's beat: exits if it itself slept far longer than asked."""
        now = self.clock()
        self._exit_if_stalled(now - self.last_tick, "watchdog")
        self.last_tick = now

    def check(self) -> None:
        """Before a broker request: exits if the watchdog has not ticked for too long."""
        self._exit_if_stalled(self.clock() - self.last_tick, "request")

    def _exit_if_stalled(self, gap: float, where: str) -> None:
        if gap > self.limit_seconds:
            log.critical(
                "worker frozen or starved for %.1f s (over the group session timeout of "
                "%.0f s; seen by the %s check): exiting without sending anything, so that the "
                "partitions' new owner is not overwritten; restart it (it recovers from the "
                "changelog)",
                gap,
                self.limit_seconds,
                where,
            )
            logging.shutdown()
            self.exit_process(EXIT_CODE)

    def start(self) -> threading.Thread:
        def run() -> None:
            while True:
                time.sleep(self.tick_seconds)
                self.tick()

        thread = threading.Thread(target=run, name="sigap-stall-guard", daemon=True)
        thread.start()
        return thread


def guard_kafka_requests(guard: StallGuard) -> None:
    """Route every aiokafka request of this process through `guard.check()` first."""
    from aiokafka.client import AIOKafkaClient

    original = AIOKafkaClient.send
    if getattr(original, "__sigap_stall_guard__", False):
        return

    async def send(self: AIOKafkaClient, node_id: Any, request: Any, **kwargs: Any) -> Any:
        guard.check()
        return await original(self, node_id, request, **kwargs)

    send.__sigap_stall_guard__ = True  # type: ignore[attr-defined]
    AIOKafkaClient.send = send
