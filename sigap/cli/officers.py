"""`sigap evaluate` (performance grades of a unit and its officers for a quarter) and
`sigap evidence` (the quarterly evidence pack); `sigap verify --evidence` (sigap/cli/replay.py)
calls `verify_evidence` here.

Officer codes are printed to the operator's terminal or files only, never logged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

PERIOD_HELP = "A quarter, e.g. 2026-Q4."


def _quarter(text: str) -> Any:
    from sigap.core.periods import parse_period

    try:
        kind, start = parse_period(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period") from None
    if kind != "quarter":
        raise click.BadParameter("give a quarter, e.g. 2026-Q4", param_hint="--period")
    return start


@click.command(
    help="Propose the performance grade (predikat) of a unit and of each of its officers for "
    "a quarter from the stored scores, and check the distribution rules tied to the unit's "
    "grade (registry section predikat). Exit 1 when a rule is broken."
)
@click.option("--unit", required=True, help="The unit code.")
@click.option("--period", "period_text", required=True, help=PERIOD_HELP)
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default="table")
def evaluate(unit: str, period_text: str, output_format: str) -> None:
    from sigap.cli.common import load_settings, load_unit_registry, read_only_database_url
    from sigap.core.predikat import evaluate as evaluate_grades
    from sigap.core.predikat import version_on
    from sigap.storage.database import make_engine
    from sigap.storage.officer_scores import officer_score_rows
    from sigap.storage.score_queries import score_rows

    start = _quarter(period_text)
    settings = load_settings()
    registry = load_unit_registry(settings)
    engine = make_engine(read_only_database_url(settings), create_schema=False)
    units = score_rows(engine, [unit], "quarter", start=start)
    officers = officer_score_rows(engine, [unit], "quarter", date_from=start, date_to=start)
    version = version_on(registry.predikat, start)
    result = {
        "unit": unit,
        "period": period_text,
        **evaluate_grades(units[0] if units else None, officers, version),
    }
    if output_format == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        _print_evaluation(result)
    sys.exit(1 if result["violations"] else 0)


def _print_evaluation(result: dict[str, Any]) -> None:
    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}%"

    grade = result["unit_grade"]
    click.echo(
        f"{result['unit']} {result['period']}: {grade['grade']} (achievement "
        f"{show(grade['achievement_percent'])}, {grade['decided_timers']} decided timers; "
        f"predikat version {result['predikat_version']}, minimum "
        f"{result['min_decided_timers']} decided timers)"
    )
    for item in result["officers"]:
        click.echo(
            f"  {item['officer']}: {item['grade'] or item.get('note', '-')} "
            f"({show(item['achievement_percent'])}, {item['decided_timers']} decided)"
        )
    for rule in result["rules"]:
        click.echo(f"  rule: {rule}")
    for violation in result["violations"]:
        click.echo(f"  VIOLATION: {violation['rule']}: found {violation['found']}")
    if not result["violations"]:
        click.echo("  no distribution rule broken")


@click.command(
    help="Write the quarterly evidence pack of a unit and its officers (HTML and CSV laid out "
    "like the quarterly evaluation form, the complaints behind the figures, a manifest with "
    "SHA-256 of each file, the registry version and the exact log range: the source file's "
    "hash, or the events topic's offsets per partition). Check it with "
    "`sigap verify --evidence DIR --source FILE|topic`."
)
@click.option("--unit", required=True, help="The unit code.")
@click.option("--period", "period_text", required=True, help=PERIOD_HELP)
@click.option(
    "--source",
    required=True,
    help="'topic' (SIGAP_EVENTS_TOPIC, read to its current end without a consumer group), "
    "or an event log file: a .jsonl file, or a .csv with --mapping.",
)
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path))
def evidence(unit: str, period_text: str, source: str, mapping: Path | None, output: Path) -> None:
    from sigap.evidence import write_pack

    start = _quarter(period_text)
    if source == TOPIC:
        if mapping is not None:
            raise click.UsageError("--mapping applies to a CSV --source, not to the topic")
        pack = recompute_topic_pack(unit, start, None)
    else:
        path = Path(source)
        if not path.is_file():
            raise click.BadParameter(f"{source}: no such file (or 'topic')", param_hint="--source")
        pack = recompute_pack(unit, start, path, mapping)
    write_pack(pack, output)
    click.echo(f"evidence pack of {unit} {period_text} written to {output}")


TOPIC = "topic"  # sigap.verify.TOPIC_SOURCE


def recompute_pack(unit: str, start: Any, source: Path, mapping: Path | None) -> Any:
    from sigap.cli.common import load_settings, load_unit_registry
    from sigap.evidence import build_pack, file_log_range
    from sigap.replay_sources import SourceError
    from sigap.verify import load_log

    settings = load_settings()
    registry = load_unit_registry(settings)
    try:
        log = load_log(str(source), mapping, settings, registry)
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    if log.watermark is None:
        raise click.ClickException(f"{source}: no event")
    return build_pack(log.views, registry, unit, start, file_log_range(source), log.watermark)


def recompute_topic_pack(unit: str, start: Any, offsets: dict[int, tuple[int, int]] | None) -> Any:
    """The pack from the events topic: to its current end (offsets None), or from exactly
    the recorded offsets (verification: later events are not read)."""
    from kafka.errors import KafkaError

    from sigap.cli.common import load_settings, load_unit_registry
    from sigap.event_log import EventLogError
    from sigap.evidence import build_pack, topic_log_range
    from sigap.verify import TOPIC_SOURCE, load_log

    settings = load_settings()
    registry = load_unit_registry(settings)
    try:
        log = load_log(TOPIC_SOURCE, None, settings, registry, offsets=offsets)
    except (EventLogError, KafkaError) as error:
        raise click.ClickException(f"events topic: {error}") from None
    if log.truncated:
        click.echo(
            f"warning: topic {settings.events_topic}: the oldest events of partition(s) "
            f"{', '.join(map(str, sorted(log.truncated)))} were deleted (retention); the "
            "pack covers what the broker still holds",
            err=True,
        )
    if log.watermark is None:
        raise click.ClickException(f"topic {settings.events_topic}: no event")
    log_range = topic_log_range(settings.events_topic, log.offsets)
    return build_pack(log.views, registry, unit, start, log_range, log.watermark)


def verify_evidence(directory: Path, source: Path | None, mapping: Path | None) -> None:
    """`sigap verify --evidence DIR`: recompute the pack and compare it byte for byte. With
    `source` None, from the events topic, reading exactly the offsets the manifest records."""
    from sigap.evidence import MANIFEST, check_pack, file_log_range, topic_offsets

    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        unit, period = str(manifest["unit"]), str(manifest["period"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise click.ClickException(f"{directory / MANIFEST}: unreadable ({error})") from None
    log = manifest.get("log")
    if source is None:
        from sigap.cli.common import load_settings

        if not isinstance(log, dict) or log.get("source") != TOPIC:
            raise click.UsageError("the pack was made from an event file: give it as --source FILE")
        topic = load_settings().events_topic
        if log.get("topic") != topic:
            click.echo(f"topic {topic}: not the log the pack was made from ({log.get('topic')})")
            sys.exit(1)
        try:
            offsets = topic_offsets(log)
        except ValueError as error:
            click.echo(f"{MANIFEST}: {error}")
            sys.exit(1)
        pack = recompute_topic_pack(unit, _quarter(period), offsets)
    else:
        if file_log_range(source) != log:
            click.echo(f"{source}: not the log the pack was made from (SHA-256 or name differ)")
            sys.exit(1)
        pack = recompute_pack(unit, _quarter(period), source, mapping)
    problems = check_pack(directory, pack)
    for problem in problems:
        click.echo(problem)
    if problems:
        sys.exit(1)
    click.echo(f"evidence pack {directory} verified: every file identical to the recomputation")


def register(group: click.Group) -> None:
    group.add_command(evaluate)
    group.add_command(evidence)
