"""`sigap demo`: the whole service locally."""

from __future__ import annotations

import sys

import click


@click.command(
    help="Run the whole service locally: Kafka broker, worker, score writer, simulator. "
    "Stops on Ctrl-C, or after DEMO_SECONDS seconds when that is set."
)
@click.option("--seconds", type=float, default=None, envvar="DEMO_SECONDS")
def demo(seconds: float | None) -> None:
    from sigap.demo import run_demo

    sys.exit(run_demo(seconds))


def register(group: click.Group) -> None:
    """Add `sigap demo` to ``group``."""
    for command in (demo,):
        group.add_command(command)
