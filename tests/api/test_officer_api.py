"""`GET /api/officers/scores` on the worker's real aiohttp app, in process: officer scores
are served only with the bearer token SIGAP_OFFICER_TOKEN (disabled without it, 401 with
`WWW-Authenticate: Bearer` for a missing or wrong token), and what is served equals what
batch replay computes from the same events. Every reply is validated against
streams/openapi.yaml. The real worker on the real broker: tests/officers/test_privacy.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from sigap.replay import replay
from sigap.settings import Settings
from streams.app import SigapApp
from tests.api.helpers import Reply, validate
from tests.conftest import free_port
from tests.officers.dataset import BY_HAND, CODES, EVENTS, FAR_FUTURE, MONDAY, build_database
from tests.officers.test_storage import REGISTRY, comparable
from tests.streams.test_agents import in_process_app

BASE = "http://127.0.0.1:6066"
PATH = "/api/officers/scores"
TOKEN = "0123456789abcdef" * 4
WRONG = TOKEN[:-1] + "0"  # same length, last character differs


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    build_database(url)
    return url


def make_sigap(tmp_path: Path, database_url: str, token: str | None) -> SigapApp:
    settings = Settings(
        store_url="memory://",
        state_dir=str(tmp_path / "state"),
        app_id="sigap-officer-api-test",
        database_url=database_url,
        officer_token=None if token is None else SecretStr(token),
    )
    return in_process_app(settings)


def fetch(
    loop: asyncio.AbstractEventLoop,
    sigap: SigapApp,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
) -> Reply:
    async def go() -> Reply:
        server = TestServer(sigap.faust_app.web.web_app, port=free_port())
        async with TestClient(server) as client:
            response = await client.request(
                method, path, params=list(query), headers=dict(headers or {})
            )
            body = await response.read()
            return Reply(response.status, response.content_type, dict(response.headers), body)

    reply = loop.run_until_complete(go())
    if method == "GET":
        validate(BASE, path, reply, query=query)
    return reply


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_no_officer_code(reply: Reply) -> None:
    leaked = [code for code in CODES if code.encode() in reply.body]
    assert not leaked, (leaked, reply.body[:300])
    assert b"unassigned" not in reply.body


def test_without_a_configured_token_officer_data_is_not_enabled(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, database_url: str
) -> None:
    sigap = make_sigap(tmp_path, database_url, None)
    for headers in ({}, bearer(TOKEN), bearer("")):
        reply = fetch(loop, sigap, PATH, [("unit", "dlh")], headers)
        assert reply.status == 404, reply.body
        assert reply.json()["error"] == "officer data not enabled"
        assert "not enabled" in reply.json()["detail"]
        assert_no_officer_code(reply)
    # The unit scores are served as before, without any officer code.
    unit_scores = fetch(loop, sigap, "/api/scores", MONDAY)
    assert unit_scores.status == 200 and unit_scores.json()["total"] == 2
    assert_no_officer_code(unit_scores)


@pytest.mark.parametrize(
    ("headers", "invalid_token"),
    [
        ({}, False),
        ({"Authorization": ""}, False),
        ({"Authorization": "Bearer"}, False),
        ({"Authorization": f"Basic {TOKEN}"}, False),
        ({"Authorization": TOKEN}, False),
        (bearer(WRONG), True),
        (bearer(TOKEN[:-1]), True),
        (bearer(TOKEN + "0"), True),
        (bearer(TOKEN.upper()), True),
    ],
)
def test_a_missing_or_wrong_token_is_a_401_with_a_bearer_challenge(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    database_url: str,
    headers: dict[str, str],
    invalid_token: bool,
) -> None:
    sigap = make_sigap(tmp_path, database_url, TOKEN)
    # Checked before the parameters: a bad parameter tells nothing to a caller without it.
    for query in ([("unit", "dlh")], [("officer", "Not A Code")], [("revision", "1")]):
        reply = fetch(loop, sigap, PATH, query, headers)
        assert reply.status == 401, (headers, query, reply.body)
        assert reply.json()["error"] == "unauthorized"
        challenge = reply.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="sigap-officers"')
        assert ('error="invalid_token"' in challenge) == invalid_token
        assert_no_officer_code(reply)
        assert TOKEN.encode() not in reply.body


def test_with_the_token_the_officer_scores_are_those_replay_computes(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sigap = make_sigap(tmp_path, database_url, TOKEN)
    with caplog.at_level(logging.DEBUG):
        reply = fetch(loop, sigap, PATH, MONDAY, bearer(TOKEN))
    assert reply.status == 200, reply.body
    body = reply.json()
    assert "pseudonymous" in body["about"] and "HR system" in body["about"]
    rows = body["scores"]
    assert body["total"] == len(rows) == len(BY_HAND) and body["next_offset"] is None
    assert {
        (row["unit"], row["officer"]): (row["received"], row["resolved"]) for row in rows
    } == BY_HAND
    # The same rows as batch replay of the same events (core, not storage).
    expected = [
        score.as_json()
        for score in replay(EVENTS, REGISTRY, as_of=FAR_FUTURE).officer_scores
        if score.score.period == "day"
        and score.score.category == "*"
        and score.score.period_start.isoformat() == "2026-11-02"
    ]
    assert sorted(map(comparable, rows)) == sorted(map(comparable, expected))
    # Conservation: the officers' counts add up to each unit's served score.
    units = fetch(loop, sigap, "/api/scores", MONDAY).json()["scores"]
    assert {row["unit"] for row in units} == {"dlh", "dsda"}
    for unit_row in units:
        mine = [row for row in rows if row["unit"] == unit_row["unit"]]
        for column in ("received", "responded", "resolved", "response_met", "resolution_met"):
            assert sum(row[column] for row in mine) == unit_row[column], (unit_row["unit"], column)
    # Neither the token nor an officer code is logged.
    assert TOKEN not in caplog.text
    assert not [code for code in CODES if code in caplog.text]


def test_officer_scores_can_be_selected_by_unit_officer_and_category(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, database_url: str
) -> None:
    sigap = make_sigap(tmp_path, database_url, TOKEN)

    def served(*query: tuple[str, str]) -> set[tuple[str, str, str]]:
        reply = fetch(loop, sigap, PATH, [*MONDAY, *query], bearer(TOKEN))
        assert reply.status == 200, reply.body
        return {(r["unit"], r["officer"], r["category"]) for r in reply.json()["scores"]}

    assert served(("unit", "dsda")) == {("dsda", CODES[2], "*")}
    assert served(("officer", CODES[1]), ("officer", "unassigned")) == {
        ("dlh", CODES[1], "*"),
        ("dlh", "unassigned", "*"),
    }
    assert served(("unit", "dlh"), ("category", "other")) == {
        ("dlh", officer, "other") for officer in (CODES[0], CODES[1], "unassigned")
    }
    later = fetch(loop, sigap, PATH, [("unit", "dlh"), ("from", "2026-11-03")], bearer(TOKEN))
    assert later.status == 200 and later.json()["scores"] == []
    quarter = fetch(loop, sigap, PATH, [("period", "quarter")], bearer(TOKEN)).json()
    assert {(r["officer"], r["period_start"]) for r in quarter["scores"]} == {
        (officer, "2026-10-01") for _, officer in BY_HAND
    }


BAD_QUERIES = [
    ([("officer", "Budi Santoso")], "officer"),
    ([("officer", "")], "officer"),
    ([("revision", "1")], "revision"),
    ([("period", "year")], "period"),
    ([("unit", "DLH")], "unit"),
    ([("limit", "0")], "limit"),
    ([("limit", "1001")], "limit"),
    ([("offset", "-1")], "offset"),
    ([("from", "2026-11-03"), ("to", "2026-11-02")], "to"),
]


@pytest.mark.parametrize(("query", "parameter"), BAD_QUERIES)
def test_with_the_token_a_bad_parameter_is_a_400_naming_it(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    database_url: str,
    query: list[tuple[str, str]],
    parameter: str,
) -> None:
    sigap = make_sigap(tmp_path, database_url, TOKEN)
    reply = fetch(loop, sigap, PATH, query, bearer(TOKEN))
    assert reply.status == 400, reply.body
    assert reply.json()["parameter"] == parameter


def test_officer_scores_come_in_bounded_pages(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, database_url: str
) -> None:
    sigap = make_sigap(tmp_path, database_url, TOKEN)
    query = [*MONDAY, ("category", "*"), ("category", "other")]
    whole = fetch(loop, sigap, PATH, query, bearer(TOKEN)).json()
    assert whole["total"] == len(whole["scores"]) == 2 * len(BY_HAND)
    assert whole["limit"] == 1000
    pages: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        reply = fetch(
            loop, sigap, PATH, [*query, ("limit", "3"), ("offset", str(offset))], bearer(TOKEN)
        )
        body = reply.json()
        assert len(body["scores"]) <= 3 and body["total"] == whole["total"]
        pages.extend(body["scores"])
        offset = body["next_offset"]
    assert pages == whole["scores"]


def test_officer_scores_without_a_database_are_a_503(
    loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    sigap = make_sigap(tmp_path, f"sqlite:///{tmp_path / 'absent' / 'scores.db'}", TOKEN)
    reply = fetch(loop, sigap, PATH, headers=bearer(TOKEN))
    assert (reply.status, reply.json()["error"]) == (503, "score database unavailable")
    assert not (tmp_path / "absent").exists()


def test_other_methods_are_a_405_with_or_without_the_token(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, database_url: str
) -> None:
    sigap = make_sigap(tmp_path, database_url, TOKEN)
    for headers in ({}, bearer(TOKEN)):
        reply = fetch(loop, sigap, PATH, headers=headers, method="POST")
        assert reply.status == 405 and reply.headers["Allow"] == "GET, HEAD"
