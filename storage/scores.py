"""Writing and reading unit scores. Every write is an idempotent upsert.

The latest view of each (unit, complaint) is stored once (a redelivered view rewrites the
same row), and the score of each (unit, day) a batch touches is recomputed from the stored
views with core.scoring, so the score is exact whatever the order or number of deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.periods import jakarta_day_of_epoch
from core.scoring import DAY, Resolution, daily_scores
from core.unit_view import UnitView
from storage.models import Base, UnitComplaintRow, UnitScore


def make_engine(database_url: str) -> Engine:
    engine = create_engine(database_url, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    return engine


def _insert(session: Session, model: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


def upsert_views(session: Session, views: Sequence[UnitView]) -> None:
    """Store the latest views and recompute the daily scores they touch (caller commits)."""
    latest = {(view.unit, view.complaint_id): view for view in views}  # last one wins
    if not latest:
        return
    touched: set[tuple[str, date]] = set()
    # A restated view may move a resolution to another day: recompute the old day too.
    for unit, day in session.execute(
        select(UnitComplaintRow.unit, UnitComplaintRow.resolved_day).where(
            tuple_(UnitComplaintRow.unit, UnitComplaintRow.complaint_id).in_(list(latest))
        )
    ):
        if day is not None:
            touched.add((unit, day))
    for (unit, complaint_id), view in latest.items():
        resolved_day = None if view.resolved_at is None else jakarta_day_of_epoch(view.resolved_at)
        values = {
            "unit": unit,
            "complaint_id": complaint_id,
            "as_of_epoch": view.as_of,
            "category": view.category,
            "created_at_epoch": view.created_at,
            "resolved_at_epoch": view.resolved_at,
            "resolved_day": resolved_day,
            "resolution_seconds": view.resolution_seconds,
            "deleted": view.deleted,
            "view_json": orjson.dumps(view.to_json()).decode(),
        }
        statement = _insert(session, UnitComplaintRow).values(**values)
        keys = ("unit", "complaint_id")
        session.execute(
            statement.on_conflict_do_update(
                index_elements=list(keys),
                set_={k: statement.excluded[k] for k in values if k not in keys},
            )
        )
        if resolved_day is not None:
            touched.add((unit, resolved_day))
    session.flush()
    for unit, day in sorted(touched):
        _recompute_day(session, unit, day)


def _recompute_day(session: Session, unit: str, day: date) -> None:
    rows = session.execute(
        select(UnitComplaintRow.resolved_at_epoch, UnitComplaintRow.resolution_seconds).where(
            UnitComplaintRow.unit == unit,
            UnitComplaintRow.resolved_day == day,
            UnitComplaintRow.resolution_seconds.is_not(None),
        )
    ).all()
    scores = daily_scores(
        Resolution(unit, at, seconds)
        for at, seconds in rows
        if at is not None and seconds is not None
    )
    if not scores:  # the day's last resolution moved away
        session.query(UnitScore).filter_by(unit=unit, period=DAY, period_start=day).delete()
        return
    (score,) = scores
    values = {
        "unit": unit,
        "period": DAY,
        "period_start": day,
        "resolved": score.resolved,
        "resolution_p50_seconds": score.resolution_p50_seconds,
        "resolution_p90_seconds": score.resolution_p90_seconds,
    }
    statement = _insert(session, UnitScore).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["unit", "period", "period_start"],
            set_={k: statement.excluded[k] for k in values if k not in ("unit", "period")},
        )
    )


def score_rows(engine: Engine, units: Iterable[str] = ()) -> list[dict[str, Any]]:
    """All unit scores, oldest period first, as the `sigap scores --format json` objects."""
    wanted = sorted(set(units))
    with Session(engine) as session:
        query = select(UnitScore).order_by(UnitScore.period_start, UnitScore.unit)
        if wanted:
            query = query.where(UnitScore.unit.in_(wanted))
        return [
            {
                "unit": row.unit,
                "period": row.period,
                "period_start": row.period_start.isoformat(),
                "resolved": row.resolved,
                "resolution_p50_seconds": row.resolution_p50_seconds,
                "resolution_p90_seconds": row.resolution_p90_seconds,
            }
            for row in session.scalars(query)
        ]
