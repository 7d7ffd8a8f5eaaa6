"""GET requests.json without ids on the worker's event loop (streams.open311): the walk over
every stored view hands the loop back between slices and pauses in proportion to its work,
runs once at a time per worker, and answers what one pass over the views answers.
Without a broker: both stages on dict tables, the views of real `created` events."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from sigap.core.open311 import Open311Error, parse_request_query, service_requests
from sigap.core.unit_view import UnitView
from streams.complaint_stage import LOG_APPEND_TIME
from streams.loop_share import LoopShare
from streams.open311 import RETRY_AFTER_SECONDS, WALK_SLICE, Open311, Open311View
from tests.faults.test_redelivery import REGISTRY, Event, RecordingTable
from tests.streams.test_unit_progress import PARTITIONS, Clock, complaint_stage, deliver, unit_stage

NOW = datetime.fromisoformat("2026-11-20T10:00:00+07:00")
COMPLAINTS = 3 * WALK_SLICE + 123
UNITS = ("dlh", "dsda", "dishub")


def served_views() -> dict[str, Any]:
    """The unit-views table of COMPLAINTS complaints created over the 30 days before NOW, in
    no order of time."""

    async def build() -> dict[str, Any]:
        wall = Clock(NOW.timestamp() + 60)
        complaints = complaint_stage(wall)
        views: dict[str, Any] = {}
        units = unit_stage(views, RecordingTable(), wall)
        for n in range(COMPLAINTS):
            event = {
                "event_id": f"e-{n}",
                "type": "created",
                "complaint_id": f"c-{n}",
                # Not in the table's order: the walk must order what it keeps.
                "occurred_at": (NOW - timedelta(minutes=25 * (n * 7919 % COMPLAINTS))).isoformat(),
                "unit": UNITS[n % len(UNITS)],
            }
            record = SimpleNamespace(
                partition=n % PARTITIONS,
                offset=n,
                timestamp=NOW.timestamp() + 30,
                timestamp_type=LOG_APPEND_TIME,
            )
            await complaints.process(Event(record, orjson.dumps(event), f"c-{n}".encode()))
            await deliver(complaints.views_topic.sent, units)
        return views

    return asyncio.run(build())


VIEWS = served_views()


class Served:
    """What Open311 reads of the worker: the unit stage and the owned views partitions."""

    def __init__(self) -> None:
        self.unit_stage = unit_stage(VIEWS, RecordingTable(), Clock(NOW.timestamp() + 60))
        self.partitions = set(range(PARTITIONS))
        self.unit_stage.rebuild(self.partitions)
        self.settings = SimpleNamespace(views_topic="views")

    def exported_partitions(self, topic: str) -> set[int]:
        return set(self.partitions)


def one_pass(served: Served, query: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The reply computed in one pass over every holder view (what the worker did before)."""
    open311 = Open311(served)  # type: ignore[arg-type]
    parsed = parse_request_query(query, REGISTRY, open311.now())
    holders = [
        UnitView.from_json(orjson.loads(data)["v"])
        for data in VIEWS.values()
        if orjson.loads(data)["v"].get("h")
    ]
    return service_requests(holders, REGISTRY, parsed)


class Ticker:
    """Counts the turns the event loop gives other tasks while a walk runs."""

    def __init__(self) -> None:
        self.turns = 0
        self.running = True

    async def run(self) -> None:
        while self.running:
            self.turns += 1
            await asyncio.sleep(0)


@pytest.mark.parametrize(
    "query", [{}, {"status": ["open"]}, {"page_size": ["100"], "page": ["3"]}], ids=str
)
def test_a_search_hands_the_loop_back_between_slices_and_answers_as_one_pass(
    query: dict[str, list[str]],
) -> None:
    served = Served()
    slept: list[float] = []
    ticks = iter(range(10**9))

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    async def run() -> tuple[list[dict[str, Any]], int]:
        # A clock that moves 1 s per reading: every slice "took" 1 s.
        share = LoopShare(clock=lambda: float(next(ticks)), sleep=sleep)
        open311 = Open311(served, share)  # type: ignore[arg-type]
        ticker = Ticker()
        task = asyncio.ensure_future(ticker.run())
        reply = await open311.requests(query)
        ticker.running = False
        await task
        return reply, ticker.turns

    reply, turns = asyncio.run(run())
    assert reply == one_pass(served, query)
    assert len(reply) > 0
    # Every slice after the first waited for its turn (the pause's length is
    # tests/streams/test_loop_share.py's), and the loop ran other tasks meanwhile.
    slices = -(-COMPLAINTS // WALK_SLICE)
    assert len(slept) == slices - 1
    assert all(seconds > 0 for seconds in slept)
    assert turns >= slices - 1


def test_a_second_search_while_one_runs_is_told_to_retry_and_then_served() -> None:
    served = Served()

    async def run() -> tuple[Open311Error, list[dict[str, Any]], list[dict[str, Any]]]:
        open311 = Open311(served)  # type: ignore[arg-type]
        first = asyncio.ensure_future(open311.requests({}))
        await asyncio.sleep(0)  # the first walk has read its first slice and paused
        with pytest.raises(Open311Error) as refused:
            await open311.requests({})
        # One complaint by id is never refused: a bounded read.
        by_id = await open311.requests({"service_request_id": ["c-7"]})
        await first
        return refused.value, by_id, await open311.requests({})

    refused, by_id, later = asyncio.run(run())
    assert refused.status == 503
    assert [r["service_request_id"] for r in by_id] == ["c-7"]
    assert later == one_pass(served, {})


def test_a_rebalance_during_the_search_is_told_to_retry() -> None:
    served = Served()

    async def run() -> Open311Error:
        open311 = Open311(served)  # type: ignore[arg-type]
        search = asyncio.ensure_future(open311.requests({}))
        await asyncio.sleep(0)
        served.partitions = {0, 1}  # revoked and reassigned while the walk paused
        with pytest.raises(Open311Error) as refused:
            await search
        return refused.value

    assert asyncio.run(run()).status == 503


def test_the_retry_reply_says_when() -> None:
    view = Open311View.__new__(Open311View)
    view.web = SimpleNamespace(bytes=lambda body, **reply: reply)  # type: ignore[assignment]
    reply: Any = view._reply([{"code": 503, "description": "busy"}], 503)
    assert reply["status"] == 503
    assert reply["headers"] == {"Retry-After": str(RETRY_AFTER_SECONDS)}
