"""`sigap verify --source FILE` against scores stored the score writer's way, on SQLite and
on a real PostgreSQL: identical scores pass, and every injected discrepancy is named."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from schemas.events import parse_event
from sigap.cli import main
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.core.unit_view import UnitView
from sigap.replay import replay
from sigap.replay_sources import open_source
from sigap.simulator import TrafficModel
from sigap.storage.database import make_engine
from sigap.storage.score_queries import score_rows
from sigap.storage.scores import finalize_due, upsert_views
from sigap.verify import recompute_scores

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_PATH = ROOT / "deploy" / "registry.yaml"
REGISTRY = load_registry(REGISTRY_PATH)
JAKARTA = ZoneInfo("Asia/Jakarta")
GRACE_SECONDS = 600.0


def jakarta(text_: str) -> float:
    return datetime.fromisoformat(text_).replace(tzinfo=JAKARTA).timestamp()


def simulated_events() -> list[dict[str, Any]]:
    """Two weeks of realistic traffic across October and November 2026."""
    model = TrafficModel(start=jakarta("2026-10-27T00:00"), seed=5, rate_scale=0.15)
    return model.advance(jakarta("2026-11-06T12:00"))


def write_jsonl(path: Path, events: Iterable[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


def store_as_the_writer(engine: Engine, events: list[dict[str, Any]], batch: int = 400) -> float:
    """What the worker and the score writer do, without Kafka: each event's changed views,
    stored in batches at the watermark of the events seen so far; then the due periods
    finalised. Returns the final watermark."""
    states: dict[str, ComplaintState] = {}
    pending: list[UnitView] = []
    watermark = float("-inf")
    for index, raw in enumerate(events, start=1):
        event = parse_event(orjson.dumps(raw))
        state = states.setdefault(event.complaint_id, ComplaintState())
        pending += accept_event(state, event, REGISTRY).views
        watermark = max(watermark, event.occurred_at.timestamp())
        if index % batch == 0 or index == len(events):
            with Session(engine) as session, session.begin():
                upsert_views(session, pending, watermark, GRACE_SECONDS, registry=REGISTRY)
                finalize_due(session, watermark, GRACE_SECONDS, registry=REGISTRY)
            pending = []
    return watermark


def run_verify(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main,
        ["verify", *args],
        env={"DATABASE_URL": database_url, "SIGAP_REGISTRY": str(REGISTRY_PATH)},
    )


def verify(database_url: str, *args: str) -> tuple[int, str]:
    result = run_verify(database_url, *args)
    return result.exit_code, result.stdout + result.stderr


def verify_json(database_url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_verify(database_url, *args, "--format", "json")
    assert result.exit_code in (0, 1), result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.slow  # simulated traffic, recomputed by nine `sigap verify` runs
def test_identical_scores_pass_and_each_injected_discrepancy_is_named(
    database_url: str, tmp_path: Path
) -> None:
    events = simulated_events()
    source = write_jsonl(tmp_path / "events.jsonl", events)
    engine = make_engine(database_url)
    store_as_the_writer(engine, events)

    # The stored scores are about these events (an independent count of November's
    # complaints by the unit that received them).
    received = Counter(
        e["unit"]
        for e in events
        if e["type"] == "created" and e["occurred_at"] >= "2026-11-01T00:00:00+07:00"
    )
    month = {
        row["unit"]: row
        for row in score_rows(engine, period="month", category="*", start=_date("2026-11-01"))
    }
    assert {unit: row["received"] for unit, row in month.items() if row["received"]} == received

    for period in ("2026-11", "2026-W44", "2026-11-02", "2026-Q4", "2026-10"):
        code, report = verify_json(database_url, "--period", period, "--source", str(source))
        assert (code, report["differences"]) == (0, []), period
        assert report["identical"] is True
        assert report["stored_rows"] == report["recomputed_rows"] > 0
        assert report["accepted"] == len(events)

    resolved = month["dlh"]["resolved"]
    _execute(
        engine,
        "UPDATE unit_scores SET resolved = resolved + 1 WHERE unit = 'dlh' AND category = '*' "
        "AND period = 'month' AND period_start = '2026-11-01' AND revision = :revision",
        revision=month["dlh"]["revision"],
    )
    code, report = verify_json(database_url, "--period", "2026-11", "--source", str(source))
    assert code == 1
    assert report["identical"] is False
    assert report["differences"] == [
        {
            "unit": "dlh",
            "category": "*",
            "period": "month",
            "period_start": "2026-11-01",
            "kind": "value",
            "column": "resolved",
            "stored": resolved + 1,
            "recomputed": resolved,
        }
    ]
    # Other periods are untouched.
    assert verify_json(database_url, "--period", "2026-W44", "--source", str(source))[0] == 0

    for table in ("unit_score_indicators", "unit_scores"):  # the indicators refer to it
        _execute(
            engine,
            f"DELETE FROM {table} WHERE unit = 'dsda' AND period = 'month' "
            "AND period_start = '2026-11-01' AND category = '*'",
        )
    code, report = verify_json(database_url, "--period", "2026-11", "--source", str(source))
    assert code == 1
    missing = [d for d in report["differences"] if d["unit"] == "dsda"]
    assert [(d["kind"], d["category"], d["column"]) for d in missing] == [
        ("only_recomputed", "*", None)
    ]
    assert missing[0]["recomputed"]["received"] == received["dsda"]

    code, table = verify(database_url, "--period", "2026-11", "--source", str(source))
    assert code == 1
    assert "2 difference(s)" in table
    assert "resolved" in table and "(whole row)" in table


def test_a_provisional_row_is_compared_at_its_own_watermark(
    database_url: str, tmp_path: Path
) -> None:
    """A provisional row is rewritten only when a view touching its period arrives: its
    values hold at the watermark it was written at, which verify uses."""
    events = [
        # Open, unanswered: its 24 h response deadline is Tue 3 Nov 09:00.
        _event("a1", "created", "open-1", "2026-11-02T09:00", unit="dlh"),
        _event("b1", "created", "done-1", "2026-11-03T08:00", unit="dlh"),
        _event("b2", "resolved", "done-1", "2026-11-03T08:30"),
        _event("c1", "created", "later-1", "2026-11-05T10:00", unit="dsda"),
    ]
    source = write_jsonl(tmp_path / "events.jsonl", events)
    engine = make_engine(database_url)
    # The first three events are written at 3 Nov 08:30, before the deadline; the last one
    # at 5 Nov 10:00 touches no period of dlh's, so dlh's 3 Nov row is not rewritten.
    store_as_the_writer(engine, events[:3])
    with Session(engine) as session, session.begin():
        views = accept_event(ComplaintState(), parse_event(orjson.dumps(events[3])), REGISTRY)
        upsert_views(
            session, views.views, jakarta("2026-11-05T10:00"), GRACE_SECONDS, registry=REGISTRY
        )
    [day] = score_rows(engine, period="day", category="*", units=["dlh"], start=_date("2026-11-03"))
    assert (day["revision"], day["response_met"], day["response_missed"]) == (0, 1, 0)

    code, report = verify_json(database_url, "--period", "2026-11-03", "--source", str(source))
    assert (code, report["differences"]) == (0, [])
    # At the log's latest event the open response timer has missed: recomputing every row
    # at that one watermark would have reported a difference that is not one.

    replayed = replay(open_source(source, None)[0], REGISTRY)
    assert replayed.watermark == jakarta("2026-11-05T10:00")
    [at_log_end] = [
        s
        for s in recompute_scores(
            replayed.views,
            REGISTRY,
            "day",
            _date("2026-11-03"),
            stored_watermarks={},
            writer_watermark=replayed.watermark,
            grace_seconds=GRACE_SECONDS,
        )
        if (s.unit, s.category) == ("dlh", "*")
    ]
    assert (at_log_end.response_met, at_log_end.response_missed) == (1, 1)


def test_a_csv_export_through_its_mapping(database_url: str, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "name: test\ntimezone: Asia/Jakarta\ntimestamp_formats: ['%Y-%m-%d %H:%M']\n"
        "id_prefix: 't-'\ncolumns: {complaint_id: id, created_at: opened, closed_at: closed, "
        "unit: unit}\n"
    )
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "id,opened,closed,unit\n"
        "1,2026-11-02 09:00,2026-11-02 10:00,dlh\n"
        "2,2026-11-02 11:00,,dlh\n"
        "3,2026-11-03 09:00,2026-11-04 09:00,dsda\n"
        "4,not a time,,dsda\n"
    )

    replayed = replay(open_source(csv_file, mapping)[0], REGISTRY)
    assert replayed.watermark is not None
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        upsert_views(session, replayed.views, replayed.watermark, GRACE_SECONDS, registry=REGISTRY)
    args = ("--period", "2026-W45", "--source", str(csv_file), "--mapping", str(mapping))
    code, report = verify_json(database_url, *args)
    assert (code, report["differences"]) == (0, [])
    assert report["rejected"] == {"bad_created": 1}
    _execute(engine, "UPDATE unit_scores SET received = 5 WHERE unit = 'dsda'")
    code, report = verify_json(database_url, *args)
    assert code == 1
    assert {
        (d["unit"], d["column"], d["stored"], d["recomputed"]) for d in report["differences"]
    } == {("dsda", "received", 5, 1)}


def test_usage_and_configuration_errors_exit_2(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'scores.db'}"
    make_engine(database_url)
    events = write_jsonl(tmp_path / "e.jsonl", [])
    cases = {
        ("--period", "November"): "November",
        ("--period", "2026-11", "--source", str(tmp_path / "missing.jsonl")): "no such file",
        ("--period", "2026-11", "--source", str(events), "--mapping", str(events)): "CSV",
        ("--period", "2026-11", "--mapping", str(events)): "--mapping",
        ("--period", "2026-11", "--source", str(tmp_path / "x.csv")): "x.csv",
    }
    for args, message in cases.items():
        code, output = verify(database_url, *args)
        assert code == 2, (args, output)
        assert message in output, (args, output)
    unreachable = "postgresql+psycopg://sigap@127.0.0.1:1/sigap"
    code, output = verify(unreachable, "--period", "2026-11", "--source", str(events))
    assert code == 2 and "DATABASE_URL" in output, output
    missing = tmp_path / "missing.db"  # verify creates no database: it says where it looked
    code, output = verify(f"sqlite:///{missing}", "--period", "2026-11", "--source", str(events))
    assert code == 2 and f"no score database at {missing}" in output, output
    assert "DATABASE_URL" in output and not missing.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a database without tables: verify migrates nothing
    code, output = verify(f"sqlite:///{empty}", "--period", "2026-11", "--source", str(events))
    assert code == 2 and "unit_scores" in output and "DATABASE_URL" in output, output
    bad_registry = tmp_path / "registry.yaml"
    bad_registry.write_text("units: 3\n")
    result = CliRunner().invoke(
        main,
        ["verify", "--period", "2026-11", "--source", str(events)],
        env={"DATABASE_URL": database_url, "SIGAP_REGISTRY": str(bad_registry)},
    )
    assert result.exit_code == 2 and "registry" in result.output, result.output


def _event(
    event_id: str, type_: str, complaint_id: str, local: str, **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "complaint_id": complaint_id,
        "occurred_at": f"{local}:00+07:00",
        **extra,
    }


def _date(iso: str) -> Any:
    return datetime.fromisoformat(iso).date()


def _execute(engine: Engine, statement: str, **parameters: Any) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), parameters)
