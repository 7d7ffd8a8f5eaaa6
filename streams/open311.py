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
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from faust import web

from sigap.core.open311 import (
    Open311Error,
    one_request,
    parse_request_query,
    service_requests,
    services,
)
from sigap.core.unit_view import UnitView
from streams.api import JSON, ApiView, _query

if TYPE_CHECKING:
    from streams.app import SigapApp

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"


def _decoded(data: Any) -> dict[str, Any]:
    value = orjson.loads(data) if isinstance(data, bytes | bytearray) else data
    return dict(value)


class Open311:
    """What the views serve, from the unit stage's `unit-views` table."""

    def __init__(self, sigap: SigapApp) -> None:
        self.sigap = sigap

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

    def holder_views(self) -> Iterator[UnitView]:
        """The views of the holding units served here (others are skipped before decoding)."""
        owned = self._owned_units()
        for key, data in list(self.sigap.unit_stage.unit_views.items()):
            unit = str(key).partition("|")[0]
            if unit not in owned:
                continue
            stored = _decoded(data)["v"]
            if stored.get("h"):
                yield UnitView.from_json(stored)

    def views_of(self, request_id: str) -> Iterator[UnitView]:
        """The served views of one complaint: one table read per unit."""
        table = self.sigap.unit_stage.unit_views
        for unit in sorted(self._owned_units()):
            data = table.get(f"{unit}|{request_id}")
            if data:
                yield UnitView.from_json(_decoded(data)["v"])

    def services(self) -> list[dict[str, Any]]:
        return services(self.registry)

    def requests(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        parsed = parse_request_query(query, self.registry, self.now())
        if parsed.ids:
            views: Iterator[UnitView] = (
                view for request_id in parsed.ids for view in self.views_of(request_id)
            )
        else:
            views = self.holder_views()
        return service_requests(views, self.registry, parsed)

    def request(self, request_id: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        unknown = sorted(set(query) - {"jurisdiction_id"})
        if unknown:
            raise Open311Error(400, f"unknown parameter {unknown[0]!r}; known: jurisdiction_id")
        return one_request(self.views_of(request_id), self.registry, request_id)


class Open311View(ApiView):
    """GeoReport replies: JSON lists, errors as [{"code", "description"}]."""

    open311: ClassVar[Open311]

    def _reply(self, body: Any, status: int = 200) -> web.Response:
        headers = {"Allow": "GET, HEAD"} if status == 405 else None
        return self.bytes(orjson.dumps(body), content_type=JSON, status=status, headers=headers)

    async def _not_allowed(self, request: web.Request, **_: Any) -> web.Response:
        error = Open311Error(405, f"{request.method}: this Open311 endpoint is read-only")
        return self._reply(error.body(), error.status)

    async def get(self, request: web.Request, **match: Any) -> web.Response:
        try:
            body = self.serve_open311(_query(request), **match)
        except Open311Error as error:
            return self._reply(error.body(), error.status)
        except Exception:
            log.exception("Open311 request %s failed", self.path)
            return self._reply(Open311Error(500, "internal error").body(), 500)
        return self._reply(body)

    def serve_open311(self, query: dict[str, list[str]], **match: Any) -> Any:
        raise NotImplementedError


class ServicesView(Open311View):
    path = PREFIX + "/services.json"

    def serve_open311(self, query: dict[str, list[str]], **match: Any) -> Any:
        unknown = sorted(set(query) - {"jurisdiction_id"})
        if unknown:
            raise Open311Error(400, f"unknown parameter {unknown[0]!r}; known: jurisdiction_id")
        return self.open311.services()


class RequestsView(Open311View):
    path = PREFIX + "/requests.json"

    def serve_open311(self, query: dict[str, list[str]], **match: Any) -> Any:
        return self.open311.requests(query)


class RequestView(Open311View):
    path = PREFIX + "/requests/{request_id}.json"

    def serve_open311(self, query: dict[str, list[str]], **match: Any) -> Any:
        return self.open311.request(str(match["request_id"]), query)


OPEN311_VIEWS: tuple[type[Open311View], ...] = (ServicesView, RequestsView, RequestView)


def register_open311(sigap: SigapApp) -> Open311:
    """Add the GeoReport v2 views to the worker's web server."""
    open311 = Open311(sigap)
    for view in OPEN311_VIEWS:
        bound = type(view.__name__, (view,), {"open311": open311, "__module__": __name__})
        sigap.faust_app.page(view.path, name=f"sigap-open311-{view.__name__}")(bound)
    return open311
