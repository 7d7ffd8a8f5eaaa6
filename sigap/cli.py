"""The `sigap` command line.

Settings come from environment variables (README, "Configuration"); every command reads
them the same way through sigap.settings.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from core.registry import Registry
from sigap.settings import Settings, SettingsError

ENV_HELP = (
    "Settings come from the environment: KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), "
    "DATABASE_URL (default sqlite:///sigap.db), SIGAP_WEB_PORT (6066), SIGAP_EVENTS_TOPIC "
    "(complaint-events) and the others listed in the README."
)


def load_settings() -> Settings:
    """The validated settings, or one line naming the bad variable and exit 2."""
    try:
        return Settings.from_environ(os.environ)
    except SettingsError as error:
        click.echo(f"sigap: {error}", err=True)
        raise SystemExit(2) from None


class SigapGroup(click.Group):
    """Turns Kafka connection failures into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from kafka.errors import KafkaError

        try:
            return super().invoke(ctx)
        except KafkaError as error:
            settings = load_settings()
            raise click.ClickException(
                f"Kafka at {settings.kafka_bootstrap_servers} "
                f"({settings.kafka_security_protocol}): {type(error).__name__}: {error}. "
                "Check KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL and the "
                "KAFKA_SASL_* / KAFKA_SSL_* settings."
            ) from None


def ensure_topics_when_reachable(settings: Settings) -> None:
    """The topics, once the broker answers: bounded retry with backoff (sigap.retry), then
    one clear line (exit 1)."""
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from sigap.retry import Unreachable, with_backoff
    from sigap.topics import ensure_topics

    try:
        with_backoff(
            lambda: ensure_topics(settings),
            what=f"Kafka at {settings.kafka_bootstrap_servers}",
            retry_on=(KafkaConnectionError, KafkaTimeoutError),
            timeout_seconds=settings.connect_timeout_seconds,
        )
    except Unreachable as error:
        raise click.ClickException(f"{error} (KAFKA_BOOTSTRAP_SERVERS)") from None


def database_when_reachable(settings: Settings) -> Engine:
    """The score database's engine with its schema, once the database answers: bounded
    retry with backoff, then one clear line (exit 1; the URL is not shown: it may hold a
    password)."""
    from sqlalchemy.exc import OperationalError

    from sigap.retry import Unreachable, with_backoff
    from storage.scores import make_engine, migrate

    engine = make_engine(settings.database_url, create_schema=False)
    try:
        with_backoff(
            lambda: migrate(engine),
            what="the score database",
            retry_on=(OperationalError,),
            timeout_seconds=settings.connect_timeout_seconds,
        )
    except Unreachable as error:
        raise click.ClickException(f"{error} (DATABASE_URL)") from None
    return engine


def load_unit_registry(settings: Settings) -> Registry:
    """The unit and target registry (SIGAP_REGISTRY); a bad file stops with its message."""
    from core.registry import RegistryError, load_registry

    try:
        return load_registry(Path(settings.registry_path))
    except RegistryError as error:
        raise click.ClickException(f"invalid registry:\n{error}") from None


@click.group(
    cls=SigapGroup,
    help=f"SIGAP: live complaint-response KPIs for Surabaya's work units.\n\n{ENV_HELP}",
)
def main() -> None:
    # Warnings from the Kafka clients (an authentication failure, say) reach stderr.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


@main.command(help="Run the Faust worker: pair events, keep KPI state, serve /metrics.")
@click.option("--loglevel", default="info", show_default=True)
def worker(loglevel: str) -> None:
    from faust import Worker

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
    faust_worker = Worker(sigap_app.faust_app, loglevel=loglevel)
    quiet_debug_logging(faust_worker)
    faust_worker.execute_from_commandline()


@main.command("score-writer", help="Consume measured resolutions and upsert daily unit scores.")
def score_writer() -> None:
    from prometheus_client import REGISTRY

    from consumers.score_writer import ScoreWriter, build_consumer, kafka_dead_letter_sink
    from streams.processor import unit_partition

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
    click.echo(f"sigap score-writer: writing to {_safe_url(settings.database_url)}", err=True)
    if settings.score_writer_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.score_writer_metrics_port, addr=settings.web_host)
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


@main.command(help="Publish contract events from a JSON Lines file (one event per line).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--no-validate",
    is_flag=True,
    help="Send every line as it is, valid or not (the worker dead-letters invalid ones).",
)
def publish(file: Path, no_validate: bool) -> None:
    from sigap.publisher import EventPublisher, key_of, read_jsonl, validate_lines

    settings = load_settings()
    if not no_validate:
        invalid = validate_lines(read_jsonl(file))
        if invalid:
            for item in invalid[:20]:
                click.echo(f"{file}:{item.line_number}: {item.reason}", err=True)
            raise click.ClickException(
                f"{len(invalid)} invalid line(s) in {file}; nothing was published "
                "(fix them, or pass --no-validate to let the worker dead-letter them)"
            )
    count = 0
    with EventPublisher.from_settings(settings) as publisher:
        for _, raw in read_jsonl(file):
            publisher.publish_raw(key_of(raw), raw)
            count += 1
    click.echo(f"published {count} event(s) to {settings.events_topic}", err=True)


@main.command(help="Publish realistic complaint traffic for Surabaya work units.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same events).")
@click.option(
    "--speed",
    default=3600.0,
    show_default=True,
    help="Simulated seconds per real second while catching up with the present.",
)
@click.option(
    "--days-back", default=14.0, show_default=True, help="Start the simulated clock this far back."
)
@click.option("--rate-scale", default=1.0, show_default=True, help="Multiply arrival rates.")
@click.option("--seconds", type=float, default=None, help="Stop after this many real seconds.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the events to this JSONL file up to now instead of publishing them.",
)
def simulate(
    seed: int,
    speed: float,
    days_back: float,
    rate_scale: float,
    seconds: float | None,
    out: Path | None,
) -> None:
    import orjson

    from sigap.publisher import EventPublisher
    from sigap.simulator import TrafficModel

    start_real = time.time()
    settings = load_settings()
    model = TrafficModel(
        start=start_real - days_back * 86400,
        seed=seed,
        rate_scale=rate_scale,
        registry=load_unit_registry(settings),  # the categories come from the registry
    )
    if out is not None:
        events = model.advance(start_real)
        out.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        click.echo(f"wrote {len(events)} event(s) to {out}", err=True)
        return
    stop = {"now": False}
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.update(now=True))
    published = 0
    with EventPublisher.from_settings(settings) as publisher:
        while not stop["now"]:
            real_now = time.time()
            if seconds is not None and real_now - start_real >= seconds:
                break
            # Fast-forward through the past at --speed, then follow the real clock.
            simulated = min(model.now + speed * 0.5, real_now)
            for event in model.advance(simulated):
                publisher.publish(event)
                published += 1
            publisher.flush()
            time.sleep(0.5)
    click.echo(f"simulator published {published} event(s)", err=True)


@main.command(help="Compute the KPIs and daily unit scores of an event file, without Kafka.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Column mapping for a CSV export (see deploy/csv-mappings/).",
)
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default="table")
@click.option(
    "--as-of",
    default=None,
    help="Evaluate open complaints at this RFC 3339 instant (default: the latest event).",
)
@click.option(
    "--store",
    is_flag=True,
    help="Write the views and scores into DATABASE_URL as the score writer would (a new "
    "revision where rows exist), then close the due periods (a backfill).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes: the complaints, then the units, sharded across them (Linux); the same "
    "result as one.",
)
def replay(
    file: Path,
    mapping: Path | None,
    output_format: str,
    as_of: str | None,
    store: bool,
    workers: int,
) -> None:
    from datetime import datetime

    from rich.progress import Progress

    from sigap.replay import counted, result_json
    from sigap.replay import replay as run_replay
    from sigap.replay_sources import SourceError, open_source

    settings = load_settings()
    registry = load_unit_registry(settings)
    try:
        events, report = open_source(file, mapping)
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    as_of_epoch = None
    if as_of is not None:
        moment = datetime.fromisoformat(as_of)
        if moment.tzinfo is None:
            raise click.BadParameter("needs a UTC offset", param_hint="--as-of")
        as_of_epoch = moment.timestamp()
    if store:
        _backfill(file, mapping, settings, registry, as_of_epoch, output_format)
        return
    with Progress(transient=True, disable=output_format == "json") as progress:
        task = progress.add_task(f"replaying {file.name}", total=None)
        events = counted(events, lambda: progress.advance(task))
        if workers > 1:
            # Read in full here: the processes are forked after the progress bar's thread.
            events = iter(list(events))
        else:
            result = run_replay(events, registry, reference_epoch=time.time(), as_of=as_of_epoch)
    if workers > 1:
        result = run_replay(
            events, registry, reference_epoch=time.time(), as_of=as_of_epoch, workers=workers
        )
    summary = result_json(result)
    summary["source_problems"] = dict(sorted(report.reasons().items()))
    if output_format == "json":
        click.echo(json.dumps(summary, indent=2))
        return
    _print_replay(summary)


def _backfill(
    file: Path,
    mapping: Path | None,
    settings: Settings,
    registry: Registry,
    as_of: float | None,
    output_format: str,
) -> None:
    from collections.abc import Callable

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from sigap.backfill import backfill
    from sigap.replay_sources import SourceError
    from storage.scores import make_engine

    engine = make_engine(settings.database_url)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=output_format == "json") as progress:
        reading = progress.add_task(f"reading {file.name}", total=None)

        def phase(name: str, total: int | None) -> Callable[[int], None]:
            progress.update(reading, total=progress.tasks[reading].completed)
            task = progress.add_task(name, total=total)
            return lambda count: progress.advance(task, count)

        try:
            report = backfill(
                file,
                mapping,
                engine,
                registry,
                settings.grace_seconds,
                as_of=as_of,
                on_event=lambda: progress.advance(reading),
                on_phase=phase,
            )
        except SourceError as error:
            raise click.ClickException(str(error)) from None
    summary = report.as_json()
    if output_format == "json":
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{summary['events']} events ({summary['accepted']} accepted, rejected "
        f"{summary['rejected'] or 'none'}): {summary['views_stored']} views and "
        f"{summary['score_rows_written']} score rows stored in "
        f"{_safe_url(settings.database_url)}; {summary['periods_closed']} periods closed "
        f"({summary['official_rows']} official rows, {summary['restatement_rows']} "
        f"restatement rows); {summary['seconds'].get('total', 0)}s"
    )


def _print_replay(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"{summary['events']} events: {summary['accepted']} accepted, "
        f"rejected {summary['rejected'] or 'none'}, "
        f"source problems {summary['source_problems'] or 'none'}"
    )
    table = Table(title="Units (SLA met/missed; open past target)")
    for column in ("unit", "created", "resolved", "open", "response", "resolution", "past 100%"):
        table.add_column(column)
    for unit in summary["units"]:
        sla = unit["sla"]
        table.add_row(
            unit["unit"],
            str(unit["created"]),
            str(unit["resolved"]),
            str(unit["open"]),
            f"{sla['response']['met']}/{sla['response']['missed']}",
            f"{sla['resolution']['met']}/{sla['resolution']['missed']}",
            str(unit["open_past_target"]["response:1"] + unit["open_past_target"]["resolution:1"]),
        )
    console.print(table)
    _print_table([s for s in summary["scores"] if s["period"] == "day" and s["category"] == "*"])


@main.command(
    help="Print the persisted unit scores: the latest revision of each period (--revision N "
    "or --all-revisions for the history), over all categories unless --category is given."
)
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default="table")
@click.option("--unit", "units", multiple=True, help="Only these units (repeatable).")
@click.option("--period", type=click.Choice(["day", "week", "month", "quarter"]), default="day")
@click.option(
    "--category",
    default="*",
    show_default=True,
    help="One category's scores; '*' is the score over all categories, 'all' lists every one.",
)
@click.option(
    "--from",
    "date_from",
    default=None,
    help="Only periods starting on or after this period (e.g. 2026-11-01, 2026-W45, 2026-11).",
)
@click.option(
    "--to",
    "date_to",
    default=None,
    help="Only periods starting on or before the last day of this period.",
)
@click.option("--revision", type=click.IntRange(min=0), default=None, help="This revision only.")
@click.option("--all-revisions", is_flag=True, help="Every revision, not only the latest.")
def scores(
    output_format: str,
    units: tuple[str, ...],
    period: str,
    category: str,
    date_from: str | None,
    date_to: str | None,
    revision: int | None,
    all_revisions: bool,
) -> None:
    from core.periods import last_day, parse_period
    from storage.scores import make_engine, score_rows

    bounds = {}
    for name, value in (("--from", date_from), ("--to", date_to)):
        if value is not None:
            try:
                kind, start = parse_period(value)
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint=name) from None
            bounds[name] = start if name == "--from" else last_day(kind, start)
    if revision is not None and all_revisions:
        raise click.UsageError("give either --revision or --all-revisions")
    settings = load_settings()
    rows = score_rows(
        make_engine(settings.database_url),
        units,
        period,
        category=None if category == "all" else category,
        date_from=bounds.get("--from"),
        date_to=bounds.get("--to"),
        revision=revision,
        all_revisions=all_revisions,
    )
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    _print_table(rows)


@main.command(
    help="Run the whole service locally: Kafka broker, worker, score writer, simulator. "
    "Stops on Ctrl-C, or after DEMO_SECONDS seconds when that is set."
)
@click.option("--seconds", type=float, default=None, envvar="DEMO_SECONDS")
def demo(seconds: float | None) -> None:
    from sigap.demo import run_demo

    sys.exit(run_demo(seconds))


@main.group(help="Dead-lettered events: list them, export them to fix and publish again.")
def dlq() -> None:
    pass


@dlq.command("list", help="List dead-lettered messages with their reasons (not their content).")
@click.option("--reason", "reasons", multiple=True, help="Only these reasons (repeatable).")
def dlq_list(reasons: tuple[str, ...]) -> None:
    from collections import Counter

    from consumers.dead_letters import read_dead_letters

    settings = load_settings()
    counts: Counter[str] = Counter()
    for letter in read_dead_letters(settings):
        if reasons and letter.reason not in reasons:
            continue
        counts[letter.reason] += 1
        key = letter.key.decode(errors="replace") if letter.key is not None else "-"
        click.echo(
            f"{letter.partition}:{letter.offset}\t{letter.reason}\tkey={key}\t{len(letter.value)}B"
        )
    summary = ", ".join(f"{reason}={count}" for reason, count in sorted(counts.items()))
    click.echo(f"{sum(counts.values())} dead-lettered message(s): {summary or 'none'}", err=True)


@dlq.command("export", help="Write dead-lettered messages to a JSONL file, one per line.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reason", "reasons", multiple=True, help="Only these reasons (repeatable).")
def dlq_export(file: Path, reasons: tuple[str, ...]) -> None:
    from consumers.dead_letters import read_dead_letters

    settings = load_settings()
    written = 0
    with file.open("wb") as handle:
        for letter in read_dead_letters(settings):
            if reasons and letter.reason not in reasons:
                continue
            handle.write(letter.as_jsonl_line() + b"\n")
            written += 1
    click.echo(
        f"wrote {written} message(s) to {file}: fix them, then `sigap publish {file}`", err=True
    )


@main.group(help="Kafka topics the service needs.")
def topics() -> None:
    pass


@topics.command("create", help="Create missing topics with the expected partition counts.")
def topics_create() -> None:
    from sigap.topics import ensure_topics

    created = ensure_topics(load_settings())
    click.echo(f"created: {', '.join(created) or 'none (all present)'}")


@main.command(help="Print the JSON Schema of the event contract (or --check the shipped file).")
@click.option("--check", is_flag=True, help="Exit 1 if schemas/ holds a different schema.")
def schema(check: bool) -> None:
    from schemas.events import event_json_schema

    text = json.dumps(event_json_schema(), indent=2) + "\n"
    shipped = files("schemas") / "complaint-event.v1.schema.json"
    if check:
        if not shipped.is_file() or shipped.read_text() != text:
            raise click.ClickException(f"{shipped} is out of date: run `sigap schema > {shipped}`")
        click.echo("schema up to date")
        return
    sys.stdout.write(text)


class VerifyError(click.ClickException):
    """`sigap verify` could not run: exit 2 like a usage error (1 means differences)."""

    exit_code = 2


@main.command(
    help="Recompute a period's scores from the event log (the events topic from its "
    "beginning, or an event file) and compare them with the stored scores; for a closed "
    "period, its official revision too, from the log cut at the close instant. Exit status "
    "0: identical; 1: differences (listed); 2: usage or configuration error; 3: the worker "
    "or the score writer has not caught up with the topics (after --wait)."
)
@click.option(
    "--period",
    "period_text",
    required=True,
    help="The period: a day 2026-11-27, an ISO week 2026-W48, a month 2026-11, a quarter 2026-Q4.",
)
@click.option(
    "--source",
    default="topic",
    show_default=True,
    help="'topic' (SIGAP_EVENTS_TOPIC, read without a consumer group), or an event file: "
    ".jsonl, or .csv with --mapping.",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Column mapping for a CSV --source (see deploy/csv-mappings/).",
)
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default="table")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="With the topic: wait up to this many seconds for the worker and the score writer to "
    "consume what the topics hold now; still behind then: exit 3, live scores not compared.",
)
def verify(
    period_text: str, source: str, mapping: Path | None, output_format: str, wait_seconds: float
) -> None:
    from kafka.errors import KafkaError
    from sqlalchemy.exc import SQLAlchemyError

    from core.periods import parse_period
    from sigap.event_log import EventLogError
    from sigap.replay_sources import SourceError
    from sigap.verify import (
        TOPIC_SOURCE,
        StoredScoresChanging,
        load_log,
        load_stored,
        print_table,
        verify_period,
    )
    from storage.scores import make_engine

    try:
        kind, start = parse_period(period_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period") from None
    if source == TOPIC_SOURCE and mapping is not None:
        raise click.UsageError("--mapping applies to a CSV --source, not to the topic")
    settings = load_settings()
    try:
        registry = load_unit_registry(settings)
    except click.ClickException as error:
        raise VerifyError(error.message) from None
    try:
        engine = make_engine(settings.database_url, create_schema=False)
        stored = load_stored(engine, kind, start)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise VerifyError(
            f"score database {_safe_url(settings.database_url)}: {type(error).__name__}: "
            f"{reason} (check DATABASE_URL)"
        ) from None
    except StoredScoresChanging as error:
        raise VerifyError(str(error)) from None
    try:
        log = load_log(source, mapping, settings, registry)
    except (SourceError, EventLogError) as error:
        raise VerifyError(str(error)) from None
    except KafkaError as error:
        raise VerifyError(
            f"Kafka at {settings.kafka_bootstrap_servers} ({settings.kafka_security_protocol}): "
            f"{type(error).__name__}: {error}. Check KAFKA_BOOTSTRAP_SERVERS, "
            "KAFKA_SECURITY_PROTOCOL and the KAFKA_SASL_* / KAFKA_SSL_* settings."
        ) from None
    from sigap.closing import check_official, fold_source
    from sigap.pipeline_lag import wait_caught_up

    lag = None
    if source == TOPIC_SOURCE:
        lag = wait_caught_up(settings, wait_seconds)
        if lag:  # read again: the writer may have written more meanwhile
            stored = load_stored(engine, kind, start)
    fold, label, _ = fold_source(source, mapping, settings, registry)
    official = check_official(fold, label, engine, kind, start)
    result = verify_period(period_text, kind, start, log, stored, registry, settings.grace_seconds)
    behind = lag is not None and lag.behind
    if output_format == "json":
        document = result.as_json()
        document["official"] = None if official is None else official.as_json()
        document["pipeline"] = None if lag is None else lag.as_json()
        if behind:
            document["differences"] = []
            document["identical"] = None
        click.echo(json.dumps(document, indent=2))
    else:
        if behind:
            assert lag is not None
            click.echo(f"not caught up: {lag.describe()}; the live scores are not compared")
        else:
            print_table(result)
        _print_official(official)
    official_differs = official is not None and bool(official.differences)
    if behind:
        sys.exit(1 if official_differs else 3)
    sys.exit(1 if result.differences or official_differs else 0)


def _print_official(official: Any) -> None:
    from datetime import UTC, datetime

    if official is None:
        click.echo("official: the period is not closed yet (its scores are provisional)")
        return
    instant = datetime.fromtimestamp(official.close_instant, UTC).isoformat()
    if official.skipped:
        click.echo(f"official: not compared: {official.skipped}")
        return
    if not official.differences:
        click.echo(
            f"official: identical: the {official.official_rows} official row(s) and "
            f"{official.restatement_rows} latest restatement(s) equal their recomputation "
            f"from {official.close_source} cut at the close ({instant}) and at their own cuts"
        )
        return
    click.echo(f"official: {len(official.differences)} difference(s) (closed {instant}):")
    for difference in official.differences:
        click.echo(
            f"  {difference.unit} {difference.category} {difference.column or '(whole row)'}: "
            f"stored {difference.stored!r}, recomputed {difference.recomputed!r}"
        )


@main.command(
    help="Evaluation and feedback report of one unit (--unit) or of every unit (--all-units) "
    "for a period: KPIs against targets, trend, breakdowns, missed targets and overdue "
    "complaints, from the persisted scores (DATABASE_URL)."
)
@click.option("--unit", default=None, help="The unit code, e.g. dlh.")
@click.option("--all-units", is_flag=True, help="A city-wide league table instead of one unit.")
@click.option(
    "--period",
    "period_text",
    required=True,
    help="2026-11-27 (day), 2026-W48 (ISO week), 2026-11 (month) or 2026-Q4 (quarter).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["html", "md", "csv"]),
    default="html",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (default: standard output).",
)
@click.option(
    "--trend", "trend_periods", default=6, show_default=True, help="Previous periods shown."
)
def report(
    unit: str | None,
    all_units: bool,
    period_text: str,
    output_format: str,
    output: Path | None,
    trend_periods: int,
) -> None:
    from core.periods import parse_period
    from core.registry import UNKNOWN_UNIT
    from reports.render import render_report

    if all_units == (unit is not None):
        raise click.UsageError("give either --unit UNIT or --all-units")
    try:
        kind, start = parse_period(period_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period") from None
    settings = load_settings()
    registry = load_unit_registry(settings)
    if unit is not None and unit not in registry.units and unit != UNKNOWN_UNIT:
        raise click.BadParameter(
            f"{unit!r} is not a unit of the registry ({', '.join(sorted(registry.units))}, "
            f"or {UNKNOWN_UNIT})",
            param_hint="--unit",
        )
    text = render_report(
        settings.database_url,
        registry,
        unit=unit,
        kind=kind,
        start=start,
        output_format=output_format,
        trend_periods=trend_periods,
    )
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote the {output_format} report to {output}", err=True)


def _safe_url(url: str) -> str:
    """The database URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="Unit scores (resolution times in wall hours; met/missed per timer; "
        "rev = revision; category * = all)"
    )
    columns = ("period", "start", "unit", "category", "rev", "received", "resolved")
    for column in (*columns, "p50 h", "p90 h", "response", "resolution"):
        table.add_column(column)
    for row in rows:
        p50, p90 = row["resolution_p50_wall_seconds"], row["resolution_p90_wall_seconds"]
        revision = row.get("revision")
        table.add_row(
            row["period"],
            row["period_start"],
            row["unit"],
            row["category"],
            "-" if revision is None else ("provisional" if revision == 0 else str(revision)),
            str(row["received"]),
            str(row["resolved"]),
            "-" if p50 is None else f"{p50 / 3600:.2f}",
            "-" if p90 is None else f"{p90 / 3600:.2f}",
            f"{row['response_met']}/{row['response_missed']}",
            f"{row['resolution_met']}/{row['resolution_missed']}",
        )
    # Piped or captured (make demo's summary, a log file), Rich would squeeze the table into
    # 80 columns and cut the cells: give it room.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _register_monitoring() -> None:
    from monitoring.cli import register
    from sigap.close_commands import register as register_close

    register(main)
    register_close(main)


_register_monitoring()


def _register_actions() -> None:
    from sigap.actions_cli import register

    register(main)


_register_actions()


def _register_overdue() -> None:
    from sigap.overdue import register

    register(main)


_register_overdue()
