"""The score writer: a kafka-python consumer of the unit views topic that keeps the views
and the per-unit daily scores in SQL.

Outside the Faust event loop on purpose: a slow or unreachable database must not stall
event processing. At-least-once and exact: each batch is upserted and committed to the
database first, and the Kafka offsets are committed only after that; a redelivered batch
rewrites the same rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from kafka import KafkaConsumer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.settings import Settings
from core.unit_view import UnitView
from storage.scores import upsert_views

log = logging.getLogger(__name__)


class ScoreWriter:
    def __init__(
        self,
        *,
        engine: Engine,
        consumer: KafkaConsumer,
        max_records: int = 1000,
        retry_seconds: float = 2.0,
    ) -> None:
        self.engine = engine
        self.consumer = consumer
        self.max_records = max_records
        self.retry_seconds = retry_seconds
        self.stopping = threading.Event()
        self.written = 0

    def run(self, on_batch: Callable[[int], None] | None = None) -> None:
        while not self.stopping.is_set():
            batches: Mapping[Any, list[Any]] = self.consumer.poll(
                timeout_ms=500, max_records=self.max_records
            )
            records = [record for batch in batches.values() for record in batch]
            if not records:
                continue
            # The message is the complaint stage's envelope; the view is under "v" (watermark
            # heartbeats carry none).
            envelopes = [orjson.loads(record.value) for record in records]
            views = [UnitView.from_json(e["v"]) for e in envelopes if "v" in e]
            self._write_until_done(views)
            self.consumer.commit()
            self.written += len(views)
            if on_batch is not None:
                on_batch(len(views))

    def _write_until_done(self, views: list[UnitView]) -> None:
        # Keep the batch and retry: its offsets stay uncommitted, so even a crash here
        # loses nothing (the batch is redelivered and the upserts are idempotent).
        while True:
            try:
                with Session(self.engine) as session, session.begin():
                    upsert_views(session, views)
                return
            except OperationalError as error:
                log.warning(
                    "database unavailable (%s); retrying in %.0fs",
                    type(error.orig).__name__,
                    self.retry_seconds,
                )
                if self.stopping.wait(self.retry_seconds):
                    raise

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
