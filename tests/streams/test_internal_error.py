"""A bug in the KPI code loses no event: the complaint it fails on has its events of the
batch dead-lettered (reason `internal_error`) and its stored state left as it was, the other
complaints of the batch go on, and once the bug is fixed the dead letters published again
are measured as if nothing had happened. Without a broker.

Before, the exception crashed the complaint agent: Faust restarted it, and the batch it was
processing was neither counted nor dead-lettered.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

import streams.processor as processor
from core.complaint_state import ComplaintState, changed_encoded_views
from core.registry import Registry
from streams.processor import INTERNAL_ERROR, REASON_HEADER, ComplaintStage
from tests.faults.test_redelivery import Event, complaint_stage

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


def sent_views(complaint_stage: ComplaintStage) -> list[tuple[str, str]]:
    topic: Any = complaint_stage.views_topic
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
        patched.setattr(processor, "changed_encoded_views", buggy_views)
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
