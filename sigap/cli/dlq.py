"""`sigap dlq list` and `sigap dlq export`: the dead-lettered events."""

from __future__ import annotations

from pathlib import Path

import click

from sigap.cli.common import (
    load_settings,
)


@click.group(help="Dead-lettered events: list them, export them to fix and publish again.")
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


def register(group: click.Group) -> None:
    """Add `sigap dlq` to ``group``."""
    for command in (dlq,):
        group.add_command(command)
