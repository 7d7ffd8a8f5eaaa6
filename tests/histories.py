"""Complaint histories for the tests: a hypothesis strategy for one complaint's random
lifecycle (the property tests), and the unit views after a hand-written one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from schemas.events import ComplaintEvent
from sigap.core.complaint_state import ComplaintState, current_views, record_event
from sigap.core.registry import Registry
from sigap.core.unit_view import UnitView

LATER_TYPES = ["assigned", "responded", "paused", "resumed", "resolved", "reopened", "rated"]
MINUTES_PER_DAY = 60 * 24


@st.composite
def complaint_events(
    draw: st.DrawFn,
    number: int,
    *,
    start: datetime,
    units: Sequence[str],
    created_within_days: int,
    max_later_events: int,
    days_between_events: int,
    channels: Sequence[str | None] | None = None,
    assigned_reason: str | None = None,
) -> list[ComplaintEvent]:
    """A `created` event within `created_within_days` of `start`, then up to
    `max_later_events` later events of any type, each up to `days_between_events` after the
    one before (any order of types: the invalid sequences are part of the test)."""
    complaint_id = f"c{number}"
    at = start + timedelta(minutes=draw(st.integers(0, MINUTES_PER_DAY * created_within_days)))
    created: dict[str, Any] = {
        "event_id": f"{complaint_id}-0",
        "type": "created",
        "complaint_id": complaint_id,
        "occurred_at": at,
        "unit": draw(st.sampled_from(list(units))),
        "category": draw(st.sampled_from([None, "complex", "sampah"])),
    }
    if channels is not None:
        created["channel"] = draw(st.sampled_from(list(channels)))
    events = [ComplaintEvent.model_validate(created)]
    for index in range(1, draw(st.integers(0, max_later_events)) + 1):
        at += timedelta(minutes=draw(st.integers(0, MINUTES_PER_DAY * days_between_events)))
        kind = draw(st.sampled_from(LATER_TYPES))
        body: dict[str, Any] = {
            "event_id": f"{complaint_id}-{index}",
            "type": kind,
            "complaint_id": complaint_id,
            "occurred_at": at,
        }
        if kind == "assigned":
            body["unit"] = draw(st.sampled_from(list(units)))
            if assigned_reason is not None:
                body["reason"] = assigned_reason
        if kind == "rated":
            body["rating"] = draw(st.integers(1, 5))
        events.append(ComplaintEvent.model_validate(body))
    return events


def views_after(
    complaint_id: str,
    events: Sequence[tuple[str, datetime, dict[str, Any]]],
    registry: Registry,
) -> list[UnitView]:
    """The complaint's current unit views after its (type, time, extra fields) events, each
    accepted (ids `<complaint_id>-<n>`)."""
    state = ComplaintState()
    for number, (type_, when, extra) in enumerate(events):
        event = ComplaintEvent.model_validate(
            {
                "event_id": f"{complaint_id}-{number}",
                "type": type_,
                "complaint_id": complaint_id,
                "occurred_at": when,
                **extra,
            }
        )
        assert record_event(state, event) == []
    return current_views(state, registry)
