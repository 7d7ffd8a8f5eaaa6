"""Official closes and restatements in the score database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

from consumers.closing import Closer
from schemas.events import ComplaintEvent
from sigap.cli import main
from sigap.core.period_close import official_revisions, registry_close_instant
from sigap.core.periods import JAKARTA
from sigap.core.registry_file import load_registry
from sigap.storage.database import make_engine
from sigap.storage.official import insert_close, official_rows, stored_closes

REGISTRY_PATH = Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml"
REGISTRY = load_registry(REGISTRY_PATH)
WEEK = date(2026, 11, 2)
CLOSE = registry_close_instant(REGISTRY, "week", WEEK)
assert CLOSE is not None


def wib(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=JAKARTA)


def event(number: int, complaint: str, type_: str, at: str, **extra: Any) -> ComplaintEvent:
    return ComplaintEvent.model_validate(
        {
            "event_id": f"{complaint}-{number}",
            "type": type_,
            "complaint_id": complaint,
            "occurred_at": wib(at),
            **extra,
        }
    )


HISTORY = [
    event(0, "a", "created", "2026-11-02T09:00", unit="dlh"),
    event(1, "a", "responded", "2026-11-02T11:00"),
    event(2, "a", "resolved", "2026-11-03T11:00"),
    event(0, "b", "created", "2026-11-04T09:00", unit="dlh"),
]


def week_rows(engine: Any) -> list[dict[str, Any]]:
    return [r for r in official_rows(engine, "week", start=WEEK) if r["category"] == "*"]


def test_late_events_make_a_restatement_and_never_change_the_official_revision(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    closer = Closer(engine, REGISTRY, "topic:test")
    for item in HISTORY:
        closer.fold.add(item, item.occurred_at.timestamp() + 5)
    first = closer.run(CLOSE + 3600)
    assert ("week", WEEK) in first.closed and first.restatement_rows == 0
    (official,) = week_rows(engine)
    assert official["status"] == "official" and official["revision"] == 1
    assert (official["received"], official["resolved"], official["rating_count"]) == (2, 1, 0)
    assert official["response_missed"] == 1  # b: no response appended by the close
    # A rating and b's (backdated) response, appended after the close.
    closer.fold.add(event(3, "a", "rated", "2026-11-20T10:00", rating=4), CLOSE + 7200)
    closer.fold.add(event(1, "b", "responded", "2026-11-04T10:00"), CLOSE + 7300)
    second = closer.run(CLOSE + 8000)
    assert second.closed == [] and second.restated["week"] >= 1
    before, after = week_rows(engine)
    assert before == official  # the official row is untouched
    assert after["status"] == "restatement" and after["revision"] == 2
    assert (after["rating_count"], after["rating_mean"]) == (1, 4.0)
    assert (after["response_met"], after["response_missed"]) == (2, 0)
    assert {"rating_count", "rating_mean", "response_met", "response_missed"} <= set(
        after["changed"]
    )
    assert after["reason"]["appended_after_close"] == {"rated": 1, "responded": 1}
    assert after["cut_epoch"] == CLOSE + 8000 and after["watermark_epoch"] == CLOSE
    # Nothing new appended: running again adds nothing.
    third = closer.run(CLOSE + 9000)
    assert third.closed == [] and third.restatement_rows == 0
    assert len(week_rows(engine)) == 2
    engine.dispose()


def test_a_second_closer_of_the_same_period_leaves_the_first_ones_rows(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    one, two = (Closer(engine, REGISTRY, "topic:test") for _ in range(2))
    for closer in (one, two):
        for item in HISTORY:
            closer.fold.add(item, item.occurred_at.timestamp())
        closer.fold.advance(CLOSE)
    revisions = official_revisions(one.fold, "week", WEEK, CLOSE)
    common = {"source": "topic:test", "working_days": 5, "registry_version": "v"}
    assert insert_close(engine, "week", WEEK, CLOSE, revisions, **common, wall_clock=1.0)
    assert not insert_close(engine, "week", WEEK, CLOSE, revisions, **common, wall_clock=2.0)
    with engine.connect() as connection:
        (closed_at,) = connection.execute(
            text("SELECT closed_at_epoch FROM period_closes WHERE period = 'week'")
        ).one()
    assert closed_at == 1.0
    assert len(official_rows(engine, "week", start=WEEK, category=None)) == len(revisions)
    # The full closer then finds the week closed and closes the rest.
    report = two.run(CLOSE + 60)
    assert ("week", WEEK) not in report.closed
    assert ("week", WEEK) in stored_closes_of(engine)
    engine.dispose()


def stored_closes_of(engine: Any) -> set[tuple[str, date]]:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        return set(stored_closes(session))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE official_scores SET received = 99",
        "DELETE FROM official_scores",
        "DELETE FROM period_closes",
    ],
)
def test_official_rows_are_frozen_by_the_database(database_url: str, statement: str) -> None:
    engine = make_engine(database_url)
    closer = Closer(engine, REGISTRY, "topic:test")
    for item in HISTORY:
        closer.fold.add(item, item.occurred_at.timestamp())
    closer.run(CLOSE + 60)
    with pytest.raises(DatabaseError, match="insert-only"), engine.begin() as connection:
        connection.execute(text(statement))
    assert week_rows(engine)[0]["received"] == 2
    engine.dispose()


def test_backfill_then_verify_from_the_same_file_finds_no_difference(
    database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "history.jsonl"
    late = [event(3, "a", "rated", "2026-11-25T10:00", rating=2)]
    source.write_bytes(
        b"".join(orjson.dumps(e.model_dump(mode="json")) + b"\n" for e in HISTORY + late)
    )
    env = {"DATABASE_URL": database_url, "SIGAP_REGISTRY": str(REGISTRY_PATH)}
    runner = CliRunner()
    stored = runner.invoke(main, ["replay", str(source), "--store", "--format", "json"], env=env)
    assert stored.exit_code == 0, stored.output
    summary = orjson.loads(stored.output)
    assert summary["views_stored"] == 2 and summary["periods_closed"] > 0
    engine = create_engine(database_url)
    official, restated = week_rows(engine)
    # Taken as appended when it occurred, the rating of 25 November came after the close of
    # the week (13 November 16:00); it counts in the period of the resolution (this week):
    # not in the official figures, in a restatement beside them.
    assert (official["status"], official["rating_count"]) == ("official", 0)
    assert (restated["status"], restated["rating_count"]) == ("restatement", 1)
    assert restated["reason"]["appended_after_close"] == {"rated": 1}
    assert summary["restatement_rows"] >= 1
    for period in ("2026-W45", "2026-11", "2026-11-02"):
        checked = runner.invoke(
            main,
            ["verify", "--period", period, "--source", str(source), "--format", "json"],
            env=env,
        )
        assert checked.exit_code == 0, checked.output
        document = orjson.loads(checked.output)
        assert document["identical"] is True
        if period == "2026-11":  # closes on 7 December, after the file's last event
            assert document["official"] is None
            continue
        assert document["official"]["identical"] is True
        assert document["official"]["skipped"] is None
    # A second load of the same file adds no revision (provisional rows are rewritten).
    count = "SELECT count(*) FROM unit_scores WHERE revision > 0"
    with engine.connect() as connection:
        final_rows = connection.execute(text(count)).scalar_one()
    again = runner.invoke(main, ["replay", str(source), "--store", "--format", "json"], env=env)
    assert orjson.loads(again.output)["periods_closed"] == 0
    assert orjson.loads(again.output)["restatement_rows"] == 0
    with engine.connect() as connection:
        assert connection.execute(text(count)).scalar_one() == final_rows
    engine.dispose()


def test_reports_show_the_official_figures_and_the_restatements_beside_them(
    database_url: str, tmp_path: Path
) -> None:
    import csv
    import io

    source = tmp_path / "history.jsonl"
    late = [event(3, "a", "rated", "2026-11-25T10:00", rating=2)]
    source.write_bytes(
        b"".join(orjson.dumps(e.model_dump(mode="json")) + b"\n" for e in HISTORY + late)
    )
    env = {"DATABASE_URL": database_url, "SIGAP_REGISTRY": str(REGISTRY_PATH)}
    runner = CliRunner()
    stored = runner.invoke(main, ["replay", str(source), "--store"], env=env)
    assert stored.exit_code == 0, stored.output
    args = ["report", "--unit", "dlh", "--period", "2026-W45", "--format"]
    table = runner.invoke(main, [*args, "csv"], env=env)
    assert table.exit_code == 0, table.output
    rows = list(csv.DictReader(io.StringIO(table.output)))
    counts = {r["metric"]: r for r in rows if r["section"] == "count" and r["subject"] == "*"}
    # The official figure: no rating by the close, though the live score now has one.
    assert counts["received"]["status"] == "official" and counts["received"]["value"] == "2"
    assert counts["rating_count"]["value"] == "0"
    restated = {
        r["metric"]: r for r in rows if r["section"] == "restatement" and r["subject"] == "*"
    }
    assert restated["rating_count"]["value"] == "1"
    assert restated["rating_count"]["status"] == "restatement"
    assert "rating_count" in restated["rating_count"]["changed"].split()
    assert "rated 1" in restated["rating_count"]["reason"]
    markdown = runner.invoke(main, [*args, "md"], env=env)
    assert "## Restatements after the official close" in markdown.output
    assert "official (the revision at the period's close)" in markdown.output
    league = runner.invoke(
        main, ["report", "--all-units", "--period", "2026-W45", "--format", "html"], env=env
    )
    assert league.exit_code == 0, league.output
    assert 'id="restatements"' in league.output
