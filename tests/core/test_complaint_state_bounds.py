"""A complaint's state is bounded: at most MAX_EVENTS_PER_COMPLAINT events, and its stored
form stays under the broker's record limit even with every field at its contract maximum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.events import ComplaintEvent, EventRejected
from sigap.core.complaint_state import (
    COMPLAINT_TOO_LONG,
    DUPLICATE_EVENT_ID,
    MAX_EVENTS_PER_COMPLAINT,
    ComplaintState,
    is_redelivery,
    record_event,
)

# Kafka's default max.message.bytes (1 MiB + the record overhead it allows).
BROKER_MAX_MESSAGE_BYTES = 1_048_588
START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _widest_event(index: int, complaint_id: str) -> ComplaintEvent:
    """An event with every text field at its contract maximum (128 / 64 characters)."""
    return ComplaintEvent(
        event_id=f"{index:06d}".ljust(128, "e"),
        type="created" if index == 0 else "assigned",
        complaint_id=complaint_id,
        occurred_at=START + timedelta(seconds=index, microseconds=123456),
        unit=f"u{index:05d}".ljust(64, "x"),
        category="c" * 64,
        channel="h" * 64,
        reason="r" * 64,
        priority="urgent",
    )


def test_the_fullest_complaint_state_fits_in_one_broker_record() -> None:
    complaint_id = "c" * 128
    state = ComplaintState()
    for index in range(MAX_EVENTS_PER_COMPLAINT):
        assert record_event(state, _widest_event(index, complaint_id)) == []
    # The view hashes: one per unit that ever held it (every event a new unit).
    state.view_hashes = {event.unit or "": "0123456789abcdef" for event in state.events}
    size = len(orjson.dumps(state.to_json())) + len(complaint_id)
    assert size < BROKER_MAX_MESSAGE_BYTES, size

    with pytest.raises(EventRejected) as too_long:
        record_event(state, _widest_event(MAX_EVENTS_PER_COMPLAINT, complaint_id))
    assert too_long.value.reason == COMPLAINT_TOO_LONG
    # A redelivery of an event it holds is still recognised as one, not as too long.
    with pytest.raises(EventRejected) as duplicate:
        record_event(state, state.events[-1])
    assert duplicate.value.reason == DUPLICATE_EVENT_ID
    assert is_redelivery(state, state.events[-1])


def test_the_duplicate_check_survives_the_stored_form_and_held_events_dropped() -> None:
    state = ComplaintState()
    held = ComplaintEvent(
        event_id="r", type="resolved", complaint_id="c", occurred_at=START - timedelta(hours=1)
    )
    record_event(state, held)
    created = ComplaintEvent(
        event_id="c0", type="created", complaint_id="c", occurred_at=START, unit="dlh"
    )
    assert [reason for _, reason in record_event(state, created)] == ["resolved_before_created"]
    # The dropped event is forgotten: sent again, it is judged again (not a duplicate).
    with pytest.raises(EventRejected) as again:
        record_event(state, held)
    assert again.value.reason == "resolved_before_created"
    restored = ComplaintState.from_json(orjson.loads(orjson.dumps(state.to_json())))
    with pytest.raises(EventRejected) as duplicate:
        record_event(restored, created)
    assert duplicate.value.reason == DUPLICATE_EVENT_ID
    assert is_redelivery(restored, created)
