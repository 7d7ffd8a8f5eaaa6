"""The unit stage's watermark survives a restart (the `unit-progress` table), without a broker.

In quiet hours the watermark advances with the wall clock past the latest event time (so
deadlines still pass). It used to live in memory only: after a restart, or on the next owner
of a views partition, it restarted from the partition's latest view, and the window gauges
and the open-past-target counts went back in time. The real-broker version of this is
tests/faults/test_state_recovery.py.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson

from streams.complaint_stage import ComplaintStage
from streams.unit_stage import UnitStage
from tests.faults.test_redelivery import (
    CREATED,
    CREATED_AT,
    REGISTRY,
    Event,
    RecordingTable,
    RecordingTopic,
    message,
)

PARTITIONS = 4
HOUR = 3600.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def complaint_stage(clock: Clock, repeat_seconds: float = 60.0) -> ComplaintStage:
    stage = ComplaintStage(
        registry=REGISTRY,
        complaints={},
        rejections={},
        views_topic=RecordingTopic(),
        dead_letter_topic=RecordingTopic(),
        heartbeat_repeat_seconds=repeat_seconds,
        monotonic_clock=clock,
    )
    stage.views_partitions = PARTITIONS
    stage.highwater = lambda partition: 1  # offset 0 processed: caught up
    return stage


def unit_stage(views: dict[str, Any], progress: dict[str, Any], clock: Clock) -> UnitStage:
    return UnitStage(
        registry=REGISTRY,
        unit_views=views,
        unit_progress=progress,
        partitions=PARTITIONS,
        grace_seconds=600,
        wall_clock=clock,
    )


async def deliver(sent: list[dict[str, Any]], stage: UnitStage) -> None:
    for record in sent:
        view_message = SimpleNamespace(partition=record.get("partition", 0), offset=0)
        await stage.process(Event(view_message, record["value"]))
    sent.clear()


class Pipeline:
    """Both stages on dict tables, the complaint created; the event arrived a minute after
    it happened."""

    def __init__(self) -> None:
        self.wall = Clock(CREATED_AT + 60)
        self.complaints = complaint_stage(self.wall)
        self.views: dict[str, Any] = {}
        self.progress = RecordingTable()
        self.units = unit_stage(self.views, self.progress, self.wall)
        self.topic: Any = self.complaints.views_topic

    async def start(self) -> Pipeline:
        await self.complaints.process(message(CREATED, offset=0))
        await self.complaints.heartbeat()
        await deliver(self.topic.sent, self.units)
        return self


async def quiet_hours_then_restart() -> tuple[float, float, float]:
    """The watermark of dlh's partition after an hour without events, then again after a
    restart on the same tables; and the value a restart from the latest view would give."""
    pipeline = await Pipeline().start()
    # An hour without events: the heartbeat timer keeps firing, the stamps do not change.
    for _ in range(60):
        pipeline.wall.now += 60
        await pipeline.complaints.heartbeat()
        await deliver(pipeline.topic.sent, pipeline.units)
    reached = pipeline.units.watermark_of("dlh")

    pipeline.wall.now += 30  # the restart
    after = unit_stage(pipeline.views, pipeline.progress, pipeline.wall)
    after.rebuild(set(range(PARTITIONS)))
    from_views_only = unit_stage(pipeline.views, {}, pipeline.wall)
    from_views_only.rebuild(set(range(PARTITIONS)))
    pipeline.wall.now += 20  # running again, still no events
    return reached, after.watermark_of("dlh"), from_views_only.watermark_of("dlh")


def test_the_watermark_reached_in_quiet_hours_survives_a_restart() -> None:
    reached, restored, from_views_only = asyncio.run(quiet_hours_then_restart())
    # An hour of wall clock past the event time (it arrived 60 s after it happened).
    assert reached == CREATED_AT + HOUR
    # Saved at the last repeated heartbeat: it resumes there and moves on with the wall
    # clock from the rebuild (20 s), as an idle watermark does.
    assert restored == reached + 20
    # Without the saved progress: back at the latest view, an hour earlier.
    assert from_views_only == CREATED_AT + 20


def test_progress_is_saved_per_views_partition_and_only_when_it_moved() -> None:
    async def run() -> RecordingTable:
        pipeline = await Pipeline().start()
        # Heartbeats within the repeat interval send nothing, so nothing is written.
        for _ in range(5):
            pipeline.wall.now += 10
            await pipeline.complaints.heartbeat()
            assert pipeline.topic.sent == []
        return pipeline.progress

    progress = asyncio.run(run())
    # dlh's views record, then the heartbeat to every partition: dlh's partition got both
    # at the same watermark, so one write each.
    assert sorted(progress.writes) == [str(p) for p in range(PARTITIONS)]
    assert {key: orjson.loads(value)["wm"] for key, value in progress.items()} == {
        str(p): CREATED_AT for p in range(PARTITIONS)
    }


def test_an_unchanged_heartbeat_is_repeated_after_the_repeat_interval() -> None:
    async def run() -> list[int]:
        wall = Clock(0.0)
        complaints = complaint_stage(wall, repeat_seconds=60)
        topic: Any = complaints.views_topic
        await complaints.process(message(CREATED, offset=0))
        topic.sent.clear()
        sent_per_tick = []
        for _ in range(7):  # every 20 s: at 0, 20, ..., 120 s
            await complaints.heartbeat()
            sent_per_tick.append(len(topic.sent))
            topic.sent.clear()
            wall.now += 20
        return sent_per_tick

    # The first stamp, then a repeat once 60 s have passed since the last one sent, to
    # every views partition.
    assert asyncio.run(run()) == [PARTITIONS, 0, 0, PARTITIONS, 0, 0, PARTITIONS]
