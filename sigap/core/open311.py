"""Open311 GeoReport v2 (read-only): the services and service requests of the live state.

Pure (no clock reads, no I/O): the worker's `/open311/v2/...` endpoints (streams/open311.py)
and batch replay (`sigap.replay.replay(...).views`) build their replies with these functions
from the same unit views, with "now" passed in (the latest watermark in the worker), so a
test can compare the two.

Mapping (docs/api.md, "Open311 GeoReport v2")
---------------------------------------------
- A **service** is a registry category (`categories:`), plus `other`, the label of every
  complaint whose category the registry does not name: service_code = the code,
  service_name = the name, group and keywords = the complexity tier, metadata false, type
  realtime.
- A **service request** is a complaint, as the unit holding it sees it (its view with
  `holder`): service_request_id = complaint_id, agency_responsible = the holding unit,
  status open/closed, requested_datetime = created, updated_datetime = the complaint's latest
  event, expected_datetime = the resolution deadline of the holding unit (on its working
  calendar, pauses and extensions included), null when the unit has no resolution timer.
- No personal data: description, address, lat/long and media_url are always null.

Queries follow the specification: `service_request_id` (comma list, at most
MAX_REQUEST_IDS) overrides every other filter; `start_date`/`end_date` (W3C datetimes with a
zone) select on requested_datetime, default to the most recent 90 days before now and may
not span more than 90 days; `status` and `service_code` are comma lists. Pages are bounded:
`page_size` at most MAX_PAGE_SIZE (the default), `page` from 1. Newest request first.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sigap.core.registry import Registry
from sigap.core.unit_view import OTHER_CATEGORY, UnitView

SERVICE_TYPE: Final = "realtime"
OTHER_SERVICE_NAME: Final = "Lainnya (kategori di luar registri)"
STATUSES: Final = ("open", "closed")
RANGE_SECONDS: Final = 90 * 86400.0  # the specification's default and largest date range
MAX_PAGE_SIZE: Final = 1000
MAX_PAGE: Final = 1_000_000
MAX_REQUEST_IDS: Final = 100
MAX_ID_LENGTH: Final = 128
REQUEST_PARAMETERS: Final = (
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
    "page",
    "page_size",
    "jurisdiction_id",
)
# W3C-DTF complete date plus time, with seconds and optional fraction, and a zone designator.
W3C_DATETIME_RE: Final = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
WHOLE_RE: Final = re.compile(r"^[0-9]{1,9}$")


class Open311Error(Exception):
    """A GeoReport error reply: HTTP status and [{"code", "description"}]."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def body(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": self.description}]


def w3c(epoch: float | None) -> str | None:
    """An instant as a W3C datetime in UTC, to the second (``2026-12-06T03:04:05Z``)."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def services(registry: Registry) -> list[dict[str, Any]]:
    """GET services.json: every registry category, then `other`."""
    listed = [
        {
            "service_code": spec.code,
            "service_name": spec.name,
            "description": f"{spec.name} (tingkat kompleksitas: {spec.tier})",
            "metadata": False,
            "type": SERVICE_TYPE,
            "keywords": spec.tier,
            "group": spec.tier,
        }
        for spec in sorted(registry.category_specs.values(), key=lambda s: s.code)
    ]
    listed.append(
        {
            "service_code": OTHER_CATEGORY,
            "service_name": OTHER_SERVICE_NAME,
            "description": "Pengaduan tanpa kategori registri",
            "metadata": False,
            "type": SERVICE_TYPE,
            "keywords": OTHER_CATEGORY,
            "group": OTHER_CATEGORY,
        }
    )
    return listed


def service_codes(registry: Registry) -> frozenset[str]:
    return frozenset({*registry.category_specs, OTHER_CATEGORY})


def service_name(registry: Registry, code: str) -> str:
    spec = registry.category_specs.get(code)
    return spec.name if spec is not None else OTHER_SERVICE_NAME


@dataclass(frozen=True)
class RequestQuery:
    ids: tuple[str, ...] = ()  # when given, every other filter is ignored (the spec's rule)
    service_codes: frozenset[str] | None = None
    start: float = 0.0
    end: float = 0.0
    statuses: frozenset[str] = frozenset(STATUSES)
    page: int = 1
    page_size: int = MAX_PAGE_SIZE

    def keeps(self, request: ServiceRequest) -> bool:
        if self.ids:
            return request.service_request_id in self.ids
        if self.service_codes is not None and request.service_code not in self.service_codes:
            return False
        return self.start <= request.requested_at <= self.end and request.status in self.statuses


def _single(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name, ())
    if not values:
        return None
    if len(values) > 1:
        raise Open311Error(400, f"{name}: given {len(values)} times; give it at most once")
    return values[0]


def _comma_list(query: Mapping[str, Sequence[str]], name: str) -> list[str] | None:
    """Repeated and comma-delimited values alike (the specification allows both)."""
    values = query.get(name, ())
    if not values:
        return None
    items = [item.strip() for value in values for item in value.split(",")]
    if not all(items):
        raise Open311Error(400, f"{name}: an empty item in the list")
    return items


def parse_w3c(text: str, name: str) -> float:
    if not W3C_DATETIME_RE.match(text):
        raise Open311Error(
            400, f"{name}: {text!r} is not a W3C datetime with a zone (2026-12-01T00:00:00Z)"
        )
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as error:
        raise Open311Error(400, f"{name}: {text!r}: {error}") from None


def _whole(query: Mapping[str, Sequence[str]], name: str, low: int, high: int, default: int) -> int:
    text = _single(query, name)
    if text is None:
        return default
    if not WHOLE_RE.match(text) or not low <= int(text) <= high:
        raise Open311Error(400, f"{name}: {text!r} is not a whole number from {low} to {high}")
    return int(text)


def parse_request_query(
    query: Mapping[str, Sequence[str]], registry: Registry, now: float
) -> RequestQuery:
    """The filters of GET requests.json (name -> every value given); Open311Error (400)."""
    for name in query:
        if name not in REQUEST_PARAMETERS:
            raise Open311Error(
                400, f"unknown parameter {name!r}; known: {', '.join(REQUEST_PARAMETERS)}"
            )
    _single(query, "jurisdiction_id")  # one jurisdiction: accepted, and ignored
    page = _whole(query, "page", 1, MAX_PAGE, 1)
    page_size = _whole(query, "page_size", 1, MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    ids = _comma_list(query, "service_request_id")
    if ids is not None:
        if len(ids) > MAX_REQUEST_IDS:
            raise Open311Error(400, f"service_request_id: at most {MAX_REQUEST_IDS} ids")
        if any(len(item) > MAX_ID_LENGTH for item in ids):
            raise Open311Error(400, f"service_request_id: ids have at most {MAX_ID_LENGTH} chars")
        return RequestQuery(ids=tuple(dict.fromkeys(ids)), page=page, page_size=page_size)
    codes = _comma_list(query, "service_code")
    if codes is not None:
        unknown = sorted(set(codes) - service_codes(registry))
        if unknown:
            raise Open311Error(400, f"service_code: unknown {', '.join(unknown)} (services.json)")
    statuses = _comma_list(query, "status")
    if statuses is not None and not set(statuses) <= set(STATUSES):
        raise Open311Error(400, f"status: one or more of {', '.join(STATUSES)}")
    start_text = _single(query, "start_date")
    end_text = _single(query, "end_date")
    start = None if start_text is None else parse_w3c(start_text, "start_date")
    end = None if end_text is None else parse_w3c(end_text, "end_date")
    if start is None and end is None:
        start, end = now - RANGE_SECONDS, now
    elif start is None:
        assert end is not None
        start = end - RANGE_SECONDS
    elif end is None:
        end = start + RANGE_SECONDS
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > RANGE_SECONDS:
        raise Open311Error(400, "start_date to end_date spans more than 90 days")
    return RequestQuery(
        service_codes=None if codes is None else frozenset(codes),
        start=start,
        end=end,
        statuses=frozenset(STATUSES) if statuses is None else frozenset(statuses),
        page=page,
        page_size=page_size,
    )


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    service_request_id: str
    status: str
    service_code: str
    agency_responsible: str
    requested_at: float
    updated_at: float
    expected_at: float | None

    def as_json(self, registry: Registry) -> dict[str, Any]:
        return {
            "service_request_id": self.service_request_id,
            "status": self.status,
            "status_notes": None,
            "service_name": service_name(registry, self.service_code),
            "service_code": self.service_code,
            "description": None,
            "agency_responsible": self.agency_responsible,
            "service_notice": None,
            "requested_datetime": w3c(self.requested_at),
            "updated_datetime": w3c(self.updated_at),
            "expected_datetime": w3c(self.expected_at),
            "address": None,
            "address_id": None,
            "zipcode": None,
            "lat": None,
            "long": None,
            "media_url": None,
        }


def service_request(view: UnitView) -> ServiceRequest | None:
    """The request of a complaint from its holding unit's view; None for any other view."""
    if not view.holder or view.deleted:
        return None
    resolution = view.timers.get("resolution")
    return ServiceRequest(
        service_request_id=view.complaint_id,
        status="open" if view.open else "closed",
        service_code=view.category,
        agency_responsible=view.unit,
        requested_at=view.created_at,
        updated_at=view.as_of,
        expected_at=None if resolution is None else resolution.deadline,
    )


def _order(request: ServiceRequest) -> tuple[float, str]:
    return (-request.requested_at, request.service_request_id)


def service_requests(
    views: Iterable[UnitView], registry: Registry, query: RequestQuery
) -> list[dict[str, Any]]:
    """GET requests.json: one page of the requests the query selects, newest first
    (``query`` comes from parse_request_query at the same ``now``)."""
    return requests_page(selected_requests(views, query), registry, query)


def selected_requests(views: Iterable[UnitView], query: RequestQuery) -> list[ServiceRequest]:
    """The requests of ``views`` that ``query`` keeps, in any order: a caller reading the
    views in parts (streams.open311's walk) adds up each part's and pages them once."""
    selected = []
    for view in views:
        request = service_request(view)
        if request is not None and query.keeps(request):
            selected.append(request)
    return selected


def first_requests(selected: list[ServiceRequest], count: int) -> list[ServiceRequest]:
    """The first ``count`` of ``selected`` in page order (newest first): all that the pages
    up to the ``count``-th request need (``sorted(...)[:count]``, without sorting all)."""
    return heapq.nsmallest(count, selected, key=_order)


def requests_page(
    selected: list[ServiceRequest], registry: Registry, query: RequestQuery
) -> list[dict[str, Any]]:
    """The page ``query`` asks for of the ``selected`` requests, newest first."""
    ordered = sorted(selected, key=_order)
    first = (query.page - 1) * query.page_size
    return [r.as_json(registry) for r in ordered[first : first + query.page_size]]


def one_request(
    views: Iterable[UnitView], registry: Registry, request_id: str
) -> list[dict[str, Any]]:
    """GET requests/{id}.json: a list of the one request, or Open311Error 404."""
    for view in views:
        request = service_request(view)
        if request is not None and request.service_request_id == request_id:
            return [request.as_json(registry)]
    raise Open311Error(404, f"no service request {request_id!r}")
