"""Open311 GeoReport v2 of a real `sigap worker` on a real Kafka broker, read with a real
GeoReport v2 client from PyPI (`georeport`), against values worked out by hand
(tests/api/open311_cases.py, expected_datetime by an independent working-day count) and
against what core.open311 computes from a replay of the same events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pytest
import requests
from georeport import GeoReport

from schemas.events import parse_event
from sigap.core.open311 import parse_request_query, service_requests
from sigap.core.registry_file import load_registry
from sigap.replay import replay
from tests.api.helpers import ROOT, call
from tests.api.open311_cases import EVENTS, EXPECTED, PERSONAL, RECEIPTS, close_of_working_day
from tests.integration.processes import http_get, run_sigap, running_stack, wait_for

pytestmark = pytest.mark.kafka

REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
RANGE = {"start_date": "2026-11-01T00:00:00Z", "end_date": "2026-12-01T00:00:00Z"}


@pytest.fixture(scope="module")
def base(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The worker's web server once it holds every request of the events."""
    tmp = tmp_path_factory.mktemp("open311")
    with running_stack({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, tmp) as stack:
        url = stack.metrics_url.removesuffix("/metrics")
        up = wait_for(lambda: http_get(url + "/open311/v2/services.json"), bool, 180, "Open311")
        assert up, stack.worker.log_text()[-3000:]
        jsonl = tmp / "events.jsonl"
        jsonl.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
        published = run_sigap(["publish", str(jsonl)], stack.env)
        assert published.returncode == 0, published.stderr

        def probe() -> list[Any]:
            reply = call(url, "/open311/v2/requests.json", list(RANGE.items()))
            return reply.json() if reply.status == 200 else []

        def settled(found: list[Any]) -> bool:
            by_id = {r["service_request_id"]: r for r in found}
            return set(by_id) == set(EXPECTED) and all(
                by_id[k]["updated_datetime"] == v["updated_datetime"] for k, v in EXPECTED.items()
            )

        found = wait_for(probe, settled, 180, "the requests in Open311")
        assert settled(found), (found, stack.worker.log_text()[-3000:])
        yield url


def client(base: str) -> GeoReport:
    return GeoReport(base + "/open311/v2", output_format="json")


def test_the_client_lists_the_registry_categories_as_services(base: str) -> None:
    listed = client(base).get_service_list()
    codes = [service["service_code"] for service in listed]
    assert codes == [*sorted(REGISTRY.category_specs), "other"]
    for service in listed:
        assert service["metadata"] is False and service["type"] == "realtime"
        spec = REGISTRY.category_specs.get(service["service_code"])
        if spec is not None:
            assert service["service_name"] == spec.name and service["group"] == spec.tier


def test_the_client_reads_each_request_with_the_hand_computed_fields(base: str) -> None:
    georeport = client(base)
    found = georeport.get_service_requests(**RANGE)
    assert [r["service_request_id"] for r in found] == ["o311-4", "o311-3", "o311-2", "o311-1"]
    for request in found:
        request_id = request["service_request_id"]
        expected = EXPECTED[request_id]
        assert {k: request[k] for k in expected} == expected, request_id
        received, days = RECEIPTS[request_id]
        assert request["expected_datetime"] == close_of_working_day(received, days)
        assert all(request[field] is None for field in PERSONAL), request_id
        assert georeport.get_service_request(request_id) == request


def test_the_clients_filters_select_what_the_specification_says(base: str) -> None:
    georeport = client(base)

    def ids(**query: str) -> list[str]:
        return [r["service_request_id"] for r in georeport.get_service_requests(**query)]

    assert ids(status="closed", **RANGE) == ["o311-2"]
    assert ids(status="open", service_code="waste,pollution", **RANGE) == ["o311-3", "o311-1"]
    assert ids(start_date="2026-11-20T08:00:00Z", end_date="2026-11-30T00:00:00+07:00") == [
        "o311-4",
        "o311-3",
    ]
    # The id list overrides the other filters.
    assert ids(service_request_id="o311-1,o311-2,unknown", status="open") == ["o311-2", "o311-1"]
    # Without dates: the 90 days before the worker's watermark (now): every request.
    assert set(ids()) == set(EXPECTED)


def test_the_live_requests_equal_what_replay_computes_from_the_same_events(base: str) -> None:
    views = replay([parse_event(orjson.dumps(e)) for e in EVENTS], REGISTRY).views
    for query in ({**RANGE}, {**RANGE, "status": "open"}, {**RANGE, "service_code": "other"}):
        now = datetime.fromisoformat("2026-12-06T00:00:00+00:00").timestamp()  # dates given
        parsed = parse_request_query({k: [v] for k, v in query.items()}, REGISTRY, now)
        assert client(base).get_service_requests(**query) == service_requests(
            views, REGISTRY, parsed
        )


def test_errors_are_georeport_error_lists_with_400_and_404(base: str) -> None:
    georeport = client(base)
    with pytest.raises(requests.HTTPError) as raised:
        georeport.get_service_request("o311-9")
    assert raised.value.response.status_code == 404
    assert raised.value.response.json() == [
        {"code": 404, "description": "no service request 'o311-9'"}
    ]
    for query in ({"status": "pending"}, {"start_date": "yesterday"}, {"service_code": "x"}):
        with pytest.raises(requests.HTTPError) as raised:
            georeport.get_service_requests(**query)
        assert raised.value.response.status_code == 400, query
        [error] = raised.value.response.json()
        assert error["code"] == 400 and next(iter(query)) in error["description"]
    reply = call(base, "/open311/v2/requests.json", method="POST")
    assert reply.status == 405 and reply.json()[0]["code"] == 405


def test_page_size_is_bounded_at_1000(base: str) -> None:
    reply = call(base, "/open311/v2/requests.json", [("page_size", "1001")])
    assert reply.status == 400
    pages = [
        call(base, "/open311/v2/requests.json", [*RANGE.items(), ("page_size", "3"), ("page", p)])
        for p in ("1", "2")
    ]
    assert [len(page.json()) for page in pages] == [3, 1]
