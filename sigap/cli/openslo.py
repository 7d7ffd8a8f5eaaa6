"""`sigap openslo`: each unit's objectives as OpenSLO v1 documents (monitoring.openslo).

Reads the unit registry (``--registry``, else $SIGAP_REGISTRY, else deploy/registry.yaml).
Without ``--output`` the documents go to standard output as one multi-document YAML stream;
``--output FILE`` writes that stream to FILE; ``--output DIR/`` (an existing directory, or a
path ending in ``/``) writes one file per unit, ``DIR/<unit>.yaml``.
`register` adds the command to the `sigap` group.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from sigap.cli.monitoring import _load, _registry_option, _write

__all__ = ["openslo", "register"]


@click.command(help="Export each unit's objectives as OpenSLO v1 documents (multi-document YAML).")
@_registry_option
@click.option(
    "--output",
    "output",
    type=str,
    default=None,
    help="FILE for one multi-document stream, or DIR (existing, or ending in /) for one "
    "<unit>.yaml per unit. Default: standard output.",
)
def openslo(registry_path: Path, output: str | None) -> None:
    from sigap.monitoring.openslo import render_openslo, render_unit_files

    registry = _load(registry_path)
    now = datetime.now(UTC)
    try:
        if output is not None and (output.endswith("/") or Path(output).is_dir()):
            directory = Path(output)
            for name, text in render_unit_files(registry, now).items():
                _write(directory / name, text)
            return
        text = render_openslo(registry, now)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(Path(output), text)


def register(group: click.Group) -> None:
    """Add `openslo` to ``group`` (the `sigap` command)."""
    group.add_command(openslo)
