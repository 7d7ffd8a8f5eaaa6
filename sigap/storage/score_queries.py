"""Reading the stored unit scores and views (what `sigap scores`, the API, reports and
verify read): score rows with their IKU indicators, and the stored views."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

import orjson
from sqlalchemy import (
    Engine,
    and_,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from sigap.core.iku import INDICATORS, IndicatorScore
from sigap.core.scoring import (
    ALL,
    is_empty,
)
from sigap.core.unit_view import UnitView
from sigap.storage.models import UnitComplaintRow, UnitScore, UnitScoreIndicator


def _indicator_json(row: UnitScoreIndicator) -> dict[str, Any]:
    return IndicatorScore(
        name=row.indicator,
        direction=row.direction,  # type: ignore[arg-type]
        unit_of_measure=row.unit_of_measure,
        realisation=row.realisation,
        target=row.target,
        achievement_percent=row.achievement_percent,
        achieved=row.achieved,
    ).as_json()


def score_rows(
    engine: Engine,
    units: Iterable[str] = (),
    period: str = "day",
    *,
    category: str | None = ALL,
    start: date | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    revision: int | None = None,
    all_revisions: bool = False,
) -> list[dict[str, Any]]:
    """Stored scores of one period kind, as the `sigap scores --format json` objects:
    {"unit", "category", "period", "period_start" (ISO date), "revision", "final",
    **core.scoring.VALUE_COLUMNS, "indicators": [IndicatorScore.as_json(), ...]}.

    `category`: one category ("*" = the score over all categories), None = every one.
    `start`: only the period beginning on that day; `date_from`/`date_to`: only periods
    with date_from <= period_start <= date_to. Each period's latest revision, or the given
    `revision` (periods without it are left out), or with `all_revisions` every one.
    Provisional scores with no activity (core.scoring.is_empty) are left out.
    Sorted by period start, unit, category ("*" first), revision.
    """
    wanted = sorted(set(units))
    with Session(engine) as session:
        query = select(UnitScore).where(UnitScore.period == period)
        if wanted:
            query = query.where(UnitScore.unit.in_(wanted))
        if category is not None:
            query = query.where(UnitScore.category == category)
        if start is not None:
            query = query.where(UnitScore.period_start == start)
        if date_from is not None:
            query = query.where(UnitScore.period_start >= date_from)
        if date_to is not None:
            query = query.where(UnitScore.period_start <= date_to)
        if revision is not None:
            query = query.where(UnitScore.revision == revision)
        rows = list(session.scalars(query))
        rows.sort(key=lambda r: (r.period_start, r.unit, r.category != ALL, r.category, r.revision))
        if not all_revisions:
            latest: dict[tuple[str, str, date], UnitScore] = {}
            for row in rows:
                latest[(row.unit, row.category, row.period_start)] = row  # last revision wins
            rows = list(latest.values())
        rows = [row for row in rows if row.final or not is_empty(row.measured())]
        indicators = _indicators_of(session, rows)
        return [
            {
                "unit": row.unit,
                "category": row.category,
                "period": row.period,
                "period_start": row.period_start.isoformat(),
                "revision": row.revision,
                "final": row.final,
                **row.measured(),
                "indicators": indicators.get(_row_key(row), []),
            }
            for row in rows
        ]


def _row_key(row: UnitScore | UnitScoreIndicator) -> tuple[str, str, str, date, int]:
    return (row.unit, row.category, row.period, row.period_start, row.revision)


def _indicators_of(
    session: Session, rows: list[UnitScore]
) -> dict[tuple[str, str, str, date, int], list[dict[str, Any]]]:
    found: dict[tuple[str, str, str, date, int], list[dict[str, Any]]] = defaultdict(list)
    keys = [_row_key(row) for row in rows]
    order = {name: index for index, name in enumerate(_INDICATOR_ORDER)}
    for chunk_start in range(0, len(keys), 500):
        chunk = keys[chunk_start : chunk_start + 500]
        query = select(UnitScoreIndicator).where(
            tuple_(
                UnitScoreIndicator.unit,
                UnitScoreIndicator.category,
                UnitScoreIndicator.period,
                UnitScoreIndicator.period_start,
                UnitScoreIndicator.revision,
            ).in_(chunk)
        )
        for indicator in session.scalars(query):
            found[_row_key(indicator)].append(_indicator_json(indicator))
    for listed in found.values():
        listed.sort(key=lambda item: order.get(item["name"], len(order)))
    return found


_INDICATOR_ORDER = tuple(indicator.name for indicator in INDICATORS)


def stored_views(
    engine: Engine,
    *,
    unit: str | None = None,
    created_before: float | None = None,
    active_from: float | None = None,
) -> list[UnitView]:
    """The stored views (deleted ones included), by unit and complaint id. `created_before`:
    created before that epoch instant; `active_from`: views that may count in a period
    beginning at that instant (activity at or after it, or open at some later end)."""
    with Session(engine) as session:
        query = select(UnitComplaintRow.view_json)
        if unit is not None:
            query = query.where(UnitComplaintRow.unit == unit)
        if created_before is not None:
            query = query.where(UnitComplaintRow.created_at_epoch < created_before)
        if active_from is not None:
            query = query.where(
                or_(
                    UnitComplaintRow.last_instant_epoch >= active_from,
                    and_(
                        UnitComplaintRow.open_from_epoch.is_not(None),
                        or_(
                            UnitComplaintRow.open_until_epoch.is_(None),
                            UnitComplaintRow.open_until_epoch > active_from,
                        ),
                    ),
                )
            )
        query = query.order_by(UnitComplaintRow.unit, UnitComplaintRow.complaint_id)
        return [UnitView.from_json(orjson.loads(text)) for text in session.scalars(query)]
