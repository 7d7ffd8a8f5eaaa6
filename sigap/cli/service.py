"""The long-running services: `sigap worker` and `sigap score-writer`."""

from __future__ import annotations

import logging
import signal

import click

from sigap.cli.common import (
    database_when_reachable,
    ensure_topics_when_reachable,
    load_settings,
    load_unit_registry,
    safe_url,
)


@click.command(help="Run the Faust worker: pair events, keep KPI state, serve /metrics.")
@click.option("--loglevel", default="info", show_default=True)
def worker(loglevel: str) -> None:
    from faust import Worker

    from streams.api import officer_endpoints_text
    from streams.app import create_app, install_event_loop, quiet_debug_logging

    install_event_loop()
    settings = load_settings()
    registry = load_unit_registry(settings)
    ensure_topics_when_reachable(settings)
    sigap_app = create_app(settings, registry)
    click.echo(
        f"sigap worker: metrics at http://{settings.web_host}:{settings.web_port}/metrics",
        err=True,
    )
    # Whether officer data is served; never the token.
    click.echo(f"sigap worker: {officer_endpoints_text(settings)}", err=True)
    from streams.stall_guard import StallGuard, guard_kafka_requests

    # A worker frozen past its group session exits before sending anything (a zombie's late
    # changelog writes would take the new owner's states back): streams/stall_guard.py.
    guard = StallGuard(float(sigap_app.faust_app.conf.broker_session_timeout))
    guard_kafka_requests(guard)
    guard.start()
    faust_worker = Worker(sigap_app.faust_app, loglevel=loglevel)
    quiet_debug_logging(faust_worker)
    from sigap.gc_policy import tune_garbage_collector

    tune_garbage_collector()  # after start-up built the app (sigap/gc_policy.py)
    faust_worker.execute_from_commandline()


@click.command("score-writer", help="Consume measured resolutions and upsert daily unit scores.")
def score_writer() -> None:
    from prometheus_client import REGISTRY

    from consumers.score_writer import ScoreWriter, build_consumer, kafka_dead_letter_sink
    from schemas.views import unit_partition

    logging.getLogger().setLevel(logging.INFO)
    settings = load_settings()
    ensure_topics_when_reachable(settings)
    engine = database_when_reachable(settings)
    dead_letter, dead_letter_producer = kafka_dead_letter_sink(settings)
    partitions = settings.topic_partitions
    writer = ScoreWriter(
        engine=engine,
        consumer=build_consumer(settings),
        grace_seconds=settings.grace_seconds,
        registry=load_unit_registry(settings),
        dead_letter=dead_letter,
        partition_of=lambda unit: unit_partition(unit, partitions),
        metrics_registry=REGISTRY,
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: writer.stop())
    click.echo(f"sigap score-writer: writing to {safe_url(settings.database_url)}", err=True)
    if settings.score_writer_metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(settings.score_writer_metrics_port, addr=settings.web_host)
        except OSError as error:  # the port is taken: the scores matter more than metrics
            logging.getLogger("sigap.score_writer").error(
                "metrics not served on port %d (%s); set SIGAP_SCORE_WRITER_METRICS_PORT",
                settings.score_writer_metrics_port,
                error,
            )
        click.echo(
            f"sigap score-writer: metrics at http://{settings.web_host}:"
            f"{settings.score_writer_metrics_port}/metrics",
            err=True,
        )
    closer_thread = None
    if settings.close_every_seconds:
        import threading

        from consumers.closing import PeriodicCloser

        closer = PeriodicCloser(
            settings,
            writer.engine,
            load_unit_registry(settings),
            settings.close_every_seconds,
            REGISTRY,
        )
        closer_thread = threading.Thread(
            target=closer.run_until, args=(writer.stopping,), name="closer", daemon=True
        )
        closer_thread.start()
    try:
        writer.run()
    finally:
        writer.consumer.close()
        dead_letter_producer.close()
        if closer_thread is not None:
            closer_thread.join(timeout=10)


def register(group: click.Group) -> None:
    """Add `sigap worker`, `sigap score-writer` to ``group``."""
    for command in (
        worker,
        score_writer,
    ):
        group.add_command(command)
