"""Writing and reading unit scores.

The latest view of each (unit, complaint) is stored once (a redelivered view rewrites the
same row). The scores of every period a batch touches are recomputed from the stored views
with core.scoring, so they are exact whatever the order or number of deliveries, and
written as revisions (storage.models.UnitScore): provisional until the period is final,
then immutable, a late change adding a new revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.scoring import PeriodScore, ScoreInput, is_final, period_score, periods_touched
from core.unit_view import UnitView
from core.windows import PeriodKind, period_end, period_start_epoch
from storage.models import Base, UnitComplaintRow, UnitScore

PROVISIONAL = 0


def make_engine(database_url: str, *, create_schema: bool = True) -> Engine:
    engine = create_engine(database_url, pool_pre_ping=True)
    if create_schema:
        create_tables(engine)
    return engine


def create_tables(engine: Engine) -> None:
    Base.metadata.create_all(engine)


def _insert(session: Session, model: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


def upsert_views(
    session: Session, views: Sequence[UnitView], watermark: float, grace_seconds: float
) -> None:
    """Store the latest views and rewrite the scores of the periods they touch."""
    latest = {(view.unit, view.complaint_id): view for view in views}  # last one wins
    if not latest:
        return
    touched: set[tuple[str, PeriodKind, date]] = set()
    # A restated view may move a count to another period: rewrite the old periods too.
    for (view_json,) in session.execute(
        select(UnitComplaintRow.view_json).where(
            tuple_(UnitComplaintRow.unit, UnitComplaintRow.complaint_id).in_(list(latest))
        )
    ):
        touched |= periods_touched(
            ScoreInput.from_view(UnitView.from_json(orjson.loads(view_json)))
        )
    for (unit, complaint_id), view in latest.items():
        score_input = ScoreInput.from_view(view)
        values = {
            "unit": unit,
            "complaint_id": complaint_id,
            "as_of_epoch": view.as_of,
            "category": view.category,
            "created_at_epoch": view.created_at,
            "resolved_at_epoch": view.resolved_at,
            "resolution_seconds": view.resolution_seconds,
            "last_instant_epoch": max(score_input.instants()),
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
        touched |= periods_touched(score_input)
    session.flush()
    for unit, kind, start in sorted(touched):
        write_period(session, unit, kind, start, watermark, grace_seconds)


def _inputs(session: Session, unit: str, kind: PeriodKind, start: date) -> list[ScoreInput]:
    begin, end = period_start_epoch(kind, start), period_end(kind, start)
    # Whatever counts in the period happens between creation and the last instant.
    rows = session.scalars(
        select(UnitComplaintRow.view_json).where(
            UnitComplaintRow.unit == unit,
            UnitComplaintRow.created_at_epoch < end,
            UnitComplaintRow.last_instant_epoch >= begin,
        )
    )
    return [ScoreInput.from_view(UnitView.from_json(orjson.loads(text))) for text in rows]


def write_period(
    session: Session,
    unit: str,
    kind: PeriodKind,
    start: date,
    watermark: float,
    grace_seconds: float,
) -> None:
    score = period_score(unit, kind, start, _inputs(session, unit, kind, start), watermark)
    key = {"unit": unit, "period": kind, "period_start": start}
    last_final = session.execute(
        select(UnitScore)
        .where(
            UnitScore.unit == unit,
            UnitScore.period == kind,
            UnitScore.period_start == start,
            UnitScore.revision > PROVISIONAL,
        )
        .order_by(UnitScore.revision.desc())
        .limit(1)
    ).scalar_one_or_none()
    if is_final(kind, start, watermark, grace_seconds):
        session.execute(delete(UnitScore).filter_by(**key, revision=PROVISIONAL))
        if last_final is None:
            if not score.empty:
                _add(session, score, 1, True, watermark)
        elif _values(last_final) != score.values():
            _add(session, score, last_final.revision + 1, True, watermark)  # a restatement
        return
    statement = _insert(session, UnitScore).values(
        **key, revision=PROVISIONAL, final=False, watermark_epoch=watermark, **score.values()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["unit", "period", "period_start", "revision"],
            set_={"watermark_epoch": watermark, **score.values()},
        )
    )


def finalize_due(session: Session, watermark: float, grace_seconds: float) -> int:
    """Turn every provisional period that is now final into its revision 1."""
    due = [
        (row.unit, row.period, row.period_start)
        for row in session.scalars(select(UnitScore).where(UnitScore.revision == PROVISIONAL))
        if is_final(row.period, row.period_start, watermark, grace_seconds)  # type: ignore[arg-type]
    ]
    for unit, kind, start in due:
        write_period(session, unit, kind, start, watermark, grace_seconds)  # type: ignore[arg-type]
    return len(due)


def restored_watermark(session: Session) -> float | None:
    """The latest view time stored: where a restarted writer's watermark starts."""
    return session.scalar(select(func.max(UnitComplaintRow.as_of_epoch)))


def _add(
    session: Session, score: PeriodScore, revision: int, final: bool, watermark: float
) -> None:
    session.add(
        UnitScore(
            unit=score.unit,
            period=score.period,
            period_start=score.period_start,
            revision=revision,
            final=final,
            watermark_epoch=watermark,
            **score.values(),
        )
    )


def _values(row: UnitScore) -> dict[str, Any]:
    return {
        "received": row.received,
        "resolved": row.resolved,
        "resolution_p50_seconds": row.resolution_p50_seconds,
        "resolution_p90_seconds": row.resolution_p90_seconds,
        "response_met": row.response_met,
        "response_missed": row.response_missed,
        "resolution_met": row.resolution_met,
        "resolution_missed": row.resolution_missed,
    }


def score_rows(
    engine: Engine,
    units: Iterable[str] = (),
    period: str = "day",
    all_revisions: bool = False,
) -> list[dict[str, Any]]:
    """Scores of one period kind, oldest first: the latest revision of each period (or every
    revision), as the `sigap scores --format json` objects. Empty provisional periods are
    left out."""
    wanted = sorted(set(units))
    with Session(engine) as session:
        query = select(UnitScore).where(UnitScore.period == period)
        if wanted:
            query = query.where(UnitScore.unit.in_(wanted))
        rows = list(
            session.scalars(
                query.order_by(UnitScore.period_start, UnitScore.unit, UnitScore.revision)
            )
        )
    if not all_revisions:
        latest: dict[tuple[str, date], UnitScore] = {}
        for row in rows:
            latest[(row.unit, row.period_start)] = row  # ordered by revision: last wins
        rows = list(latest.values())
    return [
        {
            "unit": row.unit,
            "period": row.period,
            "period_start": row.period_start.isoformat(),
            "revision": row.revision,
            "final": row.final,
            **_values(row),
        }
        for row in rows
        if row.final or any(value for value in _values(row).values())
    ]
