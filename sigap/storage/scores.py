"""Writing unit scores.

The latest view of each (unit, complaint) is stored once (a redelivered view rewrites the
same row). The scores of every (unit, category, period) a batch of views touches are
recomputed from the stored views with core.scoring, so they are exact whatever the order or
number of deliveries, and written as revisions (storage.models.UnitScore) with their IKU
indicators (UnitScoreIndicator): provisional until the period is final, then immutable, a
late change adding a new revision.

The database and its schema: storage.database; reading the scores: storage.score_queries;
a whole file at once (backfill): storage.bulk_scores.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    and_,
    delete,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from sigap.core.officer_scores import OfficerInputCache
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
    PeriodScore,
    ScoreInput,
    ScoreKey,
    is_final,
    period_score,
    periods_touched,
)
from sigap.core.unit_view import UnitView
from sigap.storage.database import dialect_insert
from sigap.storage.models import UnitComplaintRow, UnitScore, UnitScoreIndicator
from sigap.storage.officer_scores import write_officer_period

log = logging.getLogger(__name__)

PROVISIONAL = 0
# The longest period (a quarter) in days, to bound the period starts a span can reach.
_LONGEST_PERIOD_DAYS = 92


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


def view_row_values(view: UnitView, entry: ScoreInput | None = None) -> dict[str, Any]:
    """The unit_complaint_views row of a view (`entry`: its ScoreInput, if already made)."""
    if entry is None:
        entry = ScoreInput.from_view(view)
    span = entry.open_span()
    return {
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


def store_view_row(session: Session, view: UnitView, entry: ScoreInput | None = None) -> None:
    """Insert or replace the stored view of (view.unit, view.complaint_id), only if the
    stored one is not newer by as_of: the database-side fence (see upsert_views)."""
    values = view_row_values(view, entry)
    statement = dialect_insert(session, UnitComplaintRow).values(**values)
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
    # A period's views are read once, for all the categories written of it, and each stored
    # view is decoded once, for every period it counts in (the views were stored before,
    # and the score rows written meanwhile do not change them); their officer inputs too.
    cache: dict[tuple[str, PeriodKind, date], tuple[list[UnitView], list[ScoreInput]]] = {}
    decoded: dict[tuple[str, str], tuple[UnitView, ScoreInput]] = {}
    officer_inputs = OfficerInputCache()
    for unit, category, kind, start in keys:
        period = (unit, kind, start)
        if period not in cache:
            pairs = period_views_with_inputs(session, unit, kind, start, decoded)
            cache[period] = ([view for view, _ in pairs], [entry for _, entry in pairs])
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
            cache=officer_inputs,
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


def period_views_with_inputs(
    session: Session,
    unit: str,
    kind: PeriodKind,
    start: date,
    decoded: dict[tuple[str, str], tuple[UnitView, ScoreInput]],
) -> list[tuple[UnitView, ScoreInput]]:
    """The stored views of `unit` that may count in the period (activity or open span), each
    with its ScoreInput; `decoded` keeps them by (unit, complaint_id) for the next period
    asked with it: only while the stored views do not change (the caller's batch, after it
    stored its views)."""
    begin, end = period_start_epoch(kind, start), period_end(kind, start)
    # Activity happens between creation and the last instant; open_at_end needs the span.
    rows = session.execute(
        select(UnitComplaintRow.complaint_id, UnitComplaintRow.view_json).where(
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
    found = []
    for complaint_id, text in rows:
        pair = decoded.get((unit, complaint_id))
        if pair is None:
            view = UnitView.from_json(orjson.loads(text))
            pair = decoded[(unit, complaint_id)] = (view, ScoreInput.from_view(view))
        found.append(pair)
    return found


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
        [entry for _, entry in period_views_with_inputs(session, unit, kind, start, {})]
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
    delete_revision(session, key, PROVISIONAL)
    if is_final(kind, start, watermark, grace_seconds):
        if last_final is None:
            if not score.empty:
                _add(session, score, 1, watermark, wall_clock())
        elif last_final.measured() != score.values():
            # A restatement (a late event); an empty one too: the change is the record.
            _add(session, score, last_final.revision + 1, watermark, wall_clock())
        return
    # Kept even when empty: an open timer's deadline in the period may pass the watermark
    # later, and finalize_due finds the period by this row.
    _add(session, score, PROVISIONAL, watermark, wall_clock())


def delete_revision(session: Session, key: dict[str, Any], revision: int) -> None:
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
