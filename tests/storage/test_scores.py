"""Score storage on SQLite and on a real PostgreSQL: idempotent upserts, exact quantiles."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy.orm import Session

from storage.scores import ResolutionInput, make_engine, score_rows, upsert_resolutions


def resolution(complaint_id: str, unit: str, resolved_at: str, seconds: float) -> ResolutionInput:
    resolved = datetime.fromisoformat(resolved_at).timestamp()
    return ResolutionInput(
        complaint_id=complaint_id,
        unit=unit,
        created_at=resolved - seconds,
        resolved_at=resolved,
        resolution_seconds=seconds,
        resolved_event_id=f"{complaint_id}-r",
    )


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return next(v for v in ordered if sum(x <= v for x in ordered) >= q * len(ordered))


def test_upserts_are_idempotent_and_quantiles_exact(database_url: str) -> None:
    engine = make_engine(database_url)
    rng = random.Random(11)
    items = [
        resolution(
            f"c{i}", rng.choice(["dlh", "dsda"]), "2026-11-02T12:00:00+07:00", rng.uniform(60, 9e5)
        )
        for i in range(200)
    ]
    # Late evening UTC that is already the next day in Jakarta.
    items.append(resolution("late", "dlh", "2026-11-02T18:30:00+00:00", 100.0))
    for _ in range(2):  # a redelivered batch rewrites the same rows
        shuffled = items[:]
        rng.shuffle(shuffled)
        with Session(engine) as session, session.begin():
            upsert_resolutions(session, shuffled[:120])
        with Session(engine) as session, session.begin():
            upsert_resolutions(session, shuffled[120:])
    rows = score_rows(engine)
    expected = []
    for day, unit in sorted({("2026-11-02", "dlh"), ("2026-11-02", "dsda"), ("2026-11-03", "dlh")}):
        values = [
            r.resolution_seconds
            for r in items
            if r.unit == unit and ((r.complaint_id == "late") == (day == "2026-11-03"))
        ]
        expected.append(
            {
                "unit": unit,
                "period": "day",
                "period_start": day,
                "resolved": len(values),
                "resolution_p50_seconds": nearest_rank(values, 0.5),
                "resolution_p90_seconds": nearest_rank(values, 0.9),
            }
        )
    assert rows == expected
    assert score_rows(engine, ["dsda"]) == [r for r in expected if r["unit"] == "dsda"]
    engine.dispose()
