"""The quarterly evidence pack from the events topic (`sigap evidence --source topic`), on a
real broker: the manifest's log range is the topic's offsets per partition; the pack equals
the one made from the same events in a file; `sigap verify --evidence DIR --source topic`
recomputes from exactly the recorded offsets, so events published later make no false
difference, while a changed byte is detected and the file named."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner, Result
from kafka import KafkaProducer

from schemas.events import ComplaintEvent
from sigap.cli import main
from sigap.settings import Settings
from sigap.topics import ensure_topics
from tests.officers.helpers import random_history

pytestmark = pytest.mark.kafka

START = datetime(2026, 10, 1, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
FILES = ("complaints.csv", "complaints.html", "form.csv", "form.html")


def histories(seed: int, prefix: str, count: int) -> list[ComplaintEvent]:
    rng = random.Random(seed)
    return [event for n in range(count) for event in random_history(rng, f"{prefix}{n}", START)]


def publish(bootstrap: str, topic: str, events: list[ComplaintEvent]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for event in events:
        body = orjson.dumps(event.model_dump(mode="json", exclude_none=True))
        producer.send(topic, key=event.complaint_id.encode(), value=body)
    producer.flush()
    producer.close()


def sigap(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_evidence_pack_from_the_topic_verifies_after_later_events_and_a_changed_byte_fails(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"test-{uuid.uuid4().hex[:8]}-events"
    ensure_topics(
        Settings(kafka_bootstrap_servers=kafka_bootstrap, events_topic=topic, topic_partitions=3)
    )
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SIGAP_EVENTS_TOPIC": topic}
    events = histories(5, "c", 120)
    publish(kafka_bootstrap, topic, events)

    pack = tmp_path / "pack"
    args = ("evidence", "--unit", "dlh", "--period", "2026-Q4", "--source", "topic")
    made = sigap(env, *args, "--output", str(pack))
    assert made.exit_code == 0, made.output
    manifest = json.loads((pack / "manifest.json").read_text())
    log = manifest["log"]
    assert log["source"] == "topic" and log["topic"] == topic
    assert sorted(log["partitions"]) == ["0", "1", "2"]
    assert all(span["start"] == 0 for span in log["partitions"].values())
    assert sum(span["end"] for span in log["partitions"].values()) == len(events)

    # The same events in a file give the same pack (only the manifest's log differs).
    source = tmp_path / "events.jsonl"
    source.write_text(
        "".join(
            orjson.dumps(e.model_dump(mode="json", exclude_none=True)).decode() + "\n"
            for e in events
        )
    )
    from_file = tmp_path / "from-file"
    assert sigap(env, *args[:-1], str(source), "--output", str(from_file)).exit_code == 0
    for name in FILES:
        assert (pack / name).read_bytes() == (from_file / name).read_bytes(), name
    assert b"unit dlh" in (pack / "form.csv").read_bytes()

    verify = ("verify", "--evidence", str(pack), "--source", "topic")
    ok = sigap(env, *verify)
    assert ok.exit_code == 0, ok.output
    assert "verified" in ok.output

    # More events for dlh in the quarter, after the pack: a pack made now differs, the
    # recorded offsets still verify.
    later = [
        ComplaintEvent.model_validate(
            {
                "event_id": f"later-{n}",
                "type": "created",
                "complaint_id": f"later{n}",
                "occurred_at": START + timedelta(days=20, hours=n),
                "unit": "dlh",
                "officer": "o1",
            }
        )
        for n in range(6)
    ]
    publish(kafka_bootstrap, topic, later)
    now = tmp_path / "now"
    assert sigap(env, *args, "--output", str(now)).exit_code == 0
    assert (now / "form.csv").read_bytes() != (pack / "form.csv").read_bytes()
    still = sigap(env, *verify)
    assert still.exit_code == 0, still.output

    # A changed byte: verify fails and names the file.
    original = (pack / "complaints.csv").read_bytes()
    changed = bytearray(original)
    changed[original.index(b",met") + 1] = ord("M")
    (pack / "complaints.csv").write_bytes(bytes(changed))
    broken = sigap(env, *verify)
    assert broken.exit_code == 1, broken.output
    assert "complaints.csv: SHA-256 differs from the manifest" in broken.output
    assert "complaints.csv: differs from the recomputation" in broken.output
    assert "form.csv" not in broken.output
    (pack / "complaints.csv").write_bytes(original)

    # Another topic is not the log the pack was made from; nor is a file.
    other = sigap({**env, "SIGAP_EVENTS_TOPIC": f"{topic}-other"}, *verify)
    assert other.exit_code == 1 and "not the log" in other.output
    as_file = sigap(env, *verify[:-1], str(source))
    assert as_file.exit_code == 1 and "not the log" in as_file.output
