"""The unit stage's after-break gauge (sigap_deadlines_after_break) in the week before a
break, without a broker: it counts from the unit's sorted running deadlines and agrees with
the count over every open worklist item (core.holiday_cliff.deadlines_after_break), which
each scrape used to walk."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from types import SimpleNamespace

import orjson

from sigap.core.holiday_cliff import deadlines_after_break
from streams.complaint_stage import LOG_APPEND_TIME
from tests.faults.test_redelivery import REGISTRY, Event, RecordingTable
from tests.streams.test_unit_progress import PARTITIONS, Clock, complaint_stage, deliver, unit_stage

# Wednesday 23 December 2026, 15:00 WIB: the Christmas break (24-27 December) starts
# tomorrow; the cliff window is [24 Dec 00:00, 31 Dec 00:00) WIB.
NOW = datetime.fromisoformat("2026-12-23T15:00:00+07:00")


def test_the_gauge_counts_the_deadlines_in_the_cliff_window_as_the_worklist_items_do() -> None:
    async def run() -> tuple[dict[str, int], dict[str, int], int]:
        wall = Clock(NOW.timestamp() + 60)
        complaints = complaint_stage(wall)
        views: dict[str, object] = {}
        units = unit_stage(views, RecordingTable(), wall)
        # Created every 7 hours over the three weeks before: response deadlines (a day)
        # and resolution deadlines (days) before, inside and after the window.
        for n in range(72):
            occurred = NOW - timedelta(hours=7 * n)
            event = {
                "event_id": f"e-{n}",
                "type": "created",
                "complaint_id": f"c-{n}",
                "occurred_at": occurred.isoformat(),
                "unit": "dlh",
                "category": ("waste", "pollution")[n % 2],
            }
            record = SimpleNamespace(
                partition=2,
                offset=n,
                timestamp=NOW.timestamp() + 30,
                timestamp_type=LOG_APPEND_TIME,
            )
            await complaints.process(Event(record, orjson.dumps(event), f"c-{n}".encode()))
        await complaints.heartbeat()
        await deliver(complaints.views_topic.sent, units)
        watermark, snapshots = units.snapshot(set(range(PARTITIONS)))
        assert watermark is not None
        reference = deadlines_after_break(
            units.kpis.open_items("dlh"), REGISTRY.calendar_for("dlh"), watermark
        )
        assert reference is not None
        running = sum(item.running for item in units.kpis.open_items("dlh"))
        return snapshots["dlh"].after_break, reference.by_timer, running

    gauge, reference, running = asyncio.run(run())
    assert gauge == reference
    assert set(gauge) == {"response", "resolution"}  # both timers have deadlines in it
    assert 0 < sum(gauge.values()) < running  # and some open timers fall outside it
