"""Event contract v1 (and its lifecycle additions): complaint events on `complaint-events`.

Key: the complaint_id as UTF-8. Value: a UTF-8 JSON object validated by `ComplaintEvent`.
The JSON Schema file beside this module (complaint-event.v1.schema.json) is generated from
this model (`sigap schema`) so that apps not written in Python can validate too; a test
keeps the two identical.

Unknown fields are accepted and dropped on parsing: the app may send a reporter's name,
phone number or the complaint text, and none of it may travel further than this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

MAX_MESSAGE_BYTES = 64 * 1024
UNIT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

EventType = Literal[
    "created",
    "assigned",
    "handed_over",
    "responded",
    "paused",
    "resumed",
    "resolved",
    "reopened",
    "closed",
    "rated",
]
Priority = Literal["low", "normal", "high", "urgent"]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]
UnitCode = Annotated[str, StringConstraints(pattern=UNIT_PATTERN)]
# A pseudonymous officer code: the unit-code pattern (lower-case letters, digits, `_`, `-`;
# no spaces, no control characters), never a name or an employee number. The mapping to
# people stays in the city's HR system.
OfficerCode = Annotated[str, StringConstraints(pattern=UNIT_PATTERN)]
# The types on which `officer` says who received, took, or acted on the complaint.
OFFICER_EVENT_TYPES = frozenset({"created", "assigned", "handed_over", "responded", "resolved"})
ShortLabel = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ComplaintEvent(BaseModel):
    """One complaint lifecycle event (contract v1)."""

    # strict: a number is not a timestamp and "3" is not a rating; extra fields are dropped.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_id: Identifier = Field(description="Unique per event; a repeated event_id is ignored.")
    type: EventType
    complaint_id: Identifier
    occurred_at: AwareDatetime = Field(
        description="RFC 3339 timestamp with offset: event time, used by all KPI arithmetic."
    )
    unit: UnitCode | None = Field(
        default=None,
        description="The responsible work unit (OPD); required on `created` and `assigned` "
        "(the unit the complaint is transferred to).",
    )
    category: ShortLabel | None = None
    channel: ShortLabel | None = None
    priority: Priority = "normal"
    reason: ShortLabel | None = Field(
        default=None, description="On `assigned`: why, e.g. `not_our_authority`."
    )
    rating: Annotated[int, Field(ge=1, le=5)] | None = Field(
        default=None, description="On `rated`: the citizen's rating, 1 to 5."
    )
    officer: OfficerCode | None = Field(
        default=None,
        description="Pseudonymous officer code (never a name or an employee number): on "
        "`created` who received the complaint, on `assigned` who takes it at the receiving "
        "unit, on `responded` and `resolved` who acted; required on `handed_over` (the "
        "officer of the same unit who takes the complaint over). Ignored on other types.",
    )

    @model_validator(mode="after")
    def _required_per_type(self) -> ComplaintEvent:
        if self.type in ("created", "assigned") and self.unit is None:
            raise ValueError(f"unit is required on a {self.type} event")
        if self.type == "rated" and self.rating is None:
            raise ValueError("rating is required on a rated event")
        if self.type == "handed_over" and self.officer is None:
            raise ValueError("officer is required on a handed_over event")
        return self

    @property
    def occurred_at_epoch(self) -> float:
        return self.occurred_at.timestamp()


class EventRejected(ValueError):
    """An event that cannot be counted; `reason` is a short, bounded code (a metric label)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _reason_from(error: ValidationError) -> EventRejected:
    first = error.errors(include_input=False, include_url=False)[0]
    kind = first["type"]
    field = ".".join(str(part) for part in first["loc"]) or "value"
    if kind == "json_invalid":
        return EventRejected("not_json")
    if kind in ("model_type", "model_attributes_type"):
        return EventRejected("not_object")
    if kind == "missing":
        return EventRejected(f"missing_{field}")
    if field == "type" and kind == "literal_error":
        return EventRejected("unknown_type")
    if field == "occurred_at" and kind == "timezone_aware":
        return EventRejected("timestamp_without_offset")
    if kind == "value_error" and not first["loc"]:
        message = first["msg"]
        missing = "rating" if "rating" in message else "officer" if "officer" in message else "unit"
        return EventRejected(f"missing_{missing}")
    # Messages from pydantic echo no input here (include_input=False): safe to keep as detail.
    return EventRejected(f"invalid_{field}", first["msg"])


def parse_event(raw: bytes) -> ComplaintEvent:
    """Parse and validate one message value; raises EventRejected with a reason code."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise EventRejected("too_large")
    try:
        return ComplaintEvent.model_validate_json(raw)
    except ValidationError as error:
        raise _reason_from(error) from None


EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
MAX_FUTURE_SECONDS = 86400.0


def check_event_time(event: ComplaintEvent, reference_epoch: float | None) -> None:
    """Reject event times no complaint app can have produced.

    `reference_epoch` is the Kafka record's timestamp (or the replay's start), never a clock
    read here: an event more than a day ahead of it, or before the year 2000, is rejected.
    """
    occurred_at = event.occurred_at.timestamp()
    if occurred_at < EARLIEST_OCCURRED_AT:
        raise EventRejected("occurred_at_before_2000")
    if reference_epoch is not None and occurred_at > reference_epoch + MAX_FUTURE_SECONDS:
        raise EventRejected("occurred_at_in_future")


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of contract v1, as published in schemas/."""
    schema = ComplaintEvent.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://sigap.surabaya.go.id/schemas/complaint-event.v1.schema.json"
    schema["title"] = "SIGAP complaint lifecycle event, contract v1"
    # The cross-field rules pydantic cannot express in the schema by itself.
    schema["allOf"] = [
        {
            "if": {"properties": {"type": {"enum": ["created", "assigned"]}}},
            "then": {"required": ["unit"], "properties": {"unit": {"type": "string"}}},
        },
        {
            "if": {"properties": {"type": {"const": "rated"}}},
            "then": {"required": ["rating"], "properties": {"rating": {"type": "integer"}}},
        },
        {
            "if": {"properties": {"type": {"const": "handed_over"}}},
            "then": {"required": ["officer"], "properties": {"officer": {"type": "string"}}},
        },
    ]
    return schema


def format_occurred_at(moment: datetime) -> str:
    """RFC 3339 text for an aware datetime, as publishers should write it."""
    if moment.tzinfo is None:
        raise ValueError("occurred_at must carry a UTC offset")
    return moment.isoformat()
