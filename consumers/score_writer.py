"""The score writer: a kafka-python consumer of the unit views topic that keeps the views
and the per-unit and per-category period scores (day, week, month, quarter; with revisions
and IKU indicators) in SQL.

Outside the Faust event loop on purpose: a slow or unreachable database must not stall
event processing. At-least-once and exact: each batch is upserted and committed to the
database first, and the Kafka offsets are committed only after that; a redelivered batch
rewrites the same rows, and a view older than the stored one changes nothing
(storage.scores.upsert_views), so a zombie writer or a replay cannot go back.

No single record stops the writer (docs/delivery.md): a record that is not a views
envelope, or a view the database refuses (DataError, IntegrityError: a value it cannot
store), is isolated by bisecting the batch, dead-lettered to `<views topic>.dlq` with a
`sigap-reason` header (`invalid_view`, `data_error`, `integrity_error`), counted
(`dead_lettered`, metric SCORE_WRITER_DEAD_LETTERED), and the rest of the batch is written.
Only an unreachable database (OperationalError) is waited for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import CommitFailedError, KafkaError, KafkaTimeoutError
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client import Counter as MetricCounter
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from consumers.poll_budget import DEFAULT_MAX_POLL_INTERVAL_SECONDS, PollBudget
from metrics.names import (
    SCORE_WRITER_DEAD_LETTERED,
    SCORE_WRITER_LAG,
    SCORE_WRITER_REASONS,
    SCORE_WRITER_WATERMARK,
)
from schemas.dead_letters import REASON_HEADER
from schemas.views import decode_envelope
from sigap.core.registry import Registry
from sigap.core.unit_view import UnitView
from sigap.core.watermarks import SourceWatermarks
from sigap.settings import Settings
from sigap.storage.database import migrate
from sigap.storage.scores import finalize_due, restored_partition_watermarks, upsert_views

log = logging.getLogger(__name__)
T = TypeVar("T")
# Dead-letter reasons of the score writer.
INVALID_VIEW = "invalid_view"
DATA_ERROR = "data_error"
INTEGRITY_ERROR = "integrity_error"
# Receives (value, reason) of a record or view set aside.
DeadLetterSink = Callable[[bytes, str], None]


# Views per transaction when a poll brings many (consumers.poll_budget, _write_in_chunks).
WRITE_CHUNK_VIEWS = 200


def _log_only(value: bytes, reason: str) -> None:
    log.error("score writer: a view set aside (reason=%s), no dead-letter topic", reason)


class ScoreWriter:
    def __init__(
        self,
        *,
        engine: Engine,
        consumer: KafkaConsumer,
        grace_seconds: float,
        max_records: int = 1000,
        retry_seconds: float = 2.0,
        finalize_every_seconds: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
        registry: Registry,
        dead_letter: DeadLetterSink = _log_only,
        partition_of: Callable[[str], int] | None = None,
        metrics_registry: CollectorRegistry | None = None,
    ) -> None:
        self.engine = engine
        self.dead_letter = dead_letter
        # The views partition of a unit: the restored watermark is kept per partition.
        self.partition_of = partition_of
        self.dead_lettered: Counter[str] = Counter()
        # Its own registry unless told (several writers in one test process); the CLI
        # passes prometheus_client's global one, which it serves.
        metrics = CollectorRegistry() if metrics_registry is None else metrics_registry
        self._dead_lettered_metric = MetricCounter(
            SCORE_WRITER_DEAD_LETTERED,
            "Views-topic records or views the score writer set aside (dead-lettered)",
            ["reason"],
            registry=metrics,
        )
        # How far behind the views topic the writer is: when `sigap verify` can agree.
        self._lag_metric = Gauge(
            SCORE_WRITER_LAG,
            "Views-topic records not yet consumed by the score writer (all partitions)",
            registry=metrics,
        )
        self._watermark_metric = Gauge(
            SCORE_WRITER_WATERMARK,
            "The score writer's event-time watermark (lowest over the views partitions)",
            registry=metrics,
        )
        for reason in SCORE_WRITER_REASONS:  # the series exist from the start, at 0
            self._dead_lettered_metric.labels(reason)
        self.registry = registry  # the IKU targets of the scores: always the deployed ones
        self.consumer = consumer
        self.grace_seconds = grace_seconds
        self.max_records = max_records
        # Records per poll: as many as are written well within the group's poll interval
        # (consumers.poll_budget: one oversized poll must not come back for ever).
        interval_ms = getattr(consumer, "config", {}).get("max_poll_interval_ms")
        self.poll_budget = PollBudget(
            max_records,
            interval_ms / 1000 if interval_ms else DEFAULT_MAX_POLL_INTERVAL_SECONDS,
        )
        self.retry_seconds = retry_seconds
        self.finalize_every_seconds = finalize_every_seconds
        self.wall_clock = wall_clock
        self.stopping = threading.Event()
        self.written = 0
        # As in the unit stage (core.watermarks), one per views partition; periods are
        # finalised at the lowest, so that no partition still on its way can change them.
        self.watermarks: dict[int, SourceWatermarks] = {}
        # Per views partition: where it stood when the writer started (its latest stored
        # view), until its own progress stamps arrive.
        self._restored: dict[int, float] = {}
        self._last_finalize = 0.0
        self._polled_at = time.monotonic()
        self.keepalive_polls = 0  # polls with the partitions paused, between chunks

    def watermark(self) -> float:
        """The lowest over the views partitions (core.watermarks): each one's live
        watermark, or, for a partition not heard from since the start, its restored one."""
        wall_now = self.wall_clock()
        owned = self._owned_partitions()
        marks = {p: mark for p, mark in self._restored.items() if owned is None or p in owned}
        for partition, source in self.watermarks.items():
            current = source.current(wall_now)
            if current is not None:
                marks[partition] = current
        return min(marks.values()) if marks else float("-inf")

    def run(self, on_batch: Callable[[int], None] | None = None) -> None:
        # The database may be down when the writer starts: wait for it like for any write.
        self._until_database_answers(lambda: migrate(self.engine))
        self._restored = self._until_database_answers(self._read_restored_watermark)
        while not self.stopping.is_set():
            batches: Mapping[Any, list[Any]] = self.consumer.poll(
                timeout_ms=500, max_records=self.poll_budget.records
            )
            self._polled_at = time.monotonic()
            views = self._decode(batches)
            self._export_lag()
            due = self.wall_clock() - self._last_finalize >= self.finalize_every_seconds
            if not batches and not due:
                continue
            started = time.monotonic()
            records = sum(map(len, batches.values()))
            records += self._write_in_chunks(views, finalize=due)
            if batches:
                self._note_write(records, time.monotonic() - started)
                try:
                    self.consumer.commit()
                except CommitFailedError:
                    # The group moved our partitions elsewhere meanwhile (a long database
                    # outage outlasts max_poll_interval_ms): their new owner rewrites the
                    # same rows, which is harmless. Carry on with what we are given now.
                    log.warning("offsets not committed: partitions were reassigned")
                except KafkaError as error:
                    # The broker is unreachable or restarting (kafka-python's commit gives up
                    # after request_timeout_ms with KafkaTimeoutError): the rows are in the
                    # database already; the next commit covers these offsets, and a batch
                    # read again meanwhile rewrites the same rows. Only a non-retriable error
                    # (authorisation, say) stops the writer.
                    if not (isinstance(error, KafkaTimeoutError) or error.retriable):
                        raise
                    log.warning("offsets not committed (%s); retrying", type(error).__name__)
            self.written += len(views)
            if on_batch is not None and views:
                on_batch(len(views))

    def _decode(self, batches: Mapping[Any, list[Any]]) -> list[UnitView]:
        views: list[UnitView] = []
        for tp, batch in batches.items():
            for record in batch:
                # The complaint stage's envelope (schemas.views): a progress stamp, and the
                # views of one batch (a heartbeat carries none).
                try:
                    envelope = decode_envelope(record.value)
                    # Every stamp counts, one without an event time too: announced behind,
                    # that source holds the watermark (core.watermarks).
                    source = self.watermarks.setdefault(tp.partition, SourceWatermarks())
                    source.observe(
                        envelope.source, envelope.watermark, envelope.caught_up, self.wall_clock()
                    )
                    decoded = [UnitView.from_json(view) for view in envelope.views]
                except Exception:
                    # Not a views envelope (a bug or a foreign producer): set aside, never a
                    # reason to stop.
                    self._set_aside(record.value or b"", INVALID_VIEW)
                    continue
                views.extend(decoded)
        return views

    def _write_in_chunks(self, views: list[UnitView], finalize: bool) -> int:
        """Write the views WRITE_CHUNK_VIEWS at a time, each chunk its own transaction (the
        upserts are idempotent and every touched period is rewritten from all stored views,
        so the rows come out as from one transaction). Between two chunks, once a share of
        the poll interval has passed since the last poll, poll with the partitions paused,
        so that the group does not take the writer for stuck (docs/delivery.md, P13). The
        records such a poll returns (partitions assigned meanwhile) are written too; how
        many, returned."""
        extra = 0
        done = 0
        while True:
            chunk = views[done : done + WRITE_CHUNK_VIEWS]
            done += len(chunk)
            last = done >= len(views)
            self._write_until_done(chunk, finalize=finalize and last)
            if last:
                return extra
            if time.monotonic() - self._polled_at > self.poll_budget.seconds:
                more = self._poll_paused()
                extra += sum(map(len, more.values()))
                views.extend(self._decode(more))

    def _poll_paused(self) -> Mapping[Any, list[Any]]:
        """A poll that fetches nothing from the assigned partitions: it tells the group
        coordinator the writer is alive (kafka-python's max_poll_interval_ms). Partitions
        assigned by a rebalance meanwhile are not paused: their records are returned."""
        consumer = self.consumer
        paused = set(consumer.assignment())
        consumer.pause(*paused)
        try:
            batches: Mapping[Any, list[Any]] = consumer.poll(timeout_ms=0)
        finally:
            consumer.resume(*(paused & set(consumer.assignment())))
            self._polled_at = time.monotonic()
        self.keepalive_polls += 1
        return batches

    def _note_write(self, records: int, seconds: float) -> None:
        budget = self.poll_budget
        before = budget.records
        budget.observe(records, seconds)
        if seconds > budget.interval_seconds:
            # Polls with the partitions paused kept the writer in its group meanwhile.
            log.warning(
                "writing %d records took %.0f s, longer than the consumer's "
                "max_poll_interval_ms (%.0f s): the next polls take at most %d records",
                records,
                seconds,
                budget.interval_seconds,
                budget.records,
            )
        elif budget.records < before:
            log.debug(
                "polls take at most %d records (writing %d took %.1f s)",
                budget.records,
                records,
                seconds,
            )

    def _owned_partitions(self) -> set[int] | None:
        """The views partitions assigned to this writer (None: not known yet)."""
        assignment = getattr(self.consumer, "assignment", None)
        if assignment is None:
            return None
        owned = {tp.partition for tp in assignment()}
        return owned or None

    def lag(self) -> int | None:
        """Records of the views topic after the writer's position (from the high
        watermarks the fetches returned; None until every assigned partition has one)."""
        total = 0
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                return None
            total += max(0, highwater - self.consumer.position(tp))
        return total

    def _export_lag(self) -> None:
        try:
            lag = self.lag()
        except Exception:  # an assignment moving under us: the next poll tells
            return
        if lag is not None:
            self._lag_metric.set(lag)
        watermark = self.watermark()
        if watermark != float("-inf"):
            self._watermark_metric.set(watermark)

    def _read_restored_watermark(self) -> dict[int, float]:
        partition_of = self.partition_of
        with Session(self.engine) as session:
            marks = restored_partition_watermarks(session, partition_of or (lambda unit: 0))
        return marks

    def _set_aside(self, value: bytes, reason: str) -> None:
        self.dead_lettered[reason] += 1
        self._dead_lettered_metric.labels(reason).inc()
        log.warning("score writer: a view dead-lettered (reason=%s)", reason)
        self.dead_letter(value, reason)

    def _until_database_answers(self, action: Callable[[], T]) -> T:
        while True:
            try:
                return action()
            except OperationalError as error:
                log.warning(
                    "database unavailable (%s); retrying in %.0fs",
                    type(error.orig).__name__,
                    self.retry_seconds,
                )
                if self.stopping.wait(self.retry_seconds):
                    raise

    def _write_until_done(self, views: list[UnitView], finalize: bool) -> None:
        # Keep the batch and retry: its offsets stay uncommitted, so even a crash here
        # loses nothing (the batch is redelivered and the upserts are idempotent).
        self._until_database_answers(lambda: self._write_isolating(views, finalize))

    def _write_isolating(self, views: list[UnitView], finalize: bool) -> None:
        """Write the batch; if the database refuses a value (DataError, IntegrityError),
        bisect it to find the views it refuses, dead-letter them and write the others.
        A batch of n views with k bad ones costs O(k log n) extra transactions."""
        try:
            self._write(views, finalize)
            return
        except (DataError, IntegrityError) as error:
            if not views:
                raise  # finalising alone failed: not a record's data
            if len(views) == 1:
                reason = DATA_ERROR if isinstance(error, DataError) else INTEGRITY_ERROR
                self._set_aside(orjson.dumps(views[0].to_json()), reason)
                if finalize:
                    self._write([], finalize)
                return
        half = len(views) // 2
        self._write_isolating(views[:half], finalize)
        self._write_isolating(views[half:], False)

    def _write(self, views: list[UnitView], finalize: bool) -> None:
        watermark = self.watermark()
        with Session(self.engine) as session, session.begin():
            upsert_views(
                session,
                views,
                watermark,
                self.grace_seconds,
                registry=self.registry,
                wall_clock=self.wall_clock,
            )
            if finalize:
                finalize_due(
                    session,
                    watermark,
                    self.grace_seconds,
                    registry=self.registry,
                    wall_clock=self.wall_clock,
                )
                self._last_finalize = self.wall_clock()

    def stop(self) -> None:
        self.stopping.set()


def build_consumer(settings: Settings, **overrides: Any) -> KafkaConsumer:
    """The writer's consumer; `overrides` are kafka-python options (tests shorten the
    group's session timeout so that a killed writer's partitions move on quickly)."""
    config: dict[str, Any] = {
        **settings.kafka_python_config(),
        "group_id": settings.score_writer_group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "client_id": "sigap-score-writer",
        **overrides,
    }
    return KafkaConsumer(settings.views_topic, **config)


def kafka_dead_letter_sink(settings: Settings) -> tuple[DeadLetterSink, KafkaProducer]:
    """A sink sending set-aside views to `<views topic>.dlq`, and its producer (to close)."""
    producer = KafkaProducer(
        **settings.kafka_python_config(), acks="all", client_id="sigap-score-writer-dlq"
    )
    topic = settings.views_dead_letter_topic

    def send(value: bytes, reason: str) -> None:
        producer.send(topic, value=value, headers=[(REASON_HEADER, reason.encode())])
        producer.flush(timeout=30)

    return send, producer
