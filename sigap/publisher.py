"""Publishing complaint events to Kafka (kafka-python): a library for the complaint app and
the engine of `sigap publish` and `sigap simulate`.

Durable by default: acks=all and the idempotent producer, keyed by complaint_id so that
all events of one complaint land in one partition, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from core.settings import Settings
from schemas.events import EventRejected, parse_event


@dataclass(frozen=True)
class InvalidLine:
    line_number: int
    reason: str


def encode_event(event: Mapping[str, Any]) -> tuple[bytes | None, bytes]:
    """(key, value) for an event mapping; the key is its complaint_id, if it has one."""
    complaint_id = event.get("complaint_id")
    key = complaint_id.encode() if isinstance(complaint_id, str) else None
    return key, orjson.dumps(event)


def read_jsonl(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) of each non-blank line."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if stripped:
                yield number, stripped


def validate_lines(lines: Iterable[tuple[int, bytes]]) -> list[InvalidLine]:
    invalid = []
    for number, raw in lines:
        try:
            parse_event(raw)
        except EventRejected as rejected:
            invalid.append(InvalidLine(number, rejected.reason))
    return invalid


def key_of(raw: bytes) -> bytes | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    complaint_id = value.get("complaint_id") if isinstance(value, dict) else None
    return complaint_id.encode() if isinstance(complaint_id, str) else None


class EventPublisher:
    """Publishes to `topic`; `client_config` is kafka-python's (bootstrap_servers, security).

    With SIGAP's settings: `EventPublisher.from_settings(Settings.from_environ(os.environ))`.
    """

    def __init__(self, topic: str, **client_config: Any) -> None:
        self.topic = topic
        self.producer = KafkaProducer(
            **client_config,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            client_id="sigap-publisher",
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> EventPublisher:
        return cls(settings.events_topic, **settings.kafka_python_config())

    def publish(self, event: Mapping[str, Any]) -> None:
        key, value = encode_event(event)
        self.producer.send(self.topic, key=key, value=value)

    def publish_raw(self, key: bytes | None, value: bytes) -> None:
        self.producer.send(self.topic, key=key, value=value)

    def flush(self, timeout: float | None = 60.0) -> None:
        self.producer.flush(timeout=timeout)

    def close(self) -> None:
        self.producer.close()

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()
        self.close()
