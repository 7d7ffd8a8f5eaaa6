"""End to end on a real Kafka broker: events -> Faust worker -> /metrics -> score writer -> SQL.

The expected numbers are computed here, independently of the service code: durations by
hand from the event times, quantiles by nearest rank over the hand-made lists, histogram
buckets by counting durations under each bound of the scrape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.processes import Stack, http_get, run_sigap, running_stack, wait_for

pytestmark = pytest.mark.kafka


def ev(event_id: str, type_: str, complaint_id: str, at: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "complaint_id": complaint_id,
        "occurred_at": at,
        **extra,
    }


# Published in this order. The reporter fields are personal data that must go nowhere.
EVENTS: list[dict[str, Any]] = [
    ev(
        "e1",
        "created",
        "c1",
        "2026-11-02T09:00:00+07:00",
        unit="dlh",
        category="sampah",
        reporter_name="Siti Rahayu",
        reporter_phone="081234567890",
    ),
    ev("e2", "resolved", "c1", "2026-11-02T11:30:00+07:00"),
    ev("e3", "created", "c2", "2026-11-02T10:00:00+07:00", unit="dlh"),
    ev("e4", "resolved", "c2", "2026-11-02T10:20:00+07:00"),
    ev("e5", "created", "c3", "2026-11-02T08:00:00+07:00", unit="dlh"),
    ev("e6", "resolved", "c3", "2026-11-03T08:00:00+07:00"),
    ev("e7", "created", "c4", "2026-11-02T12:00:00+07:00", unit="dlh"),  # left open
    # Resolved published before created; UTC offsets: 2026-11-03 in Jakarta time.
    ev("e9", "resolved", "c5", "2026-11-02T23:30:00Z"),
    ev("e8", "created", "c5", "2026-11-02T20:00:00Z", unit="dsda"),
    ev("e10", "created", "c6", "2026-11-03T08:00:00+07:00", unit="dsda"),
    ev("e11", "resolved", "c6", "2026-11-03T09:00:00+07:00"),
    ev("e11", "resolved", "c6", "2026-11-03T09:00:00+07:00"),  # duplicated event_id
    ev("e12", "created", "c7", "2026-11-02T09:00:00+07:00", unit="dishub"),  # left open
    ev("e13", "created", "c8", "2026-11-02T13:00:00+07:00", unit="dishub"),
    ev("e13", "created", "c8", "2026-11-02T13:00:00+07:00", unit="dishub"),  # duplicate
    ev("e14", "resolved", "c8", "2026-11-02T16:00:00+07:00"),
]
NOT_JSON = b'{"event_id": "broken", "type": '


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


# Hand-computed: (unit, Jakarta day of the resolution, duration in seconds)
RESOLUTIONS = [
    ("dlh", "2026-11-02", 2.5 * 3600),  # c1
    ("dlh", "2026-11-02", 20 * 60),  # c2
    ("dlh", "2026-11-03", 24 * 3600),  # c3
    ("dsda", "2026-11-03", 3.5 * 3600),  # c5: 03:00 -> 06:30 Jakarta
    ("dsda", "2026-11-03", 1 * 3600),  # c6
    ("dishub", "2026-11-02", 3 * 3600),  # c8
]
CREATED = {"dlh": 4, "dsda": 2, "dishub": 2}


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = 1
    while rank / len(ordered) < q:  # smallest rank whose share of the sample reaches q
        rank += 1
    return ordered[rank - 1]


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, tmp_path) as started:
        yield started


def publish(bootstrap: str, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    for event in EVENTS:
        producer.send(topic, key=event["complaint_id"].encode(), value=orjson.dumps(event))
        producer.flush()  # keep the publication order, including resolved-before-created
    producer.send(topic, key=b"broken", value=NOT_JSON)
    producer.flush()
    producer.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_events_to_metrics_and_scores(stack: Stack) -> None:
    publish(stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.env["SIGAP_EVENTS_TOPIC"])

    expected_resolved = len(RESOLUTIONS)

    def resolved_total(text: str) -> float:
        return sum(
            value
            for (name, _), value in samples(text).items()
            if name == "complaints_resolved_total"
        )

    text = wait_for(
        lambda: http_get(stack.metrics_url),
        lambda t: (
            bool(t)
            and resolved_total(t) == expected_resolved
            and 'complaint_events_rejected_total{reason="not_json"}' in t
        ),
        timeout=120,
        what="the worker to measure every resolution",
    )
    found = samples(text)

    def value(name: str, **labels: str) -> float:
        return found[(name, tuple(sorted(labels.items())))]

    for unit, created in CREATED.items():
        durations = [d for u, _, d in RESOLUTIONS if u == unit]
        assert value("complaints_created_total", unit=unit) == created
        assert value("complaints_resolved_total", unit=unit) == len(durations)
        assert value("complaints_open", unit=unit) == created - len(durations)
        assert value("complaint_resolution_seconds_count", unit=unit) == len(durations)
        assert value("complaint_resolution_seconds_sum", unit=unit) == sum(durations)
        bounds = [
            labels
            for (name, labels) in found
            if name == "complaint_resolution_seconds_bucket" and ("unit", unit) in labels
        ]
        assert len(bounds) == 17  # 5 minutes .. 60 days, and +Inf
        for labels in bounds:
            le = float(dict(labels)["le"])
            assert found[("complaint_resolution_seconds_bucket", labels)] == sum(
                1 for d in durations if d <= le
            ), (unit, le)
    assert value("complaint_events_rejected_total", reason="not_json") == 1
    assert {labels for (name, labels) in found if name == "complaints_created_total"} == {
        (("unit", unit),) for unit in CREATED
    }
    assert "faust_" in text  # Faust's sensor metrics share the page

    expected_scores = []
    days = sorted({(day, unit) for unit, day, _ in RESOLUTIONS})
    for day, unit in days:
        durations = [d for u, dd, d in RESOLUTIONS if u == unit and dd == day]
        expected_scores.append(
            {
                "unit": unit,
                "period": "day",
                "period_start": day,
                "resolved": len(durations),
                "resolution_p50_seconds": nearest_rank(durations, 0.5),
                "resolution_p90_seconds": nearest_rank(durations, 0.9),
            }
        )

    def scores() -> list[dict[str, Any]]:
        result = run_sigap(["scores", "--format", "json"], stack.env)
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout))

    final = wait_for(scores, lambda rows: rows == expected_scores, 60, "the daily scores")
    assert final == expected_scores

    # The rejected message is on the dead-letter topic, unchanged, with its reason.
    listed = run_sigap(["dlq", "list"], stack.env)
    assert listed.returncode == 0, listed.stderr
    assert "\tnot_json\tkey=broken\t" in listed.stdout
    assert "1 dead-lettered message(s): not_json=1" in listed.stderr
    exported = stack.database.parent / "dlq.jsonl"
    assert run_sigap(["dlq", "export", str(exported)], stack.env).returncode == 0
    assert exported.read_bytes() == NOT_JSON + b"\n"

    # Personal data sent with the events reached neither /metrics, the logs nor the database.
    for secret in ("Siti Rahayu", "081234567890"):
        assert secret not in text
        assert secret.encode() not in stack.database.read_bytes()
        assert secret not in stack.worker.log_text()
        assert secret not in stack.score_writer.log_text()
