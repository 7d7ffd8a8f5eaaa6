"""Explicit topic creation with the partition count the app expects.

The broker's auto-creation is off: Faust refuses a table whose source topic and changelog
have different partition counts, so every topic is created here, up front, and an existing
topic with another count is an error that says what to do.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from core.settings import Settings


class TopicMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


def required_topics(settings: Settings) -> list[TopicSpec]:
    partitions = settings.topic_partitions
    return [
        TopicSpec(settings.events_topic, partitions),
        TopicSpec(settings.views_topic, partitions),
        TopicSpec(settings.dead_letter_topic, 1),
    ]


def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create missing topics; check existing ones. Returns the names created."""
    specs = specs if specs is not None else required_topics(settings)
    admin = KafkaAdminClient(**settings.kafka_python_config(), client_id="sigap-admin")
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            # Another process may create one meanwhile: the counts are checked below anyway.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, 1) for spec in missing],
                    raise_errors=True,
                )
        described = {
            topic["name"]: len(topic["partitions"])
            for topic in admin.describe_topics([spec.name for spec in specs])
        }
        for spec in specs:
            actual = described.get(spec.name)
            if actual != spec.partitions:
                raise TopicMismatch(
                    f"topic {spec.name!r} has {actual} partitions but SIGAP expects "
                    f"{spec.partitions} (SIGAP_TOPIC_PARTITIONS); recreate the topic or "
                    "change the setting"
                )
        return [spec.name for spec in missing]
    finally:
        admin.close()
