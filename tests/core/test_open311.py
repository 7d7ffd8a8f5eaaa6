"""sigap.core.open311 on the views a replay computes: the GeoReport v2 fields equal the values
worked out by hand (tests/api/open311_cases.py), and the query rules of the specification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from schemas.events import parse_event
from sigap.core.open311 import (
    MAX_PAGE_SIZE,
    Open311Error,
    one_request,
    parse_request_query,
    service_requests,
    services,
)
from sigap.core.registry_file import load_registry
from sigap.replay import replay
from tests.api.helpers import ROOT
from tests.api.open311_cases import (
    EVENTS,
    EXPECTED,
    PERSONAL,
    RECEIPTS,
    close_of_working_day,
)

REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
VIEWS = replay([parse_event(orjson.dumps(e)) for e in EVENTS], REGISTRY).views
NOW = datetime.fromisoformat("2026-12-06T10:00:00+00:00").timestamp()


def requests(**query: str) -> list[dict[str, Any]]:
    parsed = parse_request_query({k: [v] for k, v in query.items()}, REGISTRY, NOW)
    return service_requests(VIEWS, REGISTRY, parsed)


def test_each_request_has_the_hand_computed_fields_and_no_personal_data() -> None:
    found = {r["service_request_id"]: r for r in requests()}
    assert set(found) == set(EXPECTED)
    for request_id, expected in EXPECTED.items():
        request = found[request_id]
        assert {k: request[k] for k in expected} == expected, request_id
        assert all(request[field] is None for field in PERSONAL), request_id


def test_expected_datetime_is_the_close_of_the_nth_working_day_of_the_holding_unit() -> None:
    found = {r["service_request_id"]: r for r in requests()}
    for request_id, (received, days) in RECEIPTS.items():
        assert found[request_id]["expected_datetime"] == close_of_working_day(received, days)


def test_requests_are_newest_first_and_filtered_by_status_code_and_dates() -> None:
    assert [r["service_request_id"] for r in requests()] == [
        "o311-4",
        "o311-3",
        "o311-2",
        "o311-1",
    ]
    assert [r["service_request_id"] for r in requests(status="closed")] == ["o311-2"]
    assert {r["service_request_id"] for r in requests(status="open,closed")} == set(EXPECTED)
    assert [r["service_request_id"] for r in requests(service_code="waste,other")] == [
        "o311-4",
        "o311-1",
    ]
    window = requests(start_date="2026-11-04T03:00:00Z", end_date="2026-11-20T08:00:00+00:00")
    assert [r["service_request_id"] for r in window] == ["o311-3", "o311-2"]  # inclusive
    # The id list overrides every other filter (the specification's rule).
    assert [
        r["service_request_id"] for r in requests(service_request_id="o311-2,nope", status="open")
    ] == ["o311-2"]


def test_without_dates_the_range_is_the_90_days_before_now() -> None:
    later = datetime.fromisoformat("2027-02-10T00:00:00+00:00").timestamp()
    parsed = parse_request_query({}, REGISTRY, later)  # 90 days back: 12 Nov 2026
    assert [r["service_request_id"] for r in service_requests(VIEWS, REGISTRY, parsed)] == [
        "o311-4",
        "o311-3",
    ]


def test_pages_are_bounded_and_the_default_is_the_largest_page() -> None:
    assert parse_request_query({}, REGISTRY, NOW).page_size == MAX_PAGE_SIZE == 1000
    pages = [requests(page_size="3", page=str(n)) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 1, 0]
    assert pages[0] + pages[1] == requests()


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"status": ["pending"]}, "status"),
        ({"service_code": ["nonsense"]}, "service_code"),
        ({"start_date": ["2026-11-01"]}, "W3C"),
        ({"start_date": ["2026-11-01T00:00:00"]}, "W3C"),  # no zone
        ({"start_date": ["2026-08-01T00:00:00Z"], "end_date": ["2026-12-01T00:00:00Z"]}, "90"),
        ({"start_date": ["2026-12-01T00:00:00Z"], "end_date": ["2026-11-01T00:00:00Z"]}, "before"),
        ({"page_size": ["1001"]}, "page_size"),
        ({"page": ["0"]}, "page"),
        ({"service_request_id": [",".join(str(n) for n in range(101))]}, "at most"),
        ({"address": ["x"]}, "unknown parameter"),
        ({"status": ["open", "closed"], "page": ["1", "2"]}, "at most once"),
    ],
)
def test_a_bad_query_is_a_georeport_400(query: dict[str, list[str]], words: str) -> None:
    with pytest.raises(Open311Error) as raised:
        parse_request_query(query, REGISTRY, NOW)
    assert raised.value.status == 400
    [error] = raised.value.body()
    assert error["code"] == 400 and words in error["description"]


def test_one_request_or_a_georeport_404() -> None:
    [request] = one_request(VIEWS, REGISTRY, "o311-3")
    assert request["agency_responsible"] == "dishub"
    with pytest.raises(Open311Error) as raised:
        one_request(VIEWS, REGISTRY, "o311-9")
    assert raised.value.body() == [{"code": 404, "description": "no service request 'o311-9'"}]


def test_services_are_the_registry_categories_and_other() -> None:
    listed = services(REGISTRY)
    assert [s["service_code"] for s in listed] == [*sorted(REGISTRY.category_specs), "other"]
    waste = next(s for s in listed if s["service_code"] == "waste")
    assert waste["service_name"] == "Sampah dan kebersihan"
    assert waste["metadata"] is False and waste["type"] == "realtime"
    assert waste["group"] == waste["keywords"] == "ordinary"
