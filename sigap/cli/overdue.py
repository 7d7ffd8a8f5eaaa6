"""`sigap overdue --unit U`: the unit's worklist, from the worker's live state.

It asks the worker (`GET /api/units/{unit}/overdue`, streams/api.py) rather than recomputing:
the list is the one the worker's gauges and alerts count. `--url` names the worker (default
http://$SIGAP_WEB_HOST:$SIGAP_WEB_PORT); with several workers, the one whose `/api/units`
says `served_here: true` for the unit.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, Final
from urllib.parse import quote, urlencode

import click

__all__ = ["overdue", "register", "render_table"]

TIMEOUT_SECONDS: Final = 15.0
LEVEL_TITLES: Final = {"1": "past deadline", "0.75": ">= 75%", "0.5": ">= 50%"}


def _default_url() -> str:
    host = os.environ.get("SIGAP_WEB_HOST") or "127.0.0.1"
    port = os.environ.get("SIGAP_WEB_PORT") or "6066"
    return f"http://{host}:{port}"


def _duration(seconds: float) -> str:
    if seconds <= 0:
        return "-"
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m"


def fetch_worklist(base_url: str, unit: str, params: dict[str, str]) -> dict[str, Any]:
    url = f"{base_url.rstrip('/')}/api/units/{quote(unit, safe='')}/overdue"
    if params:
        url += "?" + urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read())
        except ValueError:
            detail = {"error": error.reason}
        message = detail.get("error", "error")
        if detail.get("detail"):
            message += f": {detail['detail']}"
        raise click.ClickException(f"{url}: {error.code} {message}") from None
    except OSError as error:
        raise click.ClickException(f"cannot reach the worker at {url}: {error}") from None


def render_table(body: dict[str, Any]) -> str:
    """A plain-text table (no colours: it goes to logs and chat as well as terminals)."""
    header = (
        "complaint_id",
        "timer",
        "level",
        "deadline (UTC)",
        "past (wall)",
        "past (working)",
        "held since (UTC)",
        "category",
        "paused",
    )
    rows = [
        (
            item["complaint_id"],
            item["timer"],
            LEVEL_TITLES.get(item["level"], item["level"]),
            (item["deadline"] or "")[:16],
            _duration(item["past_deadline_wall_seconds"]),
            _duration(item["past_deadline_working_seconds"]),
            (item["held_since"] or "")[:16],
            item["category"],
            "yes" if item["paused"] else "",
        )
        for item in body["items"]
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    by_level = body["by_level"]
    shown = f"{body['offset'] + 1}-{body['offset'] + len(rows)}" if rows else "none"
    summary = (
        f"{body['unit']} at {body['watermark'] or 'no watermark yet'}: {body['total']} on the "
        f"list (past deadline {by_level['1']}, >= 75% {by_level['0.75']}, "
        f">= 50% {by_level['0.5']}); showing {shown}"
    )
    if body["next_offset"] is not None:
        summary += f"; next page: --offset {body['next_offset']}"
    return "\n".join([summary, *[line.rstrip() for line in lines]]) + "\n"


@click.command(help="List a unit's open complaints past, or nearing, a target (oldest first).")
@click.option("--unit", required=True, help="Unit code, e.g. dlh.")
@click.option(
    "--level",
    type=click.Choice(["0.5", "0.75", "1"]),
    default="0.5",
    show_default=True,
    help="Lowest share of the allowed time used: 1 lists only complaints past a deadline.",
)
@click.option("--timer", type=click.Choice(["response", "resolution"]), default=None)
@click.option("--limit", type=click.IntRange(0, 500), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
@click.option(
    "--url",
    default=_default_url,
    show_default="http://$SIGAP_WEB_HOST:$SIGAP_WEB_PORT",
    help="The worker serving the unit.",
)
def overdue(
    unit: str, level: str, timer: str | None, limit: int, offset: int, output: str, url: str
) -> None:
    params = {"level": level, "limit": str(limit), "offset": str(offset)}
    if timer is not None:
        params["timer"] = timer
    body = fetch_worklist(url, unit, params)
    if output == "json":
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(body))


def register(group: click.Group) -> None:
    group.add_command(overdue)
