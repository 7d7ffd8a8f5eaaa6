"""Pairing a complaint's `created` and `resolved` events (contract v1).

Pure state machine: `apply_event(record, event)` returns what the event changed. The Faust
agent keeps one `ComplaintRecord` per complaint_id in a table and acts on the result; batch
replay drives the same function from a file.

Rules:
- a repeated event_id is ignored (at-least-once delivery made exact);
- a `resolved` event that arrives before its `created` event is held, and measured once
  `created` arrives;
- the first `resolved` event of a complaint is the one measured;
- a pair whose resolution is earlier than its creation is inconsistent: the event that
  completes the pair is rejected, with a reason, and the held state is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from schemas.events import ComplaintEvent

# Keep enough event ids to recognise redeliveries of every event of one complaint.
MAX_EVENT_IDS = 64


class Change(Enum):
    DUPLICATE = "duplicate"  # event_id seen before: nothing changes
    CREATED = "created"  # the complaint is now known and open
    HELD = "held"  # a resolution waits for its created event
    NOTED = "noted"  # a lifecycle event v1 pairing does not measure (assigned, rated, ...)
    RESOLVED = "resolved"  # a resolution was measured (may come with CREATED)
    REJECTED = "rejected"  # the event contradicts the complaint's state


@dataclass
class ComplaintRecord:
    """What the worker remembers about one complaint. Holds no personal data."""

    unit: str | None = None
    created_at: float | None = None  # epoch seconds of the created event's occurred_at
    resolved_at: float | None = None  # epoch seconds of the measured/held resolution
    resolved_event_id: str | None = None
    measured: bool = False
    event_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "u": self.unit,
            "c": self.created_at,
            "r": self.resolved_at,
            "re": self.resolved_event_id,
            "m": self.measured,
            "e": self.event_ids,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ComplaintRecord:
        if not data:
            return cls()
        return cls(
            unit=data["u"],
            created_at=data["c"],
            resolved_at=data["r"],
            resolved_event_id=data["re"],
            measured=data["m"],
            event_ids=list(data["e"]),
        )


@dataclass(frozen=True)
class Resolution:
    """A measured complaint: what the scores and the resolution histogram are made of."""

    complaint_id: str
    unit: str
    created_at: float
    resolved_at: float
    resolved_event_id: str

    @property
    def resolution_seconds(self) -> float:
        # Rounded to the microsecond, the precision of the timestamps themselves.
        return round(self.resolved_at - self.created_at, 6)


@dataclass(frozen=True)
class Applied:
    changes: tuple[Change, ...]
    unit: str | None = None
    resolution: Resolution | None = None
    reason: str | None = None  # with REJECTED


DUPLICATE = Applied(changes=(Change.DUPLICATE,))


def apply_event(record: ComplaintRecord, event: ComplaintEvent) -> Applied:
    """Apply one valid event to a complaint's record (mutated in place)."""
    if event.event_id in record.event_ids:
        return DUPLICATE
    occurred_at = event.occurred_at.timestamp()
    if event.type == "created":
        applied = _apply_created(record, event, occurred_at)
    elif event.type == "resolved":
        applied = _apply_resolved(record, event, occurred_at)
    else:
        applied = Applied(changes=(Change.NOTED,))
    if Change.REJECTED not in applied.changes:
        record.event_ids.append(event.event_id)
        del record.event_ids[:-MAX_EVENT_IDS]
    return applied


def _apply_created(record: ComplaintRecord, event: ComplaintEvent, occurred_at: float) -> Applied:
    if record.created_at is not None:
        return Applied(changes=(Change.REJECTED,), unit=record.unit, reason="duplicate_created")
    if record.resolved_at is not None and record.resolved_at < occurred_at:
        return Applied(
            changes=(Change.REJECTED,), unit=event.unit, reason="resolved_before_created"
        )
    record.unit = event.unit
    record.created_at = occurred_at
    if record.resolved_at is None:
        return Applied(changes=(Change.CREATED,), unit=record.unit)
    return Applied(
        changes=(Change.CREATED, Change.RESOLVED),
        unit=record.unit,
        resolution=_measure(record, event.complaint_id),
    )


def _apply_resolved(record: ComplaintRecord, event: ComplaintEvent, occurred_at: float) -> Applied:
    if record.resolved_at is not None:
        return Applied(changes=(Change.REJECTED,), unit=record.unit, reason="already_resolved")
    if record.created_at is not None and occurred_at < record.created_at:
        return Applied(
            changes=(Change.REJECTED,), unit=record.unit, reason="resolved_before_created"
        )
    record.resolved_at = occurred_at
    record.resolved_event_id = event.event_id
    if record.created_at is None:
        return Applied(changes=(Change.HELD,))
    return Applied(
        changes=(Change.RESOLVED,),
        unit=record.unit,
        resolution=_measure(record, event.complaint_id),
    )


def _measure(record: ComplaintRecord, complaint_id: str) -> Resolution:
    assert record.unit is not None and record.created_at is not None
    assert record.resolved_at is not None and record.resolved_event_id is not None
    record.measured = True
    return Resolution(
        complaint_id=complaint_id,
        unit=record.unit,
        created_at=record.created_at,
        resolved_at=record.resolved_at,
        resolved_event_id=record.resolved_event_id,
    )
