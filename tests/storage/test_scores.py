"""Score storage on SQLite and on a real PostgreSQL: idempotent upserts, exact quantiles."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from core.complaint_state import ComplaintState, accept_event
from core.registry import load_registry
from core.unit_view import UnitView
from schemas.events import ComplaintEvent
from storage.scores import finalize_due, make_engine, score_rows, upsert_views

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")


def views_of(complaint_id: str, unit: str, created: datetime, seconds: float) -> list[UnitView]:
    state = ComplaintState()
    views = []
    for event_id, type_, at in (
        (f"{complaint_id}-c", "created", created),
        (f"{complaint_id}-r", "resolved", created + timedelta(seconds=seconds)),
    ):
        event = ComplaintEvent.model_validate(
            {
                "event_id": event_id,
                "type": type_,
                "complaint_id": complaint_id,
                "occurred_at": at,
                "unit": unit,
            }
        )
        views.extend(accept_event(state, event, REGISTRY).views)
    return views


V1_KEYS = [
    "unit",
    "period",
    "period_start",
    "resolved",
    "resolution_p50_seconds",
    "resolution_p90_seconds",
]
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return next(v for v in ordered if sum(x <= v for x in ordered) >= q * len(ordered))


def test_upserts_are_idempotent_and_quantiles_exact(database_url: str) -> None:
    engine = make_engine(database_url)
    rng = random.Random(11)
    noon = datetime.fromisoformat("2026-11-02T12:00:00+07:00")
    expected: dict[tuple[str, str], list[float]] = {}
    views: list[UnitView] = []
    for i in range(150):
        unit = rng.choice(["dlh", "dsda"])
        seconds = float(rng.randrange(60, 10 * 3600))
        views += views_of(f"c{i}", unit, noon - timedelta(seconds=seconds), seconds)
        expected.setdefault(("2026-11-02", unit), []).append(seconds)
    # Resolved at 01:30 UTC on 2 Nov... and one at 18:30 UTC, already 3 Nov in Jakarta.
    views += views_of("late", "dlh", datetime.fromisoformat("2026-11-02T18:00:00+00:00"), 1800)
    expected[("2026-11-03", "dlh")] = [1800.0]
    for _ in range(2):  # a redelivered stream rewrites the same rows
        start = 0
        while start < len(views):  # batches of any size; per-complaint order is kept
            size = rng.randrange(1, 80)
            with Session(engine) as session, session.begin():
                upsert_views(session, views[start : start + size], -math.inf, 0.0)
            start += size
    with Session(engine) as session, session.begin():
        finalize_due(session, FAR_FUTURE, 0.0)  # all delivered: every period is final
    rows = [{k: row[k] for k in V1_KEYS} for row in score_rows(engine)]
    assert rows == [
        {
            "unit": unit,
            "period": "day",
            "period_start": day,
            "resolved": len(values),
            "resolution_p50_seconds": nearest_rank(values, 0.5),
            "resolution_p90_seconds": nearest_rank(values, 0.9),
        }
        for (day, unit), values in sorted(expected.items())
    ]
    dsda = [{k: row[k] for k in V1_KEYS} for row in score_rows(engine, ["dsda"])]
    assert dsda == [r for r in rows if r["unit"] == "dsda"]
    # Every period is final (the watermark is far ahead): revision 1, stored once.
    assert {(row["revision"], row["final"]) for row in score_rows(engine)} == {(1, True)}
    engine.dispose()


def test_a_final_period_is_kept_and_a_late_change_adds_a_revision(database_url: str) -> None:
    engine = make_engine(database_url)
    created = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
    end_of_day = datetime.fromisoformat("2026-11-03T00:00:00+07:00").timestamp()
    first = views_of("a", "dlh", created, 3600)
    with Session(engine) as session, session.begin():
        upsert_views(session, first, end_of_day - 1, 600.0)  # the day is still open
    (provisional,) = score_rows(engine)
    assert (provisional["revision"], provisional["final"], provisional["resolved"]) == (0, False, 1)
    with Session(engine) as session, session.begin():
        assert finalize_due(session, end_of_day + 600, 600.0) >= 1
    (final,) = score_rows(engine)
    assert (final["revision"], final["final"], final["resolved"]) == (1, True, 1)
    # A late event: another complaint resolved on that day arrives after it was final.
    with Session(engine) as session, session.begin():
        upsert_views(session, views_of("b", "dlh", created, 7200), end_of_day + 3600, 600.0)
    revisions = score_rows(engine, all_revisions=True)
    assert [(r["revision"], r["resolved"], r["resolution_p90_seconds"]) for r in revisions] == [
        (1, 1, 3600.0),
        (2, 2, 7200.0),
    ]
    assert score_rows(engine)[0]["revision"] == 2  # the latest by default
    # Redelivering the same views changes nothing: no third revision.
    with Session(engine) as session, session.begin():
        upsert_views(session, first, end_of_day + 7200, 600.0)
    assert len(score_rows(engine, all_revisions=True)) == 2
    weeks = score_rows(engine, period="week")
    assert [(w["period_start"], w["resolved"]) for w in weeks] == [("2026-11-02", 2)]
    engine.dispose()
