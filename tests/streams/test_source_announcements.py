"""After an assignment the complaint stage announces every events partition it reads as
behind with its event time unknown, and the unit stage holds its watermark until each is
heard from (core.watermarks), without a broker.

The defect this fixes (tests/faults/test_deadlines_during_faults.py caught it, 1 run in 3):
a restarted worker read the whole backlog of one events partition before the first event
of another; the first one's "caught up" stamp carried the watermark to its latest event
time, and timers stopped in time in the other partition's backlog, whose deadlines lay in
between, were counted missed for good.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.views import decode_envelope
from streams.complaint_stage import ComplaintStage
from streams.unit_stage import UnitStage
from tests.faults.test_redelivery import CREATED, CREATED_AT, message
from tests.streams.test_unit_progress import (
    PARTITIONS,
    Clock,
    complaint_stage,
    deliver,
    unit_stage,
)

HOUR = 3600.0


def stamps(sent: list[dict[str, Any]]) -> list[tuple[int, int, float | None, bool, int]]:
    """(views partition, source, watermark, caught up, views) of each record sent."""
    found = []
    for record in sent:
        envelope = decode_envelope(record["value"])
        found.append(
            (
                record["partition"],
                envelope.source,
                envelope.watermark,
                envelope.caught_up,
                len(envelope.views),
            )
        )
    return found


def created(complaint: str, hours_later: float, unit: str = "dlh") -> dict[str, Any]:
    return {
        **CREATED,
        "event_id": f"{complaint}-created",
        "complaint_id": complaint,
        "occurred_at": _iso(CREATED_AT + hours_later * HOUR),
        "unit": unit,
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def assigned_stage(
    clock: Clock, highwaters: dict[int, int], starts: dict[int, int | None]
) -> ComplaintStage:
    stage = complaint_stage(clock)
    stage.highwater = highwaters.get

    async def start_offset(partition: int) -> int | None:
        return starts.get(partition)

    stage.start_offset = start_offset
    stage.assigned(set(highwaters))
    return stage


def test_every_assigned_partition_is_announced_behind_before_the_first_views() -> None:
    async def run() -> list[tuple[int, int, float | None, bool, int]]:
        stage = assigned_stage(Clock(0.0), {0: 5, 2: 5}, {0: 3, 2: 0})
        await stage.process_batch([message(CREATED, offset=3, partition=2)])
        topic: Any = stage.views_topic
        return stamps(topic.sent)

    sent = run_sync(run())
    announcements = [s for s in sent if s[2] is None]
    assert sorted(announcements) == sorted(
        (views, source, None, False, 0) for source in (0, 2) for views in range(PARTITIONS)
    )
    assert sent[: len(announcements)] == announcements  # before any views
    assert [s for s in sent if s[4]] == [(sent[-1][0], 2, CREATED_AT, False, 1)]


def test_a_partition_with_nothing_to_read_reports_caught_up_and_one_with_a_backlog_not() -> None:
    """Empty (starts at its highwater 0), nothing new since its commit (starts at its
    highwater), a backlog (starts below), highwater or start not known yet."""

    async def run() -> list[tuple[int, int, float | None, bool, int]]:
        stage = assigned_stage(
            Clock(0.0),
            {0: 0, 1: 7, 2: 9, 3: 4},
            {0: 0, 1: 7, 2: 4, 3: None},
        )
        await stage.heartbeat()
        topic: Any = stage.views_topic
        topic.sent[:] = [r for r in topic.sent if decode_envelope(r["value"]).caught_up]
        return stamps(topic.sent)

    assert sorted(run_sync(run())) == sorted(
        (views, source, None, True, 0) for source in (0, 1) for views in range(PARTITIONS)
    )


def test_a_partition_of_only_rejected_events_reports_caught_up_once_at_its_highwater() -> None:
    async def run() -> list[tuple[int, int, float | None, bool, int]]:
        stage = assigned_stage(Clock(0.0), {1: 1}, {1: 0})
        topic: Any = stage.views_topic
        await stage.heartbeat()
        topic.sent.clear()
        await stage.process_batch([message({**CREATED, "type": "nonsense"}, 0, partition=1)])
        topic.sent.clear()
        await stage.heartbeat()
        return stamps(topic.sent)

    assert run_sync(run()) == [(views, 1, None, True, 0) for views in range(PARTITIONS)]


async def _restart_reading_one_partition_first() -> tuple[float, float, float]:
    """A unit stage restored at CREATED_AT; after the restart partition 0's backlog (12 h
    of events, caught up) is read before anything of partition 1 (whose backlog starts at
    +1 h). The watermark of dlh: after partition 0's backlog, after partition 1's first
    batch, and once both are caught up."""
    wall = Clock(CREATED_AT + 13 * HOUR)
    highwaters = {0: 2, 1: 2}
    stage = assigned_stage(wall, highwaters, {0: 0, 1: 0})
    topic: Any = stage.views_topic
    views: dict[str, Any] = {}
    # Each views partition saved its watermark at CREATED_AT before the restart.
    progress = {str(p): orjson.dumps({"wm": CREATED_AT}) for p in range(PARTITIONS)}
    units: UnitStage = unit_stage(views, progress, wall)
    units.rebuild(set(range(PARTITIONS)))

    await stage.process_batch(
        [message(created("a-1", 2), 0, partition=0), message(created("a-2", 12), 1, partition=0)]
    )
    await stage.heartbeat()
    await deliver(topic.sent, units)
    after_first = units.watermark_of("dlh")
    await stage.process_batch([message(created("b-1", 1), 0, partition=1)])
    await deliver(topic.sent, units)
    after_second = units.watermark_of("dlh")
    await stage.process_batch([message(created("b-2", 11), 1, partition=1)])
    await stage.heartbeat()
    await deliver(topic.sent, units)
    return after_first, after_second, units.watermark_of("dlh")


def test_a_partition_not_read_yet_holds_the_watermark_after_a_restart() -> None:
    after_first, after_second, caught_up = run_sync(_restart_reading_one_partition_first())
    assert after_first == CREATED_AT  # not at +12 h: partition 1 may hold older events
    assert after_second == CREATED_AT + 1 * HOUR  # partition 1 behind at +1 h
    assert caught_up >= CREATED_AT + 12 * HOUR  # both caught up: the newest time


def run_sync(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_after_a_revocation_no_stamp_goes_out_until_the_next_assignment_is_announced() -> None:
    """The app calls `assigned(set())` on revocation: a stale stamp of ours arriving after
    the next owner's announcement would end that owner's hold."""

    async def run() -> tuple[int, list[tuple[int, int, float | None, bool, int]]]:
        stage = assigned_stage(Clock(0.0), {2: 1}, {2: 0})
        topic: Any = stage.views_topic
        await stage.process_batch([message(CREATED, offset=0, partition=2)])
        stage.assigned(set())  # revoked
        topic.sent.clear()
        await stage.heartbeat()
        after_revocation = len(topic.sent)
        stage.assigned({2})
        await stage.heartbeat()
        return after_revocation, stamps(topic.sent)

    after_revocation, after_assignment = run_sync(run())
    assert after_revocation == 0
    # Announced again, then (its start offset 0 below its highwater 1) nothing more.
    assert after_assignment == [(views, 2, None, False, 0) for views in range(PARTITIONS)]


def test_a_restart_resumes_from_the_watermark_reached_not_from_views_applied_ahead_of_it() -> None:
    """Killed while held back (partition 1 not heard from), the unit stage had applied
    partition 0's views up to +12 h; the next start must resume at the saved watermark, or
    partition 1's backlog is skipped all the same (seen in the deadline fault test)."""

    async def run() -> tuple[float, float]:
        wall = Clock(CREATED_AT + 13 * HOUR)
        stage = assigned_stage(wall, {0: 2, 1: 2}, {0: 0, 1: 0})
        topic: Any = stage.views_topic
        views: dict[str, Any] = {}
        progress = {str(p): orjson.dumps({"wm": CREATED_AT}) for p in range(PARTITIONS)}
        units = unit_stage(views, progress, wall)
        units.rebuild(set(range(PARTITIONS)))
        await stage.process_batch(
            [message(created("a-1", 2), 0, partition=0), message(created("a-2", 12), 1, 0)]
        )
        await stage.heartbeat()
        await deliver(topic.sent, units)
        held = units.watermark_of("dlh")
        restarted = unit_stage(views, progress, wall)  # killed: a new process, same tables
        restarted.rebuild(set(range(PARTITIONS)))
        return held, restarted.watermark_of("dlh")

    held, restarted = run_sync(run())
    assert held == CREATED_AT
    assert restarted == CREATED_AT


def test_a_records_views_are_applied_before_its_stamp_moves_the_watermark() -> None:
    """One batch of a source's backlog holds a response in time and, on the same source,
    events a day later: its stamp (caught up, +30 h) must not count the timer that the
    same record shows stopped in time as missed."""

    async def run() -> dict[str, int]:
        wall = Clock(CREATED_AT + 40 * HOUR)
        stage = complaint_stage(wall)  # caught up at every offset
        stage.highwater = lambda partition: 10**6  # a backlog: behind until the last batch
        topic: Any = stage.views_topic
        progress = {str(p): orjson.dumps({"wm": CREATED_AT}) for p in range(PARTITIONS)}
        units = unit_stage({}, progress, wall)
        units.rebuild(set(range(PARTITIONS)))
        await stage.process_batch([message(created("x", 0), 0, partition=0)])
        await deliver(topic.sent, units)
        stage.highwater = lambda partition: 3  # this batch is the last of the backlog
        responded = {
            "event_id": "x-responded",
            "type": "responded",
            "complaint_id": "x",
            "occurred_at": _iso(CREATED_AT + 2 * HOUR),
        }
        await stage.process_batch(
            [message(responded, 1, partition=0), message(created("y", 30), 2, partition=0)]
        )
        await deliver(topic.sent, units)
        assert units.watermark_of("dlh") >= CREATED_AT + 30 * HOUR
        return dict(units.kpis.counters["dlh"].sla)

    sla = run_sync(run())
    assert sla.get("response:met") == 1 and "response:missed" not in sla, sla
