"""Explicit topic creation with the partition count the app expects.

The broker's auto-creation is off: Faust refuses a table whose source topic and changelog
have different partition counts, so every topic is created here, up front, and an existing
topic with another count is an error that says what to do.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from core.settings import Settings
from streams.app import TABLE_NAMES, changelog_topic


class TopicMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    # The events topic is the record every score is verified against (`sigap verify`), and
    # the dead letters wait for a human: neither may expire after the broker's default 7 days.
    kept_forever: bool = False

    def configs(self) -> dict[str, str]:
        configs = {}
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        if self.kept_forever:
            configs["retention.ms"] = "-1"
        return configs


def required_topics(settings: Settings) -> list[TopicSpec]:
    partitions = settings.topic_partitions
    return [
        TopicSpec(settings.events_topic, partitions, kept_forever=True),
        TopicSpec(settings.views_topic, partitions),
        TopicSpec(settings.dead_letter_topic, 1, kept_forever=True),
        # The worker's changelogs too: left to Faust, a worker that starts while the broker
        # is still creating them can see them with 0 partitions and crash-loop
        # (PartitionsMismatch).
        *(
            TopicSpec(changelog_topic(settings.app_id, table), partitions, compacted=True)
            for table in TABLE_NAMES
        ),
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
                    [
                        NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.configs())
                        for spec in missing
                    ],
                    raise_errors=True,
                )
        # A topic just created can be described with 0 partitions for a moment: wait
        # for the metadata before comparing (a worker started on it would crash-loop).
        deadline = time.monotonic() + 30
        while True:
            described = {
                topic["name"]: len(topic["partitions"])
                for topic in admin.describe_topics([spec.name for spec in specs])
            }
            settled = all(described.get(spec.name) for spec in specs)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.2)
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
