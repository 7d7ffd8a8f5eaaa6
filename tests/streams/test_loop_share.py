"""streams.loop_share: the API's state-sized computations (a unit's worklist, its window
statistics) run in turn and take at most a share of the event loop; waiting requests are
bounded. On a fake clock: each computation advances it by the time it "takes"."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from streams.api import Api, ApiError
from streams.loop_share import RETRY_AFTER_SECONDS, LoopShare, LoopShareExceeded


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def work(self, seconds: float, result: str) -> Any:
        def compute() -> str:
            self.now += seconds
            return result

        return compute


def test_the_next_computation_waits_three_times_as_long_as_the_last_took() -> None:
    clock = FakeClock()
    share = LoopShare(0.25, clock=clock, sleep=clock.sleep)

    async def run() -> list[str]:
        first = await share.run(clock.work(2.0, "a"))
        assert clock.slept == []  # the reply itself is not delayed
        second = await share.run(clock.work(0.5, "b"))
        clock.now += 10.0  # a quiet while: nothing left to wait for
        third = await share.run(clock.work(0.1, "c"))
        return [first, second, third]

    assert asyncio.run(run()) == ["a", "b", "c"]
    # After 2 s of work, 6 s before the next; then 1.5 s pending after the second, all of
    # it elapsed in the quiet while before the third.
    assert clock.slept == [6.0]


def test_concurrent_requests_run_one_at_a_time_with_the_pauses_between_them() -> None:
    clock = FakeClock()
    share = LoopShare(0.5, clock=clock, sleep=clock.sleep)
    spans: list[tuple[float, float]] = []

    def compute() -> None:
        start = clock.now
        clock.now += 1.0
        spans.append((start, clock.now))

    async def run() -> None:
        await asyncio.gather(*(share.run(compute) for _ in range(4)))

    asyncio.run(run())
    # With share 0.5, each 1 s computation is followed by 1 s of the loop left to others.
    assert spans == [(1000.0, 1001.0), (1002.0, 1003.0), (1004.0, 1005.0), (1006.0, 1007.0)]


class GatedClock(FakeClock):
    """A fake clock whose pauses last until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await self.gate.wait()
        self.now += seconds


def test_beyond_the_waiting_limit_a_request_is_refused_at_once() -> None:
    clock = GatedClock()
    share = LoopShare(0.25, max_waiting=2, clock=clock, sleep=clock.sleep)

    async def run() -> list[str]:
        await share.run(clock.work(1.0, "first"))  # the next may start 3 s later
        holder = asyncio.ensure_future(share.run(clock.work(1.0, "holder")))
        await asyncio.sleep(0)  # the holder has the turn and waits out the pause
        waiting = [asyncio.ensure_future(share.run(clock.work(1.0, f"w{n}"))) for n in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(LoopShareExceeded):  # at once: not after the others
            await asyncio.wait_for(share.run(clock.work(1.0, "one too many")), timeout=5)
        clock.gate.set()
        return list(await asyncio.gather(holder, *waiting))

    assert asyncio.run(run()) == ["holder", "w0", "w1"]


def test_a_request_that_gives_up_while_waiting_frees_its_place() -> None:
    clock = GatedClock()
    share = LoopShare(0.25, max_waiting=1, clock=clock, sleep=clock.sleep)

    async def run() -> list[str]:
        await share.run(clock.work(1.0, "first"))
        holder = asyncio.ensure_future(share.run(clock.work(1.0, "holder")))
        await asyncio.sleep(0)
        impatient = asyncio.ensure_future(share.run(clock.work(1.0, "impatient")))
        await asyncio.sleep(0)
        impatient.cancel()  # the client went away
        await asyncio.sleep(0)
        later = asyncio.ensure_future(share.run(clock.work(1.0, "later")))
        await asyncio.sleep(0)
        assert not later.done()  # waiting its turn, not refused
        clock.gate.set()
        return list(await asyncio.gather(holder, later))

    assert asyncio.run(run()) == ["holder", "later"]


def test_the_api_answers_503_with_retry_after_when_too_many_wait() -> None:
    share = LoopShare(max_waiting=0)
    api = Api(SimpleNamespace(), SimpleNamespace(), loop_share=share)  # type: ignore[arg-type]

    async def run() -> ApiError:
        release = asyncio.Event()

        async def hold() -> None:
            async with share._lock:
                await release.wait()

        holder = asyncio.ensure_future(hold())
        await asyncio.sleep(0)
        with pytest.raises(ApiError) as refused:
            await api._in_turn(lambda: {"never": "computed"})
        release.set()
        await holder
        return refused.value

    error = asyncio.run(run())
    assert error.status == 503
    assert error.headers == {"Retry-After": str(RETRY_AFTER_SECONDS)}


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="share"):
        LoopShare(0.0)
    with pytest.raises(ValueError, match="max_waiting"):
        LoopShare(max_waiting=-1)
