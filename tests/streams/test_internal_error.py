"""A bug in the KPI code loses no event: the complaint it fails on has its events of the
batch dead-lettered (reason `internal_error`) and its stored state left as it was, the other
complaints of the batch go on, and once the bug is fixed the dead letters published again
are measured as if nothing had happened. In the unit stage, a bug skips the one view it meets
and is counted (sigap_unit_views_failed_total). Without a broker.

Before, the exception crashed the agent: Faust restarted it, and the batch or record it was
processing was lost (neither counted nor dead-lettered).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

import streams.complaint_stage as complaint_stage_module
from metrics.collector import MetricsSnapshot, SigapCollector
from sigap.core.complaint_state import ComplaintState, changed_encoded_views
from sigap.core.registry import Registry
from sigap.core.unit_kpis import UnitKpis
from sigap.core.unit_view import UnitView
from streams.complaint_stage import INTERNAL_ERROR, REASON_HEADER, ComplaintStage
from streams.unit_stage import UnitStage
from tests.faults.test_redelivery import REGISTRY, Event, complaint_stage

BROKEN = "c-broken"


def event(event_id: str, type_: str, complaint: str, at: str, offset: int, **extra: Any) -> Any:
    value = {
        "event_id": event_id,
        "type": type_,
        "complaint_id": complaint,
        "occurred_at": f"2026-11-02T{at}:00+07:00",
        **extra,
    }
    record = SimpleNamespace(partition=0, offset=offset, timestamp=1_793_700_000.0)
    return Event(record, orjson.dumps(value), complaint.encode())


BATCH = [
    event("b-1", "created", BROKEN, "08:00", 0, unit="dlh"),
    event("o-1", "created", "c-ok", "08:05", 1, unit="dsda"),
    event("b-2", "responded", BROKEN, "09:00", 2),
    event("o-2", "resolved", "c-ok", "10:00", 3),
]


def buggy_views(
    state: ComplaintState, registry: Registry, *, every_view: bool = False
) -> list[Any]:
    if state.created is not None and state.created.complaint_id == BROKEN:
        raise ZeroDivisionError("a bug in the KPI code")
    return changed_encoded_views(state, registry, every_view=every_view)


def sent_views(stage: ComplaintStage) -> list[tuple[str, str]]:
    topic: Any = stage.views_topic
    return [
        (view["id"], view["u"])
        for record in topic.sent
        for view in orjson.loads(record["value"]).get("vs", [])
    ]


def test_a_bug_dead_letters_the_complaint_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    complaints: dict[str, Any] = {}
    worker = complaint_stage(complaints)
    with monkeypatch.context() as patched:
        patched.setattr(complaint_stage_module, "changed_encoded_views", buggy_views)
        asyncio.run(worker.process_batch(BATCH))

    # The broken complaint's two events are dead-lettered with their original bytes; the
    # other complaint is measured and stored.
    dead: Any = worker.dead_letter_topic
    assert [(d["key"], d["value"], dict(d["headers"])[REASON_HEADER]) for d in dead.sent] == [
        (BROKEN.encode(), BATCH[0].value, INTERNAL_ERROR.encode()),
        (BROKEN.encode(), BATCH[2].value, INTERNAL_ERROR.encode()),
    ]
    assert sent_views(worker) == [("c-ok", "dsda")]
    assert set(complaints) == {"c-ok"}
    # Conservation: accepted + rejected = read.
    assert worker.counts.processed == 2
    assert worker.rejected_by_reason({0}) == {INTERNAL_ERROR: 2}
    assert "internal error evaluating a complaint" in caplog.text
    assert "ZeroDivisionError" in caplog.text  # the traceback, for the bug report

    # The bug fixed, the dead letters published again: measured, not duplicates.
    republished = [
        event_ for event_ in BATCH if event_.key == BROKEN.encode()
    ]  # as `sigap dlq export` + `sigap publish` would send them
    for offset, original in enumerate(republished, start=10):
        original.message = SimpleNamespace(partition=0, offset=offset, timestamp=1_793_700_000.0)
    asyncio.run(worker.process_batch(republished))
    assert worker.counts.processed == 4
    assert worker.rejected_by_reason({0}) == {INTERNAL_ERROR: 2}
    assert sent_views(worker)[-1] == (BROKEN, "dlh")
    assert set(complaints) == {"c-ok", BROKEN}
    stored = ComplaintState.from_json(orjson.loads(complaints[BROKEN]))
    assert [known.event_id for known in stored.events] == ["b-1", "b-2"]


def test_a_bug_in_the_unit_stage_skips_one_view_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """One record holding the views of two complaints; applying the first one fails."""
    worker = complaint_stage({})
    asyncio.run(worker.process_batch(BATCH))
    topic: Any = worker.views_topic
    records = [orjson.loads(record["value"]) for record in topic.sent]
    views = [view for record in records for view in record["vs"]]
    assert {view["id"] for view in views} == {BROKEN, "c-ok"}
    one_record = orjson.dumps({**records[0], "vs": views})
    units = UnitStage(registry=REGISTRY, unit_views={}, partitions=1, grace_seconds=600)
    original_apply = UnitKpis.apply

    def buggy_apply(kpis: UnitKpis, view: UnitView, *args: Any) -> Any:
        if view.complaint_id == BROKEN:
            raise ZeroDivisionError("a bug in the KPI code")
        return original_apply(kpis, view, *args)

    monkeypatch.setattr(UnitKpis, "apply", buggy_apply)
    asyncio.run(units.process(Event(SimpleNamespace(partition=0, offset=0), one_record)))

    assert units.views_failed == 1
    assert "internal error applying a unit view; skipped" in caplog.text
    assert "ZeroDivisionError" in caplog.text
    # The other view of the same record was applied and counted.
    assert set(units.unit_views) == {"dsda|c-ok"}
    assert units.kpis.counters["dsda"].created == 1
    assert units.kpis.counters["dsda"].resolved == 1
    assert "dlh" not in units.kpis.counters
    # And exported, so that an alert can see it.
    snapshot = MetricsSnapshot(views_failed=units.views_failed)
    exported = {
        sample.name: sample.value
        for family in SigapCollector(lambda: snapshot).collect()
        for sample in family.samples
    }
    assert exported["sigap_unit_views_failed_total"] == 1
