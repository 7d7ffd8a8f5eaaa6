"""The event contract: the pydantic model, the shipped JSON Schema, and rejection reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import jsonschema
import orjson
import pytest

from schemas.events import MAX_MESSAGE_BYTES, EventRejected, event_json_schema, parse_event

SHIPPED = json.loads((files("schemas") / "complaint-event.v1.schema.json").read_text())

VALID: list[dict[str, Any]] = [
    {
        "event_id": "e1",
        "type": "created",
        "complaint_id": "c1",
        "occurred_at": "2026-11-02T09:00:00+07:00",
        "unit": "dlh",
        "category": "sampah",
        "channel": "wargaku",
        "priority": "high",
        "reporter_name": "dropped on parsing",
    },
    {
        "event_id": "e2",
        "type": "resolved",
        "complaint_id": "c1",
        "occurred_at": "2026-11-02T02:00:00Z",
    },
    {
        "event_id": "e3",
        "type": "assigned",
        "complaint_id": "c1",
        "occurred_at": "2026-11-02T10:00:00+07:00",
        "unit": "dsda",
        "reason": "not_our_authority",
    },
    {
        "event_id": "e4",
        "type": "rated",
        "complaint_id": "c1",
        "occurred_at": "2026-11-05T10:00:00+07:00",
        "rating": 4,
    },
]

# (event, reason) pairs: each is invalid for the model and for the JSON Schema alike.
INVALID: list[tuple[Any, str]] = [
    ([1, 2], "not_object"),
    ({"type": "created"}, "missing_event_id"),
    ({**VALID[0], "type": "archived"}, "unknown_type"),
    ({**VALID[0], "occurred_at": "2026-11-02T09:00:00"}, "timestamp_without_offset"),
    ({**VALID[0], "occurred_at": 1700000000}, "invalid_occurred_at"),
    ({**VALID[0], "unit": "Dinas LH"}, "invalid_unit"),
    ({k: v for k, v in VALID[0].items() if k != "unit"}, "missing_unit"),
    ({**VALID[0], "priority": "critical"}, "invalid_priority"),
    ({**VALID[0], "event_id": ""}, "invalid_event_id"),
    ({**VALID[3], "rating": 6}, "invalid_rating"),
    ({**VALID[3], "rating": "4"}, "invalid_rating"),
    ({k: v for k, v in VALID[3].items() if k != "rating"}, "missing_rating"),
    # Control characters in anything stored or keyed (PostgreSQL refuses NUL in text).
    ({**VALID[0], "complaint_id": "c-\u0000-1"}, "invalid_complaint_id"),
    ({**VALID[0], "event_id": "e\n1"}, "invalid_event_id"),
    ({**VALID[0], "category": "sampah\u0085"}, "invalid_category"),
    ({**VALID[0], "channel": "\u001bwargaku"}, "invalid_channel"),
    ({**VALID[2], "reason": "not\u007four"}, "invalid_reason"),
    # "unknown" stands for every unregistered unit: a producer may not send it.
    ({**VALID[0], "unit": "unknown"}, "invalid_unit"),
]


def test_shipped_schema_is_generated_from_the_model() -> None:
    assert event_json_schema() == SHIPPED


@pytest.mark.parametrize("event", VALID)
def test_valid_events_pass_model_and_schema(event: dict[str, Any]) -> None:
    parsed = parse_event(orjson.dumps(event))
    assert parsed.event_id == event["event_id"]
    assert "reporter_name" not in parsed.model_dump()
    jsonschema.validate(event, SHIPPED)


@pytest.mark.parametrize(("event", "reason"), INVALID)
def test_invalid_events_fail_model_and_schema(event: Any, reason: str) -> None:
    with pytest.raises(EventRejected) as rejected:
        parse_event(orjson.dumps(event))
    assert rejected.value.reason == reason
    if reason != "timestamp_without_offset":  # JSON Schema's date-time format is not asserted
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(event, SHIPPED)


def test_not_json_and_too_large() -> None:
    with pytest.raises(EventRejected) as not_json:
        parse_event(b'{"event_id": ')
    assert not_json.value.reason == "not_json"
    padding = "x" * MAX_MESSAGE_BYTES
    with pytest.raises(EventRejected) as too_large:
        parse_event(orjson.dumps({**VALID[0], "text": padding}))
    assert too_large.value.reason == "too_large"


def test_rejection_detail_never_echoes_the_input() -> None:
    secret = "Budi Santoso 081234567890"
    with pytest.raises(EventRejected) as rejected:
        parse_event(orjson.dumps({**VALID[0], "category": secret * 5}))
    assert rejected.value.reason == "invalid_category"
    assert "Budi" not in str(rejected.value)


def test_event_time_sanity_against_the_record_timestamp() -> None:
    from schemas.events import check_event_time

    event = parse_event(orjson.dumps(VALID[0]))  # 2026-11-02T09:00:00+07:00
    at = event.occurred_at.timestamp()
    check_event_time(event, at + 5)  # normal: produced after it happened
    check_event_time(event, at - 300)  # a producer's clock 5 minutes fast is still accepted
    with pytest.raises(EventRejected) as future:
        check_event_time(event, at - 301)
    assert future.value.reason == "occurred_at_in_future"
    # The defect: a `created` dated 23 h 50 min ahead used to pass and advance the watermark.
    with pytest.raises(EventRejected):
        check_event_time(event, at - (23 * 3600 + 50 * 60))
    old = parse_event(orjson.dumps({**VALID[0], "occurred_at": "1999-12-31T23:59:59Z"}))
    with pytest.raises(EventRejected) as too_old:
        check_event_time(old, None)
    assert too_old.value.reason == "occurred_at_before_2000"


def _rated(**fields: Any) -> bytes:
    return orjson.dumps({**VALID[3], **fields})


def test_a_leap_second_is_read_as_the_last_microsecond_before_it() -> None:
    event = parse_event(_rated(occurred_at="2016-12-31T23:59:60Z"))
    assert event.occurred_at == datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    with_offset = parse_event(_rated(occurred_at="2017-01-01T06:59:60.25+07:00"))
    assert with_offset.occurred_at_epoch == pytest.approx(event.occurred_at_epoch)


def test_nanoseconds_are_truncated_to_microseconds() -> None:
    event = parse_event(_rated(occurred_at="2026-11-02T09:00:00.123456789+07:00"))
    assert event.occurred_at.microsecond == 123456
    assert event.occurred_at == datetime(2026, 11, 2, 2, 0, 0, 123456, tzinfo=UTC)


def test_a_five_thousand_digit_rating_is_an_invalid_rating_not_bad_json() -> None:
    raw = _rated().replace(b'"rating":4', b'"rating":' + b"4" * 5000)
    with pytest.raises(EventRejected) as rejected:
        parse_event(raw)
    assert rejected.value.reason == "invalid_rating"
    # In a field the contract does not have, the same number is dropped with the field.
    extra = _rated().replace(b'"rating":4', b'"rating":4,"x":' + b"9" * 5000)
    assert parse_event(extra).rating == 4


def test_duplicate_keys_are_rejected_whichever_value_would_win() -> None:
    for raw in (
        _rated().replace(b'"rating":4', b'"rating":4,"rating":5'),
        _rated().replace(b'"rating":4', b'"rating":4,"extra":{"a":1,"a":2}'),
    ):
        with pytest.raises(EventRejected) as rejected:
            parse_event(raw)
        assert rejected.value.reason == "duplicate_key"


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_not_json_even_in_dropped_fields(constant: bytes) -> None:
    with pytest.raises(EventRejected) as rejected:
        parse_event(_rated().replace(b'"rating":4', b'"rating":4,"x":' + constant))
    assert rejected.value.reason == "not_json"


def test_free_text_channel_and_category_become_other_in_the_parser() -> None:
    secret = "Budi Santoso 081234567890"
    event = parse_event(
        orjson.dumps({**VALID[0], "channel": secret, "category": secret}),
        categories={"sampah", "jalan"},
    )
    assert (event.channel, event.category) == ("other", "other")
    assert secret not in event.model_dump_json()
    known = parse_event(orjson.dumps(VALID[0]), categories={"sampah"})
    assert (known.channel, known.category) == ("wargaku", "sampah")
