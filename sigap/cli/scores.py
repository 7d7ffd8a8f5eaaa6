"""Reading the persisted scores: `sigap scores` (a table) and `sigap report` (a report)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sigap.cli.common import (
    load_settings,
    load_unit_registry,
    print_scores_table,
    read_only_database_url,
)


@click.command(
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
@click.option(
    "--officers",
    is_flag=True,
    help="The officers' scores (per unit, officer, category and period; no revisions).",
)
@click.option("--officer", "officer_codes", multiple=True, help="With --officers: only these.")
def scores(
    output_format: str,
    units: tuple[str, ...],
    period: str,
    category: str,
    date_from: str | None,
    date_to: str | None,
    revision: int | None,
    all_revisions: bool,
    officers: bool,
    officer_codes: tuple[str, ...],
) -> None:
    from sigap.core.periods import last_day, parse_period
    from sigap.storage.database import make_engine
    from sigap.storage.score_queries import score_rows

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
    if officers or officer_codes:
        if revision is not None or all_revisions:
            raise click.UsageError("officer scores have no revisions")
        from sigap.storage.officer_scores import officer_score_rows

        officer_rows = officer_score_rows(
            make_engine(read_only_database_url(settings), create_schema=False),
            units,
            period,
            category=None if category == "all" else category,
            officers=officer_codes,
            date_from=bounds.get("--from"),
            date_to=bounds.get("--to"),
        )
        if output_format == "json":
            click.echo(json.dumps(officer_rows, indent=2))
        else:
            print_scores_table(officer_rows)
        return
    rows = score_rows(
        make_engine(read_only_database_url(settings), create_schema=False),
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
    print_scores_table(rows)


@click.command(
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
@click.option(
    "--officers",
    is_flag=True,
    help="With --unit: add a section with each officer's scores for the period "
    "(pseudonymous officer codes). Off by default: reports are shared widely.",
)
def report(
    unit: str | None,
    all_units: bool,
    period_text: str,
    output_format: str,
    output: Path | None,
    trend_periods: int,
    officers: bool,
) -> None:
    from sigap.core.periods import parse_period
    from sigap.core.registry import UNKNOWN_UNIT
    from sigap.reports.render import render_report

    if all_units == (unit is not None):
        raise click.UsageError("give either --unit UNIT or --all-units")
    if officers and all_units:
        raise click.UsageError("--officers is for a unit's report (--unit UNIT)")
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
        read_only_database_url(settings),
        registry,
        unit=unit,
        kind=kind,
        start=start,
        output_format=output_format,
        trend_periods=trend_periods,
        officers=officers,
    )
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote the {output_format} report to {output}", err=True)


def register(group: click.Group) -> None:
    """Add `sigap scores`, `sigap report` to ``group``."""
    for command in (
        scores,
        report,
    ):
        group.add_command(command)
