"""The score writer: a kafka-python consumer of the unit views topic that keeps the views
and the per-unit and per-category period scores (day, week, month, quarter; with revisions
and IKU indicators) in SQL.

Outside the Faust event loop on purpose: a slow or unreachable database must not stall
event processing. At-least-once and exact: each batch is upserted and committed to the
database first, and the Kafka offsets are committed only after that; a redelivered batch
rewrites the same rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson
from kafka import KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError, KafkaTimeoutError
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.registry import Registry
from core.settings import Settings
from core.unit_view import UnitView
from core.watermarks import SourceWatermarks
from storage.scores import create_tables, finalize_due, restored_watermark, upsert_views

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        registry: Registry | None = None,
    ) -> None:
        self.engine = engine
        self.registry = registry  # the IKU targets of the scores (defaults without one)
        self.consumer = consumer
        self.grace_seconds = grace_seconds
        self.max_records = max_records
        self.retry_seconds = retry_seconds
        self.finalize_every_seconds = finalize_every_seconds
        self.wall_clock = wall_clock
        self.stopping = threading.Event()
        self.written = 0
        # As in the unit stage (core.watermarks), one per views partition; periods are
        # finalised at the lowest, so that no partition still on its way can change them.
        self.watermarks: dict[int, SourceWatermarks] = {}
        self._restored: float | None = None
        self._last_finalize = 0.0

    def watermark(self) -> float:
        wall_now = self.wall_clock()
        marks = [w.current(wall_now) for w in self.watermarks.values()]
        known = [mark for mark in marks if mark is not None]
        if known:
            return min(known)
        return self._restored if self._restored is not None else float("-inf")

    def run(self, on_batch: Callable[[int], None] | None = None) -> None:
        # The database may be down when the writer starts: wait for it like for any write.
        self._until_database_answers(lambda: create_tables(self.engine))
        self._restored = self._until_database_answers(self._read_restored_watermark)
        while not self.stopping.is_set():
            batches: Mapping[Any, list[Any]] = self.consumer.poll(
                timeout_ms=500, max_records=self.max_records
            )
            views: list[UnitView] = []
            for tp, batch in batches.items():
                for record in batch:
                    # The complaint stage's envelope: progress stamps, and the view under
                    # "v" or the views under "vs" (watermark heartbeats carry none).
                    envelope = orjson.loads(record.value)
                    if envelope.get("wm") is not None:  # older workers could send null
                        source = self.watermarks.setdefault(tp.partition, SourceWatermarks())
                        source.observe(
                            envelope["src"], envelope["wm"], envelope["cu"], self.wall_clock()
                        )
                    if "v" in envelope:
                        views.append(UnitView.from_json(envelope["v"]))
                    # A batch of the complaint stage: many views in one record.
                    views.extend(UnitView.from_json(view) for view in envelope.get("vs", ()))
            due = self.wall_clock() - self._last_finalize >= self.finalize_every_seconds
            if not batches and not due:
                continue
            self._write_until_done(views, finalize=due)
            if batches:
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

    def _read_restored_watermark(self) -> float | None:
        with Session(self.engine) as session:
            return restored_watermark(session)

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
        def write() -> None:
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

        self._until_database_answers(write)

    def stop(self) -> None:
        self.stopping.set()


def build_consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        settings.views_topic,
        **settings.kafka_python_config(),
        group_id=settings.score_writer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="sigap-score-writer",
    )
