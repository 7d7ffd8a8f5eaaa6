"""`sigap verify --source topic` on a real broker: events published with `sigap publish`,
scored by the real worker and score writer, then recomputed from the events topic."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from sqlalchemy import text

from sigap.event_log import TopicReport, read_topic_events
from sigap.settings import Settings
from sigap.storage.database import make_engine
from sigap.storage.score_queries import score_rows
from sigap.topics import ensure_topics
from tests.conftest import SASL_PASSWORD, SASL_USER, KafkaBroker
from tests.integration.processes import Stack, run_sigap, running_stack, wait_for

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


def ev(event_id: str, type_: str, complaint_id: str, local: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "complaint_id": complaint_id,
        "occurred_at": f"2026-11-{local}:00+07:00",
        **extra,
    }


EVENTS = [
    ev("a1", "created", "c1", "02T09:00", unit="dlh", category="sampah", reporter="Siti"),
    ev("a2", "responded", "c1", "02T10:00"),
    ev("a3", "resolved", "c1", "02T11:30"),
    ev("b1", "created", "c2", "02T10:00", unit="dlh"),
    ev("b2", "resolved", "c2", "02T10:20"),
    ev("c1", "created", "c3", "02T12:00", unit="dlh"),  # left open: misses its targets
    ev("d2", "resolved", "c4", "03T13:30"),  # published before its created
    ev("d1", "created", "c4", "03T10:00", unit="dsda"),
    ev("d2", "resolved", "c4", "03T13:30"),  # a repeated event_id: rejected
    # Transferred, responded, paused, resolved, reopened, resolved again, rated.
    ev("f1", "created", "c5", "02T09:00", unit="dishub"),
    ev("f2", "assigned", "c5", "02T10:00", unit="satpol-pp", reason="not_our_authority"),
    ev("f3", "responded", "c5", "02T11:00"),
    ev("f4", "paused", "c5", "02T12:00"),
    ev("f5", "resumed", "c5", "04T12:00"),
    ev("f6", "resolved", "c5", "05T10:00"),
    ev("f7", "reopened", "c5", "06T09:00"),
    ev("f8", "resolved", "c5", "06T15:00"),
    ev("f9", "rated", "c5", "06T16:00", rating=4),
]
NOT_JSON = b'{"event_id": "broken", "type": '
# Hand-counted from EVENTS, for November and every category: columns that do not depend
# on the watermark, so that all of them being stored means every event was scored.
EXPECTED_MONTH = {
    "dlh": {"received": 3, "responded": 2, "resolved": 2, "transfers_away": 0, "rating_count": 0},
    "dsda": {"received": 1, "responded": 1, "resolved": 1, "transfers_away": 0, "rating_count": 0},
    "dishub": {
        "received": 1,
        "responded": 0,
        "resolved": 0,
        "transfers_away": 1,
        "rating_count": 0,
    },
    "satpol-pp": {
        "received": 0,
        "responded": 1,
        "resolved": 1,
        "transfers_away": 0,
        "rating_count": 1,
    },
}


@pytest.fixture
def stack(kafka_bootstrap: str, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """The worker and the score writer, on SQLite and on a real PostgreSQL."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
    with running_stack(env, tmp_path) as started:
        yield started


def verify(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_sigap(["verify", "--source", "topic", "--format", "json", *args], env)
    report = json.loads(result.stdout) if result.returncode in (0, 1) else {}
    return result.returncode, report, result.stderr


def test_the_topic_reader_admits_messages_as_the_worker_does(kafka_bootstrap: str) -> None:
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        events_topic=f"test-{uuid.uuid4().hex[:8]}-events",
        topic_partitions=3,
    )
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent = []
    for number in range(12):
        event = ev(f"e{number}", "created", f"c{number}", "02T09:00", unit="dlh")
        producer.send(settings.events_topic, key=f"c{number}".encode(), value=orjson.dumps(event))
        sent.append(f"e{number}")
    # No key: one complaint's events could land on several partitions (missing_key).
    keyless = ev("k1", "created", "keyless", "02T09:00", unit="dlh")
    producer.send(settings.events_topic, value=orjson.dumps(keyless))
    wrong_key = ev("w1", "created", "c1", "02T09:00", unit="dlh")
    producer.send(settings.events_topic, key=b"c2", value=orjson.dumps(wrong_key))
    producer.send(settings.events_topic, key=b"x", value=NOT_JSON)
    # The producer claims a record timestamp a day ahead; the topic keeps the broker's
    # append time instead, and an event ten minutes ahead of that is rejected.
    now = time.time()
    claimed_ms = int((now + 86400) * 1000)
    future = {
        **ev("t1", "created", "future", "03T09:00", unit="dlh"),
        "occurred_at": datetime.fromtimestamp(now + 600, UTC).isoformat(),
    }
    producer.send(
        settings.events_topic, key=b"future", value=orjson.dumps(future), timestamp_ms=claimed_ms
    )
    # A producer's clock a minute fast: within the tolerance (5 minutes), accepted.
    edge = {
        **ev("t2", "created", "edge", "03T09:00", unit="dlh"),
        "occurred_at": datetime.fromtimestamp(now + 60, UTC).isoformat(),
    }
    producer.send(
        settings.events_topic, key=b"edge", value=orjson.dumps(edge), timestamp_ms=claimed_ms
    )
    sent.append("t2")
    producer.flush()
    producer.close()

    report = TopicReport(settings.events_topic)
    read = [event.event_id for event in read_topic_events(settings, report)]
    assert sorted(read) == sorted(sent)
    assert report.messages == len(sent) + 4
    assert report.rejected == {
        "key_mismatch": 1,
        "missing_key": 1,
        "not_json": 1,
        "occurred_at_in_future": 1,
    }
    assert sorted(report.end_offsets) == [0, 1, 2]
    assert sum(report.end_offsets.values()) == report.messages
    # Nothing was committed: a reader has no group, and a second read sees it all again.
    again = TopicReport(settings.events_topic)
    assert sorted(e.event_id for e in read_topic_events(settings, again)) == sorted(sent)
    assert not again.truncated

    # Retention deleted the oldest message of a partition: the reader says so.
    busiest = max(again.end_offsets, key=lambda p: again.end_offsets[p])
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.delete_records({TopicPartition(settings.events_topic, busiest): 1})
    admin.close()
    after = TopicReport(settings.events_topic)
    assert len(list(read_topic_events(settings, after))) < len(sent)
    assert after.truncated and after.start_offsets[busiest] == 1
    assert after.messages == report.messages - 1


def test_verify_from_the_topic(stack: Stack, kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS) + NOT_JSON + b"\n")
    published = run_sigap(["publish", "--no-validate", str(events_file)], stack.env)
    assert published.returncode == 0, published.stderr

    engine = make_engine(stack.env["DATABASE_URL"])

    def month() -> dict[str, dict[str, Any]]:
        rows = score_rows(engine, period="month", category="*", start=date(2026, 11, 1))
        return {row["unit"]: {k: row[k] for k in EXPECTED_MONTH["dlh"]} for row in rows}

    stored = wait_for(month, lambda m: m == EXPECTED_MONTH, 180, "the month's scores")
    assert stored == EXPECTED_MONTH

    for period in ("2026-11", "2026-W45", "2026-11-02", "2026-11-03", "2026-11-05", "2026-Q4"):
        code, report, stderr = verify(stack.env, "--period", period)
        assert (code, report.get("differences")) == (0, []), (period, stderr)
        assert report["stored_rows"] == report["recomputed_rows"] > 0
        # The worker's reasons for rejecting messages, found again by the reader.
        assert report["rejected"] == {"duplicate_event_id": 1, "not_json": 1}
        assert report["accepted"] == len(EVENTS) - 1

    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE unit_scores SET received = 7 WHERE unit = 'dlh' AND category = '*' "
                "AND period = 'month' AND period_start = :start"
            ),
            {"start": date(2026, 11, 1)},
        )
    code, report, stderr = verify(stack.env, "--period", "2026-11")
    assert code == 1, stderr
    assert [
        (d["unit"], d["category"], d["column"], d["stored"], d["recomputed"])
        for d in report["differences"]
    ] == [("dlh", "*", "received", 7, 3)]
    table = run_sigap(["verify", "--period", "2026-11"], stack.env)
    assert table.returncode == 1
    assert "received" in table.stdout and "dlh" in table.stdout
    assert "Siti" not in table.stdout + table.stderr  # personal data sent with an event

    # The same over the SASL listener, with the settings every client uses.
    assert kafka_broker.sasl_bootstrap is not None
    sasl = {
        **stack.env,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.sasl_bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": SASL_USER,
        "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
    }
    code, report, stderr = verify(sasl, "--period", "2026-W45")
    assert (code, report.get("differences")) == (0, []), stderr
    code, _, stderr = verify({**sasl, "KAFKA_SASL_PASSWORD": "wrong"}, "--period", "2026-W45")
    assert code == 2, stderr
    assert "KAFKA_SASL" in stderr and "wrong" not in stderr
    code, _, stderr = verify(
        {**stack.env, "SIGAP_EVENTS_TOPIC": "no-such-topic"}, "--period", "2026-11"
    )
    assert code == 2 and "no-such-topic" in stderr, stderr
