"""The report's causes sections (HTML in a real Chromium, Markdown), the corrective actions'
before/after, the findings and the API's /api/units/{unit}/causes, on a score database
filled through the real scoring path with tests/causes/dataset.py and one February miss."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from schemas.events import parse_event
from sigap.cli import main
from sigap.core.calendar import JAKARTA
from sigap.replay import replay
from sigap.storage.actions import add_action, close_action
from sigap.storage.database import make_engine
from sigap.storage.scores import upsert_views
from streams.app import SigapApp
from tests.api.test_api_views import get, make_sigap
from tests.causes import dataset as ds
from tests.causes.test_pipeline import REGISTRY, REGISTRY_PATH
from tests.reports.test_report import Dom, render_in_chromium

# dlh misses again in February for the same cause: received Mon 2 Feb 09:00 (deadline Mon 9
# Feb 16:00), resolved Thu 12 Feb, explained by a joint site survey.
FEBRUARY = [
    {
        **ds.ev("h1", "created", "feb-late", "05T09:00", unit="dlh"),
        "occurred_at": "2026-02-02T09:00:00+07:00",
    },
    {
        **ds.ev("h2", "responded", "feb-late", "05T09:00"),
        "occurred_at": "2026-02-02T10:00:00+07:00",
    },
    {**ds.ev("h3", "resolved", "feb-late", "05T09:00"), "occurred_at": "2026-02-12T12:00:00+07:00"},
    {
        **ds.ev(
            "h4",
            "miss_explained",
            "feb-late",
            "05T09:00",
            unit="dlh",
            timer="resolution",
            cause="joint_site_survey",
        ),
        "occurred_at": "2026-02-12T13:00:00+07:00",
    },
]
ROUTE: dict[str, Any] = {
    "path_pattern": "/api/units/{unit}/causes",
    "view_args": {"unit": "dlh"},
}
WATERMARK = datetime(2026, 3, 2, tzinfo=JAKARTA).timestamp()


@pytest.fixture
def causes_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'causes.db'}"
    result = replay([parse_event(orjson.dumps(e)) for e in [*ds.EVENTS, *FEBRUARY]], REGISTRY)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        upsert_views(session, result.views, WATERMARK, 600.0, registry=REGISTRY)
    # Decided on 21 January about the surveys; a second one, dropped in January.
    decided = datetime(2026, 1, 21, 10, tzinfo=JAKARTA).timestamp()
    add_action(
        engine,
        unit="dlh",
        cause="joint_site_survey",
        owner="dlh-k01",
        due_on=datetime(2026, 2, 27).date(),
        now=decided,
    )
    dropped = add_action(
        engine,
        unit="dlh",
        cause="procurement",
        owner="dlh-k02",
        due_on=datetime(2026, 1, 30).date(),
        now=decided,
    )
    close_action(engine, dropped.action_id, status="dropped", now=decided + 3600)
    engine.dispose()
    return url


def report(url: str, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["report", *args],
        env={"DATABASE_URL": url, "SIGAP_REGISTRY": str(REGISTRY_PATH)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def cells(dom_text: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', dom_text, re.S)
    assert table is not None, table_id
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in rows
        if "<td" in row
    ]


def test_the_unit_report_renders_the_causes_sections_in_chromium(
    causes_db: str, tmp_path: Path
) -> None:
    html_file = tmp_path / "dlh.html"
    html_file.write_text(report(causes_db, "--unit", "dlh", "--period", "2026-01"), "utf-8")
    dom_text, screenshot = render_in_chromium(html_file, tmp_path)
    dom = Dom()
    dom.feed(dom_text)
    text = dom.visible_text()
    for heading in (
        "Why targets were missed",
        "Routing (no wrong door)",
        "Corrective actions",
        "Findings",
    ):
        assert heading in text
    assert cells(dom_text, "causes") == [
        ["joint site survey", "0", "1", "1", "late-survey"],
        ["not explained", "0", "1", "1", "late-unexpl"],
    ]
    assert "excused by an upheld objection: 1" in text
    assert cells(dom_text, "paused-by-reason") == [["citizen unreachable", "3.0 h", "1"]]
    assert cells(dom_text, "routing-summary")[0][1] == "83.3% (5 of 6)"
    assert cells(dom_text, "transfers") == [["dsda", "not our authority", "1"]]
    # January is the actions' own period: the misses before only.
    assert cells(dom_text, "actions-table") == [
        ["1", "joint site survey", "dlh-k01", "2026-02-27", "open", "1 (2026-01)", "-"],
        ["2", "procurement", "dlh-k02", "2026-01-30", "dropped", "0 (2026-01)", "-"],
    ]
    findings = [attrs for tag, attrs in dom.tags if tag == "li" and "data-finding" in attrs]
    assert [f["data-finding"] for f in findings] == [
        "indicator",
        "cause",
        "stage",
        "routing",
        "actions",
    ]
    # A tie is stated as a tie.
    assert (
        "joint site survey and no explanation account for most misses, 1 each of 2; 1 more "
        "was excused by an upheld objection." in text
    )
    # Each finding links to a table of the page that holds its numbers.
    ids = {attrs.get("id") for _, attrs in dom.tags}
    links = [attrs["href"] for tag, attrs in dom.tags if tag == "a" and attrs.get("href")]
    assert len(links) == 5 and all(link.startswith("#") and link[1:] in ids for link in links)
    assert screenshot.stat().st_size > 10_000


def test_the_next_period_shows_each_actions_misses_before_and_after(causes_db: str) -> None:
    markdown = report(causes_db, "--unit", "dlh", "--period", "2026-02", "--format", "md")
    # The dropped action closed before February: not shown.
    assert "| 1 | joint site survey | dlh-k01 | 2026-02-27 | open | 1 | 1 |" in markdown
    assert "| 2 |" not in markdown
    assert "## Findings" in markdown
    assert "joint site survey accounts for most misses: 1 of 1 (100%)" in markdown


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()


@pytest.fixture
def sigap(causes_db: str, tmp_path: Path, loop: asyncio.AbstractEventLoop) -> SigapApp:
    return make_sigap(tmp_path, causes_db)


def test_the_api_serves_the_same_figures_without_complaint_ids_or_officer_codes(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp
) -> None:
    reply = get(loop, sigap, "/api/units/dlh/causes", [("period", "2026-01")], **ROUTE)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.json()
    assert [(m["cause"], m["resolution"]) for m in body["misses_by_cause"]] == [
        ("joint_site_survey", 1),
        ("unexplained", 1),
    ]
    assert body["excused"] == 1 and body["extension_days"] == 3
    assert body["routing"]["misrouting_seconds"] == 3 * ds.H
    assert body["routing"]["first_touch_total"] == 6
    assert b"late-survey" not in reply.body and b"dlh-k01" not in reply.body
    for query, parameter in (
        ([], "period"),
        ([("period", "2026-13")], "period"),
        ([("period", "2026-01"), ("unit", "x")], "unit"),
    ):
        bad = get(loop, sigap, "/api/units/dlh/causes", query, **ROUTE)
        assert bad.status == 400 and bad.json()["parameter"] == parameter


def test_the_report_says_when_a_city_declared_exclusion_moved_deadlines(tmp_path: Path) -> None:
    import yaml

    from sigap.core.registry_file import load_registry

    data = yaml.safe_load(REGISTRY_PATH.read_text(encoding="utf-8"))
    data["holiday_overrides"] = str(REGISTRY_PATH.parent / "holidays-override.yaml")
    # A flood closes dlh on Wednesday 7 and Thursday 8 January (two office days, 16 hours).
    data["exclusions"] = [
        {
            "unit": "dlh",
            "start": "2026-01-07T00:00:00+07:00",
            "end": "2026-01-09T00:00:00+07:00",
            "reason": "force_majeure",
            "declared_on": "2026-01-07",
        }
    ]
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    registry = load_registry(registry_file)
    # Received Monday 5 January 09:00, resolved Tuesday 13 January 12:00: late without the
    # exclusion (deadline Monday 12 16:00), in time with it (Wednesday 14 16:00).
    events = [
        ds.ev("x1", "created", "flooded", "05T09:00", unit="dlh"),
        ds.ev("x2", "responded", "flooded", "05T10:00"),
        ds.ev("x3", "resolved", "flooded", "13T12:00"),
    ]
    result = replay([parse_event(orjson.dumps(e)) for e in events], registry)
    url = f"sqlite:///{tmp_path / 'flood.db'}"
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        upsert_views(session, result.views, WATERMARK, 600.0, registry=registry)
    engine.dispose()
    outcome = CliRunner().invoke(
        main,
        ["report", "--unit", "dlh", "--period", "2026-01", "--format", "md"],
        env={"DATABASE_URL": url, "SIGAP_REGISTRY": str(registry_file)},
        catch_exceptions=False,
    )
    assert outcome.exit_code == 0, outcome.output
    markdown = outcome.stdout
    # Wall time excluded while dlh held it: the whole of 7 and 8 January, 48 hours.
    assert (
        "Deadlines moved by the excluded time: 48.0 h (force majeure, 1 complaint(s))." in markdown
    )
    assert "No miss in the period." in markdown
