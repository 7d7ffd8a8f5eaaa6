"""The complaint stage keeps at most `fold_cache_size` folds (core.incremental) in memory; a
complaint whose fold was dropped rebuilds it from its events at its next event and sends
the same views as a stage that kept it."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

from sigap.core import complaint_state
from streams.complaint_stage import ComplaintStage
from tests.faults.test_redelivery import CREATED, REGISTRY, message
from tests.streams.test_agents import RecordingTopic


def _stage(fold_cache_size: int) -> ComplaintStage:
    return ComplaintStage(
        registry=REGISTRY,
        complaints={},
        rejections={},
        views_topic=RecordingTopic(),
        dead_letter_topic=RecordingTopic(),
        fold_cache_size=fold_cache_size,
    )


def _events() -> list[dict[str, Any]]:
    created = [
        {**CREATED, "event_id": f"{complaint}-0", "complaint_id": complaint}
        for complaint in ("c-1", "c-2", "c-3")
    ]
    later = [
        {
            "event_id": f"c-1-{number}",
            "type": kind,
            "complaint_id": "c-1",
            "occurred_at": f"2026-11-02T{8 + number:02d}:00:00+07:00",
            **extra,
        }
        for number, (kind, extra) in enumerate(
            [("handed_over", {"officer": "o-2"}), ("responded", {}), ("paused", {})], 1
        )
    ]
    return [*created, *later]


def _sent(stage: ComplaintStage) -> list[Any]:
    topic: Any = stage.views_topic
    return [sent["value"] for sent in topic.sent]


@mock.patch.object(complaint_state, "FOLD_MIN_EVENTS", 1)  # a fold from `created` on
def test_the_stage_keeps_at_most_its_fold_cache_size_of_folds_and_a_dropped_one_is_rebuilt() -> (
    None
):
    bounded, unbounded = _stage(2), _stage(100)
    events = _events()
    for offset, value in enumerate(events[:3]):
        for stage in (bounded, unbounded):
            asyncio.run(stage.process(message(value, offset)))
    folded = [cid for cid, state in bounded._states.items() if state.fold is not None]
    assert folded == ["c-2", "c-3"]  # c-1, evaluated least recently, lost its fold
    assert all(state.fold is not None for state in unbounded._states.values())
    for offset, value in enumerate(events[3:], 3):
        for stage in (bounded, unbounded):
            asyncio.run(stage.process(message(value, offset)))
    assert _sent(bounded) == _sent(unbounded)
    folded = [cid for cid, state in bounded._states.items() if state.fold is not None]
    assert sorted(folded) == ["c-1", "c-3"]
