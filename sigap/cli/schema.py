"""`sigap schema`: the JSON Schema of the event contract."""

from __future__ import annotations

import json
import sys
from importlib.resources import files

import click


@click.command(help="Print the JSON Schema of the event contract (or --check the shipped file).")
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


def register(group: click.Group) -> None:
    """Add `sigap schema` to ``group``."""
    for command in (schema,):
        group.add_command(command)
