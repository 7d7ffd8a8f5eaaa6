"""`sigap scores` on a real database: period kinds, categories, ranges and revisions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from sigap.cli import main
from sigap.storage.database import make_engine
from sigap.storage.score_queries import score_rows
from sigap.storage.scores import upsert_views
from tests.storage.test_scores import REGISTRY, views_of


def scores(database_url: str, *args: str) -> Any:
    result = CliRunner().invoke(
        main, ["scores", "--format", "json", *args], env={"DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def filled(database_url: str) -> str:
    """dlh: one complaint on 2 Nov (final, then restated by a late one), one on 3 Dec."""
    engine = make_engine(database_url)
    november = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
    december = datetime.fromisoformat("2026-12-03T09:00:00+07:00")
    end_of_day = datetime.fromisoformat("2026-11-03T00:00:00+07:00").timestamp()
    with Session(engine) as session, session.begin():
        upsert_views(
            session,
            views_of("a", "dlh", november, 3600),
            end_of_day + 600,
            600.0,
            registry=REGISTRY,
        )
    with Session(engine) as session, session.begin():
        late = views_of("b", "dlh", november, 7200) + views_of("c", "dlh", december, 60)
        upsert_views(session, late, end_of_day + 3600, 600.0, registry=REGISTRY)
    engine.dispose()
    return database_url


def test_scores_json_is_score_rows(filled: str) -> None:
    engine = make_engine(filled)
    assert scores(filled) == json.loads(json.dumps(score_rows(engine)))
    engine.dispose()


def test_scores_periods_ranges_categories_and_revisions(filled: str) -> None:
    days = scores(filled)
    assert [(r["period_start"], r["revision"], r["resolved"]) for r in days] == [
        ("2026-11-02", 2, 2),
        ("2026-12-03", 0, 1),
    ]
    assert [r["period_start"] for r in scores(filled, "--period", "quarter")] == ["2026-10-01"]
    assert [r["period_start"] for r in scores(filled, "--period", "month")] == [
        "2026-11-01",
        "2026-12-01",
    ]
    # --from / --to take period names: the whole of November, then only December.
    assert [r["period_start"] for r in scores(filled, "--to", "2026-11")] == ["2026-11-02"]
    assert [r["period_start"] for r in scores(filled, "--from", "2026-W49")] == ["2026-12-03"]
    assert scores(filled, "--from", "2026-11-03", "--to", "2026-11-30") == []
    assert [r["revision"] for r in scores(filled, "--revision", "1")] == [1]
    assert [r["revision"] for r in scores(filled, "--all-revisions", "--to", "2026-11")] == [1, 2]
    assert {r["category"] for r in scores(filled, "--category", "all")} == {"*", "other"}
    assert scores(filled, "--category", "complex") == []
    assert scores(filled, "--unit", "dsda") == []


def test_scores_bad_options_name_the_option(filled: str) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": filled}
    bad_period = runner.invoke(main, ["scores", "--from", "2026-13"], env=env)
    assert bad_period.exit_code == 2
    assert "--from" in bad_period.output and "2026-13" in bad_period.output
    both = runner.invoke(main, ["scores", "--revision", "1", "--all-revisions"], env=env)
    assert both.exit_code == 2 and "--all-revisions" in both.output
    table = runner.invoke(main, ["scores", "--period", "quarter"], env={**env, "COLUMNS": "200"})
    assert table.exit_code == 0
    assert "│ quarter │ 2026-10-01 │ dlh  │ *" in table.output


@pytest.mark.parametrize("command", [["scores"], ["report", "--all-units", "--period", "2026-11"]])
def test_read_only_commands_create_no_database(command: list[str], tmp_path: Any) -> None:
    missing = tmp_path / "nowhere.db"
    result = CliRunner().invoke(main, command, env={"DATABASE_URL": f"sqlite:///{missing}"})
    assert result.exit_code == 1, result.output
    assert f"no score database at {missing}" in result.output
    assert not missing.exists()
