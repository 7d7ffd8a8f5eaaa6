"""Explicit topic creation with the partition count the app expects.

The broker's auto-creation is off: Faust refuses a table whose source topic and changelog
have different partition counts, so every topic is created here, up front, and an existing
topic with another count is an error that says what to do.

The events, views and dead-letter topics have `message.timestamp.type=LogAppendTime`: a
record's timestamp is the broker's append time, a clock the producer cannot set. The worker
bounds event time by it (schemas.events.check_event_time, docs/contract.md): with the
producer's own timestamp, one future-dated event could advance the watermark. An existing
topic without it is altered, and `ensure_topics` returns only once the broker reads the
setting back.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from sigap.settings import Settings
from streams.app import TABLE_NAMES, changelog_topic

TIMESTAMP_TYPE = "message.timestamp.type"
LOG_APPEND_TIME = "LogAppendTime"
# How long the broker may take to show an altered setting.
CONFIG_SETTLE_SECONDS = 30.0


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
    # Record timestamps set by the broker (see the module docstring).
    append_time: bool = False

    def configs(self) -> dict[str, str]:
        configs = {}
        if self.append_time:
            configs[TIMESTAMP_TYPE] = LOG_APPEND_TIME
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        if self.kept_forever:
            configs["retention.ms"] = "-1"
        return configs


def required_topics(settings: Settings) -> list[TopicSpec]:
    partitions = settings.topic_partitions
    return [
        TopicSpec(settings.events_topic, partitions, kept_forever=True, append_time=True),
        TopicSpec(settings.views_topic, partitions, append_time=True),
        TopicSpec(settings.dead_letter_topic, 1, kept_forever=True, append_time=True),
        TopicSpec(settings.views_dead_letter_topic, 1, kept_forever=True, append_time=True),
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
        _ensure_append_time(admin, [spec for spec in specs if spec.append_time])
        return [spec.name for spec in missing]
    finally:
        admin.close()


def _timestamp_types(admin: KafkaAdminClient, names: list[str]) -> dict[str, str | None]:
    described = admin.describe_configs(
        [
            ConfigResource(ConfigResourceType.TOPIC, name, configs={TIMESTAMP_TYPE: None})
            for name in names
        ],
        config_filter="all",
    )
    found: dict[str, str | None] = {}
    for per_name in described.values():
        for name, entries in per_name.items():
            entry = entries.get(TIMESTAMP_TYPE)
            found[name] = None if entry is None else entry.get("value")
    return found


def _ensure_append_time(admin: KafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Alter the topics whose record timestamps are not the broker's, then wait until the
    broker reads LogAppendTime back for every one (or fail, naming the topic)."""
    names = [spec.name for spec in specs]
    if not names:
        return
    current = _timestamp_types(admin, names)
    wrong = [name for name in names if current.get(name) != LOG_APPEND_TIME]
    if not wrong:
        return
    admin.alter_configs(
        [
            ConfigResource(
                ConfigResourceType.TOPIC, name, configs={TIMESTAMP_TYPE: LOG_APPEND_TIME}
            )
            for name in wrong
        ]
    )
    deadline = time.monotonic() + CONFIG_SETTLE_SECONDS
    while True:
        current = _timestamp_types(admin, wrong)
        wrong = [name for name in wrong if current.get(name) != LOG_APPEND_TIME]
        if not wrong:
            return
        if time.monotonic() > deadline:
            raise TopicMismatch(
                f"topic {wrong[0]!r} still has {TIMESTAMP_TYPE}={current.get(wrong[0])} "
                f"after being set to {LOG_APPEND_TIME}; set it by hand (kafka-configs.sh)"
            )
        time.sleep(0.2)
