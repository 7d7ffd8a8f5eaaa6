"""`sigap verify`: recompute a period's scores from the event log and compare them with the
stored ones.

The stored scores are written by the score writer from the unit views the worker derives
from the events topic; `sigap replay` derives the same views from the events themselves,
through the same core functions. Both sides are therefore computed by core.scoring from the
same inputs and must be equal to the bit: floats are compared exactly, with no tolerance
(quantiles are nearest-rank picks of stored durations, shares and means are the same
divisions of the same integers, and every float goes through the database and JSON
unchanged, IEEE doubles both).

The watermark. A score depends on the watermark only through open timers: one still
running whose deadline is at or before the watermark counts as missed. The writer records
the watermark it computed each row at (`watermark_epoch`), and rewrites a period only when a
view touching it arrives (and finalises its provisional rows once the watermark is past the
period's end plus the grace period), so a provisional row may be older than the writer's
latest watermark. Hence:
- each stored row is recomputed at its own `watermark_epoch`: a provisional row is checked
  as of when it was written (verify reports wrong rows, not rows that are merely behind); a
  final row was written at a watermark past the period's end plus the grace period, when
  every deadline of the period had passed, so any such watermark gives the same values;
- a score found in the log only is computed at the writer's latest watermark (the highest
  `watermark_epoch` stored; the latest event time when nothing is stored). It is reported
  when the writer must have stored it: the period is final at that watermark, or the score
  has activity that does not depend on the watermark (at watermark -inf). A score of an
  open period made only of deadlines passed since is not: nothing has rewritten it yet.

Absent and empty mean the same: a row without activity (core.scoring.is_empty: every
activity column zero; `open_at_end` alone does not count), such as a final row restated to
nothing, equals a row that is not there, as core.scoring gives such periods no score.

Pure: `compare_scores` and `recompute_scores`; the I/O edges (the event sources, the
database) are `load_log` and `load_stored`.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from schemas.events import ComplaintEvent
from sigap.core.causes import unit_figures
from sigap.core.periods import PeriodKind, period_end, period_kind, period_start_epoch
from sigap.core.registry import Registry
from sigap.core.scoring import (
    ACTIVITY_COLUMNS,
    ALL,
    PeriodScore,
    ScoreInput,
    is_final,
    period_score,
    periods_touched,
)
from sigap.core.unit_view import UnitView
from sigap.event_log import TopicReport, read_topic_events
from sigap.replay import replay
from sigap.replay_sources import open_source
from sigap.settings import Settings
from sigap.storage.cause_figures import ROUTING_LOOKBACK_SECONDS
from sigap.storage.models import UnitScore
from sigap.storage.score_queries import score_rows, stored_views

TOPIC_SOURCE = "topic"
IDENTITY = ("unit", "category", "period", "period_start")
# Bookkeeping of a stored row, not a score value.
NOT_COMPARED = frozenset({"revision", "final", "watermark_epoch", "computed_at_epoch"})
INDICATOR_IDENTITY = frozenset({"name", "indicator", *IDENTITY, *NOT_COMPARED})
ScoreKey = tuple[str, str, str, str]  # unit, category, period, period_start (ISO)
DifferenceKind = Literal["value", "only_stored", "only_recomputed"]


@dataclass(frozen=True)
class Difference:
    unit: str
    category: str
    period: str
    period_start: str
    kind: DifferenceKind
    column: str | None  # None when the whole row is on one side only
    stored: Any  # the value; for a row on one side only, its columns (or None)
    recomputed: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "category": self.category,
            "period": self.period,
            "period_start": self.period_start,
            "kind": self.kind,
            "column": self.column,
            "stored": self.stored,
            "recomputed": self.recomputed,
        }


def score_key(row: Mapping[str, Any]) -> ScoreKey:
    start = row["period_start"]
    return (
        str(row["unit"]),
        str(row["category"]),
        str(row["period"]),
        start.isoformat() if isinstance(start, date) else str(start),
    )


def compared_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a score row, indicators flattened as `<indicator>.<field>`."""
    columns = {
        name: value
        for name, value in row.items()
        if name not in IDENTITY and name not in NOT_COMPARED and name != "indicators"
    }
    for indicator in row.get("indicators") or ():
        name = indicator.get("name", indicator.get("indicator"))
        for item, value in indicator.items():
            if item not in INDICATOR_IDENTITY:
                columns[f"{name}.{item}"] = value
    return columns


def is_empty(row: Mapping[str, Any]) -> bool:
    """No activity (core.scoring.is_empty): such a period has no score, so a row on one
    side only that is empty is no difference (open_at_end alone does not count)."""
    return not any(row.get(column) for column in ACTIVITY_COLUMNS)


def _same(stored: Any, recomputed: Any) -> bool:
    """Exactly equal; None is not 0 and True is not 1."""
    if stored is None or recomputed is None:
        return stored is recomputed
    if isinstance(stored, bool) or isinstance(recomputed, bool):
        return stored is recomputed
    return bool(stored == recomputed)


def compare_scores(
    stored: Iterable[Mapping[str, Any]], recomputed: Iterable[Mapping[str, Any]]
) -> list[Difference]:
    """Every difference between two lists of score rows (`sigap scores --format json`
    objects, or PeriodScore.as_json()), ordered by key then column."""
    stored_by_key = {score_key(row): row for row in stored}
    recomputed_by_key = {score_key(row): row for row in recomputed}
    differences: list[Difference] = []
    for key in sorted(stored_by_key.keys() | recomputed_by_key.keys()):
        old, new = stored_by_key.get(key), recomputed_by_key.get(key)
        if old is None or new is None:
            present = old if old is not None else new
            assert present is not None
            if is_empty(present):
                continue
            columns = compared_columns(present)
            differences.append(
                Difference(
                    *key,
                    kind="only_stored" if new is None else "only_recomputed",
                    column=None,
                    stored=columns if old is not None else None,
                    recomputed=columns if new is not None else None,
                )
            )
            continue
        old_columns, new_columns = compared_columns(old), compared_columns(new)
        for column in sorted(old_columns.keys() | new_columns.keys()):
            before, after = old_columns.get(column), new_columns.get(column)
            if not _same(before, after):
                differences.append(Difference(*key, "value", column, before, after))
    return differences


def recompute_scores(
    views: Sequence[UnitView],
    registry: Registry,
    kind: PeriodKind,
    start: date,
    *,
    stored_watermarks: Mapping[tuple[str, str], float],
    writer_watermark: float | None,
    grace_seconds: float,
) -> list[PeriodScore]:
    """The scores of one period from the views (see the module docstring): each stored
    (unit, category) at its row's watermark; any other with activity in the period at
    `writer_watermark`, when the writer must have stored it."""
    by_unit: dict[str, list[ScoreInput]] = defaultdict(list)
    touched: set[tuple[str, str]] = set()
    for view in views:
        item = ScoreInput.from_view(view)
        by_unit[item.unit].append(item)
        touched |= {
            (unit, category)
            for unit, category, _, touched_start in periods_touched(item, (kind,))
            if touched_start == start
        }

    def score(unit: str, category: str, watermark: float) -> PeriodScore:
        return period_score(
            unit, kind, start, by_unit[unit], watermark, category=category, registry=registry
        )

    found = {key: score(*key, watermark) for key, watermark in stored_watermarks.items()}
    if writer_watermark is not None:
        final = is_final(kind, start, writer_watermark, grace_seconds)
        for unit, category in touched - set(stored_watermarks):
            recomputed = score(unit, category, writer_watermark)
            if recomputed.empty:
                continue
            # Only deadlines passed since the writer last touched an open period: it has
            # no reason to have rewritten it yet (as with a stale provisional row).
            if not final and score(unit, category, -math.inf).empty:
                continue
            found[(unit, category)] = recomputed
    return [found[key] for key in sorted(found)]


# --------------------------------------------------------------------------------------
# I/O edges
# --------------------------------------------------------------------------------------


@dataclass
class LogSummary:
    """The event log as replayed: what was read, and the views it gives."""

    source: str
    messages: int = 0  # records or lines read
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # admission and replay reasons
    watermark: float | None = None  # the latest event time
    views: list[UnitView] = field(default_factory=list)
    # Partitions whose oldest events were deleted (retention): partition -> first offset.
    truncated: dict[int, int] = field(default_factory=dict)
    # The topic's offsets read, partition -> (start, end): the exact log range (topic only).
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)


def load_log(
    source: str,
    mapping: Path | None,
    settings: Settings,
    registry: Registry,
    *,
    offsets: Mapping[int, tuple[int, int]] | None = None,
) -> LogSummary:
    """Replay the events topic (`source` == "topic"; with `offsets`, exactly that range of
    each partition, see event_log.read_topic_events) or an event file. Raises
    replay_sources.SourceError, event_log.EventLogError or a KafkaError."""
    events: Iterator[ComplaintEvent]
    if source == TOPIC_SOURCE:
        topic_report = TopicReport(settings.events_topic)
        events = read_topic_events(settings, topic_report, offsets=offsets)
        # Event times were checked against each record's timestamp, as the worker does.
        result = replay(events, registry, reference_epoch=None)
        summary = LogSummary(f"topic {settings.events_topic}", topic_report.messages)
        summary.rejected.update(topic_report.rejected)
        summary.truncated = {p: o for p, o in topic_report.start_offsets.items() if o > 0}
        summary.offsets = {
            p: (topic_report.start_offsets[p], end) for p, end in topic_report.end_offsets.items()
        }
    else:
        path = Path(source)
        events, file_report = open_source(path, mapping)
        # A file has no record timestamps: like `sigap replay`, against the present.
        result = replay(events, registry, reference_epoch=time.time())
        summary = LogSummary(str(path), file_report.rows)
        summary.rejected.update(problem.reason for problem in file_report.problems)
    summary.accepted = result.accepted
    summary.rejected.update(result.rejected)
    summary.watermark = result.watermark
    summary.views = result.views
    return summary


class StoredScoresChanging(RuntimeError):
    """The score writer kept rewriting the period while it was being read."""


@dataclass
class StoredPeriod:
    rows: list[dict[str, Any]]  # the latest revision of every (unit, category) with activity
    # The watermark of the latest revision of every stored (unit, category).
    watermarks: dict[tuple[str, str], float]
    # The latest watermark the writer stored a score at (any period), if any.
    writer_watermark: float | None
    # The stored views that may count in the period (docs/causes.md's figures).
    views: list[UnitView] = field(default_factory=list)


RowStamp = tuple[int, float, float | None]  # revision, watermark, computed_at


def _stamps(engine: Engine, kind: str, start: date) -> dict[tuple[str, str], RowStamp]:
    """The latest revision of every stored (unit, category) of the period, with what
    changes when the writer rewrites it."""
    latest: dict[tuple[str, str], RowStamp] = {}
    with Session(engine) as session:
        for unit, category, revision, watermark, computed_at in session.execute(
            select(
                UnitScore.unit,
                UnitScore.category,
                UnitScore.revision,
                UnitScore.watermark_epoch,
                UnitScore.computed_at_epoch,
            ).where(UnitScore.period == kind, UnitScore.period_start == start)
        ):
            known = latest.get((unit, category))
            if known is None or revision > known[0]:
                latest[(unit, category)] = (revision, watermark, computed_at)
    return latest


def load_stored(engine: Engine, kind: str, start: date, attempts: int = 20) -> StoredPeriod:
    """The stored scores of one period. The writer may be running: the rows are read
    between two identical readings of their revisions and stamps, so that each row's
    watermark is the one its values were computed at."""
    for _ in range(attempts):
        before = _stamps(engine, kind, start)
        rows = score_rows(engine, period=kind, category=None, start=start)
        if _stamps(engine, kind, start) == before:
            break
    else:
        raise StoredScoresChanging(
            f"the scores of {kind} {start.isoformat()} changed during each of {attempts} "
            "readings (the score writer is busy with them): try again"
        )
    with Session(engine) as session:
        writer_watermark = session.scalar(select(func.max(UnitScore.watermark_epoch)))
    watermarks = {key: watermark for key, (_, watermark, _) in before.items()}
    begin, end = period_start_epoch(period_kind(kind), start), period_end(period_kind(kind), start)
    views = stored_views(engine, created_before=end, active_from=begin - ROUTING_LOOKBACK_SECONDS)
    return StoredPeriod(rows, watermarks, writer_watermark, views)


@dataclass
class Verification:
    period: str  # as given, e.g. "2026-11"
    kind: str
    start: date
    log: LogSummary
    stored_rows: int  # with activity
    recomputed_rows: int  # with activity
    differences: list[Difference]

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "kind": self.kind,
            "period_start": self.start.isoformat(),
            "source": self.log.source,
            "messages": self.log.messages,
            "accepted": self.log.accepted,
            "rejected": dict(sorted(self.log.rejected.items())),
            "truncated_partitions": {str(p): o for p, o in sorted(self.log.truncated.items())},
            "stored_rows": self.stored_rows,
            "recomputed_rows": self.recomputed_rows,
            "identical": not self.differences,
            "differences": [difference.as_json() for difference in self.differences],
        }


def verify_period(
    period: str,
    kind: PeriodKind,
    start: date,
    log: LogSummary,
    stored: StoredPeriod,
    registry: Registry,
    grace_seconds: float,
) -> Verification:
    writer_watermark = (
        stored.writer_watermark if stored.writer_watermark is not None else log.watermark
    )
    recomputed = recompute_scores(
        log.views,
        registry,
        kind,
        start,
        stored_watermarks=stored.watermarks,
        writer_watermark=writer_watermark,
        grace_seconds=grace_seconds,
    )
    recomputed_rows = [score.as_json() for score in recomputed]
    return Verification(
        period=period,
        kind=kind,
        start=start,
        log=log,
        stored_rows=sum(1 for row in stored.rows if not is_empty(row)),
        recomputed_rows=sum(1 for row in recomputed_rows if not is_empty(row)),
        differences=[
            *compare_scores(stored.rows, recomputed_rows),
            *compare_cause_figures(stored.views, log.views, kind, start, writer_watermark),
        ],
    )


def compare_cause_figures(
    stored: Sequence[UnitView],
    recomputed: Sequence[UnitView],
    kind: PeriodKind,
    start: date,
    watermark: float | None,
) -> list[Difference]:
    """docs/causes.md's figures of every unit for the period (core.causes.unit_figures), from
    the stored views and from the replayed ones, at the writer's watermark; each differing
    figure is a difference in column `causes.<figure>` of the unit's `*` row."""
    if watermark is None:
        return []
    begin, end = period_start_epoch(kind, start), period_end(kind, start)
    units = sorted({view.unit for view in stored} | {view.unit for view in recomputed})
    differences = []
    for unit in units:
        before = unit_figures(stored, unit, begin, end, watermark)
        after = unit_figures(recomputed, unit, begin, end, watermark)
        for name in sorted(set(before) | set(after)):
            if not _same(before.get(name), after.get(name)):
                differences.append(
                    Difference(
                        unit,
                        ALL,
                        kind,
                        start.isoformat(),
                        "value",
                        f"causes.{name}",
                        before.get(name),
                        after.get(name),
                    )
                )
    return differences


def print_table(verification: Verification) -> None:
    """The differences as a table on stdout, and a summary line."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    log = verification.log
    rejected = ", ".join(f"{reason}={count}" for reason, count in sorted(log.rejected.items()))
    console.print(
        f"{verification.kind} {verification.period} (from {verification.start.isoformat()}), "
        f"{log.source}: {log.messages} read, {log.accepted} events accepted, "
        f"rejected: {rejected or 'none'}; {verification.stored_rows} stored score(s), "
        f"{verification.recomputed_rows} recomputed"
    )
    if log.truncated:
        console.print(
            f"warning: partitions {sorted(log.truncated)} of the topic no longer start at "
            "offset 0 (retention deleted their oldest events): scores of those events "
            "cannot be recomputed"
        )
    if not verification.differences:
        console.print("identical: every stored score equals its recomputation")
        return
    table = Table(title=f"{len(verification.differences)} difference(s)")
    for column in ("unit", "category", "period", "start", "column", "stored", "recomputed"):
        table.add_column(column)
    for difference in verification.differences:
        if difference.column is None:
            stored = "absent" if difference.stored is None else "row present"
            recomputed = "absent" if difference.recomputed is None else "row present"
        else:
            stored, recomputed = repr(difference.stored), repr(difference.recomputed)
        table.add_row(
            difference.unit,
            difference.category,
            difference.period,
            difference.period_start,
            difference.column or "(whole row)",
            stored,
            recomputed,
        )
    console.print(table)
