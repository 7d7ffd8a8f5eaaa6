"""The complaint stage's admission of a message (issue 13, defects 2, 3, 5, 6), without a
broker: keyless messages, event time against a clock the producer cannot set, free text in
dimensions, and views records that stay under the broker's record limit."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson

from schemas.views import MAX_VIEWS_RECORD_BYTES, encode_views_records
from sigap.core.complaint_state import ComplaintState
from streams.complaint_stage import LOG_APPEND_TIME, ComplaintStage
from tests.faults.test_redelivery import CREATED, CREATED_AT, REGISTRY, Event
from tests.streams.test_agents import RecordingTopic

WALL_NOW = CREATED_AT + 3600.0


def stage() -> ComplaintStage:
    return ComplaintStage(
        registry=REGISTRY,
        complaints={},
        rejections={},
        views_topic=RecordingTopic(),
        dead_letter_topic=RecordingTopic(),
        wall_clock=lambda: WALL_NOW,
    )


def message(
    value: dict[str, Any], key: bytes | None, timestamp: float, timestamp_type: int = 0
) -> Event:
    record = SimpleNamespace(
        partition=0, offset=0, timestamp=timestamp, timestamp_type=timestamp_type
    )
    return Event(record, orjson.dumps(value), key)


def reasons(worker: ComplaintStage) -> list[str]:
    topic: Any = worker.dead_letter_topic
    return [dict(sent["headers"])["sigap-reason"].decode() for sent in topic.sent]


def at(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat()


def test_a_keyless_message_is_dead_lettered_missing_key() -> None:
    worker = stage()
    asyncio.run(worker.process(message(CREATED, None, CREATED_AT + 60)))
    assert reasons(worker) == ["missing_key"]
    assert worker.complaints == {}


def test_event_time_is_bounded_by_the_brokers_append_time_not_the_producers_clock() -> None:
    worker = stage()
    append_time = CREATED_AT + 60
    # 23 h 50 min ahead of the append time: accepted before (a day of tolerance against the
    # producer's timestamp), it advanced the watermark; now dead-lettered.
    ahead = {
        **CREATED,
        "event_id": "f1",
        "complaint_id": "f1",
        "occurred_at": at(append_time + 85800),
    }
    asyncio.run(worker.process(message(ahead, b"f1", append_time, LOG_APPEND_TIME)))
    # 4 minutes ahead (a producer's clock a little fast): accepted.
    close = {
        **CREATED,
        "event_id": "f2",
        "complaint_id": "f2",
        "occurred_at": at(append_time + 240),
    }
    asyncio.run(worker.process(message(close, b"f2", append_time, LOG_APPEND_TIME)))
    assert reasons(worker) == ["occurred_at_in_future"]
    assert set(worker.complaints) == {"f2"}


def test_on_a_create_time_topic_the_wall_clock_bounds_event_time() -> None:
    worker = stage()
    # The producer sets its record timestamp a day ahead: it is not trusted.
    claimed = WALL_NOW + 86400
    ahead = {**CREATED, "event_id": "g1", "complaint_id": "g1", "occurred_at": at(WALL_NOW + 600)}
    asyncio.run(worker.process(message(ahead, b"g1", claimed)))
    assert reasons(worker) == ["occurred_at_in_future"]


def test_free_text_in_channel_and_category_never_reaches_the_state_or_the_views() -> None:
    worker = stage()
    secret = "Budi Santoso 081234567890"
    created = {**CREATED, "channel": secret, "category": secret}
    asyncio.run(worker.process(message(created, b"c-1", CREATED_AT + 60, LOG_APPEND_TIME)))
    stored = worker.complaints["c-1"]
    state = ComplaintState.from_json(orjson.loads(stored))
    assert (state.events[0].channel, state.events[0].category) == ("other", "other")
    views: Any = worker.views_topic
    assert secret.encode() not in stored
    assert all(secret.encode() not in sent["value"] for sent in views.sent)


def test_views_records_are_split_to_stay_under_the_record_limit() -> None:
    envelope = {"src": 3, "wm": CREATED_AT, "cu": True}
    views = [{"u": "dlh", "id": f"c{i}", "pad": "x" * 1000} for i in range(3000)]
    records = encode_views_records(3, CREATED_AT, True, views)
    assert len(records) > 1
    assert all(len(record) <= MAX_VIEWS_RECORD_BYTES for record in records)
    decoded = [orjson.loads(record) for record in records]
    assert all({k: d[k] for k in envelope} == envelope for d in decoded)
    assert [view for d in decoded for view in d["vs"]] == views
    # The common case: one record, encoded once.
    one = encode_views_records(3, CREATED_AT, True, views[:10])
    assert one == [orjson.dumps({**envelope, "vs": views[:10]})]


def test_the_unit_stage_ignores_a_view_older_than_the_one_it_holds() -> None:
    """A zombie complaint-stage worker (or a replay) sends an old view after the new owner
    sent a newer one: the unit does not go back (its open complaint count, its stored view)."""
    from schemas.events import parse_event
    from sigap.core.complaint_state import accept_event
    from streams.unit_stage import UnitStage

    state = ComplaintState()
    created = parse_event(orjson.dumps(CREATED))
    resolved = parse_event(
        orjson.dumps(
            {**CREATED, "event_id": "e-2", "type": "resolved", "occurred_at": at(CREATED_AT + 3600)}
        )
    )
    (opened,) = accept_event(state, created, REGISTRY).views
    (closed,) = accept_event(state, resolved, REGISTRY).views
    units = UnitStage(
        registry=REGISTRY,
        unit_views={},
        partitions=4,
        grace_seconds=600,
        wall_clock=lambda: WALL_NOW,
    )
    units.apply(closed)
    units.apply(opened)  # the zombie's late record
    assert units.stale_views == 1
    assert units.kpis.unit_snapshot("dlh", CREATED_AT + 7200).open_complaints == 0
    stored = orjson.loads(units.unit_views["dlh|c-1"])
    assert stored["v"]["at"] == closed.as_of
