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
    ev("e5", "created", "c3", "2026-11-02T10:00:00+07:00", unit="dlh"),
    ev("e6", "resolved", "c3", "2026-11-03T10:00:00+07:00"),  # exactly 24 h: still met
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
    # c10: transferred, responded, paused two days, resolved, reopened, resolved again.
    ev("f1", "created", "c10", "2026-11-02T09:00:00+07:00", unit="dishub"),
    ev(
        "f2",
        "assigned",
        "c10",
        "2026-11-02T10:00:00+07:00",
        unit="satpol-pp",
        reason="not_our_authority",
    ),
    ev("f3", "responded", "c10", "2026-11-02T11:00:00+07:00"),
    ev("f4", "paused", "c10", "2026-11-02T12:00:00+07:00"),
]
# Published once the first part is processed. Partitions are read at their own pace, so
# within one publication a complaint's deadline may look passed before its answer is read
# (a late event, beyond the grace period): the parts are cut so that no timer can be.
LATER_EVENTS: list[dict[str, Any]] = [
    ev("f5", "resumed", "c10", "2026-11-04T12:00:00+07:00"),
    ev("f6", "resolved", "c10", "2026-11-05T10:00:00+07:00"),
    ev("f7", "reopened", "c10", "2026-11-06T09:00:00+07:00"),
    ev("f8", "resolved", "c10", "2026-11-06T15:00:00+07:00"),
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
    # c10: 09:00 Mon to 10:00 Thu is 73 h, less the 48 h pause; resolved by satpol-pp.
    ("satpol-pp", "2026-11-05", 25 * 3600),
]
CREATED = {"dlh": 4, "dsda": 2, "dishub": 3, "satpol-pp": 0}
# Hand-computed with the shipped registry (response 24 h wall; resolution 5 working days,
# Mon-Fri 08-16). The watermark is the last event time, Fri 6 Nov 15:00.
# - c4 (dlh, open since Mon 12:00) and c7 (dishub, open since Mon 09:00) missed their
#   response deadline (Tue 12:00, Tue 09:00) while still open.
# - Their resolution deadlines (close of Mon 9 Nov) are ahead: c4 has used 35 of 44 working
#   hours (0.80), c7 38 of 47 (0.81): past 50% and 75%, not 100%.
# - dishub transferred c10 to satpol-pp after an hour, in time: no outcome for dishub.
SLA = {
    ("dlh", "response"): (3, 1),
    ("dlh", "resolution"): (3, 0),
    ("dsda", "response"): (2, 0),
    ("dsda", "resolution"): (2, 0),
    ("dishub", "response"): (1, 1),
    ("dishub", "resolution"): (1, 0),
    ("satpol-pp", "response"): (1, 0),
    ("satpol-pp", "resolution"): (1, 0),
}
OPEN_PAST = {  # (unit, timer) -> open past 0.5, 0.75, 1
    ("dlh", "response"): (1, 1, 1),
    ("dlh", "resolution"): (1, 1, 0),
    ("dishub", "response"): (1, 1, 1),
    ("dishub", "resolution"): (1, 1, 0),
    ("dsda", "response"): (0, 0, 0),
    ("satpol-pp", "resolution"): (0, 0, 0),
}


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


def publish(bootstrap: str, topic: str, events: list[dict[str, Any]], *extra: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    for event in events:
        producer.send(topic, key=event["complaint_id"].encode(), value=orjson.dumps(event))
        producer.flush()  # keep the publication order, including resolved-before-created
    for raw in extra:
        producer.send(topic, key=b"broken", value=raw)
    producer.flush()
    producer.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_events_to_metrics_and_scores(stack: Stack) -> None:
    bootstrap, topic = stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.env["SIGAP_EVENTS_TOPIC"]
    publish(bootstrap, topic, EVENTS, NOT_JSON)
    first_part = wait_for(
        lambda: http_get(stack.metrics_url),
        lambda t: (
            'sigap_complaints_resolved_total{unit="dsda"} 2.0' in t
            and 'sigap_complaints_resolved_total{unit="dlh"} 3.0' in t
            and 'sigap_complaints_resolved_total{unit="dishub"} 1.0' in t
            and 'sigap_events_rejected_total{reason="not_json"} 1.0' in t
        ),
        timeout=120,
        what="the first part of the events",
    )
    assert 'sigap_events_rejected_total{reason="not_json"} 1.0' in first_part
    publish(bootstrap, topic, LATER_EVENTS)

    def mismatches(text: str) -> list[str]:
        """Every expected value that the scrape does not show (empty: all as expected)."""
        found = samples(text)
        problems: list[str] = []

        def expect(actual_key: tuple[str, dict[str, str]], expected: float) -> None:
            name, labels = actual_key
            actual = found.get((name, tuple(sorted(labels.items()))))
            if actual != expected:
                problems.append(f"{name}{labels} = {actual}, expected {expected}")

        open_now = {"dlh": 1, "dsda": 0, "dishub": 1, "satpol-pp": 0}
        for unit, created in CREATED.items():
            durations = [d for u, _, d in RESOLUTIONS if u == unit]
            expect(("sigap_complaints_created_total", {"unit": unit}), created)
            expect(("sigap_complaints_resolved_total", {"unit": unit}), len(durations))
            expect(("sigap_complaints_open", {"unit": unit}), open_now[unit])
            expect(
                ("sigap_complaint_resolution_wall_seconds_count", {"unit": unit}), len(durations)
            )
            expect(("sigap_complaint_resolution_wall_seconds_sum", {"unit": unit}), sum(durations))
            bounds = [
                labels
                for (name, labels) in found
                if name == "sigap_complaint_resolution_wall_seconds_bucket"
                and ("unit", unit) in labels
            ]
            if len(bounds) != 17:  # 5 minutes .. 60 days, and +Inf
                problems.append(f"{unit}: {len(bounds)} resolution buckets")
            for labels in bounds:
                le = float(dict(labels)["le"])
                expect(
                    ("sigap_complaint_resolution_wall_seconds_bucket", dict(labels)),
                    sum(1 for d in durations if d <= le),
                )
        expect(("sigap_events_rejected_total", {"reason": "not_json"}), 1)
        expect(("sigap_events_rejected_total", {"reason": "duplicate_event_id"}), 2)
        for (unit, timer), (met, missed) in SLA.items():
            labels = {"unit": unit, "timer": timer}
            expect(("sigap_complaint_sla_total", {**labels, "outcome": "met"}), met)
            expect(("sigap_complaint_sla_total", {**labels, "outcome": "missed"}), missed)
        for (unit, timer), counts in OPEN_PAST.items():
            for threshold, count in zip(("0.5", "0.75", "1"), counts, strict=True):
                labels = {"unit": unit, "timer": timer, "threshold": threshold}
                expect(("sigap_complaints_open_past_target", labels), count)
        expect(
            ("sigap_complaint_transfers_total", {"unit": "dishub", "reason": "not_our_authority"}),
            1,
        )
        expect(("sigap_complaints_reopened_total", {"unit": "satpol-pp"}), 1)
        # Every registry unit has its series from the start.
        expect(("sigap_complaints_created_total", {"unit": "damkar"}), 0)
        return problems

    text = wait_for(
        lambda: http_get(stack.metrics_url),
        lambda t: bool(t) and not mismatches(t),
        timeout=120,
        what="the worker's metrics",
    )
    watermark = [line for line in text.splitlines() if "watermark" in line and "#" not in line]
    assert mismatches(text) == [], watermark
    assert "faust_" in text  # Faust's sensor metrics share the page
    # A scrape that asks for some series (`name[]`, as the benchmark's polls do) gets those
    # samples of the page; the collector builds only what was asked for (streams.app).
    asked = ("sigap_complaints_created_total", "sigap_complaint_resolution_wall_seconds_bucket")
    part = samples(http_get(stack.metrics_url + "?" + "&".join(f"name[]={n}" for n in asked)))
    whole = samples(http_get(stack.metrics_url))
    assert part and part == {key: value for key, value in whole.items() if key[0] in asked}

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
                "resolution_p50_wall_seconds": nearest_rank(durations, 0.5),
                "resolution_p90_wall_seconds": nearest_rank(durations, 0.9),
            }
        )

    def scores() -> list[dict[str, Any]]:
        result = run_sigap(["scores", "--format", "json"], stack.env)
        assert result.returncode == 0, result.stderr
        keys = list(expected_scores[0])
        return [{k: row[k] for k in keys} for row in json.loads(result.stdout) if row["resolved"]]

    final = wait_for(scores, lambda rows: rows == expected_scores, 60, "the daily scores")
    assert final == expected_scores

    # The rejected message is on the dead-letter topic, unchanged, with its reason.
    listed = run_sigap(["dlq", "list"], stack.env)
    assert listed.returncode == 0, listed.stderr
    assert "\tnot_json\tkey=broken\t" in listed.stdout
    assert "3 dead-lettered message(s): duplicate_event_id=2, not_json=1" in listed.stderr
    exported = stack.database.parent / "dlq.jsonl"
    assert (
        run_sigap(["dlq", "export", "--reason", "not_json", str(exported)], stack.env).returncode
        == 0
    )
    assert exported.read_bytes() == NOT_JSON + b"\n"

    # Personal data sent with the events reached neither /metrics, the logs nor the database.
    for secret in ("Siti Rahayu", "081234567890"):
        assert secret not in text
        assert secret.encode() not in stack.database.read_bytes()
        assert secret not in stack.worker.log_text()
        assert secret not in stack.score_writer.log_text()
