"""The score writer outlives an offset commit that times out.

Found by the broker-outage test: kafka-python's commit() keeps retrying while the broker is
down or restarting and raises KafkaTimeoutError after request_timeout_ms (30 s); the writer
let it through and exited ("Error: Kafka at ...: KafkaTimeoutError"), so the scores stopped
for good once the broker was back. Its rows are already in the database when it commits, so
a failed commit only means a batch may be read and written again (idempotent upserts).

Here the consumer is a stand-in whose commit fails the way kafka-python's does; the database
is a real SQLite file.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import TopicPartition
from kafka.errors import GroupAuthorizationFailedError, KafkaTimeoutError

from consumers.score_writer import ScoreWriter
from sigap.storage.database import make_engine
from tests.storage.test_scores import REGISTRY

STAMP = orjson.dumps({"src": 0, "wm": 1_793_581_200.0, "cu": True})


class Record:
    value = STAMP


class FlakyCommitConsumer:
    """Delivers one record per poll; its first commit fails with `failure`."""

    def __init__(self, failure: Exception, polls: int, writer: list[ScoreWriter]) -> None:
        self.failure: Exception | None = failure
        self.polls_left = polls
        self.commits = 0
        self.writer = writer

    def poll(self, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        if self.polls_left == 0:
            self.writer[0].stop()
            return {}
        self.polls_left -= 1
        return {TopicPartition("views", 0): [Record()]}

    def commit(self) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        self.commits += 1


def run_writer(tmp_path: Path, failure: Exception) -> FlakyCommitConsumer:
    holder: list[ScoreWriter] = []
    consumer = FlakyCommitConsumer(failure, polls=3, writer=holder)
    writer = ScoreWriter(
        engine=make_engine(f"sqlite:///{tmp_path / 'scores.db'}"),
        consumer=consumer,  # type: ignore[arg-type]
        grace_seconds=600,
        registry=REGISTRY,
    )
    holder.append(writer)
    done = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            writer.run()
        except BaseException as error:
            errors.append(error)
        finally:
            done.set()

    threading.Thread(target=target, daemon=True).start()
    assert done.wait(60), "the writer did not stop"
    if errors:
        raise errors[0]
    return consumer


def test_commit_timeout_is_not_fatal(tmp_path: Path) -> None:
    consumer = run_writer(tmp_path, KafkaTimeoutError("commit timed out"))
    # The failed commit is followed by the next batches' commits, which cover its offsets.
    assert consumer.commits == 2


def test_non_retriable_commit_error_stops_the_writer(tmp_path: Path) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        run_writer(tmp_path, GroupAuthorizationFailedError("not allowed"))
