"""Personal data sent with the events goes nowhere but the dead-letter value (docs/contract.md:
a reporter's name, phone number or complaint text reaches none of the logs, the
metrics, the database or a dead-letter reason).

Valid events carry the data as unknown extra fields (flat and nested); invalid messages carry
it in the fields that make them invalid. After the worker and the score writer processed
everything, the test searches: both logs, a /metrics scrape, every row of every table of the
SQLite database (and the database files' bytes), `sigap scores`, `sigap replay` of the same
messages, the dead-letter reasons and `sigap dlq list`. The dead-letter *values* keep the
original bytes by design: the test checks the data is there, and only there.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.integration.processes import http_get, run_sigap, running_stack, wait_for
from tests.robustness.generator import Message
from tests.robustness.helpers import by_label, publish_raw, samples

pytestmark = pytest.mark.kafka

NAME = "Siti Rahayu Wulandari"
PHONE = "0812-3456-7890"
TEXT = "Tumpukan sampah di depan rumah nomor 17 Jalan Kenanga Barat"
SECRETS = (NAME, PHONE, TEXT, "Wulandari", "3456-7890", "Kenanga Barat")
PERSONAL = {"reporter_name": NAME, "reporter_phone": PHONE, "complaint_text": TEXT}


def ev(event_id: str, type_: str, cid: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "complaint_id": cid, "occurred_at": at, **extra}


def msg(value: dict[str, Any] | bytes, expected: str, key: str | None = None) -> Message:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    complaint = key if key is not None else str(value.get("complaint_id"))  # type: ignore[union-attr]
    return Message(complaint.encode(), raw, expected)


T0 = "2026-10-05T09:00:00+07:00"
VALID = [
    msg(ev("p1", "created", "pc1", T0, unit="dlh", **PERSONAL), "accepted"),
    msg(
        ev("p2", "responded", "pc1", "2026-10-05T09:30:00+07:00", reporter={"name": NAME}),
        "accepted",
    ),
    msg(ev("p3", "resolved", "pc1", "2026-10-05T11:00:00+07:00", notes=[TEXT, PHONE]), "accepted"),
    msg(
        ev("p4", "created", "pc2", T0, unit="dinkes", category="kesehatan", **PERSONAL), "accepted"
    ),
    msg(ev("p5", "resolved", "pc2", "2026-10-05T10:00:00+07:00", **PERSONAL), "accepted"),
    msg(ev("p6", "created", "pc3", T0, unit="opd-baru", reporter_name=NAME), "accepted"),
]
INVALID = [
    msg(b'{"event_id": "x1", "reporter_name": "' + NAME.encode() + b'", ', "not_json", "pc9"),
    msg(b"[" + orjson.dumps(PERSONAL) + b"]", "not_object", "pc9"),
    msg(ev("x2", "created", "pc9", T0, unit="dlh", complaint_text=TEXT * 1200), "too_large"),
    msg(ev("x3", "created", "pc9", T0, unit="dlh", priority=NAME, **PERSONAL), "invalid_priority"),
    msg(ev("x4", PHONE, "pc9", T0, **PERSONAL), "unknown_type"),
    msg(ev("x5", "created", "pc9", TEXT, unit="dlh"), "invalid_occurred_at"),
    msg(ev("x6", "created", "pc9", T0, unit=NAME), "invalid_unit"),
    msg(ev("x7", "created", "pc9", T0, unit="dlh", category=TEXT * 3), "invalid_category"),
    msg(
        ev("x8", "created", "pc9", "2026-10-05T09:00:00", unit="dlh", **PERSONAL),
        "timestamp_without_offset",
    ),
    msg(ev("x9", "rated", "pc9", T0, rating=PHONE, **PERSONAL), "invalid_rating"),
    msg(ev(PHONE * 20, "created", "pc9", T0, unit="dlh"), "invalid_event_id"),
    msg(ev("x10", "created", "pc9", T0, **PERSONAL), "missing_unit"),
    msg(ev("x11", "created", "pc8", T0, unit="dlh", **PERSONAL), "key_mismatch", "pc9"),
    msg(ev("p2", "responded", "pc1", T0, **PERSONAL), "duplicate_event_id"),
    msg(ev("x12", "created", "pc1", T0, unit="dlh", **PERSONAL), "duplicate_created"),
    msg(
        ev("x13", "resolved", "pc2", "2026-10-05T08:00:00+07:00", **PERSONAL),
        "resolved_before_created",
    ),
    msg({"reporter_name": NAME, "reporter_phone": PHONE}, "missing_event_id", "pc9"),
]
MESSAGES = VALID + INVALID


def assert_clean(where: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    leaked = [secret for secret in SECRETS if secret.encode() in data]
    assert not leaked, f"personal data {leaked} in {where}"


def dump_database(path: Path) -> str:
    """Every row of every table, as text."""
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        assert {"unit_scores", "unit_complaint_views"} <= set(tables), tables
        lines = []
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                lines.append(f"{table}: {row!r}")
        return "\n".join(lines)
    finally:
        connection.close()


def dead_letters(
    bootstrap: str, topic: str
) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        found = []
        while any(consumer.position(tp) < end[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000).values():
                found += [(r.key, r.value, list(r.headers or [])) for r in records]
        return found
    finally:
        consumer.close()


def test_personal_data_goes_nowhere(kafka_bootstrap: str, tmp_path: Path) -> None:
    expected_rejected: dict[str, int] = {}
    for message in INVALID:
        expected_rejected[message.expected] = expected_rejected.get(message.expected, 0) + 1
    app_id = f"sigap-privacy-{uuid.uuid4().hex[:8]}"
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SIGAP_APP_ID": app_id}
    with running_stack(env, tmp_path) as stack:
        # Valid events first (in their keys' order), then the invalid ones about them.
        publish_raw(kafka_bootstrap, stack.env["SIGAP_EVENTS_TOPIC"], VALID)
        publish_raw(kafka_bootstrap, stack.env["SIGAP_EVENTS_TOPIC"], INVALID)

        def counted(text: str) -> bool:
            found = samples(text) if text else {}
            rejected = {
                k: int(v)
                for k, v in by_label(found, "sigap_events_rejected_total", "reason").items()
                if v
            }
            return (
                found.get(("sigap_events_processed_total", ()), 0) == len(VALID)
                and rejected == expected_rejected
                and by_label(found, "sigap_complaints_resolved_total", "unit").get("dinkes") == 1.0
                and by_label(found, "sigap_complaints_resolved_total", "unit").get("dlh") == 1.0
            )

        metrics = wait_for(lambda: http_get(stack.metrics_url), counted, 180, "the events")
        assert counted(metrics), metrics[-3000:]

        def scores() -> list[dict[str, Any]]:
            result = run_sigap(["scores", "--format", "json"], stack.env)
            assert result.returncode == 0, result.stderr
            return [
                row
                for row in json.loads(result.stdout)
                if row["period"] == "day" and row["resolved"]
            ]

        rows = wait_for(scores, lambda r: len(r) == 2, 120, "the scores of dlh and dinkes")
        assert sorted(row["unit"] for row in rows) == ["dinkes", "dlh"]
        assert_clean("/metrics", metrics)
        api_base = stack.metrics_url.removesuffix("/metrics")
        for path in ("/api/units", "/api/units/dlh/kpis", "/api/units/dinkes/kpis", "/api/scores"):
            body = http_get(api_base + path)
            assert '"unit"' in body or '"units"' in body, (path, body[:500])
            assert_clean(f"GET {path}", body)
        letters = dead_letters(kafka_bootstrap, stack.env["SIGAP_EVENTS_TOPIC"] + ".dlq")
        listed = run_sigap(["dlq", "list"], stack.env)
        outputs = {
            "sigap scores --format json": run_sigap(
                ["scores", "--format", "json", "--all-revisions"], stack.env
            ),
            "sigap scores": run_sigap(["scores", "--all-revisions"], stack.env),
            "sigap dlq list": listed,
            "sigap verify": run_sigap(
                ["verify", "--period", "2026-10", "--format", "json"], stack.env
            ),
        }
    # After the stack stopped: the logs are complete, the database closed.
    assert_clean("worker log", stack.worker.log_text())
    assert_clean("score writer log", stack.score_writer.log_text())
    assert "event rejected: reason=invalid_priority" in stack.worker.log_text()
    database_dump = dump_database(stack.database)
    assert "pc1" in database_dump and "dinkes" in database_dump  # the dump has the rows
    assert_clean("database rows", database_dump)
    for file in stack.database.parent.glob(stack.database.name + "*"):
        assert_clean(f"database file {file.name}", file.read_bytes())

    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(b"\n".join(m.value for m in MESSAGES if b"\n" not in m.value) + b"\n")
    for fmt in ("table", "json"):
        outputs[f"sigap replay --format {fmt}"] = run_sigap(
            ["replay", "--format", fmt, str(events_file)], stack.env
        )
    for unit_args in (["--unit", "dlh"], ["--unit", "dinkes"], ["--all-units"]):
        for fmt in ("html", "md", "csv"):
            report = run_sigap(
                ["report", *unit_args, "--period", "2026-10", "--format", fmt], stack.env
            )
            outputs[f"sigap report {' '.join(unit_args)} --format {fmt}"] = report
    assert "dinkes" in outputs["sigap report --unit dinkes --format md"].stdout
    for what, result in outputs.items():
        assert result.returncode == 0, (what, result.stderr)
        assert_clean(f"{what} stdout", result.stdout)
        assert_clean(f"{what} stderr", result.stderr)
    assert "pc9" in listed.stdout and "invalid_priority" in listed.stdout

    # Dead letters: the reasons are clean; the values are the original bytes, unchanged.
    assert len(letters) == len(INVALID)
    published_invalid = sorted(m.value for m in INVALID)
    assert sorted(value for _, value, _ in letters) == published_invalid
    reasons = {}
    for _, value, headers in letters:
        for name, header_value in headers:
            assert_clean(f"dead-letter header {name}", header_value)
        reasons[value] = dict(headers)["sigap-reason"].decode()
    assert {m.value: m.expected for m in INVALID} == reasons
    assert sum(any(s.encode() in v for s in SECRETS) for _, v, _ in letters) >= 14
