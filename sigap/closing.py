"""Closing periods (core.period_close) against a score database: the edge between the
pure fold and storage.official, shared by `sigap close`, the score writer's periodic closer
and `sigap replay --store`.

`Closer.run(cut)`: with the log folded up to `cut` (an append instant: every event appended
up to it has been added to the fold), close every period whose close instant is at or
before `cut` and that has no close yet (official rows at the close instant), then record the
restatements of the closed periods of the same source that events appended after their
close changed. The fold passes through every close instant in order, so each view change is
attributed to the right side of each close.

`TopicFollower` reads the events topic incrementally (no consumer group, nothing committed),
with each record's timestamp: the broker's append time (the topics are LogAppendTime).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.period_close import (
    LogFold,
    PeriodId,
    ScoreRevision,
    empty_score,
    official_revisions,
    periods_between,
    registry_close_instant,
    restatements,
    suspected_periods,
)
from core.registry import Registry
from core.settings import Settings
from core.windows import PeriodKind
from schemas.events import EventRejected, admit_message, check_event_time
from storage.official import (
    insert_closes,
    insert_restatements,
    latest_revisions,
    stored_closes,
)

log = logging.getLogger(__name__)

# A record appended after the reader's end offsets were taken has a broker timestamp at or
# after that moment, give or take the clock difference between this host and the broker:
# only instants this far before the reading are taken as complete in the log.
CLOCK_MARGIN_SECONDS = 120.0


@dataclass
class CloseReport:
    cut: float
    closed: list[PeriodId] = field(default_factory=list)
    official_rows: int = 0
    restated: Counter[str] = field(default_factory=Counter)  # period kind -> rows

    @property
    def restatement_rows(self) -> int:
        return sum(self.restated.values())


class Closer:
    def __init__(self, engine: Engine, registry: Registry, source: str) -> None:
        self.engine = engine
        self.registry = registry
        self.source = source
        self.fold = LogFold(registry)

    def run(self, cut: float, *, wall_clock: Callable[[], float] = time.time) -> CloseReport:
        report = CloseReport(cut)
        fold = self.fold
        if fold.first_event is None:
            fold.advance(cut)
            return report
        with Session(self.engine) as session:
            known = stored_closes(session)
        steps: dict[float, list[tuple[PeriodKind, date]]] = {}
        for kind, start in periods_between(fold.first_event, cut):
            instant = registry_close_instant(self.registry, kind, start)
            if instant is not None and instant <= cut:
                steps.setdefault(instant, []).append((kind, start))
        closes: list[tuple[PeriodKind, date, float, int, list[ScoreRevision]]] = []
        closed_here: dict[PeriodId, float] = {
            period: close.instant for period, close in known.items() if close.source == self.source
        }
        for instant in sorted(steps):
            if instant < fold.cut:
                continue  # passed in an earlier run
            fold.advance(instant)
            for kind, start in steps[instant]:
                if (kind, start) in known:
                    continue
                rule = self.registry.close_rules.rule_for(start)
                assert rule is not None
                closes.append(
                    (
                        kind,
                        start,
                        instant,
                        rule.working_days,
                        official_revisions(fold, kind, start, instant),
                    )
                )
                closed_here[(kind, start)] = instant
        fold.advance(cut)
        written = insert_closes(
            self.engine,
            closes,
            source=self.source,
            registry_version=self.registry.version,
            wall_clock=wall_clock(),
        )
        if written:
            report.closed = [(kind, start) for kind, start, *_ in closes]
            report.official_rows = sum(len(revisions) for *_, revisions in closes)
        suspects = suspected_periods(fold.take_changes(), closed_here)
        if suspects:
            latest = latest_revisions(self.engine, suspects)
            found: list[ScoreRevision] = []
            for (kind, start), keys in sorted(suspects.items()):
                found += restatements(
                    fold, kind, start, closed_here[(kind, start)], latest[(kind, start)], keys
                )
            count = insert_restatements(
                self.engine,
                found,
                latest,
                registry_version=self.registry.version,
                wall_clock=wall_clock(),
            )
            if count:
                report.restated.update(revision.score.period for revision in found)
        return report


class TopicFollower:
    """Reads the events topic from its beginning, a little more at each `read_to_end`,
    adding every admitted event to the fold with its record timestamp."""

    def __init__(self, settings: Settings, fold: LogFold) -> None:
        self.settings = settings
        self.fold = fold
        self.topic = settings.events_topic
        self.rejected: Counter[str] = Counter()
        self.messages = 0
        self._consumer: KafkaConsumer | None = None
        self._assigned: list[TopicPartition] = []

    def _open(self) -> KafkaConsumer:
        if self._consumer is None:
            consumer = KafkaConsumer(
                **self.settings.kafka_python_config(),
                group_id=None,
                enable_auto_commit=False,
                client_id="sigap-closer",
            )
            partitions = consumer.partitions_for_topic(self.topic) or set()
            self._assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(self._assigned)
            consumer.seek_to_beginning(*self._assigned)
            self._consumer = consumer
        return self._consumer

    def read_to_end(self, *, idle_timeout_seconds: float = 60.0) -> float:
        """Read every record up to the end offsets found now; returns the cut: the instant
        up to which the log is complete (now less CLOCK_MARGIN_SECONDS)."""
        consumer = self._open()
        if not self._assigned:
            return -math.inf
        started = time.time()
        ends: dict[TopicPartition, int] = consumer.end_offsets(self._assigned)
        remaining = {tp for tp in self._assigned if consumer.position(tp) < ends[tp]}
        last_progress = time.monotonic()
        while remaining:
            batches = consumer.poll(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    self.messages += 1
                    try:
                        event = admit_message(record.key, record.value, record.timestamp / 1000.0)
                    except EventRejected as rejected:
                        self.rejected[rejected.reason] += 1
                        continue
                    self.fold.add(event, record.timestamp / 1000.0)
            if batches:
                last_progress = time.monotonic()
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
            if remaining and time.monotonic() - last_progress > idle_timeout_seconds:
                raise TimeoutError(
                    f"topic {self.topic!r}: no progress for {idle_timeout_seconds:.0f}s"
                )
        return started - CLOCK_MARGIN_SECONDS

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


# --------------------------------------------------------------------------------------
# Verifying the official revision of a closed period
# --------------------------------------------------------------------------------------

# Bookkeeping of an official row, not a score value.
OFFICIAL_BOOKKEEPING = (
    "status",
    "cut_epoch",
    "watermark_epoch",
    "registry_version",
    "changed",
    "reason",
)


@dataclass
class OfficialCheck:
    """The stored official (and latest restated) rows of a closed period against their
    recomputation from the log, each cut at its own instant."""

    close_source: str
    close_instant: float
    official_rows: int
    restatement_rows: int
    differences: list[Any]  # sigap.verify.Difference
    skipped: str | None = None  # why nothing was compared

    def as_json(self) -> dict[str, Any]:
        return {
            "close_source": self.close_source,
            "close_instant": self.close_instant,
            "official_rows": self.official_rows,
            "restatement_rows": self.restatement_rows,
            "identical": not self.differences,
            "skipped": self.skipped,
            "differences": [difference.as_json() for difference in self.differences],
        }


def fold_source(
    source: str, mapping: Path | None, settings: Settings, registry: Registry
) -> tuple[LogFold, str, float]:
    """The log folded (not yet advanced): the events topic with its record timestamps, or
    a file with each event appended when it occurred. Returns (fold, source label, cut:
    the instant up to which it is complete)."""
    fold = LogFold(registry)
    if source == "topic":
        follower = TopicFollower(settings, fold)
        try:
            cut = follower.read_to_end()
        finally:
            follower.close()
        fold.rejected.update(follower.rejected)
        return fold, f"topic:{settings.events_topic}", cut
    from sigap.replay_sources import open_source

    path = Path(source)
    events, _ = open_source(path, mapping)
    reference = time.time()
    latest = -math.inf
    for event in events:
        try:
            check_event_time(event, reference)
        except EventRejected:
            continue
        fold.add(event, event.occurred_at.timestamp())
        latest = max(latest, event.occurred_at.timestamp())
    return fold, f"file:{path.name}", latest


def check_official(
    fold: LogFold, source_label: str, engine: Engine, kind: PeriodKind, start: date
) -> OfficialCheck | None:
    """None when the period is not closed. The fold is advanced (to the close instant, then
    to each restatement's cut)."""
    from sigap.verify import compare_scores
    from storage.official import close_of, official_rows

    close = close_of(engine, kind, start)
    if close is None:
        return None
    rows = official_rows(engine, kind, start=start, category=None)
    official = [row for row in rows if row["status"] == "official"]
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row["status"] == "restatement":
            latest[(row["unit"], row["category"])] = row  # sorted by revision: last wins
    check = OfficialCheck(close.source, close.instant, len(official), len(latest), [])
    if close.source != source_label:
        check.skipped = (
            f"the period was closed from {close.source}, not {source_label}: its official "
            "figures are a function of that log"
        )
        return check
    if fold.cut > close.instant:
        raise ValueError("the fold is past the close instant")

    def strip(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k not in OFFICIAL_BOOKKEEPING}

    fold.advance(close.instant)
    recomputed = fold.index.period_scores(kind, start, close.instant, fold.registry)
    check.differences += compare_scores(
        [strip(row) for row in official], [score.as_json() for score in recomputed.values()]
    )
    for cut in sorted({row["cut_epoch"] for row in latest.values()}):
        fold.advance(cut)
        at_cut = fold.index.period_scores(kind, start, close.instant, fold.registry)
        stored = [row for row in latest.values() if row["cut_epoch"] == cut]
        check.differences += compare_scores(
            [strip(row) for row in stored],
            [
                (
                    at_cut.get((row["unit"], row["category"]))
                    or empty_score(row["unit"], row["category"], kind, start, fold.registry)
                ).as_json()
                for row in stored
            ],
        )
    return check
