"""`sigap topics create` on the real broker: partition counts, compaction and retention."""

from __future__ import annotations

import uuid

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from core.settings import Settings
from sigap.topics import TopicMismatch, TopicSpec, ensure_topics, required_topics
from tests.conftest import KafkaBroker


def _settings(broker: KafkaBroker) -> Settings:
    prefix = f"topics-{uuid.uuid4().hex[:8]}"
    return Settings.from_environ(
        {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "SIGAP_EVENTS_TOPIC": f"{prefix}-events",
            "SIGAP_VIEWS_TOPIC": f"{prefix}-views",
            "SIGAP_APP_ID": prefix,
            "SIGAP_TOPIC_PARTITIONS": "3",
        }
    )


def _configs(broker: KafkaBroker, names: list[str]) -> dict[str, dict[str, tuple[str, str]]]:
    """Per topic: config key -> (value, source), the source telling a topic's own setting
    (DYNAMIC_TOPIC_CONFIG) from an inherited broker default."""
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        found = {}
        for name in names:
            result = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name)], config_filter="all"
            )
            (by_name,) = result.values()
            found[name] = {
                key: (data["value"], data["config_source"]) for key, data in by_name[name].items()
            }
        return found
    finally:
        admin.close()


def test_topics_are_created_with_counts_compaction_and_retention(
    kafka_broker: KafkaBroker,
) -> None:
    settings = _settings(kafka_broker)
    specs = required_topics(settings)
    created = ensure_topics(settings)
    assert sorted(created) == sorted(spec.name for spec in specs)
    configs = _configs(kafka_broker, [spec.name for spec in specs])
    # The event log is what `sigap verify` recomputes from: it must never expire.
    kept = ("-1", "DYNAMIC_TOPIC_CONFIG")
    assert configs[settings.events_topic]["retention.ms"] == kept
    assert configs[settings.dead_letter_topic]["retention.ms"] == kept
    assert configs[settings.views_topic]["retention.ms"][1] != "DYNAMIC_TOPIC_CONFIG"
    for spec in specs:
        expected_policy = "compact" if spec.compacted else "delete"
        assert configs[spec.name]["cleanup.policy"][0] == expected_policy, spec.name
    assert any(spec.compacted for spec in specs)
    # Idempotent: a second run creates nothing and accepts what exists.
    assert ensure_topics(settings) == []


def test_an_existing_topic_with_another_partition_count_is_refused(
    kafka_broker: KafkaBroker,
) -> None:
    settings = _settings(kafka_broker)
    ensure_topics(settings, [TopicSpec(settings.events_topic, 1)])
    with pytest.raises(TopicMismatch, match="has 1 partitions but SIGAP expects 3"):
        ensure_topics(settings)
