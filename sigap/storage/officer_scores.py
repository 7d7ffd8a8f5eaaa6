"""Writing and reading officer scores (storage.models.OfficerScore).

The score writer recomputes a (unit, category, period)'s officer rows whenever it
recomputes the unit's score for it (storage.scores), from the same stored views, with
core.officer_scores: the rows of that key are replaced. No revisions (the unit score keeps
them); `final` says the period is final. Officer codes are pseudonymous; nothing here logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from sigap.core.officer_scores import OfficerInputCache, OfficerScore, officer_period_scores
from sigap.core.registry import Registry
from sigap.core.scoring import ALL, VALUE_COLUMNS, ScoreKey
from sigap.core.unit_view import UnitView
from sigap.storage.models import OfficerScore as OfficerScoreRow

__all__ = ["officer_score_rows", "write_officer_period"]


def write_officer_period(
    session: Session,
    views: Iterable[UnitView],
    key: ScoreKey,
    watermark: float,
    final: bool,
    *,
    registry: Registry | None,
    computed_at: float,
    cache: OfficerInputCache | None = None,
) -> list[OfficerScore]:
    """Replace the officer rows of one (unit, category, period) with those computed from
    `views` (the unit's stored views that may count in it); `cache`: the officer inputs of
    views already seen in this batch (core.officer_scores.OfficerInputCache)."""
    unit, category, kind, start = key
    views = [view for view in views if view.unit == unit]
    if category != ALL:
        views = [view for view in views if view.category == category]
    scores = [
        score
        for score in officer_period_scores(
            views,
            watermark,
            (kind,),
            registry,
            unit_keys=[(unit, category, kind, start)],
            only_unit_keys=True,
            cache=cache,
        )
        if score.score.category == category and score.score.period_start == start
    ]
    if all(score.score.empty for score in scores):
        scores = []  # the unit's score is empty too (its counts are the officers' sums)
    session.execute(
        delete(OfficerScoreRow).filter_by(
            unit=unit, category=category, period=kind, period_start=start
        )
    )
    session.add_all(
        OfficerScoreRow(
            unit=unit,
            officer=score.officer,
            category=category,
            period=kind,
            period_start=start,
            final=final,
            watermark_epoch=watermark,
            computed_at_epoch=computed_at,
            **score.score.values(),
            indicators_json=orjson.dumps(
                [indicator.as_json() for indicator in score.score.indicators]
            ).decode(),
        )
        for score in scores
    )
    session.flush()
    return scores


def officer_score_rows(
    engine: Engine,
    units: Iterable[str] = (),
    period: str = "day",
    *,
    category: str | None = ALL,
    officers: Iterable[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[dict[str, Any]]:
    """Stored officer scores as `sigap scores --officers --format json` objects: the unit
    score's keys with `officer` after `unit` (and no `revision`). Sorted by period start,
    unit, category ("*" first), officer."""
    wanted_units = sorted(set(units))
    wanted_officers = sorted(set(officers))
    with Session(engine) as session:
        query = select(OfficerScoreRow).where(OfficerScoreRow.period == period)
        if wanted_units:
            query = query.where(OfficerScoreRow.unit.in_(wanted_units))
        if wanted_officers:
            query = query.where(OfficerScoreRow.officer.in_(wanted_officers))
        if category is not None:
            query = query.where(OfficerScoreRow.category == category)
        if date_from is not None:
            query = query.where(OfficerScoreRow.period_start >= date_from)
        if date_to is not None:
            query = query.where(OfficerScoreRow.period_start <= date_to)
        rows = list(session.scalars(query))
    rows.sort(key=lambda r: (r.period_start, r.unit, r.category != ALL, r.category, r.officer))
    return [
        {
            "unit": row.unit,
            "officer": row.officer,
            "category": row.category,
            "period": row.period,
            "period_start": row.period_start.isoformat(),
            "final": row.final,
            **{column: getattr(row, column) for column in VALUE_COLUMNS},
            "indicators": orjson.loads(row.indicators_json),
        }
        for row in rows
    ]
