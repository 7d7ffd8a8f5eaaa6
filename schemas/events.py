"""Event contract v1 (and its lifecycle additions): complaint events on `complaint-events`.

Key: the complaint_id as UTF-8. Value: a UTF-8 JSON object validated by `ComplaintEvent`.
The JSON Schema file beside this module (complaint-event.v1.schema.json) is generated from
this model (`sigap schema`) so that apps not written in Python can validate too; a test
keeps the two identical.

Unknown fields are accepted and dropped on parsing: the app may send a reporter's name,
phone number or the complaint text, and none of it may travel further than this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

MAX_MESSAGE_BYTES = 64 * 1024
UNIT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# Any stored or keyed text (ids, labels): no control character (C0, DEL, C1). PostgreSQL
# refuses NUL in text, terminals and logs misread the others. Valid in Rust regex (pydantic)
# and ECMA-262 (JSON Schema) alike.
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
# The unit label value standing for every code not in the registry (metrics.names.UNKNOWN_UNIT):
# reserved, so a producer cannot send it and merge its complaints with unregistered units'.
RESERVED_UNIT: Final = "unknown"
# The contract's channel vocabulary: any other channel is read as "other" (free text sent
# there, a reporter's name or phone number say, goes no further than the parser).
CHANNELS: Final = frozenset({"wargaku", "media-sosial", "command-center-112", "surat"})
OTHER: Final = "other"
# Integers longer than this (in digits) are not numbers any field of the contract can hold:
# rejected as invalid_<field> (not as not_json) without converting them.
MAX_INTEGER_DIGITS = 18

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
    # Causes and fairness controls (docs/causes.md).
    "extension_granted",
    "miss_explained",
    "objection_filed",
    "objection_decided",
    # Escalation ladder (core.escalation, docs/operations.md).
    "escalated",
]
TimerName = Literal["response", "resolution"]
Decision = Literal["upheld", "rejected"]
# An extension is bounded by the registry (default 7); this is the contract's hard cap.
MAX_EXTENSION_WORKING_DAYS = 60
Priority = Literal["low", "normal", "high", "urgent"]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=NO_CONTROL_PATTERN)
]
UnitCode = Annotated[str, StringConstraints(pattern=UNIT_PATTERN)]
# A pseudonymous officer code: the unit-code pattern (lower-case letters, digits, `_`, `-`;
# no spaces, no control characters), never a name or an employee number. The mapping to
# people stays in the city's HR system.
OfficerCode = Annotated[str, StringConstraints(pattern=UNIT_PATTERN)]
# The types on which `officer` says who received, took, or acted on the complaint
# (`extension_granted` may also carry one: who approved it; it acts on no complaint).
OFFICER_EVENT_TYPES = frozenset({"created", "assigned", "handed_over", "responded", "resolved"})
ShortLabel = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=NO_CONTROL_PATTERN)
]
# RFC 3339 allows a leap second (second 60); Python's datetime cannot hold one.
_LEAP_SECOND = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}):60(?:\.\d+)?(.*)$")


# Fields required per type, beyond the common ones (checked in this order).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "created": ("unit",),
    "assigned": ("unit",),
    "rated": ("rating",),
    "handed_over": ("officer",),
    "extension_granted": ("timer", "working_days", "reason"),
    "miss_explained": ("unit", "timer", "cause"),
    "objection_filed": ("unit", "timer"),
    "objection_decided": ("unit", "timer", "decision"),
    "escalated": ("level",),
}


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
        default=None,
        description="On `assigned`: why, e.g. `not_our_authority`. On `paused` (optional) and "
        "`extension_granted` (required): a code of the registry's causes vocabulary.",
    )
    timer: TimerName | None = Field(
        default=None,
        description="On `extension_granted`, `miss_explained`, `objection_filed`, "
        "`objection_decided`: which timer.",
    )
    working_days: Annotated[int, Field(ge=1, le=MAX_EXTENSION_WORKING_DAYS)] | None = Field(
        default=None,
        description="On `extension_granted`: working days the holding unit's deadline moves.",
    )
    cause: ShortLabel | None = Field(
        default=None,
        description="On `miss_explained`: a code of the registry's causes vocabulary "
        "(no free text: it could carry personal data).",
    )
    decision: Decision | None = Field(
        default=None, description="On `objection_decided`: `upheld` or `rejected`."
    )
    level: UnitCode | None = Field(
        default=None,
        description="On `escalated` (required): the escalation ladder level the complaint "
        "went to, a code of the registry's `escalation.levels` (e.g. `kecamatan`, `dinas`, "
        "`walikota`).",
    )
    rating: Annotated[int, Field(ge=1, le=5)] | None = Field(
        default=None, description="On `rated`: the citizen's rating, 1 to 5."
    )
    officer: OfficerCode | None = Field(
        default=None,
        description="Pseudonymous officer code (never a name or an employee number): on "
        "`created` who received the complaint, on `assigned` who takes it at the receiving "
        "unit, on `responded` and `resolved` who acted; required on `handed_over` (the "
        "officer of the same unit who takes the complaint over); optional on "
        "`extension_granted` (who approved the extension). Ignored on other types.",
    )

    @field_validator("unit")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value == RESERVED_UNIT:
            raise ValueError(f"{RESERVED_UNIT!r} is reserved for codes not in the registry")
        return value

    @model_validator(mode="after")
    def _required_per_type(self) -> ComplaintEvent:
        for name in REQUIRED_FIELDS.get(self.type, ()):
            if getattr(self, name) is None:
                raise ValueError(f"{name} is required on a {self.type} event")
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
        found = re.search(r"(\w+) is required on", first["msg"])
        return EventRejected(f"missing_{found.group(1) if found else 'value'}")
    # Messages from pydantic echo no input here (include_input=False): safe to keep as detail.
    return EventRejected(f"invalid_{field}", first["msg"])


class _DuplicateKey(ValueError):
    pass


class _TooLong:
    """An integer literal of more than MAX_INTEGER_DIGITS digits (never converted)."""


_TOO_LONG = _TooLong()
_FIELDS: Final = frozenset(ComplaintEvent.model_fields)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def _bounded_int(text: str) -> int | _TooLong:
    if len(text) > MAX_INTEGER_DIGITS + 1:  # + 1: a sign
        return _TOO_LONG
    return int(text)


def _not_a_number(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")  # NaN, Infinity, -Infinity


def _holds_too_long(value: Any) -> bool:
    if value is _TOO_LONG:
        return True
    if isinstance(value, list):
        return any(_holds_too_long(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_too_long(item) for item in value.values())
    return False


def parse_event(raw: bytes, *, categories: Collection[str] | None = None) -> ComplaintEvent:
    """Parse and validate one message value; raises EventRejected with a reason code.

    The one parser of the contract: the worker, `sigap publish`, replay and verify all use
    it, so one message gets one verdict everywhere (docs/contract.md, "Edges"):
    - not strict JSON (NaN, Infinity, bad UTF-8, ...): `not_json`; a key twice in one
      object (where parsers disagree on which wins): `duplicate_key`;
    - an integer of more than MAX_INTEGER_DIGITS digits: `invalid_<field>`;
    - `channel` outside CHANNELS, and `category` outside `categories` (the registry's, when
      given), become "other": free text goes no further than this function.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise EventRejected("too_large")
    try:
        data = json.loads(
            raw,
            object_pairs_hook=_object_without_duplicates,
            parse_int=_bounded_int,
            parse_constant=_not_a_number,
        )
    except _DuplicateKey:
        raise EventRejected("duplicate_key") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise EventRejected("not_json") from None
    if not isinstance(data, dict):
        raise EventRejected("not_object")
    known = {}
    for name, value in data.items():
        if name in _FIELDS:
            if _holds_too_long(value):
                raise EventRejected(f"invalid_{name}", "integer too long")
            known[name] = value
    occurred_at = known.get("occurred_at")
    if isinstance(occurred_at, str):
        # A leap second (`...T23:59:60Z`, valid RFC 3339) is read as the last microsecond
        # before it: Python's datetime cannot hold second 60.
        leap = _LEAP_SECOND.match(occurred_at)
        if leap is not None:
            known["occurred_at"] = f"{leap.group(1)}:59.999999{leap.group(2)}"
    try:
        event = ComplaintEvent.model_validate_json(orjson.dumps(known))
    except ValidationError as error:
        raise _reason_from(error) from None
    return _mapped(event, categories)


def _mapped(event: ComplaintEvent, categories: Collection[str] | None) -> ComplaintEvent:
    changes: dict[str, str] = {}
    if event.channel is not None and event.channel not in CHANNELS:
        changes["channel"] = OTHER
    category = event.category
    if categories is not None and category is not None and category not in categories:
        changes["category"] = OTHER
    return event.model_copy(update=changes) if changes else event


EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
# How far an event may be dated ahead of the clock it is checked against (the broker's
# append time of its record, or the processing wall clock): producers' clocks drift a little,
# and no more is allowed, because one future-dated event would advance the watermark and
# count other complaints' deadlines as missed (docs/contract.md, "Event time").
MAX_FUTURE_SECONDS = 300.0


def check_event_time(event: ComplaintEvent, reference_epoch: float | None) -> None:
    """Reject event times no complaint app can have produced.

    `reference_epoch` is a clock the producer cannot set: the broker's append time of the
    record (topics with LogAppendTime), the processing wall clock, or the replay's start;
    never a clock read here. An event more than MAX_FUTURE_SECONDS ahead of it, or before
    the year 2000, is rejected.
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
    # The reserved unit code (the model's validator).
    schema["properties"]["unit"]["not"] = {"const": RESERVED_UNIT}
    # The cross-field rules pydantic cannot express in the schema by itself.
    types_by_required: dict[tuple[str, ...], list[str]] = {}
    for kind, names in REQUIRED_FIELDS.items():
        types_by_required.setdefault(names, []).append(kind)
    schema["allOf"] = [
        {
            "if": {
                "properties": {"type": {"enum": kinds} if len(kinds) > 1 else {"const": kinds[0]}}
            },
            "then": {
                "required": list(names),
                "properties": {name: {"not": {"type": "null"}} for name in names},
            },
        }
        for names, kinds in types_by_required.items()
    ]
    return schema


def format_occurred_at(moment: datetime) -> str:
    """RFC 3339 text for an aware datetime, as publishers should write it."""
    if moment.tzinfo is None:
        raise ValueError("occurred_at must carry a UTC offset")
    return moment.isoformat()


def admit_message(
    key: bytes | None,
    value: bytes | None,
    reference_epoch: float | None,
    *,
    categories: Collection[str] | None = None,
) -> ComplaintEvent:
    """The worker's whole admission of one message, or EventRejected with its reason: the
    event parses (`parse_event`), the message has a key (`missing_key`: a keyless message
    could put one complaint's events on several partitions, with separate states) and it
    is the complaint_id (`key_mismatch`), and its time passes `check_event_time`.

    The worker, `sigap publish` (before it sends; the key it sends is the complaint_id
    parsed here), and `sigap verify` all call this: one message, one verdict.
    """
    event = parse_event(value if value is not None else b"", categories=categories)
    if key is None:
        raise EventRejected("missing_key")
    if key != event.complaint_id.encode():
        raise EventRejected("key_mismatch")
    check_event_time(event, reference_epoch)
    return event
