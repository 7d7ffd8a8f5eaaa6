"""`sigap publish` validates each line with the worker's own admission (one verdict)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from sigap.publisher import key_of, validate_lines

NOW = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
GOOD = {
    "event_id": "e1",
    "type": "created",
    "complaint_id": "c1",
    "occurred_at": "2026-11-02T09:00:00+07:00",
    "unit": "dlh",
}


def _lines(*events: bytes) -> list[tuple[int, bytes]]:
    return list(enumerate(events, start=1))


def test_publish_validation_applies_the_workers_time_rules() -> None:
    lines = _lines(
        orjson.dumps(GOOD),
        orjson.dumps({**GOOD, "occurred_at": "1999-12-31T23:59:59Z"}),
        orjson.dumps({**GOOD, "occurred_at": "9999-12-31T23:59:59Z"}),
    )
    invalid = validate_lines(lines, now_epoch=NOW)
    assert [(i.line_number, i.reason) for i in invalid] == [
        (2, "occurred_at_before_2000"),
        (3, "occurred_at_in_future"),
    ]


def test_a_line_the_worker_cannot_key_is_not_valid_for_publish() -> None:
    # pydantic alone accepted NaN in an extra field while orjson gave no key: the worker
    # would then have received a keyless message.
    nan_line = orjson.dumps(GOOD)[:-1] + b',"x":NaN}'
    duplicate = orjson.dumps(GOOD)[:-1] + b',"complaint_id":"c2"}'
    invalid = validate_lines(_lines(nan_line, duplicate), now_epoch=NOW)
    assert [i.reason for i in invalid] == ["not_json", "duplicate_key"]
    assert key_of(nan_line) is None and key_of(duplicate) is None
    assert key_of(orjson.dumps(GOOD)) == b"c1"
