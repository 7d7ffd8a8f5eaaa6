"""Official closes and official scores (storage.models.PeriodCloseRow, OfficialScore):
insert-only, computed by core.period_close.

A close and its official rows are written in one transaction; a second closer of the same
period (the score writer's and a `sigap close` at once) fails on the primary key and rolls
back, leaving the first one's rows, which are the same figures (a pure function of the log).
Restatements add revisions; a racing duplicate of one fails the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sigap.core.period_close import PeriodId, RowKey, ScoreRevision, score_columns
from sigap.core.periods import PeriodKind, period_end, period_kind
from sigap.core.scoring import ALL, VALUE_COLUMNS
from sigap.storage.models import OfficialScore, PeriodCloseRow


@dataclass(frozen=True)
class StoredClose:
    kind: PeriodKind
    start: date
    instant: float
    source: str
    registry_version: str
    rows: int


def stored_closes(session: Session) -> dict[PeriodId, StoredClose]:
    found = {}
    for row in session.scalars(select(PeriodCloseRow)):
        kind = period_kind(row.period)
        found[(kind, row.period_start)] = StoredClose(
            kind,
            row.period_start,
            row.close_instant_epoch,
            row.source,
            row.registry_version,
            row.rows,
        )
    return found


def _row(
    revision: ScoreRevision, number: int, computed_at: float, registry_version: str
) -> dict[str, Any]:
    score = revision.score
    return {
        "unit": score.unit,
        "category": score.category,
        "period": score.period,
        "period_start": score.period_start,
        "revision": number,
        "restatement": revision.restatement,
        "cut_epoch": revision.cut,
        "watermark_epoch": revision.watermark,
        "computed_at_epoch": computed_at,
        "registry_version": registry_version,
        "changed_json": orjson.dumps(list(revision.changed)).decode(),
        "reason_json": orjson.dumps(dict(revision.reason)).decode(),
        "indicators_json": orjson.dumps([i.as_json() for i in score.indicators]).decode(),
        **score.values(),
    }


def insert_close(
    engine: Engine,
    kind: PeriodKind,
    start: date,
    instant: float,
    revisions: Sequence[ScoreRevision],
    *,
    source: str,
    working_days: int,
    registry_version: str,
    wall_clock: float | None = None,
) -> bool:
    """Write a period's close and official rows; False when another closer wrote it first."""
    now = time.time() if wall_clock is None else wall_clock
    try:
        with Session(engine) as session, session.begin():
            session.add(
                PeriodCloseRow(
                    period=kind,
                    period_start=start,
                    close_instant_epoch=instant,
                    closed_at_epoch=now,
                    source=source[:300],
                    working_days=working_days,
                    registry_version=registry_version,
                    rows=len(revisions),
                )
            )
            session.flush()
            if revisions:
                session.execute(
                    insert(OfficialScore),
                    [_row(revision, 1, now, registry_version) for revision in revisions],
                )
    except IntegrityError:
        return False
    return True


def insert_closes(
    engine: Engine,
    closes: Sequence[tuple[PeriodKind, date, float, int, Sequence[ScoreRevision]]],
    *,
    source: str,
    registry_version: str,
    wall_clock: float | None = None,
) -> int:
    """Many closes (kind, start, instant, working_days, revisions) in one transaction (a
    backfill); on a conflict, one by one (insert_close). The number written."""
    if not closes:
        return 0
    now = time.time() if wall_clock is None else wall_clock
    try:
        with Session(engine) as session, session.begin():
            session.execute(
                insert(PeriodCloseRow),
                [
                    {
                        "period": kind,
                        "period_start": start,
                        "close_instant_epoch": instant,
                        "closed_at_epoch": now,
                        "source": source[:300],
                        "working_days": days,
                        "registry_version": registry_version,
                        "rows": len(revisions),
                    }
                    for kind, start, instant, days, revisions in closes
                ],
            )
            rows = [
                _row(revision, 1, now, registry_version)
                for *_, revisions in closes
                for revision in revisions
            ]
            for offset in range(0, len(rows), 2000):
                session.execute(insert(OfficialScore), rows[offset : offset + 2000])
        return len(closes)
    except IntegrityError:
        written = 0
        for kind, start, instant, days, revisions in closes:
            written += insert_close(
                engine,
                kind,
                start,
                instant,
                revisions,
                source=source,
                working_days=days,
                registry_version=registry_version,
                wall_clock=now,
            )
        return written


def latest_revisions(
    engine: Engine, periods: Iterable[PeriodId]
) -> dict[PeriodId, dict[RowKey, dict[str, Any]]]:
    """The latest stored revision of every row of the periods: its score columns
    (core.period_close.score_columns), `revision` and `registry_version`."""
    wanted = sorted(set(periods))
    found: dict[PeriodId, dict[RowKey, dict[str, Any]]] = {p: {} for p in wanted}
    with Session(engine) as session:
        for offset in range(0, len(wanted), 500):
            chunk = wanted[offset : offset + 500]
            query = select(OfficialScore).where(
                tuple_(OfficialScore.period, OfficialScore.period_start).in_(chunk)
            )
            for row in session.scalars(query):
                kind = period_kind(row.period)
                rows = found[(kind, row.period_start)]
                known = rows.get((row.unit, row.category))
                if known is not None and known["revision"] > row.revision:
                    continue
                rows[(row.unit, row.category)] = {
                    **stored_columns(row),
                    "revision": row.revision,
                    "registry_version": row.registry_version,
                }
    return found


def stored_columns(row: OfficialScore) -> dict[str, Any]:
    """The columns core.period_close.score_columns gives for the stored row's score."""
    columns = {column: getattr(row, column) for column in VALUE_COLUMNS}
    for indicator in orjson.loads(row.indicators_json):
        for item in ("realisation", "target", "achieved"):
            columns[f"{indicator['name']}.{item}"] = indicator[item]
    return columns


def insert_restatements(
    engine: Engine,
    revisions: Sequence[ScoreRevision],
    latest: Mapping[PeriodId, Mapping[RowKey, Mapping[str, Any]]],
    *,
    registry_version: str,
    wall_clock: float | None = None,
) -> int:
    """Add each restatement as the next revision of its row; a racing closer that wrote
    them first makes this a no-op (0)."""
    if not revisions:
        return 0
    now = time.time() if wall_clock is None else wall_clock
    rows = []
    for revision in revisions:
        score = revision.score
        period = (period_kind(score.period), score.period_start)
        before = latest.get(period, {}).get((score.unit, score.category))
        number = 1 if before is None else int(before["revision"]) + 1
        rows.append(_row(revision, number, now, registry_version))
    try:
        with Session(engine) as session, session.begin():
            session.execute(insert(OfficialScore), rows)
    except IntegrityError:
        return 0
    return len(rows)


def official_rows(
    engine: Engine,
    kind: str,
    *,
    start: date | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    units: Iterable[str] = (),
    category: str | None = ALL,
) -> list[dict[str, Any]]:
    """Every stored official and restatement row, as dicts like storage.score_queries.score_rows
    gives (`status`: "official" or "restatement"; `changed`, `reason`, `cut_epoch`), oldest
    period first, then unit, category, revision."""
    wanted = sorted(set(units))
    with Session(engine) as session:
        query = select(OfficialScore).where(OfficialScore.period == kind)
        if start is not None:
            query = query.where(OfficialScore.period_start == start)
        if date_from is not None:
            query = query.where(OfficialScore.period_start >= date_from)
        if date_to is not None:
            query = query.where(OfficialScore.period_start <= date_to)
        if wanted:
            query = query.where(OfficialScore.unit.in_(wanted))
        if category is not None:
            query = query.where(OfficialScore.category == category)
        rows = sorted(
            session.scalars(query),
            key=lambda r: (r.period_start, r.unit, r.category != ALL, r.category, r.revision),
        )
        return [
            {
                "unit": row.unit,
                "category": row.category,
                "period": row.period,
                "period_start": row.period_start.isoformat(),
                "revision": row.revision,
                "status": "restatement" if row.restatement else "official",
                "cut_epoch": row.cut_epoch,
                "watermark_epoch": row.watermark_epoch,
                "registry_version": row.registry_version,
                "changed": orjson.loads(row.changed_json),
                "reason": orjson.loads(row.reason_json),
                **{column: getattr(row, column) for column in VALUE_COLUMNS},
                "indicators": orjson.loads(row.indicators_json),
            }
            for row in rows
        ]


def close_of(engine: Engine, kind: PeriodKind, start: date) -> StoredClose | None:
    with Session(engine) as session:
        row = session.get(PeriodCloseRow, (kind, start))
        if row is None:
            return None
        return StoredClose(
            kind, start, row.close_instant_epoch, row.source, row.registry_version, row.rows
        )


def closed_starts(
    engine: Engine, kind: str, *, date_from: date | None = None, date_to: date | None = None
) -> set[date]:
    """The starts of the closed periods of a kind (within the bounds, when given)."""
    with Session(engine) as session:
        query = select(PeriodCloseRow.period_start).where(PeriodCloseRow.period == kind)
        if date_from is not None:
            query = query.where(PeriodCloseRow.period_start >= date_from)
        if date_to is not None:
            query = query.where(PeriodCloseRow.period_start <= date_to)
        return set(session.scalars(query))


def last_closed_ends(engine: Engine) -> dict[str, float]:
    """Per period kind, the end of the latest closed period (for the metrics)."""
    found: dict[str, float] = {}
    with Session(engine) as session:
        for kind_text, start in session.execute(
            select(PeriodCloseRow.period, PeriodCloseRow.period_start)
        ):
            kind = period_kind(kind_text)
            found[kind] = max(found.get(kind, 0.0), period_end(kind, start))
    return found


__all__ = [
    "StoredClose",
    "close_of",
    "closed_starts",
    "insert_close",
    "insert_closes",
    "insert_restatements",
    "last_closed_ends",
    "latest_revisions",
    "official_rows",
    "score_columns",
    "stored_closes",
]
