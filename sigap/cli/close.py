"""`sigap close`: close the periods that are due (core.period_close), once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click


def register(main: click.Group) -> None:
    main.add_command(close)


@click.command(
    help="Close every period whose close instant has passed (the registry's close: rule, e.g. "
    "5 working days after the period ends): store its official scores, computed from the "
    "events appended to the log by that instant, and record the restatements of closed "
    "periods that events appended since have changed. The score writer does this every "
    "SIGAP_CLOSE_EVERY_SECONDS; this runs it once."
)
@click.option(
    "--source",
    default="topic",
    show_default=True,
    help="'topic' (SIGAP_EVENTS_TOPIC, by the broker's append time) or an event file (each "
    "event taken as appended when it occurred).",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Column mapping for a CSV --source.",
)
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default="table")
def close(source: str, mapping: Path | None, output_format: str) -> None:
    from consumers.closing import Closer
    from sigap.cli.common import load_settings, load_unit_registry
    from sigap.closing import fold_source
    from sigap.storage.database import make_engine

    settings = load_settings()
    registry = load_unit_registry(settings)
    started = time.monotonic()
    fold, label, cut = fold_source(source, mapping, settings, registry)
    closer = Closer(make_engine(settings.database_url), registry, label)
    closer.fold = fold
    report = closer.run(cut)
    summary = {
        "source": label,
        "cut": cut,
        "periods_closed": len(report.closed),
        "official_rows": report.official_rows,
        "restatement_rows": report.restatement_rows,
        "restated_by_period": dict(sorted(report.restated.items())),
        "rejected": dict(sorted(fold.rejected.items())),
        "seconds": round(time.monotonic() - started, 2),
    }
    if output_format == "json":
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{label}: {summary['periods_closed']} period(s) closed ({report.official_rows} "
        f"official rows), {report.restatement_rows} restatement row(s), in "
        f"{summary['seconds']}s"
    )
