"""Officer scores in SQL (SQLite and a real PostgreSQL): what the score writer stores equals
batch replay's officer scores, whatever the batching and redeliveries."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from schemas.events import EventRejected
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.core.scoring import VALUE_COLUMNS
from sigap.core.unit_view import UnitView
from sigap.replay import replay
from sigap.storage.database import make_engine
from sigap.storage.officer_scores import officer_score_rows
from sigap.storage.scores import finalize_due, upsert_views
from tests.officers.helpers import random_history

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")
START = datetime(2026, 10, 1, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


def comparable(row: dict[str, Any]) -> tuple[Any, ...]:
    values = tuple(
        round(v, 6) if isinstance(v, float) else v for v in (row[c] for c in VALUE_COLUMNS)
    )
    return (row["unit"], row["officer"], row["category"], row["period_start"], *values)


@pytest.mark.slow  # every view upserted twice in small batches
def test_stored_officer_scores_equal_replay(database_url: str) -> None:
    rng = random.Random(7)
    events = [e for n in range(40) for e in random_history(rng, f"c{n}", START)]
    arrivals = events[:]
    rng.shuffle(arrivals)
    states: dict[str, ComplaintState] = {}
    views: list[UnitView] = []
    for event in arrivals:
        try:
            views += accept_event(
                states.setdefault(event.complaint_id, ComplaintState()), event, REGISTRY
            ).views
        except EventRejected:
            continue
    engine = make_engine(database_url)
    for _ in range(2):  # a redelivered stream rewrites the same rows
        start = 0
        while start < len(views):
            size = rng.randrange(1, 40)
            with Session(engine) as session, session.begin():
                upsert_views(
                    session, views[start : start + size], -math.inf, 0.0, registry=REGISTRY
                )
            start += size
    with Session(engine) as session, session.begin():
        finalize_due(session, FAR_FUTURE, 0.0, registry=REGISTRY)
    expected = replay(events, REGISTRY, as_of=FAR_FUTURE).officer_scores
    assert {s.officer for s in expected} >= {"o1", "unassigned"}
    for period in ("day", "quarter"):
        stored = officer_score_rows(engine, period=period, category=None)
        assert stored and all(row["final"] for row in stored)
        wanted = [s.as_json() for s in expected if s.score.period == period]
        assert sorted(map(comparable, stored)) == sorted(map(comparable, wanted))
        assert [r["indicators"] for r in sorted(stored, key=comparable)] == [
            r["indicators"] for r in sorted(wanted, key=comparable)
        ]
    engine.dispose()


@pytest.mark.parametrize("unit", ["dlh"])
def test_scores_of_one_unit_and_officer_can_be_selected(database_url: str, unit: str) -> None:
    rng = random.Random(3)
    events = [e for n in range(30) for e in random_history(rng, f"c{n}", START)]
    result = replay(events, REGISTRY, as_of=FAR_FUTURE)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        upsert_views(session, result.views, FAR_FUTURE, 0.0, registry=REGISTRY)
    rows = officer_score_rows(engine, [unit], "month", officers=["o1"])
    assert rows and {(r["unit"], r["officer"], r["category"]) for r in rows} == {(unit, "o1", "*")}
    engine.dispose()
