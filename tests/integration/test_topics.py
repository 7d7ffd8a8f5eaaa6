"""`sigap topics create` on the real broker: partition counts, compaction and retention."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from sigap.settings import Settings
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


def test_event_topics_keep_the_brokers_append_time_even_when_created_before(
    kafka_broker: KafkaBroker,
) -> None:
    """The record timestamp bounds event time (docs/contract.md): it must be the broker's
    clock. A topic created before, with CreateTime, is altered in place; its retention is kept."""
    settings = _settings(kafka_broker)
    # As an older SIGAP created it: CreateTime (the default), retention forever.
    ensure_topics(settings, [TopicSpec(settings.events_topic, 3, kept_forever=True)])
    before = _configs(kafka_broker, [settings.events_topic])[settings.events_topic]
    assert before["message.timestamp.type"][0] == "CreateTime"
    ensure_topics(settings)
    names = [settings.events_topic, settings.views_topic, settings.dead_letter_topic]
    configs = _configs(kafka_broker, names)
    for name in names:
        assert configs[name]["message.timestamp.type"] == (
            "LogAppendTime",
            "DYNAMIC_TOPIC_CONFIG",
        ), name
    assert configs[settings.events_topic]["retention.ms"] == ("-1", "DYNAMIC_TOPIC_CONFIG")
    # Effective: a record whose producer claims a timestamp a day ahead gets the broker's.
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    claimed_ms = int((time.time() + 86400) * 1000)
    metadata = producer.send(
        settings.events_topic, key=b"k", value=b"{}", timestamp_ms=claimed_ms
    ).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id=None)
    partition = TopicPartition(settings.events_topic, metadata.partition)
    consumer.assign([partition])
    consumer.seek(partition, metadata.offset)
    records = consumer.poll(timeout_ms=10_000)[partition]
    consumer.close()
    assert records[0].timestamp_type == 1  # LogAppendTime
    assert abs(records[0].timestamp / 1000 - time.time()) < 120
