"""Open311 GeoReport v2, read-only, on the worker's web server (docs/api.md, "Open311
GeoReport v2"): `GET /open311/v2/services.json`, `/open311/v2/requests.json` and
`/open311/v2/requests/{id}.json`, from the live unit views (core.open311 does the rest).

The requests are those of the units this worker serves (one worker: every unit). Errors
are GeoReport's list of {"code", "description"} with status 400, 404 or 405. No personal
data: see core.open311.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from faust import web

from sigap.core.open311 import (
    Open311Error,
    RequestQuery,
    ServiceRequest,
    first_requests,
    one_request,
    parse_request_query,
    requests_page,
    selected_requests,
    service_requests,
    services,
)
from sigap.core.unit_view import UnitView
from streams.api import JSON, ApiView, _query
from streams.loop_share import LoopShare, LoopShareExceeded
from streams.unit_snapshot import stored_values_by_partition

if TYPE_CHECKING:
    from streams.app import SigapApp

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"


def _decoded(data: Any) -> dict[str, Any]:
    value = orjson.loads(data) if isinstance(data, bytes | bytearray) else data
    return dict(value)


# GET requests.json without ids reads every stored view of the units served here: ~22-28 us
# each (decoded, mapped, filtered; bench/open311_walk.py), ~25 s at a million, and on the
# worker's event loop, which also runs the agents. So the walk goes WALK_SLICE views at a
# time, each slice a turn of the worker's LoopShare (streams.loop_share: with the API's
# state-sized replies, at most a quarter of the loop), and a worker runs one such walk at a
# time (another gets a 503): a client, or many, can slow the agents, never stop them.
WALK_SLICE = 500
RETRY_AFTER_SECONDS = 5


class Open311:
    """What the views serve, from the unit stage's `unit-views` table."""

    def __init__(self, sigap: SigapApp, loop_share: LoopShare | None = None) -> None:
        self.sigap = sigap
        self.loop_share = loop_share or LoopShare()
        self._walking = False

    @property
    def registry(self) -> Any:
        return self.sigap.unit_stage.registry

    def _owned_units(self) -> set[str]:
        stage = self.sigap.unit_stage
        partitions = self.sigap.exported_partitions(self.sigap.settings.views_topic)
        return set(stage.owned_units(partitions))

    def now(self) -> float:
        """The latest watermark of the units served here (0 before any event)."""
        stage = self.sigap.unit_stage
        return max((stage.watermark_of(unit) for unit in self._owned_units()), default=0.0)

    def _stored_views(self) -> Iterator[dict[str, Any]]:
        """The stored view of every complaint of the units served here, lazily: on the
        RocksDB store straight from each owned views partition's database (no key decoded;
        a RocksDB iterator reads a consistent snapshot while the agents write), else (a
        test's dict, the memory store) from a copy of the table's items, which a dict needs
        to be read across the walk's pauses."""
        table = self.sigap.unit_stage.unit_views
        partitions = self.sigap.exported_partitions(self.sigap.settings.views_topic)
        by_partition = stored_values_by_partition(table, partitions)
        if by_partition is not None:
            for values in by_partition.values():
                for data in values:
                    yield _decoded(data)["v"]
            return
        owned = self._owned_units()
        for key, data in list(table.items()):
            if str(key).partition("|")[0] in owned:
                yield _decoded(data)["v"]

    def views_of(self, request_id: str) -> Iterator[UnitView]:
        """The served views of one complaint: one table read per unit."""
        table = self.sigap.unit_stage.unit_views
        for unit in sorted(self._owned_units()):
            data = table.get(f"{unit}|{request_id}")
            if data:
                yield UnitView.from_json(_decoded(data)["v"])

    def services(self) -> list[dict[str, Any]]:
        return services(self.registry)

    async def requests(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        parsed = parse_request_query(query, self.registry, self.now())
        if parsed.ids:  # at most 100 ids: one table read per unit each
            views = (view for request_id in parsed.ids for view in self.views_of(request_id))
            return service_requests(views, self.registry, parsed)
        if self._walking:
            raise Open311Error(
                503,
                "another requests.json search is running on this worker; retry in "
                f"{RETRY_AFTER_SECONDS} s, or ask for service_request_id",
            )
        partitions = self.sigap.exported_partitions(self.sigap.settings.views_topic)
        self._walking = True
        try:
            selected = await self._walk(parsed)
        finally:
            self._walking = False
        if self.sigap.exported_partitions(self.sigap.settings.views_topic) != partitions:
            # A rebalance during the walk's pauses: part of what was read may be another
            # worker's now, or half-recovered.
            raise Open311Error(
                503,
                "this worker's partitions changed during the search; retry in "
                f"{RETRY_AFTER_SECONDS} s",
            )
        return requests_page(selected, self.registry, parsed)

    async def _walk(self, query: RequestQuery) -> list[ServiceRequest]:
        """selected_requests over the holding units' views, WALK_SLICE stored views at a
        time (the other units' views are skipped before decoding), each slice in turn on
        the loop share."""
        stored = self._stored_views()
        selected: list[ServiceRequest] = []
        # Only the first `needed` in page order can be on the page asked for: the others
        # are dropped as the walk goes (memory, and no sort of everything at the end).
        needed = query.page * query.page_size

        def next_slice() -> bool:
            """Reads one slice; whether there may be more."""
            nonlocal selected
            part = list(islice(stored, WALK_SLICE))
            holders = (UnitView.from_json(view) for view in part if view.get("h"))
            selected += selected_requests(holders, query)
            if len(selected) > 2 * needed:
                selected = first_requests(selected, needed)
            return len(part) == WALK_SLICE

        try:
            while await self.loop_share.run(next_slice):
                pass
        except LoopShareExceeded as exceeded:
            raise Open311Error(
                503, f"the worker is busy ({exceeded}); retry in {RETRY_AFTER_SECONDS} s"
            ) from None
        return selected

    def request(self, request_id: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        unknown = sorted(set(query) - {"jurisdiction_id"})
        if unknown:
            raise Open311Error(400, f"unknown parameter {unknown[0]!r}; known: jurisdiction_id")
        return one_request(self.views_of(request_id), self.registry, request_id)


class Open311View(ApiView):
    """GeoReport replies: JSON lists, errors as [{"code", "description"}]."""

    open311: ClassVar[Open311]

    def _reply(self, body: Any, status: int = 200) -> web.Response:
        headers = None
        if status == 405:
            headers = {"Allow": "GET, HEAD"}
        elif status == 503:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return self.bytes(orjson.dumps(body), content_type=JSON, status=status, headers=headers)

    async def _not_allowed(self, request: web.Request, **_: Any) -> web.Response:
        error = Open311Error(405, f"{request.method}: this Open311 endpoint is read-only")
        return self._reply(error.body(), error.status)

    async def get(self, request: web.Request, **match: Any) -> web.Response:
        try:
            body = await self.serve_open311(_query(request), **match)
        except Open311Error as error:
            return self._reply(error.body(), error.status)
        except Exception:
            log.exception("Open311 request %s failed", self.path)
            return self._reply(Open311Error(500, "internal error").body(), 500)
        return self._reply(body)

    async def serve_open311(self, query: dict[str, list[str]], **match: Any) -> Any:
        raise NotImplementedError


class ServicesView(Open311View):
    path = PREFIX + "/services.json"

    async def serve_open311(self, query: dict[str, list[str]], **match: Any) -> Any:
        unknown = sorted(set(query) - {"jurisdiction_id"})
        if unknown:
            raise Open311Error(400, f"unknown parameter {unknown[0]!r}; known: jurisdiction_id")
        return self.open311.services()


class RequestsView(Open311View):
    path = PREFIX + "/requests.json"

    async def serve_open311(self, query: dict[str, list[str]], **match: Any) -> Any:
        return await self.open311.requests(query)


class RequestView(Open311View):
    path = PREFIX + "/requests/{request_id}.json"

    async def serve_open311(self, query: dict[str, list[str]], **match: Any) -> Any:
        return self.open311.request(str(match["request_id"]), query)


OPEN311_VIEWS: tuple[type[Open311View], ...] = (ServicesView, RequestsView, RequestView)


def register_open311(sigap: SigapApp, loop_share: LoopShare | None = None) -> Open311:
    """Add the GeoReport v2 views to the worker's web server."""
    open311 = Open311(sigap, loop_share)
    for view in OPEN311_VIEWS:
        bound = type(view.__name__, (view,), {"open311": open311, "__module__": __name__})
        sigap.faust_app.page(view.path, name=f"sigap-open311-{view.__name__}")(bound)
    return open311
