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
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client import Counter as MetricCounter
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from metrics.names import (
    CLOSE_OUTCOMES,
    CLOSE_RUNS,
    PERIOD_KINDS,
    PERIOD_LAST_CLOSED_END,
    PERIODS_CLOSED,
    RESTATEMENTS,
)
from schemas.events import EventRejected, admit_message
from sigap.core.period_close import (
    LogFold,
    PeriodId,
    ScoreRevision,
    official_revisions,
    periods_between,
    registry_close_instant,
    restatements,
    suspected_periods,
)
from sigap.core.periods import PeriodKind
from sigap.core.registry import Registry
from sigap.settings import Settings
from sigap.storage.official import (
    insert_closes,
    insert_restatements,
    last_closed_ends,
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

    def __init__(
        self,
        settings: Settings,
        fold: LogFold,
        *,
        clock_margin_seconds: float = CLOCK_MARGIN_SECONDS,
    ) -> None:
        self.clock_margin_seconds = clock_margin_seconds
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
        up to which the log is complete (now less the clock margin)."""
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
        return started - self.clock_margin_seconds

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class PeriodicCloser:
    """The score writer's closer: every `every_seconds`, reads what the events topic gained
    (TopicFollower), closes the due periods and records restatements (Closer.run), and
    exports how it went. Runs in its own thread (`run_until`): a slow first reading of a
    long topic does not hold up the writer's consumer."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        registry: Registry,
        every_seconds: float,
        metrics_registry: CollectorRegistry,
        *,
        clock_margin_seconds: float = CLOCK_MARGIN_SECONDS,
    ) -> None:
        self.closer = Closer(engine, registry, f"topic:{settings.events_topic}")
        self.follower = TopicFollower(
            settings, self.closer.fold, clock_margin_seconds=clock_margin_seconds
        )
        self.every_seconds = every_seconds
        self.last: CloseReport | None = None
        self._runs = MetricCounter(
            CLOSE_RUNS,
            "Runs of the periodic closer, by outcome",
            ["outcome"],
            registry=metrics_registry,
        )
        self._closed = MetricCounter(
            PERIODS_CLOSED, "Periods officially closed", ["period"], registry=metrics_registry
        )
        self._restated = MetricCounter(
            RESTATEMENTS,
            "Restatement rows written (closed periods changed by events appended after)",
            ["period"],
            registry=metrics_registry,
        )
        self._last_end = Gauge(
            PERIOD_LAST_CLOSED_END,
            "End of the latest officially closed period, per period kind (epoch seconds)",
            ["period"],
            registry=metrics_registry,
        )
        for outcome in CLOSE_OUTCOMES:
            self._runs.labels(outcome)
        for kind in PERIOD_KINDS:
            self._closed.labels(kind)
            self._restated.labels(kind)
        self._update_last_closed()

    def run_once(self) -> CloseReport:
        try:
            cut = self.follower.read_to_end()
            report = self.closer.run(cut)
        except Exception:
            self._runs.labels("error").inc()
            log.exception("periodic close failed; trying again soon")
            raise
        self._runs.labels("ok").inc()
        for closed_kind, _ in report.closed:
            self._closed.labels(closed_kind).inc()
        for restated_kind, count in report.restated.items():
            self._restated.labels(restated_kind).inc(count)
        if report.closed or report.restated:
            log.info(
                "closed %d period(s) (%d official rows), %d restatement row(s)",
                len(report.closed),
                report.official_rows,
                report.restatement_rows,
            )
        self._update_last_closed()
        self.last = report
        return report

    def _update_last_closed(self) -> None:
        try:
            ends = last_closed_ends(self.closer.engine)
        except SQLAlchemyError:
            return  # the database may not be there yet: the next run sets them
        for kind, end in ends.items():
            self._last_end.labels(kind).set(end)

    def run_until(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            wait = self.every_seconds
            try:
                self.run_once()
            except Exception:  # logged and counted by run_once; soon again (a database
                wait = min(wait, 30.0)  # still being migrated at start, say)
            stopping.wait(wait)
        self.follower.close()
