"""The OpenAPI document itself: a valid OpenAPI 3.1 document, describing exactly the API
routes the worker registers, with an error schema for every error response."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from sigap.core.registry_file import load_registry
from sigap.settings import Settings
from streams.api import VIEWS
from streams.app import SigapApp, create_app
from tests.api.helpers import ROOT, document

REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")


@pytest.fixture
def sigap(tmp_path: Path) -> Iterator[SigapApp]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    settings = Settings(store_url="memory://", state_dir=str(tmp_path), app_id="sigap-doc")
    yield create_app(settings, REGISTRY)
    loop.close()


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = document()
    assert spec["openapi"].startswith("3.1.")
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema or of references


def test_the_validator_rejects_a_broken_document() -> None:
    # The check above must be able to fail: a dangling reference and a wrong type.
    broken = copy.deepcopy(document())
    schema = broken["paths"]["/api/units"]["get"]["responses"]["200"]["content"]
    schema["application/json"]["schema"] = {"$ref": "#/components/schemas/NoSuchSchema"}
    with pytest.raises((OpenAPIValidationError, Unresolvable)):
        validate(broken)
    broken = copy.deepcopy(document())
    broken["paths"]["/api/scores"]["get"]["parameters"][0]["in"] = "body"
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def api_routes(sigap: SigapApp) -> dict[str, set[str]]:
    """Path -> methods the worker's aiohttp app routes under /api/."""
    routes: dict[str, set[str]] = {}
    for route in sigap.faust_app.web.web_app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/"):
            routes.setdefault(path, set()).add(route.method)
    return routes


def test_the_document_describes_every_api_route_and_only_those(sigap: SigapApp) -> None:
    routes = api_routes(sigap)
    assert set(routes) == set(document()["paths"]) == {view.path for view in VIEWS}
    for path, methods in routes.items():
        # GET and HEAD are served; the other methods are routed only to answer 405.
        assert {"GET", "HEAD"} <= methods, path
        assert set(document()["paths"][path]) == {"get"}, path


def error_responses(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for status, response in operations["get"]["responses"].items():
            if "$ref" in response:
                name = response["$ref"].rsplit("/", 1)[-1]
                response = spec["components"]["responses"][name]
            yield path, status, response


def test_every_response_has_a_schema_and_errors_use_the_error_schema() -> None:
    spec = document()
    for path, status, response in error_responses(spec):
        content = response["content"]
        assert content, (path, status)
        for media in content.values():
            assert "schema" in media, (path, status)
        if int(status) >= 400:
            assert content == {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
            }, (path, status)


def test_the_document_is_shipped_with_the_package() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "openapi.yaml" in project["tool"]["setuptools"]["package-data"]["streams"]
