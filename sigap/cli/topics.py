"""`sigap topics create`: the Kafka topics the service needs."""

from __future__ import annotations

import click

from sigap.cli.common import (
    load_settings,
)


@click.group(help="Kafka topics the service needs.")
def topics() -> None:
    pass


@topics.command("create", help="Create missing topics with the expected partition counts.")
def topics_create() -> None:
    from sigap.topics import ensure_topics

    created = ensure_topics(load_settings())
    click.echo(f"created: {', '.join(created) or 'none (all present)'}")


def register(group: click.Group) -> None:
    """Add `sigap topics` to ``group``."""
    for command in (topics,):
        group.add_command(command)
