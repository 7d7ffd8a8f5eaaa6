"""The Faust application: topics, tables, web server and the metrics page.

`create_app(settings)` builds everything from settings (no module-level app), so tests and
the CLI each get their own app with their own topics and store.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CollectorRegistry, disable_created_metrics

from core.settings import Settings
from metrics.collector import SigapCollector
from streams.processor import EventProcessor

# Series such as complaints_created_created only double the series count for nothing.
disable_created_metrics()  # type: ignore[no-untyped-call]


@dataclass
class SigapApp:
    faust_app: faust.App
    processor: EventProcessor
    registry: CollectorRegistry
    settings: Settings


def kafka_broker_urls(bootstrap_servers: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server]


def broker_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """Faust's form of the Kafka security settings (the same ones kafka-python clients use)."""
    ssl_context = None
    if settings.kafka_uses_tls:
        ssl_context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile:
            ssl_context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    if settings.kafka_uses_sasl:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=ssl_context,
        )
    if ssl_context is not None:
        return faust.SSLCredentials(ssl_context)
    return None


def create_app(settings: Settings, **faust_overrides: Any) -> SigapApp:
    app = faust.App(
        settings.app_id,
        broker=kafka_broker_urls(settings.kafka_bootstrap_servers),
        broker_credentials=broker_credentials(settings),
        store=settings.store_url,
        datadir=settings.state_dir,
        topic_partitions=settings.topic_partitions,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
        # Events are parsed by schemas.events (strict validation, dead-lettering); Faust
        # passes the bytes through untouched.
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        **faust_overrides,
    )
    events_topic = app.topic(
        settings.events_topic, partitions=settings.topic_partitions, internal=False
    )
    resolutions_topic = app.topic(
        settings.resolutions_topic, partitions=settings.topic_partitions, internal=False
    )
    dead_letter_topic = app.topic(settings.dead_letter_topic, partitions=1, internal=False)
    complaints = app.Table(
        "complaints",
        partitions=settings.topic_partitions,
        help="One record per complaint_id: unit, event times, event ids seen.",
    )
    unit_totals = app.Table(
        "unit-totals",
        partitions=settings.topic_partitions,
        help="Per (partition, unit) totals behind the counters and the histogram.",
    )
    rejections = app.Table(
        "rejections",
        partitions=settings.topic_partitions,
        help="Per (partition, reason) count of rejected events.",
    )
    processor = EventProcessor(
        app=app,
        events_topic_name=settings.events_topic,
        complaints=complaints,
        unit_totals=unit_totals,
        rejections=rejections,
        resolutions_topic=resolutions_topic,
        dead_letter_topic=dead_letter_topic,
    )

    @app.agent(events_topic, name="measure")
    async def measure(stream: Any) -> None:
        async for event in stream.events():
            await processor.process(event)

    registry = CollectorRegistry(auto_describe=True)
    registry.register(SigapCollector(processor.snapshot))
    # Faust's own sensor metrics (milliseconds, faust_ prefix) on the same /metrics page.
    setup_prometheus_sensors(app, pattern="/metrics", registry=registry, name_prefix="faust")
    return SigapApp(faust_app=app, processor=processor, registry=registry, settings=settings)
