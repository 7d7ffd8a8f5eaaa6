"""The score writer through a 60-second PostgreSQL outage in the middle of a stream.

A real PostgreSQL (tests/robustness/pg_server.py) backs the score writer. The test publishes
the first part of the events, waits until the writer has stored some views, stops the server
(`pg_ctl -m fast`: open sessions are ended), publishes the rest (new complaints, and the
resolution of complaints of the first part), waits 60 seconds and starts the server again.
Afterwards no row is lost or duplicated: `sigap scores --format json` equals the daily
scores computed here from the events, and `unit_complaint_views` holds exactly one row per
(unit, complaint), for every complaint published.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import free_port
from tests.integration.processes import run_sigap, running_stack, wait_for
from tests.robustness.generator import Message, dumps
from tests.robustness.helpers import publish_raw
from tests.robustness.pg_server import PostgresServer, restartable_postgres

pytestmark = pytest.mark.kafka

JAKARTA = timezone(timedelta(hours=7))
BASE = datetime(2026, 10, 5, 6, 0, tzinfo=JAKARTA)
UNITS = ["dlh", "dsda", "dishub", "dinkes"]
OUTAGE_SECONDS = 60


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    if os.environ.get("SIGAP_TEST_POSTGRES_URL"):
        pytest.skip("needs a local server it can stop (not SIGAP_TEST_POSTGRES_URL)")
    try:
        context = restartable_postgres(free_port())
        server = context.__enter__()
    except Exception as error:  # reported as conftest does for the shared server
        if os.environ.get("CI") == "true":
            pytest.fail(f"could not start PostgreSQL: {error}")
        pytest.skip(f"could not start PostgreSQL: {error}")
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


class Complaint:
    def __init__(self, index: int, rnd: random.Random) -> None:
        self.id = f"o-{index:04d}"
        self.unit = rnd.choice(UNITS)
        # Spread over three days; some resolutions cross a Jakarta midnight.
        self.created_at = BASE + timedelta(seconds=rnd.randrange(0, 3 * 86400))
        self.resolved_at = self.created_at + timedelta(seconds=rnd.randrange(600, 20 * 3600))

    def created(self) -> Message:
        event = {
            "event_id": f"{self.id}-c",
            "type": "created",
            "complaint_id": self.id,
            "occurred_at": self.created_at.isoformat(),
            "unit": self.unit,
        }
        return Message(self.id.encode(), dumps(event), "accepted")

    def resolved(self) -> Message:
        event = {
            "event_id": f"{self.id}-r",
            "type": "resolved",
            "complaint_id": self.id,
            "occurred_at": self.resolved_at.isoformat(),
        }
        return Message(self.id.encode(), dumps(event), "accepted")


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = 1
    while rank / len(ordered) < q:
        rank += 1
    return ordered[rank - 1]


def expected_daily(complaints: list[Complaint], resolved: set[str]) -> list[dict[str, Any]]:
    received: dict[tuple[str, str], int] = {}
    durations: dict[tuple[str, str], list[float]] = {}
    for complaint in complaints:
        day = complaint.created_at.astimezone(JAKARTA).date().isoformat()
        received[(complaint.unit, day)] = received.get((complaint.unit, day), 0) + 1
        if complaint.id in resolved:
            day = complaint.resolved_at.astimezone(JAKARTA).date().isoformat()
            seconds = (complaint.resolved_at - complaint.created_at).total_seconds()
            durations.setdefault((complaint.unit, day), []).append(seconds)
    rows = []
    for unit, day in sorted(set(received) | set(durations)):
        values = durations.get((unit, day), [])
        rows.append(
            {
                "unit": unit,
                "period_start": day,
                "received": received.get((unit, day), 0),
                "resolved": len(values),
                "resolution_p50_wall_seconds": nearest_rank(values, 0.5) if values else None,
                "resolution_p90_wall_seconds": nearest_rank(values, 0.9) if values else None,
            }
        )
    return rows


def test_scores_survive_a_database_outage(
    kafka_bootstrap: str, postgres: PostgresServer, tmp_path: Path
) -> None:
    rnd = random.Random(4242)
    complaints = [Complaint(index, rnd) for index in range(150)]
    first, second = complaints[:60], complaints[60:]
    resolved_early = {c.id for c in first if rnd.random() < 0.6}
    resolved_late = {c.id for c in first if c.id not in resolved_early and rnd.random() < 0.7}
    resolved_second = {c.id for c in second if rnd.random() < 0.75}
    part_one = [c.created() for c in first] + [
        c.resolved() for c in first if c.id in resolved_early
    ]
    part_two = [c.created() for c in second] + [
        c.resolved() for c in complaints if c.id in resolved_late | resolved_second
    ]
    expected = expected_daily(complaints, resolved_early | resolved_late | resolved_second)
    engine = create_engine(postgres.url, pool_pre_ping=True)

    def stored_views() -> int:
        try:
            with engine.connect() as connection:
                return int(
                    connection.execute(
                        text("SELECT count(*) FROM unit_complaint_views")
                    ).scalar_one()
                )
        except Exception:  # the table may not exist yet
            return -1

    app_id = f"sigap-outage-{uuid.uuid4().hex[:8]}"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": postgres.url,
        "SIGAP_APP_ID": app_id,
    }
    with running_stack(env, tmp_path) as stack:
        topic = stack.env["SIGAP_EVENTS_TOPIC"]
        publish_raw(kafka_bootstrap, topic, part_one)
        some = wait_for(stored_views, lambda n: n > 0, 120, "the first views in PostgreSQL")
        assert some > 0, stack.score_writer.log_text()[-3000:]
        engine.dispose()

        postgres.stop()
        down_since = time.monotonic()
        publish_raw(kafka_bootstrap, topic, part_two)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        assert stack.score_writer.process.poll() is None, (
            "the score writer exited during the outage:\n" + stack.score_writer.log_text()[-4000:]
        )
        postgres.start()

        def scores() -> list[dict[str, Any]]:
            result = run_sigap(["scores", "--format", "json", "--period", "day"], stack.env)
            if result.returncode != 0:
                return []
            keys = list(expected[0])
            rows = [
                {k: row[k] for k in keys}
                for row in json.loads(result.stdout)
                if row["received"] or row["resolved"]
            ]
            return sorted(rows, key=lambda row: (row["unit"], row["period_start"]))

        final = wait_for(scores, lambda rows: rows == expected, 180, "the daily scores")
        writer_log = stack.score_writer.log_text()
        assert stack.score_writer.process.poll() is None, writer_log[-4000:]
        assert final == expected, writer_log[-4000:]
        with engine.connect() as connection:
            counts = connection.execute(
                text(
                    "SELECT unit, complaint_id, count(*) FROM unit_complaint_views"
                    " GROUP BY unit, complaint_id"
                )
            ).all()
        engine.dispose()
    assert "database unavailable" in writer_log
    assert {(unit, cid) for unit, cid, _ in counts} == {(c.unit, c.id) for c in complaints}
    assert all(count == 1 for _, _, count in counts)
