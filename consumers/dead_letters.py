"""Reading the dead-letter topic (kafka-python): what was rejected, and why.

The worker sends every rejected message, unchanged, to `<events topic>.dlq` with a
`sigap-reason` header. An operator lists them, exports them to a JSONL file, fixes the
lines by hand and publishes the file again with `sigap publish`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from kafka import KafkaConsumer, TopicPartition

from schemas.dead_letters import REASON_HEADER
from sigap.settings import Settings


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    reason: str
    value: bytes

    def as_jsonl_line(self) -> bytes:
        """One line for a JSONL file: compact JSON when the value parses, else the raw text."""
        try:
            return orjson.dumps(orjson.loads(self.value))
        except orjson.JSONDecodeError:
            return self.value.replace(b"\r", b" ").replace(b"\n", b" ")


def read_dead_letters(settings: Settings) -> Iterator[DeadLetter]:
    """Every message on the dead-letter topic, from the beginning to the current end."""
    topic = settings.dead_letter_topic
    consumer = KafkaConsumer(
        **settings.kafka_python_config(),
        enable_auto_commit=False,
        client_id="sigap-dlq-reader",
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end_offsets = consumer.end_offsets(assigned)
        remaining = {tp for tp in assigned if end_offsets[tp] > consumer.position(tp)}
        while remaining:
            batches = consumer.poll(timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    headers = dict(record.headers or [])
                    yield DeadLetter(
                        partition=tp.partition,
                        offset=record.offset,
                        timestamp_ms=record.timestamp,
                        key=record.key,
                        reason=headers.get(REASON_HEADER, b"unknown").decode(errors="replace"),
                        value=record.value or b"",
                    )
                if consumer.position(tp) >= end_offsets[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()
