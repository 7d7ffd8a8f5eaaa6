"""Score storage on SQLite and on a real PostgreSQL: idempotent upserts, exact quantiles."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from core.complaint_state import ComplaintState, accept_event
from core.registry import load_registry
from core.unit_view import UnitView
from schemas.events import ComplaintEvent
from storage.scores import make_engine, score_rows, upsert_views

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
                upsert_views(session, views[start : start + size])
            start += size
    rows = score_rows(engine)
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
    assert score_rows(engine, ["dsda"]) == [r for r in rows if r["unit"] == "dsda"]
    engine.dispose()
