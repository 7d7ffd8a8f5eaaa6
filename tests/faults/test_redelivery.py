"""A redelivery right after a restart, without a broker: the root cause of the crash and
rebalance failures, pinned down.

After a SIGKILL or a rebalance, the events processed since the last offset commit are
delivered again to a worker whose complaints table (RocksDB, or the changelog) already holds
them. They are rejected as duplicates and their views are sent again. The new worker had seen
no event of the partition yet, so those views carried no event time (`"wm": null`), and the
unit stage crashed on them (TypeError in core.watermarks): Faust restarted the agent, the
message was lost, and the totals differed from a clean run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from sigap.core.registry_file import load_registry
from streams.complaint_stage import ComplaintStage
from streams.unit_stage import UnitStage
from tests.streams.test_agents import RecordingTopic

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")
CREATED = {
    "event_id": "e-1",
    "type": "created",
    "complaint_id": "c-1",
    "occurred_at": "2026-11-02T08:00:00+07:00",
    "unit": "dlh",
}
CREATED_AT = 1_793_581_200.0  # 2026-11-02T01:00:00Z


class RecordingTable(dict[str, Any]):
    """A table that remembers every write (each one a changelog record in Faust)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.writes: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


class Event:
    """What the stages read of a Faust event (weakly referenceable, as Faust's events are:
    the complaint stage makes each event of a batch the current one in turn)."""

    def __init__(self, message: Any, value: bytes, key: bytes | None = None) -> None:
        self.message = message
        self.value = value
        self.key = key


def message(value: dict[str, Any], offset: int, partition: int = 2) -> Any:
    raw = orjson.dumps(value)
    record = SimpleNamespace(partition=partition, offset=offset, timestamp=CREATED_AT + 60)
    return Event(record, raw, value["complaint_id"].encode())


def complaint_stage(complaints: dict[str, Any]) -> ComplaintStage:
    return ComplaintStage(
        registry=REGISTRY,
        complaints=complaints,
        rejections={},
        views_topic=RecordingTopic(),
        dead_letter_topic=RecordingTopic(),
    )


async def _run_redelivery() -> tuple[ComplaintStage, RecordingTable, UnitStage]:
    before_crash = complaint_stage({})
    await before_crash.process(message(CREATED, offset=0))
    # The worker is killed before the offset is committed; the new one starts on the same
    # table and gets the event again.
    restored = RecordingTable(before_crash.complaints)
    after_restart = complaint_stage(restored)
    await after_restart.process(message(CREATED, offset=0))
    unit_stage = UnitStage(registry=REGISTRY, unit_views={}, partitions=4, grace_seconds=600)
    views: Any = after_restart.views_topic
    for sent in views.sent:
        view_message = SimpleNamespace(partition=sent.get("partition", 0), offset=0)
        await unit_stage.process(Event(view_message, sent["value"]))
    return after_restart, restored, unit_stage


def test_redelivered_event_resends_views_with_an_event_time() -> None:
    after_restart, restored, unit_stage = asyncio.run(_run_redelivery())
    dead: Any = after_restart.dead_letter_topic
    assert [dict(d["headers"])["sigap-reason"] for d in dead.sent] == [b"duplicate_event_id"]
    views: Any = after_restart.views_topic
    envelopes = [orjson.loads(sent["value"]) for sent in views.sent]
    # One record per (source, views partition) holding the batch's views ("vs").
    assert [view["u"] for e in envelopes for view in e["vs"]] == ["dlh"]
    # The event time of the redelivered event, not null (which crashed the unit stage).
    assert [e["wm"] for e in envelopes] == [CREATED_AT]
    # The state is written again, so that its changelog record exists even if the one
    # produced before the SIGKILL never left the producer's buffer.
    assert restored.writes == ["c-1"]
    # The unit stage counted the complaint once, from the view sent again.
    assert unit_stage.kpis.counters["dlh"].created == 1


def test_a_stamp_without_event_time_moves_no_watermark() -> None:
    """Older workers sent these (no TypeError); now they are announcements
    (core.watermarks): caught up, it moves nothing; behind, it holds the watermark."""
    unit_stage = UnitStage(registry=REGISTRY, unit_views={}, partitions=4, grace_seconds=600)
    stamp = orjson.dumps({"src": 1, "wm": None, "cu": True})
    event = Event(SimpleNamespace(partition=0, offset=0), stamp)
    asyncio.run(unit_stage.process(event))
    source = unit_stage.watermarks[0]
    assert source.latest == {} and not source.held and source.current(0.0) is None
    behind = Event(
        SimpleNamespace(partition=0, offset=1), orjson.dumps({**orjson.loads(stamp), "cu": False})
    )
    asyncio.run(unit_stage.process(behind))
    assert source.held and source.latest == {}
