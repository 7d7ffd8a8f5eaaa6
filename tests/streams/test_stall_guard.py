"""The worker's self-fencing (streams/stall_guard.py): frozen past its group session, it
exits before any broker request; ticking normally, it never does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient

from streams.stall_guard import EXIT_CODE, StallGuard, guard_kafka_requests


class Exited(Exception):
    pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def exit_process(code: int) -> None:
    raise Exited(code)


def make_guard(limit: float = 10.0) -> tuple[StallGuard, FakeClock]:
    clock = FakeClock()
    return StallGuard(limit, clock=clock, exit_process=exit_process), clock


def test_a_guard_whose_watchdog_ticks_never_exits() -> None:
    guard, clock = make_guard()
    for _ in range(1000):  # 100 s of normal ticking, requests in between
        clock.now += 0.1
        guard.tick()
        guard.check()


def test_a_request_after_a_freeze_longer_than_the_session_exits_with_the_restart_code() -> None:
    guard, clock = make_guard(limit=10.0)
    guard.tick()
    clock.now += 10.5  # frozen: the watchdog did not tick either
    with pytest.raises(Exited) as exited:
        guard.check()
    assert exited.value.args == (EXIT_CODE,)


def test_the_watchdog_that_wakes_first_after_a_freeze_exits_too() -> None:
    guard, clock = make_guard(limit=10.0)
    guard.tick()
    clock.now += 30.0
    with pytest.raises(Exited):
        guard.tick()


def test_a_pause_shorter_than_the_session_is_not_a_zombie() -> None:
    guard, clock = make_guard(limit=10.0)
    guard.tick()
    clock.now += 9.9
    guard.check()
    guard.tick()


def test_the_limit_must_exceed_the_tick() -> None:
    with pytest.raises(ValueError, match="must exceed the tick"):
        StallGuard(0.05)


def test_every_aiokafka_request_goes_through_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    async def original(self: Any, node_id: Any, request: Any, **kwargs: Any) -> str:
        sent.append((node_id, request, kwargs))
        return "response"

    monkeypatch.setattr(AIOKafkaClient, "send", original)
    guard, clock = make_guard(limit=10.0)
    guard_kafka_requests(guard)
    guard_kafka_requests(guard)  # installed once only
    client = object.__new__(AIOKafkaClient)
    assert asyncio.run(client.send(1, "produce", group=0)) == "response"
    assert sent == [(1, "produce", {"group": 0})]
    clock.now += 11.0
    with pytest.raises(Exited):
        asyncio.run(client.send(1, "produce"))
    assert len(sent) == 1  # nothing sent after the freeze
