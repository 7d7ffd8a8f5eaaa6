"""How far the worker and the score writer are behind the topics (kafka-python admin and
consumer clients): the committed offsets of their consumer groups against the topics' end
offsets. `sigap verify` waits on it so that it does not report differences that are only
the pipeline catching up; the score writer exports its own lag as a metric."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    NotCoordinatorError,
)

from sigap.settings import Settings


@dataclass
class PipelineLag:
    # (group, topic) -> messages not yet committed by the group, per partition
    lags: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)
    waited_seconds: float = 0.0

    @property
    def behind(self) -> bool:
        return any(any(per.values()) for per in self.lags.values())

    def describe(self) -> str:
        return (
            "; ".join(
                f"group {group} is {sum(per.values())} message(s) behind on {topic}"
                for (group, topic), per in sorted(self.lags.items())
                if any(per.values())
            )
            or "caught up"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "caught_up": not self.behind,
            "waited_seconds": round(self.waited_seconds, 1),
            "lags": [
                {"group": group, "topic": topic, "messages": sum(per.values())}
                for (group, topic), per in sorted(self.lags.items())
            ],
        }


def group_lag(
    admin: KafkaAdminClient,
    consumer: KafkaConsumer,
    group: str,
    topic: str,
    ends: dict[TopicPartition, int] | None = None,
) -> tuple[dict[int, int], dict[TopicPartition, int]]:
    """Per partition, the end offset (or `ends`, taken earlier) less the group's committed
    offset (0 committed when the group has none); also the ends used."""
    partitions = consumer.partitions_for_topic(topic) or set()
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    if ends is None:
        ends = consumer.end_offsets(assigned) if assigned else {}
    committed: dict[TopicPartition, Any] = {}
    if assigned:
        try:
            committed = admin.list_group_offsets({group: assigned}).get(group, {})
        except (
            CoordinatorNotAvailableError,
            NotCoordinatorError,
            CoordinatorLoadInProgressError,
        ):
            # A group that never committed has no coordinator yet, or it is moving: counted
            # as nothing consumed (behind), asked again at the next poll.
            committed = {}
    lag = {}
    for tp in assigned:
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag[tp.partition] = max(0, ends.get(tp, 0) - offset)
    return lag, ends


def wait_caught_up(
    settings: Settings, wait_seconds: float, poll_seconds: float = 1.0
) -> PipelineLag:
    """Wait (up to `wait_seconds`) until the worker has consumed the events topic as it
    stands now, then the score writer the views topic as it stands then. The result says
    how far behind they still are."""
    config = settings.kafka_python_config()
    admin = KafkaAdminClient(**config, client_id="sigap-verify-lag")
    consumer = KafkaConsumer(**config, group_id=None, client_id="sigap-verify-lag")
    started = time.monotonic()
    result = PipelineLag()
    try:
        stages = (
            (settings.app_id, settings.events_topic),
            (settings.score_writer_group, settings.views_topic),
        )
        for group, topic in stages:
            ends = None
            while True:
                lag, ends = group_lag(admin, consumer, group, topic, ends)
                result.lags[(group, topic)] = lag
                if not any(lag.values()) or time.monotonic() - started >= wait_seconds:
                    break
                time.sleep(poll_seconds)
    finally:
        consumer.close()
        admin.close()
    result.waited_seconds = time.monotonic() - started
    return result
