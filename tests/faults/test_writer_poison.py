"""No record stops the score writer (issue 13, defect 1), on the real broker and a real
PostgreSQL.

Before: a complaint_id with NUL reached `upsert_views`; PostgreSQL refused it (DataError),
the writer retried only OperationalError, exited, restarted on the same uncommitted batch
and exited again: scores stopped for every unit. The contract now refuses such ids, but the
writer must not depend on that: a view the database refuses, or a record that is not a views
envelope, is set aside (dead-lettered with a reason and counted) and the rest is written.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator

import orjson
import pytest
from kafka import KafkaProducer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.score_writer import DATA_ERROR, INVALID_VIEW, ScoreWriter, build_consumer
from sigap.core.unit_view import UnitView
from sigap.storage.database import make_engine
from sigap.storage.models import UnitComplaintRow
from sigap.topics import ensure_topics
from tests.faults.helpers import writer_settings
from tests.storage.test_scores import REGISTRY
from tests.storage.test_view_order import _versions


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    schema = f"poison_{uuid.uuid4().hex[:8]}"
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    yield f"{postgres_url}?options=-csearch_path%3D{schema}"


def _envelope(*views: UnitView) -> bytes:
    return orjson.dumps(
        {"src": 0, "wm": views[0].as_of, "cu": True, "vs": [v.to_json() for v in views]}
    )


def test_a_view_postgres_refuses_is_dead_lettered_and_the_rest_written(
    kafka_bootstrap: str, pg_url: str
) -> None:
    prefix = f"poison-{uuid.uuid4().hex[:8]}"
    settings = writer_settings(kafka_bootstrap, prefix, database_url=pg_url)
    ensure_topics(settings)
    good = [_versions(f"ok{i}")[1] for i in range(5)]
    poison = dataclasses.replace(good[0], complaint_id="c-\x00-1")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    # One batch record holding the poison among good views; garbage; then more good views.
    producer.send(settings.views_topic, _envelope(good[0], poison, good[1], good[2]))
    producer.send(settings.views_topic, b"\x00 not an envelope")
    producer.send(settings.views_topic, _envelope(good[3], good[4]))
    producer.flush()
    producer.close()

    engine = make_engine(pg_url)
    set_aside: list[tuple[bytes, str]] = []
    writer = ScoreWriter(
        engine=engine,
        consumer=build_consumer(settings),
        grace_seconds=600,
        registry=REGISTRY,
        dead_letter=lambda value, reason: set_aside.append((value, reason)),
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            writer.run()
        except BaseException as error:  # the defect: the writer exits
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stored() -> int:
        with Session(engine) as session:
            return int(session.scalar(select(func.count()).select_from(UnitComplaintRow)) or 0)

    deadline = time.monotonic() + 120
    while stored() < len(good) and not errors and time.monotonic() < deadline:
        time.sleep(0.5)
    writer.stop()
    thread.join(30)
    writer.consumer.close()
    assert errors == []
    assert stored() == len(good)
    assert sorted(reason for _, reason in set_aside) == [DATA_ERROR, INVALID_VIEW]
    assert writer.dead_lettered == {DATA_ERROR: 1, INVALID_VIEW: 1}
    (refused,) = [value for value, reason in set_aside if reason == DATA_ERROR]
    assert orjson.loads(refused)["id"] == "c-\x00-1"
    engine.dispose()
