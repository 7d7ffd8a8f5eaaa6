"""Reading the events topic from its beginning to its current end (kafka-python).

The event log is the source of truth of every score: `sigap verify` recomputes scores from
it. The reader is a fresh consumer without a group: it assigns every partition itself,
commits nothing and leaves the service's consumer groups alone. It stops at the end
offsets found when it starts, so events published meanwhile are not read (they may not be
in the stored scores yet either). Events deleted by the topic's retention are gone: the
report says so (`truncated`), as the periods they belong to cannot be recomputed.

With `offsets` (partition -> (start, end), e.g. an evidence pack's recorded log range) it
reads exactly those offsets instead, and fails when the broker no longer holds all of them
(deleted by retention, or a recreated topic); partitions not listed are not read.

Each message goes through the worker's own admission checks before it is yielded (see
streams.complaint_stage.ComplaintStage.process, `schemas.events.admit_message`): it must
parse as a contract event, its key (which must be present) must be its complaint_id, and its event
time must pass `check_event_time` against the Kafka record's timestamp (the broker's append
time on the topics SIGAP creates). Messages that fail are counted by reason (never logged
with their content) and skipped, as the worker dead-letters them. The checks that need the
complaint's other events (duplicates, events before `created`) are replay's, in
core.complaint_state, fed in the same per-partition offset order the worker sees.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition

from schemas.events import ComplaintEvent, EventRejected, admit_message
from sigap.settings import Settings


class EventLogError(RuntimeError):
    """The topic cannot be read to its end: missing, or no progress for too long."""


@dataclass
class TopicReport:
    """What was read; complete only once the iterator is exhausted."""

    topic: str
    messages: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    end_offsets: dict[int, int] = field(default_factory=dict)
    # The first offset still on the broker, per partition: above 0, older events were
    # deleted (retention) and cannot be recomputed.
    start_offsets: dict[int, int] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return any(offset > 0 for offset in self.start_offsets.values())


def admit(key: bytes | None, value: bytes | None, timestamp_ms: int) -> ComplaintEvent:
    """The event of one message, or EventRejected with the worker's reason."""
    return admit_message(key, value, timestamp_ms / 1000.0)


def read_topic_events(
    settings: Settings,
    report: TopicReport,
    *,
    idle_timeout_seconds: float = 60.0,
    offsets: Mapping[int, tuple[int, int]] | None = None,
) -> Iterator[ComplaintEvent]:
    """Every admitted event of `report.topic`, partition by partition in offset order
    (interleaved across partitions, which is harmless: a complaint lives in one). With
    `offsets`, only those of each listed partition's [start, end)."""
    consumer = KafkaConsumer(
        **settings.kafka_python_config(),
        group_id=None,
        enable_auto_commit=False,
        client_id="sigap-verify",
    )
    try:
        partitions = consumer.partitions_for_topic(report.topic)
        if not partitions:
            raise EventLogError(
                f"topic {report.topic!r} does not exist on {settings.kafka_bootstrap_servers} "
                "(check SIGAP_EVENTS_TOPIC)"
            )
        if offsets is not None:
            missing = sorted(set(offsets) - set(partitions))
            if missing:
                raise EventLogError(
                    f"topic {report.topic!r} has no partition {missing[0]} of the range"
                )
            partitions = set(offsets)
        assigned = [TopicPartition(report.topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end_offsets: dict[TopicPartition, int] = consumer.end_offsets(assigned)
        start_offsets: dict[TopicPartition, int] = consumer.beginning_offsets(assigned)
        if offsets is not None:
            for tp in assigned:
                start, end = offsets[tp.partition]
                if start_offsets[tp] > start or end_offsets[tp] < end:
                    raise EventLogError(
                        f"topic {report.topic!r} partition {tp.partition} no longer holds "
                        f"offsets {start} to {end} (it holds {start_offsets[tp]} to "
                        f"{end_offsets[tp]})"
                    )
                start_offsets[tp], end_offsets[tp] = start, end
                consumer.seek(tp, start)
        report.start_offsets = {tp.partition: start for tp, start in start_offsets.items()}
        report.end_offsets = {tp.partition: end for tp, end in end_offsets.items()}
        remaining = {tp for tp in assigned if consumer.position(tp) < end_offsets[tp]}
        last_progress = time.monotonic()
        while remaining:
            batches = consumer.poll(timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end_offsets[tp]:
                        continue  # published after the reading started
                    report.messages += 1
                    try:
                        event = admit(record.key, record.value, record.timestamp)
                    except EventRejected as rejected:
                        report.rejected[rejected.reason] += 1
                        continue
                    yield event
            if batches:
                last_progress = time.monotonic()
            for tp in list(remaining):
                if consumer.position(tp) >= end_offsets[tp]:
                    remaining.discard(tp)
            if remaining and time.monotonic() - last_progress > idle_timeout_seconds:
                behind = ", ".join(str(tp.partition) for tp in sorted(remaining))
                raise EventLogError(
                    f"topic {report.topic!r}: no progress for {idle_timeout_seconds:.0f}s "
                    f"before the end of partition(s) {behind}"
                )
    finally:
        consumer.close()
