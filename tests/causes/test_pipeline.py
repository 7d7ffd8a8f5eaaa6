"""docs/causes.md's figures on every path: batch replay, the real worker and score writer on
a real broker (then `sigap verify` from the topic, `sigap report`, `sigap actions`), the API,
and the HTML report in a real Chromium. Every path is compared with the figures worked out by
hand in tests/causes/dataset.py."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session

from schemas.events import parse_event
from sigap.cli import main
from sigap.core.causes import unit_figures
from sigap.core.periods import period_end, period_start_epoch
from sigap.core.registry_file import load_registry
from sigap.replay import replay
from sigap.storage.database import make_engine
from sigap.storage.models import UnitComplaintRow
from sigap.storage.score_queries import score_rows, stored_views
from tests.causes import dataset as ds
from tests.integration.processes import Stack, run_sigap, running_stack, wait_for

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_PATH = ROOT / "deploy" / "registry.yaml"
REGISTRY = load_registry(REGISTRY_PATH)  # the shipped one (tests/causes/test_report.py)
JANUARY = date(2026, 1, 1)
BEGIN, END = period_start_epoch("month", JANUARY), period_end("month", JANUARY)


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    return ds.write_registry(tmp_path / "registry.yaml")


def replayed(registry_file: Path) -> Any:
    registry = load_registry(registry_file)
    return replay([parse_event(orjson.dumps(event)) for event in ds.EVENTS], registry)


def figures(views: Any, watermark: float) -> dict[str, dict[str, Any]]:
    return {unit: unit_figures(views, unit, BEGIN, END, watermark) for unit in ds.EXPECTED}


def test_batch_replay_gives_the_hand_computed_figures_and_dead_letters(
    registry_file: Path,
) -> None:
    result = replayed(registry_file)
    assert dict(result.rejected) == ds.REJECTED
    assert result.watermark is not None
    assert figures(result.views, result.watermark) == ds.EXPECTED
    (month,) = [
        s
        for s in result.scores
        if (s.unit, s.period, s.category, s.period_start) == ("dlh", "month", "*", JANUARY)
    ]
    assert {key: getattr(month, key) for key in ds.DLH_MONTH} == ds.DLH_MONTH


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def stack(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, registry_file: Path
) -> Iterator[Stack]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        "SIGAP_REGISTRY": str(registry_file),
    }
    with running_stack(env, tmp_path) as started:
        yield started


@pytest.mark.kafka
def test_the_streaming_worker_stores_what_replay_computes_and_verify_reproduces_it(
    stack: Stack, tmp_path: Path, registry_file: Path
) -> None:
    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in ds.EVENTS))
    published = run_sigap(["publish", str(events_file)], stack.env)
    assert published.returncode == 0, published.stderr
    engine = make_engine(stack.env["DATABASE_URL"])

    def stored_month() -> dict[str, Any]:
        rows = score_rows(engine, units=["dlh"], period="month", category="*", start=JANUARY)
        return {key: rows[0][key] for key in ds.DLH_MONTH} if rows else {}

    def settled() -> dict[str, dict[str, Any]]:
        return figures(stored_views(engine), END)

    assert wait_for(stored_month, lambda m: m == ds.DLH_MONTH, 180, "dlh's month") == ds.DLH_MONTH
    # The figures depend on the watermark only through open timers (none here).
    assert wait_for(settled, lambda f: f == ds.EXPECTED, 60, "the figures") == ds.EXPECTED
    result = replayed(registry_file)
    assert figures(stored_views(engine), END) == figures(result.views, END)

    # sigap verify, from the events topic: the worker's dead letters found again, and every
    # figure of docs/causes.md reproduced.
    verified = run_sigap(
        ["verify", "--source", "topic", "--period", ds.PERIOD, "--format", "json"], stack.env
    )
    report = json.loads(verified.stdout)
    assert verified.returncode == 0, (report.get("differences"), verified.stderr)
    assert report["rejected"] == ds.REJECTED
    # A stored view that lost its explanation is found by verify as a causes difference.
    with Session(engine) as session, session.begin():
        row = session.get(UnitComplaintRow, ("dlh", "late-survey"))
        assert row is not None
        tampered = orjson.loads(row.view_json)
        tampered["t"]["resolution"][13] = None  # the cause
        session.execute(
            update(UnitComplaintRow)
            .where(UnitComplaintRow.unit == "dlh", UnitComplaintRow.complaint_id == "late-survey")
            .values(view_json=orjson.dumps(tampered).decode())
        )
    verified = run_sigap(
        ["verify", "--source", "topic", "--period", ds.PERIOD, "--format", "json"], stack.env
    )
    assert verified.returncode == 1
    found = {
        (d["unit"], d["column"], d["stored"], d["recomputed"])
        for d in json.loads(verified.stdout)["differences"]
    }
    assert found == {
        ("dlh", "causes.missed.joint_site_survey.resolution", None, 1),
        ("dlh", "causes.missed.unexplained.resolution", 2, 1),
    }

    # A corrective action, and the report's new sections as CSV.
    env = dict(stack.env)
    added = cli(
        env,
        "actions",
        "add",
        "--unit",
        "dlh",
        "--cause",
        "joint_site_survey",
        "--owner",
        "dlh-k01",
        "--due",
        "2026-02-15",
    )
    assert "#1" in added
    listed = json.loads(cli(env, "actions", "list", "--format", "json", "--history"))
    assert [(a["unit"], a["cause"], a["status"]) for a in listed] == [
        ("dlh", "joint_site_survey", "open")
    ]
    assert [h["change"] for h in listed[0]["history"]] == ["added"]
    rows = list(
        csv.DictReader(
            io.StringIO(
                cli(env, "report", "--unit", "dishub", "--period", ds.PERIOD, "--format", "csv")
            )
        )
    )
    routing = {r["metric"]: r["value"] for r in rows if r["section"] == "routing"}
    assert float(routing["misrouting_seconds"]) == 6 * ds.H
    assert routing["first_touch_total"] == "1"
    assert "0812000000" not in json.dumps(rows)  # personal data sent with an event
