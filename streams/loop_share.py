"""A bound on the event-loop time that clients' requests may take from the agents.

The worker's agents, its `/metrics` page and its web API share one event loop. Some API
replies are computed in one go from state that grows with the traffic: a unit's worklist
orders all of its open timers (~2 us each), its window statistics sort up to 30 days of
stopped timers. One such request is a pause of the agents; requests back to back, from one
client or many, would stop them. So these computations go through a `LoopShare`:

- one at a time;
- after one that took t seconds, the next starts no sooner than t x (1 - share) / share
  later, so that together they take at most `share` of the loop (a quarter by default);
  the reply itself is not delayed, only the next computation;
- at most `max_waiting` requests wait their turn; the next one is refused at once
  (`LoopShareExceeded`: the API answers `503` with `Retry-After`), so that waiting
  requests cannot pile up without bound.

Open311's search over every stored view (minutes at a million) takes its turns here slice by
slice (streams.open311). The worker has one LoopShare for all of them (streams.app).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

__all__ = ["MAX_WAITING", "RETRY_AFTER_SECONDS", "SHARE", "LoopShare", "LoopShareExceeded"]

T = TypeVar("T")

SHARE: Final = 0.25
MAX_WAITING: Final = 8
RETRY_AFTER_SECONDS: Final = 2


class LoopShareExceeded(Exception):
    """Too many requests already wait for their turn."""


class LoopShare:
    def __init__(
        self,
        share: float = SHARE,
        max_waiting: int = MAX_WAITING,
        *,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"share must be in (0, 1], got {share!r}")
        if max_waiting < 0:
            raise ValueError(f"max_waiting must be >= 0, got {max_waiting!r}")
        self.max_waiting = max_waiting
        self._pause_per_second = (1.0 - share) / share
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._ready_at = float("-inf")

    async def run(self, compute: Callable[[], T]) -> T:
        """`compute()` on the loop, in turn (module docstring)."""
        if self._lock.locked() and self._waiting >= self.max_waiting:
            raise LoopShareExceeded(f"{self._waiting} requests already wait")
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            delay = self._ready_at - self._clock()
            if delay > 0:
                await self._sleep(delay)
            started = self._clock()
            result = compute()
            ended = self._clock()
            self._ready_at = ended + (ended - started) * self._pause_per_second
            return result
        finally:
            self._lock.release()
