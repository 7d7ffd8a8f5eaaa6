"""Publishing complaint events to Kafka (kafka-python): a library for the complaint app and
the engine of `sigap publish` and `sigap simulate`.

Durable by default: acks=all and the idempotent producer, keyed by complaint_id so that
all events of one complaint land in one partition, in order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from schemas.events import EventRejected, admit_message, parse_event
from sigap.settings import Settings


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


def validate_lines(
    lines: Iterable[tuple[int, bytes]], now_epoch: float | None = None
) -> list[InvalidLine]:
    """The lines the worker would dead-letter on their own (schemas.events.admit_message,
    the worker's admission, time rules included, with the wall clock `now_epoch` standing
    for the broker's append time), with the worker's reason."""
    now = time.time() if now_epoch is None else now_epoch
    invalid = []
    for number, raw in lines:
        key = key_of(raw)
        try:
            admit_message(key, raw, now)
        except EventRejected as rejected:
            invalid.append(InvalidLine(number, rejected.reason))
    return invalid


def key_of(raw: bytes) -> bytes | None:
    """The message key of a line: its complaint_id as the worker's parser reads it; None
    when the line does not parse (published with --no-validate, the worker dead-letters it
    with the parser's reason)."""
    try:
        return parse_event(raw).complaint_id.encode()
    except EventRejected:
        return None


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
