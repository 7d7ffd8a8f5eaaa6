"""Shared helpers of the robustness tests: publishing raw messages, reading metrics."""

from __future__ import annotations

import re
from collections.abc import Iterable

from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from tests.robustness.generator import Message


def publish_raw(bootstrap: str, topic: str, messages: Iterable[Message]) -> int:
    """Publish the messages as given (key possibly wrong); returns how many were acknowledged."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=1024 * 1024,
        linger_ms=5,
    )
    futures = [producer.send(topic, key=m.key, value=m.value) for m in messages]
    producer.flush()
    for future in futures:
        future.get(timeout=60)  # raises if a message was not written
    producer.close()
    return len(futures)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def by_label(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, label: str
) -> dict[str, float]:
    return {
        dict(labels)[label]: value
        for (sample_name, labels), value in found.items()
        if sample_name == name and label in dict(labels)
    }


DLQ_SUMMARY = re.compile(r"^(\d+) dead-lettered message\(s\): (.*)$", re.MULTILINE)


def dlq_counts(stdout: str, stderr: str) -> tuple[dict[str, int], dict[str, int]]:
    """Counts per reason from `sigap dlq list`: from its lines, and from its summary."""
    from_lines: dict[str, int] = {}
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            from_lines[parts[1]] = from_lines.get(parts[1], 0) + 1
    summary: dict[str, int] = {}
    match = DLQ_SUMMARY.search(stderr)
    if match and match.group(2) != "none":
        for item in match.group(2).split(", "):
            reason, _, count = item.rpartition("=")
            summary[reason] = int(count)
    return from_lines, summary
