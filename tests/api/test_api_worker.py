"""The API of a real `sigap worker` on a real Kafka broker.

A worker and a score writer run on fresh topics with a SQLite score database; events are
published with `sigap publish`. Every reply is validated against streams/openapi.yaml
(openapi-core), and its numbers against independent computations: the live KPIs against the
worker's own /metrics page (parsed here) and against `sigap replay` of the same events; the
scores against the scores replay computes from the same events. A second worker reads its
scores from a real PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.events import parse_event
from sigap.core.calendar import JAKARTA
from sigap.core.registry_file import load_registry
from sigap.replay import ReplayResult, replay, unit_summary
from tests.api.helpers import ROOT, Reply, call, comparable, kpis_from_metrics, validate
from tests.conftest import free_port
from tests.integration.processes import (
    SigapProcess,
    Stack,
    http_get,
    run_sigap,
    running_stack,
    wait_for,
)

pytestmark = pytest.mark.kafka

REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
KINDS = ("day", "week", "month", "quarter")
KPIS = "/api/units/{unit}/kpis"


def at(now: datetime, hours_ago: float) -> str:
    return (now - timedelta(hours=hours_ago)).replace(microsecond=0).isoformat()


def make_events(now: datetime) -> list[dict[str, Any]]:
    def ev(event_id: str, type_: str, complaint: str, hours_ago: float, **extra: Any) -> Any:
        return {
            "event_id": event_id,
            "type": type_,
            "complaint_id": complaint,
            "occurred_at": at(now, hours_ago),
            **extra,
        }

    return [
        # Three days ago: its day is final by now (revision 1).
        ev("a1", "created", "api-a1", 75, unit="dlh", category="complex"),
        ev("a2", "responded", "api-a1", 74),
        ev("a3", "resolved", "api-a1", 73),
        ev("s1", "created", "api-s1", 3, unit="dlh", category="complex"),
        ev("s2", "responded", "api-s1", 2.5),
        ev("s3", "resolved", "api-s1", 1),
        ev("s4", "rated", "api-s1", 0.9, rating=5),
        ev("s5", "created", "api-s2", 2, unit="dlh"),
        ev("s6", "resolved", "api-s2", 0.5),  # also stops the response timer
        ev("s7", "created", "api-s3", 1.5, unit="dsda"),  # left open
        ev("s8", "created", "api-s4", 2, unit="dlh"),
        ev("s9", "assigned", "api-s4", 1.8, unit="dsda", reason="wrong_category"),
    ]


def recent_hours_on_one_day(now: datetime) -> datetime:
    """`now`, or in the first 4 hours of a Jakarta day the last minute of the day before: then
    make_events' recent events (up to 3 h old) share one Jakarta day, the one their latest
    event time has not yet closed (in the first hours of a day their day was already final)."""
    local = now.astimezone(JAKARTA)
    if local.hour < 4:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    return local.astimezone(UTC)


def replayed(events: list[dict[str, Any]]) -> ReplayResult:
    return replay([parse_event(orjson.dumps(e)) for e in events], REGISTRY)


@dataclass(frozen=True)
class Worker:
    base: str  # http://127.0.0.1:port
    metrics_url: str
    expected: ReplayResult


def get(base: str, path: str, query: Sequence[tuple[str, str]] = (), **route: Any) -> Reply:
    """GET, and validate the reply against the document."""
    reply = call(base, path, query)
    validate(base, path, reply, query=query, **route)
    return reply


def kpis(base: str, unit: str) -> Reply:
    return get(base, f"/api/units/{unit}/kpis", path_pattern=KPIS, view_args={"unit": unit})


def scores(base: str, query: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    reply = get(base, "/api/scores", query)
    assert reply.status == 200, reply.body
    rows: list[dict[str, Any]] = reply.json()["scores"]
    return rows


def expected_scores(
    result: ReplayResult, kind: str, category: str = "*", unit: str | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """(unit, period_start) -> the replayed score's JSON, for non-empty periods."""
    found = {}
    for score in result.scores:
        if score.period != kind or score.category != category or score.empty:
            continue
        if unit is None or score.unit == unit:
            found[(score.unit, score.period_start.isoformat())] = score.as_json()
    return found


def by_period(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The rows keyed like expected_scores, without the storage-only fields."""
    return {
        (row["unit"], row["period_start"]): {
            k: v for k, v in row.items() if k not in ("revision", "final")
        }
        for row in rows
    }


def base_of(stack: Stack) -> str:
    return stack.metrics_url.removesuffix("/metrics")


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    base_dir = tmp_path_factory.mktemp("api-worker")
    now = datetime.now(UTC)
    events = make_events(now)
    expected = replayed(events)
    with running_stack({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, base_dir) as stack:
        base = base_of(stack)
        up = wait_for(lambda: http_get(base + "/api/units"), bool, 180, "the worker's API")
        assert up, f"the worker did not serve its API:\n{stack.worker.log_text()[-3000:]}"
        jsonl = base_dir / "events.jsonl"
        jsonl.write_text("".join(json.dumps(event) + "\n" for event in events))
        published = run_sigap(["publish", str(jsonl)], stack.env)
        assert published.returncode == 0, published.stderr
        created = {"dlh": 4, "dsda": 1}
        seen = wait_for(
            lambda: {unit: call(base, f"/api/units/{unit}/kpis").body for unit in created},
            lambda bodies: all(
                body and orjson.loads(body).get("created") == created[unit]
                for unit, body in bodies.items()
            ),
            180,
            "the events in the API",
        )
        assert {u: orjson.loads(b).get("created") for u, b in seen.items()} == created
        yield Worker(base, stack.metrics_url, expected)


@pytest.fixture(scope="module")
def written(worker: Worker) -> Worker:
    """The worker, once the score writer has written every period of the events."""
    want = expected_scores(worker.expected, "day")
    reply = wait_for(
        lambda: call(worker.base, "/api/scores"),
        lambda reply: reply.status == 200 and set(by_period(reply.json()["scores"])) == set(want),
        180,
        "the scores in the API",
    )
    assert reply.status == 200, reply.body
    return worker


def test_units_of_the_real_worker(worker: Worker) -> None:
    body = get(worker.base, "/api/units").json()
    listed = {unit["unit"]: unit for unit in body["units"]}
    assert set(listed) >= set(REGISTRY.units)
    # One worker holds every partition.
    assert all(unit["served_here"] for unit in listed.values())
    assert listed["dlh"]["name"] == REGISTRY.units["dlh"].name


def test_unit_kpis_are_the_numbers_of_metrics_and_of_replay(worker: Worker) -> None:
    for unit in ("dlh", "dsda"):
        # The watermark moves with the wall clock: take an API reply between two scrapes
        # that agree with each other (then nothing moved meanwhile).
        def probe(unit: str = unit) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
            before = kpis_from_metrics(http_get(worker.metrics_url), unit)
            reply = kpis(worker.base, unit)
            after = kpis_from_metrics(http_get(worker.metrics_url), unit)
            return before, reply.json(), after

        before, body, after = wait_for(
            probe, lambda found: found[0] == found[2] == comparable(found[1]), 60, "stable KPIs"
        )
        assert comparable(body) == before == after, unit
        assert body["watermark_epoch"] is not None
        assert body["watermark"].endswith("Z")
        # The counters agree with replay (core functions, without Kafka).
        summary = unit_summary(unit, worker.expected.units[unit])
        assert (body["created"], body["resolved"], body["open"], body["reopened"]) == (
            summary["created"],
            summary["resolved"],
            summary["open"],
            summary["reopened"],
        )
        # Each decided timer counts once, met or missed. Which one can differ: the worker
        # counts a timer missed when the watermark passed its deadline before the stopping
        # event arrived (the three-day-old complaint, published late), replay never does.
        assert {t: sum(c.values()) for t, c in body["sla"].items()} == {
            t: sum(c.values()) for t, c in summary["sla"].items()
        }
        assert sum(body["transfers_away"].values()) == summary["transfers_away"]
    dlh = kpis(worker.base, "dlh").json()
    assert dlh["transfers_away"]["wrong_category"] == 1
    assert dlh["ratings"]["5"] == 1
    assert (dlh["created"], dlh["resolved"]) == (4, 3)


def test_unknown_unit_and_bad_parameters_on_the_real_worker(worker: Worker) -> None:
    reply = kpis(worker.base, "not-a-unit")
    assert (reply.status, reply.json()["error"]) == (404, "unknown unit")
    reply = get(worker.base, "/api/scores", [("from", "2026-13-01")])
    assert (reply.status, reply.json()["parameter"]) == (400, "from")
    reply = call(worker.base, "/api/scores", method="POST")
    assert (reply.status, reply.json()["error"]) == (405, "method not allowed")


@pytest.mark.parametrize("kind", KINDS)
def test_scores_are_the_scores_replay_computes(written: Worker, kind: str) -> None:
    worker = written
    rows = scores(worker.base, [("period", kind)])
    assert rows, kind
    assert by_period(rows) == expected_scores(worker.expected, kind)
    assert all(row["period"] == kind and row["category"] == "*" for row in rows)
    starts = [row["period_start"] for row in rows]
    assert starts == sorted(starts)  # oldest first


def test_score_filters(written: Worker) -> None:
    worker = written
    expected = worker.expected
    every_day = expected_scores(expected, "day")
    days = sorted({start for _, start in every_day})
    assert len(days) >= 2  # three days ago, and today (and maybe yesterday, by the clock)
    oldest, newest = days[0], days[-1]

    dlh = scores(worker.base, [("unit", "dlh")])
    assert by_period(dlh) == expected_scores(expected, "day", unit="dlh")
    both = scores(worker.base, [("unit", "dlh"), ("unit", "dsda")])
    assert by_period(both) == every_day

    only_oldest = scores(worker.base, [("from", oldest), ("to", oldest)])
    assert {start for _, start in by_period(only_oldest)} == {oldest}
    since_newest = scores(worker.base, [("from", newest)])
    assert {start for _, start in by_period(since_newest)} == {newest}
    until_oldest = scores(worker.base, [("to", oldest)])
    assert {start for _, start in by_period(until_oldest)} == {oldest}

    # The day three days ago is final (revision 1) once the writer's periodic finalisation
    # has run; today's is provisional (revision 0).
    final = wait_for(
        lambda: scores(worker.base, [("revision", "1")]),
        lambda rows: oldest in {row["period_start"] for row in rows},
        120,
        "the final revision",
    )
    assert {(row["period_start"], row["final"]) for row in final} >= {(oldest, True)}
    assert newest not in {row["period_start"] for row in final}
    provisional = scores(worker.base, [("revision", "0")])
    assert {(row["period_start"], row["final"]) for row in provisional} >= {(newest, False)}
    assert scores(worker.base, [("revision", "7")]) == []

    complex_rows = scores(worker.base, [("category", "complex")])
    assert by_period(complex_rows) == expected_scores(expected, "day", category="complex")
    assert complex_rows and {row["category"] for row in complex_rows} == {"complex"}
    mixed = scores(worker.base, [("category", "*"), ("category", "complex")])
    assert {(r["unit"], r["period_start"], r["category"]) for r in mixed} == {
        (r["unit"], r["period_start"], r["category"])
        for r in [*complex_rows, *scores(worker.base, [])]
    }
    assert scores(worker.base, [("unit", "damkar")]) == []


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty schema on the test server."""
    from sqlalchemy import create_engine, text

    schema = f"api_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    yield f"{postgres_url}?options=-csearch_path%3D{schema}"


def write_scores(database_url: str, result: ReplayResult) -> None:
    """Store the replayed views with the score writer's own storage functions."""
    from sqlalchemy.orm import Session

    from sigap.storage.database import make_engine
    from sigap.storage.scores import upsert_views

    engine = make_engine(database_url)
    assert result.watermark is not None
    with Session(engine) as session, session.begin():
        upsert_views(session, result.views, result.watermark, 600.0, registry=REGISTRY)
    engine.dispose()


def test_scores_from_postgresql(
    kafka_bootstrap: str, postgres_schema_url: str, tmp_path: Path
) -> None:
    run_id = uuid.uuid4().hex[:8]
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SIGAP_APP_ID": f"sigap-api-pg-{run_id}",
        "SIGAP_EVENTS_TOPIC": f"api-pg-{run_id}-events",
        "SIGAP_VIEWS_TOPIC": f"api-pg-{run_id}-views",
        "SIGAP_WEB_PORT": str(port),
        "SIGAP_STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": postgres_schema_url,
    }
    created = run_sigap(["topics", "create"], env)
    assert created.returncode == 0, created.stderr
    worker = SigapProcess(["worker"], env, tmp_path / "worker.log")
    base = f"http://127.0.0.1:{port}"
    try:
        up = wait_for(lambda: http_get(base + "/api/units"), bool, 180, "the worker's API")
        assert up, worker.log_text()[-3000:]
        # No tables yet: 503, and the worker keeps serving.
        reply = get(base, "/api/scores")
        assert (reply.status, reply.json()["error"]) == (503, "score database unavailable")
        assert "score tables do not exist" in reply.json()["detail"]

        result = replayed(make_events(recent_hours_on_one_day(datetime.now(UTC))))
        write_scores(postgres_schema_url, result)
        for kind in KINDS:
            rows = scores(base, [("period", kind)])
            assert rows and by_period(rows) == expected_scores(result, kind), kind
        # dsda's complaints are all of the last hours: today's period is provisional.
        rows = scores(base, [("unit", "dsda"), ("category", "*"), ("revision", "0")])
        expected_dsda = expected_scores(result, "day", unit="dsda")
        today = max(start for _, start in expected_dsda)
        assert ("dsda", today) in by_period(rows)
        assert by_period(rows).items() <= expected_dsda.items()
        assert get(base, "/api/units").status == 200
    finally:
        returncode = worker.stop()
        print("--- worker log ---\n" + worker.log_text()[-3000:])
    assert returncode == 0, "worker did not stop cleanly on SIGTERM"
