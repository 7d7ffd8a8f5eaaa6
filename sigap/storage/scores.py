"""Writing and reading unit scores.

The latest view of each (unit, complaint) is stored once (a redelivered view rewrites the
same row). The scores of every (unit, category, period) a batch of views touches are
recomputed from the stored views with core.scoring, so they are exact whatever the order or
number of deliveries, and written as revisions (storage.models.UnitScore) with their IKU
indicators (UnitScoreIndicator): provisional until the period is final, then immutable, a
late change adding a new revision.

The schema is kept by Alembic (sigap/storage/migrations): `migrate` upgrades a database to the
head revision; a database created before Alembic (tables, no version table) is stamped
with the revision it has first.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from importlib.resources import files
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    func,
    inspect,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sigap.core.iku import INDICATORS, IndicatorScore
from sigap.core.periods import (
    PeriodKind,
    jakarta_day_of_epoch,
    period_end,
    period_kind,
    period_start_epoch,
)
from sigap.core.registry import Registry
from sigap.core.scoring import (
    ALL,
    VALUE_COLUMNS,
    PeriodScore,
    ScoreInput,
    ScoreKey,
    is_empty,
    is_final,
    period_score,
    periods_touched,
)
from sigap.core.unit_view import UnitView
from sigap.storage.models import Base, UnitComplaintRow, UnitScore, UnitScoreIndicator
from sigap.storage.officer_scores import write_officer_period

log = logging.getLogger(__name__)

PROVISIONAL = 0
# The revision of the schema that shipped before Alembic, and the tables it had.
BASELINE_REVISION = "0001"
_BASELINE_TABLES = {"unit_complaint_views", "unit_scores"}
# The longest period (a quarter) in days, to bound the period starts a span can reach.
_LONGEST_PERIOD_DAYS = 92


# --------------------------------------------------------------------------------------------
# Schema


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(files("sigap.storage") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(database: str | Engine) -> None:
    """Upgrade the database (a URL or an engine) to the head revision (`alembic upgrade
    head`). Tables made by `create_all` before Alembic was used, without a version table,
    are stamped first: with the baseline (0001) when they have its shape, with the head
    when they already have the head's (made from the current models)."""
    engine = create_engine(database) if isinstance(database, str) else database
    try:
        with engine.begin() as connection:
            _stamp_unversioned(connection)
            command.upgrade(alembic_config(connection), "head")
    except Exception:
        # Another process (the score writer, `sigap scores`) may have migrated meanwhile.
        if current_revision(engine) != head_revision():
            raise
    finally:
        if isinstance(database, str):
            engine.dispose()


def _stamp_unversioned(connection: Connection) -> None:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables or not tables >= _BASELINE_TABLES:
        return
    columns = {column["name"] for column in inspector.get_columns("unit_scores")}
    revision = head_revision() if "category" in columns else BASELINE_REVISION
    log.warning("score database without a schema version: stamping revision %s", revision)
    command.stamp(alembic_config(connection), revision)


def make_engine(database_url: str, *, create_schema: bool = True) -> Engine:
    engine = create_engine(database_url, pool_pre_ping=True)
    if create_schema:
        migrate(engine)
    return engine


def create_tables(engine: Engine) -> None:
    """Bring the schema to the head revision (kept for callers of the old name)."""
    migrate(engine)


def _insert(session: Session, model: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


# --------------------------------------------------------------------------------------------
# Writing


def upsert_views(
    session: Session,
    views: Sequence[UnitView],
    watermark: float,
    grace_seconds: float,
    *,
    registry: Registry,
    wall_clock: Callable[[], float] = time.time,
) -> None:
    """Store the latest views and rewrite the scores of the periods they touch: those where
    the old or the new view has activity, and the stored scores whose open_at_end the
    change can alter (a period end inside the old or the new open span, not both).

    A view replaces the stored one only if it is not older by its own order, its `as_of`
    (the complaint's latest event time when it was made): a replay, a redelivery or a
    zombie writer (one that lost its partitions and still writes an old batch) cannot take
    a (unit, complaint) back to an earlier state. The rule is applied twice: here against
    the rows read, and in the database itself (`ON CONFLICT DO UPDATE ... WHERE`), which
    fences a concurrent writer between the read and the write. Views of equal `as_of`
    replace each other (the later write wins): they hold the same latest event.
    """
    latest: dict[tuple[str, str], UnitView] = {}
    for view in views:  # within a batch too: the newest by as_of, the last one on a tie
        key = (view.unit, view.complaint_id)
        known = latest.get(key)
        if known is None or view.as_of >= known.as_of:
            latest[key] = view
    if not latest:
        return
    touched: set[ScoreKey] = set()
    # A restated view may move a count to another period: rewrite the old periods too.
    previous: dict[tuple[str, str], ScoreInput] = {}
    for (view_json,) in session.execute(
        select(UnitComplaintRow.view_json).where(
            tuple_(UnitComplaintRow.unit, UnitComplaintRow.complaint_id).in_(list(latest))
        )
    ):
        old_view = UnitView.from_json(orjson.loads(view_json))
        key = (old_view.unit, old_view.complaint_id)
        if latest[key].as_of < old_view.as_of:
            del latest[key]  # stale: the stored view is newer
            continue
        old = ScoreInput.from_view(old_view)
        previous[key] = old
        touched |= periods_touched(old)
    # (unit, category) -> ranges of period ends whose open_at_end may change
    spans: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for (unit, complaint_id), view in latest.items():
        entry = ScoreInput.from_view(view)
        store_view_row(session, view, entry)
        touched |= periods_touched(entry)
        for key, ranges in _changed_open_ranges(previous.get((unit, complaint_id)), entry).items():
            spans[key] += ranges
    session.flush()
    touched |= _stored_keys_in_spans(session, spans)
    _write_periods(session, sorted(touched), watermark, grace_seconds, registry, wall_clock)


def store_view_row(session: Session, view: UnitView, entry: ScoreInput | None = None) -> None:
    """Insert or replace the stored view of (view.unit, view.complaint_id), only if the
    stored one is not newer by as_of: the database-side fence (see upsert_views)."""
    if entry is None:
        entry = ScoreInput.from_view(view)
    span = entry.open_span()
    values = {
        "unit": view.unit,
        "complaint_id": view.complaint_id,
        "as_of_epoch": view.as_of,
        "category": view.category,
        "created_at_epoch": view.created_at,
        "resolved_at_epoch": view.resolved_at,
        "resolution_seconds": view.resolution_seconds,
        "last_instant_epoch": max(entry.instants(), default=view.created_at),
        "deleted": view.deleted,
        "view_json": orjson.dumps(view.to_json()).decode(),
        "open_from_epoch": None if span is None else span[0],
        "open_until_epoch": None if span is None or span[1] == math.inf else span[1],
    }
    statement = _insert(session, UnitComplaintRow).values(**values)
    keys = ("unit", "complaint_id")
    session.execute(
        statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={k: statement.excluded[k] for k in values if k not in keys},
            where=UnitComplaintRow.as_of_epoch <= statement.excluded.as_of_epoch,
        )
    )


def _write_periods(
    session: Session,
    keys: Iterable[ScoreKey],
    watermark: float,
    grace_seconds: float,
    registry: Registry,
    wall_clock: Callable[[], float],
) -> None:
    # A period's views are read and decoded once, for all the categories written of it (the
    # scores rows written meanwhile do not change them).
    cache: dict[tuple[str, PeriodKind, date], tuple[list[UnitView], list[ScoreInput]]] = {}
    for unit, category, kind, start in keys:
        period = (unit, kind, start)
        if period not in cache:
            views = period_views(session, unit, kind, start)
            cache[period] = (views, [ScoreInput.from_view(view) for view in views])
        views, inputs = cache[period]
        write_period(
            session,
            unit,
            kind,
            start,
            watermark,
            grace_seconds,
            category=category,
            registry=registry,
            wall_clock=wall_clock,
            inputs=inputs,
        )
        # The officers' rows of the same (unit, category, period), from the same views.
        write_officer_period(
            session,
            views,
            (unit, category, kind, start),
            watermark,
            is_final(kind, start, watermark, grace_seconds),
            registry=registry,
            computed_at=wall_clock(),
        )


def _changed_open_ranges(
    old: ScoreInput | None, new: ScoreInput
) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Per (unit, category): ranges (lo, hi] holding every period end at which the view's
    membership in open_at_end differs between the old and the new version (a superset)."""
    ranges: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    old_span = old.open_span() if old is not None else None
    new_span = new.open_span()
    old_categories = {ALL, old.category} if old is not None else set()
    for category in old_categories | {ALL, new.category}:
        before = old_span if category in old_categories else None
        after = new_span if category in (ALL, new.category) else None
        if before is None or after is None:
            found = [span for span in (before, after) if span is not None]
        else:
            # Two intervals (a1, b1] and (a2, b2]: they differ only between the two starts
            # and between the two ends.
            found = [
                (min(before[0], after[0]), max(before[0], after[0])),
                (min(before[1], after[1]), max(before[1], after[1])),
            ]
        ranges[(new.unit, category)] += [(lo, hi) for lo, hi in found if lo < hi]
    return ranges


def _stored_keys_in_spans(
    session: Session, spans: dict[tuple[str, str], list[tuple[float, float]]]
) -> set[ScoreKey]:
    """The stored (unit, category, period)s whose end falls in one of the spans."""
    found: set[ScoreKey] = set()
    for (unit, category), ranges in spans.items():
        if not ranges:
            continue
        lowest = min(since for since, _ in ranges)
        highest = max(until for _, until in ranges)
        query = (
            select(UnitScore.period, UnitScore.period_start)
            .distinct()
            .where(
                UnitScore.unit == unit,
                UnitScore.category == category,
                UnitScore.period_start
                >= jakarta_day_of_epoch(lowest) - timedelta(days=_LONGEST_PERIOD_DAYS),
            )
        )
        if highest != math.inf:
            query = query.where(UnitScore.period_start <= jakarta_day_of_epoch(highest))
        for kind_text, start in session.execute(query):
            kind = period_kind(kind_text)
            end = period_end(kind, start)
            if any(since < end <= until for since, until in ranges):
                found.add((unit, category, kind, start))
    return found


def period_views(session: Session, unit: str, kind: PeriodKind, start: date) -> list[UnitView]:
    """The stored views of `unit` that may count in the period (activity or open span)."""
    begin, end = period_start_epoch(kind, start), period_end(kind, start)
    # Activity happens between creation and the last instant; open_at_end needs the span.
    rows = session.scalars(
        select(UnitComplaintRow.view_json).where(
            UnitComplaintRow.unit == unit,
            or_(
                and_(
                    UnitComplaintRow.created_at_epoch < end,
                    UnitComplaintRow.last_instant_epoch >= begin,
                ),
                and_(
                    UnitComplaintRow.open_from_epoch < end,
                    or_(
                        UnitComplaintRow.open_until_epoch.is_(None),
                        UnitComplaintRow.open_until_epoch >= end,
                    ),
                ),
            ),
        )
    )
    return [UnitView.from_json(orjson.loads(text)) for text in rows]


def write_period(
    session: Session,
    unit: str,
    kind: PeriodKind,
    start: date,
    watermark: float,
    grace_seconds: float,
    *,
    category: str = ALL,
    registry: Registry,
    wall_clock: Callable[[], float] = time.time,
    inputs: list[ScoreInput] | None = None,
) -> None:
    """Write the score of one (unit, category, period) from the stored views (`inputs`: the
    period's views, already read by the caller)."""
    score = period_score(
        unit,
        kind,
        start,
        [ScoreInput.from_view(view) for view in period_views(session, unit, kind, start)]
        if inputs is None
        else inputs,
        watermark,
        category=category,
        registry=registry,
    )
    key = {"unit": unit, "category": category, "period": kind, "period_start": start}
    last_final = session.execute(
        select(UnitScore)
        .filter_by(**key)
        .where(UnitScore.revision > PROVISIONAL)
        .order_by(UnitScore.revision.desc())
        .limit(1)
    ).scalar_one_or_none()
    _delete_revision(session, key, PROVISIONAL)
    if is_final(kind, start, watermark, grace_seconds):
        if last_final is None:
            if not score.empty:
                _add(session, score, 1, watermark, wall_clock())
        elif _values(last_final) != score.values():
            # A restatement (a late event); an empty one too: the change is the record.
            _add(session, score, last_final.revision + 1, watermark, wall_clock())
        return
    # Kept even when empty: an open timer's deadline in the period may pass the watermark
    # later, and finalize_due finds the period by this row.
    _add(session, score, PROVISIONAL, watermark, wall_clock())


def _delete_revision(session: Session, key: dict[str, Any], revision: int) -> None:
    session.execute(delete(UnitScoreIndicator).filter_by(**key, revision=revision))
    session.execute(delete(UnitScore).filter_by(**key, revision=revision))


def finalize_due(
    session: Session,
    watermark: float,
    grace_seconds: float,
    *,
    registry: Registry,
    wall_clock: Callable[[], float] = time.time,
) -> int:
    """Turn every provisional period that is now final into its revision 1."""
    provisional = session.scalars(select(UnitScore).where(UnitScore.revision == PROVISIONAL))
    due = [
        (row.unit, row.category, period_kind(row.period), row.period_start)
        for row in provisional
        if is_final(period_kind(row.period), row.period_start, watermark, grace_seconds)
    ]
    _write_periods(session, due, watermark, grace_seconds, registry, wall_clock)
    return len(due)


def restored_watermark(session: Session) -> float | None:
    """The latest view time stored (the reports' "data as of"). Not where a restarted score
    writer's watermark starts: see restored_partition_watermarks."""
    return session.scalar(select(func.max(UnitComplaintRow.as_of_epoch)))


def restored_partition_watermarks(
    session: Session, partition_of: Callable[[str], int]
) -> dict[int, float]:
    """Per views partition (`partition_of(unit)`), the latest view time stored for its
    units: where a restarted score writer's watermark starts for that partition, until the
    partition's own progress stamps arrive. The writer takes the minimum over partitions,
    the rule it applies live (core.watermarks): the maximum over every stored view would let
    one partition ahead of the others mark their periods final early."""
    marks: dict[int, float] = {}
    for unit, as_of in session.execute(
        select(UnitComplaintRow.unit, func.max(UnitComplaintRow.as_of_epoch)).group_by(
            UnitComplaintRow.unit
        )
    ):
        partition = partition_of(unit)
        marks[partition] = max(as_of, marks.get(partition, as_of))
    return marks


def _add(
    session: Session, score: PeriodScore, revision: int, watermark: float, computed_at: float
) -> None:
    key = {
        "unit": score.unit,
        "category": score.category,
        "period": score.period,
        "period_start": score.period_start,
        "revision": revision,
    }
    session.add(
        UnitScore(
            **key,
            final=revision > PROVISIONAL,
            watermark_epoch=watermark,
            computed_at_epoch=computed_at,
            **score.values(),
        )
    )
    session.flush()  # the score row before its indicators (foreign key)
    session.add_all(
        UnitScoreIndicator(
            **key,
            indicator=indicator.name,
            direction=indicator.direction,
            unit_of_measure=indicator.unit_of_measure,
            realisation=indicator.realisation,
            target=indicator.target,
            achievement_percent=indicator.achievement_percent,
            achieved=indicator.achieved,
        )
        for indicator in score.indicators
    )
    session.flush()


def _values(row: UnitScore) -> dict[str, Any]:
    return {column: getattr(row, column) for column in VALUE_COLUMNS}


# --------------------------------------------------------------------------------------------
# Reading


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
        rows = [row for row in rows if row.final or not is_empty(_values(row))]
        indicators = _indicators_of(session, rows)
        return [
            {
                "unit": row.unit,
                "category": row.category,
                "period": row.period,
                "period_start": row.period_start.isoformat(),
                "revision": row.revision,
                "final": row.final,
                **_values(row),
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


# --------------------------------------------------------------------------------------------
# Backfill (sigap replay --store)


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
        rows = []
        for view in latest.values():
            entry = ScoreInput.from_view(view)
            span = entry.open_span()
            rows.append(
                {
                    "unit": view.unit,
                    "complaint_id": view.complaint_id,
                    "as_of_epoch": view.as_of,
                    "category": view.category,
                    "created_at_epoch": view.created_at,
                    "resolved_at_epoch": view.resolved_at,
                    "resolution_seconds": view.resolution_seconds,
                    "last_instant_epoch": max(entry.instants(), default=view.created_at),
                    "deleted": view.deleted,
                    "view_json": orjson.dumps(view.to_json()).decode(),
                    "open_from_epoch": None if span is None else span[0],
                    "open_until_epoch": None if span is None or span[1] == math.inf else span[1],
                }
            )
        statement = _insert(session, UnitComplaintRow)
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
            _delete_revision(
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
                elif _values(last) != score.values():
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
