"""The API views on the worker's real aiohttp app (Faust's web server), in process: events go
through both agents with Faust's test_context (no broker), requests through aiohttp's test
client over a real socket. Every reply is validated against streams/openapi.yaml with
openapi-core. The worker itself, on a real broker, is tested in test_api_worker.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest

from sigap.core.registry_file import load_registry
from sigap.settings import Settings
from streams.app import SigapApp
from tests.api.helpers import (
    ROOT,
    Reply,
    comparable,
    document,
    error_schema_validator,
    kpis_from_metrics,
    validate,
)
from tests.conftest import free_port
from tests.streams.test_agents import event, in_process_app, run

REGISTRY_PATH = ROOT / "deploy" / "registry.yaml"
REGISTRY = load_registry(REGISTRY_PATH)
BASE = "http://127.0.0.1:6066"  # only matched against the document's server template


def make_sigap(tmp_path: Path, database_url: str) -> SigapApp:
    settings = Settings(
        store_url="memory://",
        state_dir=str(tmp_path / "state"),
        app_id="sigap-api-test",
        database_url=database_url,
    )
    return in_process_app(settings)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()


@pytest.fixture
def sigap(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> SigapApp:
    # No score database at this path: /api/scores must answer 503, never create it.
    return make_sigap(tmp_path, f"sqlite:///{tmp_path / 'absent' / 'scores.db'}")


def request(
    loop: asyncio.AbstractEventLoop,
    sigap: SigapApp,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    method: str = "GET",
) -> Reply:
    async def go() -> Reply:
        server = TestServer(sigap.faust_app.web.web_app, port=free_port())
        async with TestClient(server) as client:
            response = await client.request(method, path, params=list(query))
            body = await response.read()
            return Reply(response.status, response.content_type, dict(response.headers), body)

    return loop.run_until_complete(go())


def get(
    loop: asyncio.AbstractEventLoop,
    sigap: SigapApp,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    **route: Any,
) -> Reply:
    """GET, and validate the reply against the document."""
    reply = request(loop, sigap, path, query)
    validate(BASE, path, reply, query=query, **route)
    return reply


EVENTS = [
    (
        b"c1",
        event("e1", "created", "c1", "2026-11-02T09:00:00+07:00", unit="dlh", category="complex"),
    ),
    (b"c1", event("e2", "responded", "c1", "2026-11-02T09:30:00+07:00")),
    (b"c1", event("e3", "resolved", "c1", "2026-11-02T11:30:00+07:00")),
    (b"c1", event("e4", "rated", "c1", "2026-11-02T12:00:00+07:00", rating=4)),
    (b"c2", event("e5", "created", "c2", "2026-11-02T10:00:00+07:00", unit="dlh")),
    (
        b"c2",
        event("e6", "assigned", "c2", "2026-11-02T10:30:00+07:00", unit="dsda", reason="duplicate"),
    ),
    (b"c3", event("e7", "created", "c3", "2026-11-02T10:00:00+07:00", unit="no-such-unit")),
]


def test_units_lists_every_registry_unit_with_its_name_and_calendar(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp
) -> None:
    run(sigap, EVENTS)
    body = get(loop, sigap, "/api/units").json()
    raw = yaml.safe_load(REGISTRY_PATH.read_text())  # read independently of core.registry
    expected = {
        unit["code"]: (
            unit["name"],
            unit["calendar"],
            unit.get("objective", raw["default_objective"]),
        )
        for unit in raw["units"]
    }
    listed = {u["unit"]: u for u in body["units"]}
    assert {
        code: (u["name"], u["calendar"], u["objective"])
        for code, u in listed.items()
        if u["registered"]
    } == expected
    # The unregistered unit code is counted as "unknown" (never echoed back: bounded labels).
    assert listed["unknown"] == {
        "unit": "unknown",
        "name": None,
        "calendar": None,
        "objective": None,
        "registered": False,
        "served_here": True,
    }
    assert "no-such-unit" not in listed
    assert body["registry_version"] == raw["version"]


def test_unit_kpis_are_the_numbers_of_the_metrics_page(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp
) -> None:
    run(sigap, EVENTS)
    for unit in ("dlh", "dsda", "unknown", "damkar"):
        path = f"/api/units/{unit}/kpis"
        route = {"path_pattern": "/api/units/{unit}/kpis", "view_args": {"unit": unit}}
        body = get(loop, sigap, path, **route).json()
        metrics = kpis_from_metrics(generate_latest(sigap.registry).decode(), unit)
        assert comparable(body) == metrics, unit
    dlh = get(
        loop,
        sigap,
        "/api/units/dlh/kpis",
        path_pattern="/api/units/{unit}/kpis",
        view_args={"unit": "dlh"},
    ).json()
    # By hand: c1 created, responded after 30 min, resolved after 2.5 h, rated 4; c2 created
    # and transferred after 30 min (before any deadline: neither met nor missed for dlh).
    assert (dlh["created"], dlh["resolved"], dlh["open"]) == (2, 1, 0)
    assert dlh["sla"] == {
        "response": {"met": 1, "missed": 0},
        "resolution": {"met": 1, "missed": 0},
    }
    assert dlh["transfers_away"]["duplicate"] == 1
    assert dlh["ratings"]["4"] == 1
    assert dlh["histograms"]["resolution_seconds"]["sum"] == 9000.0
    assert dlh["histograms"]["first_response_seconds"]["sum"] == 1800.0
    assert set(dlh["category_windows"]) == {"complex"}


def test_an_unknown_unit_is_a_404_and_a_bad_code_a_400(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp
) -> None:
    route = {"path_pattern": "/api/units/{unit}/kpis"}
    reply = get(loop, sigap, "/api/units/nope/kpis", view_args={"unit": "nope"}, **route)
    assert (reply.status, reply.json()["error"], reply.json()["parameter"]) == (
        404,
        "unknown unit",
        "unit",
    )
    reply = request(loop, sigap, "/api/units/Not%20A%20Code/kpis")
    error_schema_validator().validate(reply.json())
    assert (reply.status, reply.json()["parameter"]) == (400, "unit")


def test_a_unit_of_another_worker_is_a_503(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp
) -> None:
    sigap.owned_partitions = lambda topic: set()  # e.g. before the first assignment
    reply = get(
        loop,
        sigap,
        "/api/units/dlh/kpis",
        path_pattern="/api/units/{unit}/kpis",
        view_args={"unit": "dlh"},
    )
    assert (reply.status, reply.json()["error"]) == (503, "unit not served by this worker")
    units = get(loop, sigap, "/api/units").json()["units"]
    assert units and not any(unit["served_here"] for unit in units)


# Each bad query names its parameter.
BAD_SCORE_QUERIES = [
    ([("period", "year")], "period"),
    ([("period", "")], "period"),
    ([("period", "day"), ("period", "week")], "period"),
    ([("from", "2026-02-30")], "from"),
    ([("from", "27-11-2026")], "from"),
    ([("from", "2026-W48-1")], "from"),  # an ISO week date: Python would accept it
    ([("to", "tomorrow")], "to"),
    ([("from", "2026-11-02"), ("to", "2026-11-01")], "to"),
    ([("revision", "-1")], "revision"),
    ([("revision", "1.5")], "revision"),
    ([("revision", "99999999999")], "revision"),
    ([("revision", "1"), ("revision", "2")], "revision"),
    ([("unit", "DLH")], "unit"),
    ([("unit", "dlh"), ("unit", "")], "unit"),
    ([("category", "")], "category"),
    ([("category", "x" * 65)], "category"),
    ([("units", "dlh")], "units"),
    ([("limit", "0")], "limit"),
    ([("limit", "1001")], "limit"),
    ([("offset", "-1")], "offset"),
    ([("offset", "1"), ("offset", "2")], "offset"),
]


@pytest.mark.parametrize(("query", "parameter"), BAD_SCORE_QUERIES)
def test_a_bad_score_parameter_is_a_400_naming_it(
    loop: asyncio.AbstractEventLoop,
    sigap: SigapApp,
    query: list[tuple[str, str]],
    parameter: str,
) -> None:
    reply = get(loop, sigap, "/api/scores", query)
    assert reply.status == 400, reply.body
    body = reply.json()
    assert body["parameter"] == parameter
    assert body["error"] in ("invalid parameter", "unknown parameter")
    assert body["detail"]


@pytest.mark.parametrize("path", ["/api/units", "/api/units/dlh/kpis", "/api/openapi.json"])
def test_parameters_on_endpoints_without_any_are_a_400(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp, path: str
) -> None:
    reply = request(loop, sigap, path, [("unit", "dlh")])
    error_schema_validator().validate(reply.json())
    assert (reply.status, reply.json()["parameter"]) == (400, "unit")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_only_get_and_head_are_served(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp, method: str
) -> None:
    for path in document()["paths"]:
        concrete = path.replace("{unit}", "dlh")
        reply = request(loop, sigap, concrete, method=method)
        assert reply.status == 405, (method, path)
        assert reply.headers["Allow"] == "GET, HEAD"
        assert reply.content_type == "application/json"
        error_schema_validator().validate(reply.json())
        assert reply.json()["error"] == "method not allowed"


def test_head_answers_like_get_without_a_body(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp
) -> None:
    for path in ("/api/units", "/api/units/dlh/kpis", "/api/openapi.yaml"):
        head = request(loop, sigap, path, method="HEAD")
        full = request(loop, sigap, path)
        assert (head.status, head.content_type, head.body) == (200, full.content_type, b"")


def test_scores_without_a_database_are_a_503_and_create_nothing(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp, tmp_path: Path
) -> None:
    reply = get(loop, sigap, "/api/scores")
    assert (reply.status, reply.json()["error"]) == (503, "score database unavailable")
    assert not (tmp_path / "absent").exists()
    # The rest of the API does not depend on the database.
    assert get(loop, sigap, "/api/units").status == 200


def test_scores_from_an_unreachable_postgresql_are_a_503(
    loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    sigap = make_sigap(tmp_path, f"postgresql+psycopg://sigap:secret-pw@127.0.0.1:{port}/sigap")
    reply = get(loop, sigap, "/api/scores")
    assert (reply.status, reply.json()["error"]) == (503, "score database unavailable")
    assert b"secret-pw" not in reply.body


def test_the_document_is_served_as_yaml_and_json(
    loop: asyncio.AbstractEventLoop, sigap: SigapApp
) -> None:
    as_yaml = get(loop, sigap, "/api/openapi.yaml")
    assert as_yaml.content_type == "application/yaml"
    assert yaml.safe_load(as_yaml.body) == document()
    assert get(loop, sigap, "/api/openapi.json").json() == document()


def test_scores_come_in_bounded_pages(loop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    import math
    from datetime import datetime, timedelta

    from sqlalchemy.orm import Session

    from sigap.storage.database import make_engine
    from sigap.storage.scores import upsert_views
    from tests.storage.test_scores import views_of

    url = f"sqlite:///{tmp_path / 'scores.db'}"
    engine = make_engine(url)
    start = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
    with Session(engine) as session, session.begin():
        for day in range(12):
            for unit in ("dlh", "dsda"):
                views = views_of(f"{unit}{day}", unit, start + timedelta(days=day), 600)
                upsert_views(session, views, -math.inf, 0.0, registry=REGISTRY)
    engine.dispose()
    app = make_sigap(tmp_path, url)
    whole = get(loop, app, "/api/scores").json()
    assert whole["total"] == len(whole["scores"]) == 24 and whole["next_offset"] is None
    pages, offset = [], 0
    while offset is not None:
        reply = get(loop, app, "/api/scores", [("limit", "5"), ("offset", str(offset))])
        assert reply.status == 200, reply.body
        body = reply.json()
        assert len(body["scores"]) <= 5 and body["total"] == 24
        pages.extend(body["scores"])
        offset = body["next_offset"]
    assert pages == whole["scores"]
