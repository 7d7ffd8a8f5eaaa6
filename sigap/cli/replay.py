"""Recomputing from an event log: `sigap replay` (KPIs of a file, or a backfill with
--store) and `sigap verify` (recomputed scores against the stored ones)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from sigap.cli.common import (
    load_settings,
    load_unit_registry,
    print_scores_table,
    read_only_database_url,
    safe_url,
)
from sigap.core.registry import Registry
from sigap.settings import Settings


@click.command(help="Compute the KPIs and daily unit scores of an event file, without Kafka.")
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

    from sigap.gc_policy import tune_garbage_collector
    from sigap.replay import counted, result_json
    from sigap.replay import replay as run_replay
    from sigap.replay_sources import SourceError, open_source

    settings = load_settings()
    registry = load_unit_registry(settings)
    tune_garbage_collector()
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
    from sigap.storage.database import make_engine

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
        f"{safe_url(settings.database_url)}; {summary['periods_closed']} periods closed "
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
    print_scores_table(
        [s for s in summary["scores"] if s["period"] == "day" and s["category"] == "*"]
    )


class VerifyError(click.ClickException):
    """`sigap verify` could not run: exit 2 like a usage error (1 means differences)."""

    exit_code = 2


@click.command(
    help="Recompute a period's scores from the event log (the events topic from its "
    "beginning, or an event file) and compare them with the stored scores; for a closed "
    "period, its official revision too, from the log cut at the close instant. Exit status "
    "0: identical; 1: differences (listed); 2: usage or configuration error; 3: the worker "
    "or the score writer has not caught up with the topics (after --wait)."
)
@click.option(
    "--period",
    "period_text",
    default=None,
    help="The period: a day 2026-11-27, an ISO week 2026-W48, a month 2026-11, a quarter 2026-Q4.",
)
@click.option(
    "--evidence",
    "evidence_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Verify an evidence pack (sigap evidence) instead, against its --source: the "
    "file, or 'topic' (exactly the offsets its manifest records).",
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
    # The worker commits its offsets every few seconds (Faust's broker_commit_interval,
    # 2.8 s), so a pipeline that has processed everything can look behind for that long.
    default=30.0,
    show_default=True,
    help="With the topic: wait up to this many seconds for the worker and the score writer to "
    "consume what the topics hold now; still behind then: exit 3, live scores not compared. "
    "0: do not wait.",
)
def verify(
    period_text: str | None,
    evidence_dir: Path | None,
    source: str,
    mapping: Path | None,
    output_format: str,
    wait_seconds: float,
) -> None:
    if evidence_dir is not None:
        from sigap.cli.officers import verify_evidence

        verify_evidence(evidence_dir, None if source == "topic" else Path(source), mapping)
        return
    if period_text is None:
        raise click.UsageError("give --period (or --evidence DIR)")
    from kafka.errors import KafkaError
    from sqlalchemy.exc import SQLAlchemyError

    from sigap.core.periods import parse_period
    from sigap.event_log import EventLogError
    from sigap.replay_sources import SourceError
    from sigap.storage.database import make_engine
    from sigap.verify import (
        TOPIC_SOURCE,
        StoredScoresChanging,
        load_log,
        load_stored,
        print_table,
        verify_period,
    )

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
        engine = make_engine(read_only_database_url(settings), create_schema=False)
        stored = load_stored(engine, kind, start)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise VerifyError(
            f"score database {safe_url(settings.database_url)}: {type(error).__name__}: "
            f"{reason} (check DATABASE_URL)"
        ) from None
    except StoredScoresChanging as error:
        raise VerifyError(str(error)) from None
    except click.ClickException as error:  # no database where DATABASE_URL points
        raise VerifyError(error.message) from None
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


def register(group: click.Group) -> None:
    """Add `sigap replay`, `sigap verify` to ``group``."""
    for command in (
        replay,
        verify,
    ):
        group.add_command(command)
