"""Writing and reading unit scores. Every write is an idempotent upsert.

A resolution is stored once per complaint_id (a redelivered message rewrites the same row),
and the score of each (unit, day) it touches is recomputed from the stored resolutions, so
the score is exact whatever the order or the number of deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.periods import jakarta_day_of_epoch
from core.quantiles import quantiles
from storage.models import Base, ResolutionRow, UnitScore

DAY = "day"


@dataclass(frozen=True)
class ResolutionInput:
    complaint_id: str
    unit: str
    created_at: float
    resolved_at: float
    resolution_seconds: float
    resolved_event_id: str

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> ResolutionInput:
        return cls(
            complaint_id=str(data["complaint_id"]),
            unit=str(data["unit"]),
            created_at=float(data["created_at"]),
            resolved_at=float(data["resolved_at"]),
            resolution_seconds=float(data["resolution_seconds"]),
            resolved_event_id=str(data["resolved_event_id"]),
        )


def make_engine(database_url: str) -> Engine:
    engine = create_engine(database_url, future=True, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    return engine


def _insert(session: Session, model: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


def upsert_resolutions(session: Session, resolutions: Sequence[ResolutionInput]) -> None:
    """Store resolutions and recompute the daily scores they touch (caller commits)."""
    touched: set[tuple[str, date]] = set()
    for item in resolutions:
        resolved_day = jakarta_day_of_epoch(item.resolved_at)
        values = {
            "complaint_id": item.complaint_id,
            "unit": item.unit,
            "resolved_day": resolved_day,
            "created_at_epoch": item.created_at,
            "resolved_at_epoch": item.resolved_at,
            "resolution_seconds": item.resolution_seconds,
            "resolved_event_id": item.resolved_event_id,
        }
        statement = _insert(session, ResolutionRow).values(**values)
        update = {k: statement.excluded[k] for k in values if k != "complaint_id"}
        session.execute(
            statement.on_conflict_do_update(index_elements=["complaint_id"], set_=update)
        )
        touched.add((item.unit, resolved_day))
    session.flush()
    for unit, day in sorted(touched):
        _recompute_day(session, unit, day)


def _recompute_day(session: Session, unit: str, day: date) -> None:
    durations = session.scalars(
        select(ResolutionRow.resolution_seconds).where(
            ResolutionRow.unit == unit, ResolutionRow.resolved_day == day
        )
    ).all()
    p50, p90 = quantiles(durations, (0.5, 0.9))
    values = {
        "unit": unit,
        "period": DAY,
        "period_start": day,
        "resolved": len(durations),
        "resolution_p50_seconds": p50,
        "resolution_p90_seconds": p90,
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
