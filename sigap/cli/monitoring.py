"""`sigap rules`, `sigap alertmanager-config` and `sigap dashboards`.

Each command reads the unit registry (``--registry``, else $SIGAP_REGISTRY, else
deploy/registry.yaml) and writes its generated files (``--out``, default the deploy/
location, relative to the working directory: run them from the repository root).
`register` adds them to the `sigap` group.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import click

from sigap.core.registry import Registry, RegistryError
from sigap.core.registry_file import load_registry
from sigap.settings import DEFAULT_REGISTRY as SHIPPED_REGISTRY

__all__ = ["alertmanager_config", "dashboards", "register", "rules"]

DEFAULT_REGISTRY: Final = SHIPPED_REGISTRY
DEFAULT_RULES_OUT: Final = Path("deploy/prometheus/sigap-rules.yml")
DEFAULT_ALERTMANAGER_OUT: Final = Path("deploy/alertmanager/alertmanager.yml")
DEFAULT_GRAFANA_OUT: Final = Path("deploy/grafana")


def _default_registry() -> Path:
    return Path(os.environ.get("SIGAP_REGISTRY") or DEFAULT_REGISTRY)


_registry_option = click.option(
    "--registry",
    "registry_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=_default_registry,
    show_default="$SIGAP_REGISTRY or deploy/registry.yaml",
    help="Unit registry to generate from.",
)


def _load(path: Path) -> Registry:
    try:
        return load_registry(path)
    except RegistryError as error:
        raise click.ClickException(f"invalid registry:\n{error}") from None


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    click.echo(f"wrote {path}", err=True)


@click.command(help="Generate the Prometheus recording and alerting rules from the registry.")
@_registry_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_RULES_OUT,
    show_default=True,
    help="Rules file to write.",
)
@click.option(
    "--api-url",
    default=None,
    help="URL of the worker's API that alerts link to (default http://127.0.0.1:6066).",
)
@click.option(
    "--docs-url",
    envvar="SIGAP_DOCS_URL",
    default=None,
    help="Where docs/ is published: alerts link to its runbooks.md (default "
    "$SIGAP_DOCS_URL, else the placeholder https://sigap.example/docs).",
)
def rules(registry_path: Path, out: Path, api_url: str | None, docs_url: str | None) -> None:
    from sigap.monitoring import DEFAULT_API_URL, DEFAULT_DOCS_URL
    from sigap.monitoring.rules import render_rules

    text = render_rules(
        _load(registry_path),
        api_url=api_url or DEFAULT_API_URL,
        docs_url=docs_url or DEFAULT_DOCS_URL,
    )
    _write(out, text)


@click.command(
    "alertmanager-config", help="Generate the Alertmanager routes and receivers from the registry."
)
@_registry_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_ALERTMANAGER_OUT,
    show_default=True,
    help="Alertmanager configuration file to write.",
)
@click.option(
    "--webhook-base",
    default=None,
    help="Base URL of the webhook receivers (placeholder default: http://127.0.0.1:9099/hooks).",
)
def alertmanager_config(registry_path: Path, out: Path, webhook_base: str | None) -> None:
    from sigap.monitoring.alertmanager import DEFAULT_WEBHOOK_BASE, render_alertmanager_config

    _write(
        out, render_alertmanager_config(_load(registry_path), webhook_base or DEFAULT_WEBHOOK_BASE)
    )


@click.command(help="Generate the Grafana dashboards and provisioning files from the registry.")
@_registry_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_GRAFANA_OUT,
    show_default=True,
    help="Directory to write dashboards/ and provisioning/ into.",
)
@click.option(
    "--prometheus-url",
    default=None,
    help="URL of Prometheus in the datasource provisioning (default http://127.0.0.1:9090).",
)
@click.option(
    "--dashboards-path",
    default=None,
    help="Where Grafana reads the dashboard JSON files "
    "(default /var/lib/grafana/dashboards/sigap).",
)
@click.option(
    "--api-url",
    default=None,
    help="URL of the worker's API, the default of the dashboards' `sigap_api` variable that "
    "the worklist links use (default http://127.0.0.1:6066).",
)
def dashboards(
    registry_path: Path,
    out: Path,
    prometheus_url: str | None,
    dashboards_path: str | None,
    api_url: str | None,
) -> None:
    from sigap.monitoring import DEFAULT_API_URL
    from sigap.monitoring.dashboards import (
        DEFAULT_DASHBOARDS_PATH,
        DEFAULT_PROMETHEUS_URL,
        write_grafana,
    )

    written = write_grafana(
        _load(registry_path),
        out,
        prometheus_url or DEFAULT_PROMETHEUS_URL,
        dashboards_path or DEFAULT_DASHBOARDS_PATH,
        api_url or DEFAULT_API_URL,
    )
    for path in written:
        click.echo(f"wrote {path}", err=True)


def register(group: click.Group) -> None:
    """Add the monitoring commands to ``group`` (the `sigap` command)."""
    for command in (rules, alertmanager_config, dashboards):
        group.add_command(command)
