"""Storing a whole file of views at once (a backfill, `sigap replay --store`): what
storage.scores.upsert_views does view by view, in bulk."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import (
    Engine,
    select,
)
from sqlalchemy.orm import Session

from sigap.core.periods import (
    period_kind,
)
from sigap.core.registry import Registry
from sigap.core.scoring import (
    PeriodScore,
    ScoreInput,
    is_final,
    period_score,
)
from sigap.core.unit_view import UnitView
from sigap.storage.database import dialect_insert
from sigap.storage.models import UnitComplaintRow, UnitScore, UnitScoreIndicator
from sigap.storage.scores import PROVISIONAL, delete_revision, view_row_values


def store_views_bulk(
    engine: Engine,
    views: Sequence[UnitView],
    watermark: float,
    grace_seconds: float,
    *,
    registry: Registry,
    wall_clock: Callable[[], float] = time.time,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """What upsert_views does for a whole file at once (a backfill): store the views (not
    replacing a newer stored one, as upsert_views), then write the scores of every period
    of the units concerned, computed by core.scoring.all_period_scores from every stored
    view of those units, with write_period's revision rule: a provisional period's row is
    replaced; a final one gets revision 1 if it has none, a new revision if its values
    changed (a row that lost all activity too), and stays as it is otherwise.
    Returns (views stored, score rows written)."""
    latest: dict[tuple[str, str], UnitView] = {}
    for view in views:
        known = latest.get((view.unit, view.complaint_id))
        if known is None or view.as_of >= known.as_of:
            latest[(view.unit, view.complaint_id)] = view
    written_rows = 0
    with Session(engine) as session, session.begin():
        rows = [view_row_values(view) for view in latest.values()]
        statement = dialect_insert(session, UnitComplaintRow)
        keys = ("unit", "complaint_id")
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={k: statement.excluded[k] for k in rows[0] if k not in keys} if rows else {},
            where=UnitComplaintRow.as_of_epoch <= statement.excluded.as_of_epoch,
        )
        for offset in range(0, len(rows), 1000):
            session.execute(statement, rows[offset : offset + 1000])
            if progress is not None:
                progress(len(rows[offset : offset + 1000]))
        units = sorted({unit for unit, _ in latest})
        inputs = [
            ScoreInput.from_view(UnitView.from_json(orjson.loads(text)))
            for text in session.scalars(
                select(UnitComplaintRow.view_json).where(UnitComplaintRow.unit.in_(units))
            )
        ]
        from sigap.core.scoring import all_period_scores

        scores = {
            (s.unit, s.category, s.period, s.period_start): s
            for s in all_period_scores(inputs, watermark, registry=registry)
        }
        stored: dict[tuple[str, str, str, date], UnitScore] = {}
        provisional: set[tuple[str, str, str, date]] = set()
        for row in session.scalars(select(UnitScore).where(UnitScore.unit.in_(units))):
            key = (row.unit, row.category, row.period, row.period_start)
            if row.revision == PROVISIONAL:
                provisional.add(key)
            elif key not in stored or stored[key].revision < row.revision:
                stored[key] = row
        for key in provisional:
            delete_revision(
                session,
                {"unit": key[0], "category": key[1], "period": key[2], "period_start": key[3]},
                PROVISIONAL,
            )
        now = wall_clock()
        new_scores: list[tuple[PeriodScore, int]] = []
        for key in sorted(scores.keys() | stored.keys()):
            unit, category, kind_text, start = key
            kind = period_kind(kind_text)
            score = scores.get(key)
            if score is None:
                score = period_score(
                    unit, kind, start, (), watermark, category=category, registry=registry
                )
            last = stored.get(key)
            if is_final(kind, start, watermark, grace_seconds):
                if last is None:
                    if not score.empty:
                        new_scores.append((score, 1))
                elif last.measured() != score.values():
                    new_scores.append((score, last.revision + 1))
            elif not score.empty:
                new_scores.append((score, PROVISIONAL))
        _add_many(session, new_scores, watermark, now)
        written_rows = len(new_scores)
    return len(latest), written_rows


def _add_many(
    session: Session, scores: Sequence[tuple[PeriodScore, int]], watermark: float, now: float
) -> None:
    """_add for many rows, as two executemany inserts (scores, then their indicators)."""
    from sqlalchemy import insert

    score_rows_: list[dict[str, Any]] = []
    indicator_rows: list[dict[str, Any]] = []
    for score, revision in scores:
        key = {
            "unit": score.unit,
            "category": score.category,
            "period": score.period,
            "period_start": score.period_start,
            "revision": revision,
        }
        score_rows_.append(
            {
                **key,
                "final": revision > PROVISIONAL,
                "watermark_epoch": watermark,
                "computed_at_epoch": now,
                **score.values(),
            }
        )
        indicator_rows += [
            {
                **key,
                "indicator": indicator.name,
                "direction": indicator.direction,
                "unit_of_measure": indicator.unit_of_measure,
                "realisation": indicator.realisation,
                "target": indicator.target,
                "achievement_percent": indicator.achievement_percent,
                "achieved": indicator.achieved,
            }
            for indicator in score.indicators
        ]
    for offset in range(0, len(score_rows_), 2000):
        session.execute(insert(UnitScore), score_rows_[offset : offset + 2000])
    for offset in range(0, len(indicator_rows), 2000):
        session.execute(insert(UnitScoreIndicator), indicator_rows[offset : offset + 2000])
