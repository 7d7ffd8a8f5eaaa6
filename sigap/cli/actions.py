"""`sigap actions add|list|close`: the corrective actions register (docs/causes.md).

The owner is an officer code (pseudonymous, the unit-code pattern), the cause a code of the
registry's causes vocabulary (or `unexplained`). Changes are kept with their history in the
score database (DATABASE_URL); "now" is the wall clock at the command.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import click

from sigap.core.cause_settings import UNEXPLAINED
from sigap.core.registry import CODE_RE
from sigap.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_environ(os.environ)
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


def _engine(settings: Settings) -> Any:
    from sigap.storage.database import make_engine

    return make_engine(settings.database_url)


def _registry(settings: Settings) -> Any:
    from sigap.core.registry import RegistryError
    from sigap.core.registry_file import load_registry

    try:
        return load_registry(Path(settings.registry_path))
    except RegistryError as error:
        raise click.ClickException(str(error)) from None


def _action_json(action: Any) -> dict[str, Any]:
    return {
        "action_id": action.action_id,
        "unit": action.unit,
        "cause": action.cause,
        "owner": action.owner,
        "due_on": action.due_on.isoformat(),
        "status": action.status,
        "decided_at_epoch": action.decided_at,
        "closed_at_epoch": action.closed_at,
    }


@click.group("actions")
def actions() -> None:
    """Corrective actions decided about the causes of misses (with their history)."""


@actions.command("add")
@click.option("--unit", required=True, help="the unit's code")
@click.option("--cause", required=True, help="a causes vocabulary code, or `unexplained`")
@click.option("--owner", required=True, help="the owner's officer code (never a name)")
@click.option("--due", required=True, help="due date, YYYY-MM-DD")
def add(unit: str, cause: str, owner: str, due: str) -> None:
    """Register a new, open corrective action; prints its number."""
    from sigap.storage.actions import add_action

    settings = _settings()
    registry = _registry(settings)
    if unit not in registry.units:
        raise click.BadParameter(f"{unit!r} is not a unit of the registry", param_hint="--unit")
    if cause != UNEXPLAINED and not registry.causes.known(cause):
        known = ", ".join(registry.causes.vocabulary)
        raise click.BadParameter(
            f"{cause!r} is not one of {known}, {UNEXPLAINED}", param_hint="--cause"
        )
    if not CODE_RE.match(owner):
        raise click.BadParameter(
            f"must be an officer code ({CODE_RE.pattern})", param_hint="--owner"
        )
    try:
        due_on = date.fromisoformat(due)
    except ValueError:
        raise click.BadParameter("must be a date YYYY-MM-DD", param_hint="--due") from None
    action = add_action(
        _engine(settings), unit=unit, cause=cause, owner=owner, due_on=due_on, now=time.time()
    )
    click.echo(f"corrective action #{action.action_id} added ({unit}, {cause}, due {due})")


@actions.command("list")
@click.option("--unit", default=None, help="one unit only")
@click.option("--status", type=click.Choice(["open", "done", "dropped"]), default=None)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
@click.option("--history", is_flag=True, help="with each action's changes (JSON only)")
def list_command(unit: str | None, status: str | None, output_format: str, history: bool) -> None:
    """The register, oldest first."""
    from sigap.storage.actions import action_history, list_actions

    engine = _engine(_settings())
    found = list_actions(engine, unit=unit, status=status)
    if output_format == "json":
        rows = []
        for action in found:
            row = _action_json(action)
            if history:
                row["history"] = list(action_history(engine, action.action_id))
            rows.append(row)
        click.echo(json.dumps(rows, indent=2))
        return
    if not found:
        click.echo("no corrective action")
        return
    click.echo(f"{'#':>4}  {'unit':<16} {'cause':<24} {'owner':<16} {'due':<10}  status")
    for action in found:
        click.echo(
            f"{action.action_id:>4}  {action.unit:<16} {action.cause:<24} {action.owner:<16} "
            f"{action.due_on.isoformat():<10}  {action.status}"
        )


@actions.command("close")
@click.argument("action_id", type=int)
@click.option("--status", type=click.Choice(["done", "dropped"]), default="done")
def close(action_id: int, status: str) -> None:
    """Close an open action as done (default) or dropped."""
    from sigap.storage.actions import ActionError, close_action

    try:
        close_action(_engine(_settings()), action_id, status=status, now=time.time())
    except ActionError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"corrective action #{action_id} {status}")


def register(group: click.Group) -> None:
    group.add_command(actions)
