"""Shared by the API tests: the OpenAPI document, response validation with openapi-core,
HTTP calls, and the KPIs of a unit recomputed from a /metrics exposition (independently of
streams/api.py)."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from prometheus_client.parser import text_string_to_metric_families

from metrics import names

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "streams" / "openapi.yaml"


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(document())


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(base: str, path: str, query: Sequence[tuple[str, str]] = (), method: str = "GET") -> Reply:
    """One HTTP request (any status is a reply, not an exception)."""
    url = base + path + (("?" + urlencode(list(query))) if query else "")
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(
                response.status,
                response.headers.get_content_type(),
                dict(response.headers),
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return Reply(
            error.code, error.headers.get_content_type(), dict(error.headers), error.read()
        )


def validate(
    base: str,
    path: str,
    reply: Reply,
    *,
    query: Sequence[tuple[str, str]] = (),
    path_pattern: str | None = None,
    view_args: dict[str, str] | None = None,
    method: str = "GET",
) -> None:
    """Raise unless the reply (status, content type, body) is one the document describes."""
    parts = urlsplit(base)
    request = MockRequest(
        f"{parts.scheme}://{parts.netloc}",
        method.lower(),
        path,
        path_pattern=path_pattern,
        args=list(query),  # type: ignore[arg-type]  # werkzeug's MultiDict takes pairs too
        view_args=view_args,
    )
    # openapi-core has no YAML deserializer: a YAML body is checked as the string it is.
    data: Any = reply.body if reply.content_type == "application/json" else reply.body.decode()
    response = MockResponse(data, reply.status, reply.headers, reply.content_type)
    openapi().validate_response(request, response)


def error_schema_validator() -> Any:
    """A jsonschema validator of the document's Error schema (for replies that have no
    operation in the document, e.g. 405)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(document()["components"]["schemas"]["Error"])


# -- a unit's KPIs from the /metrics exposition ----------------------------------------------

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_of(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _get(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _count(samples: Samples, name: str, **labels: str) -> int:
    value = _get(samples, name, **labels)
    return 0 if value is None else int(value)


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    """A gauge's value; NaN (an empty window's quantile or ratio) as None."""
    value = _get(samples, name, **labels)
    return None if value is None or math.isnan(value) else value


def _window(
    samples: Samples, family: str, stopped_family: str, ratio_family: str, **labels: str
) -> dict[str, Any]:
    by_clock = {
        clock: {
            "count": _count(samples, stopped_family, **labels, clock=clock),
            "p50_seconds": _value(samples, family, **labels, clock=clock, percentile="50"),
            "p90_seconds": _value(samples, family, **labels, clock=clock, percentile="90"),
        }
        for clock in names.CLOCKS
    }
    return {
        "count": sum(stats["count"] for stats in by_clock.values()),
        "by_clock": by_clock,
        "within_target_ratio": _value(samples, ratio_family, **labels),
    }


def _histogram(samples: Samples, family: str, unit: str) -> dict[str, Any]:
    buckets = []
    for (name, labels), value in samples.items():
        label_map = dict(labels)
        if name == family + "_bucket" and label_map.get("unit") == unit:
            le = label_map["le"]
            buckets.append({"le": le if le == "+Inf" else float(le), "count": int(value)})
    buckets.sort(key=lambda b: float("inf") if b["le"] == "+Inf" else b["le"])
    return {
        "buckets": buckets,
        "count": _count(samples, family + "_count", unit=unit),
        "sum": _get(samples, family + "_sum", unit=unit),
    }


def kpis_from_metrics(text: str, unit: str) -> dict[str, Any]:
    """What /api/units/{unit}/kpis must say, read from the /metrics page alone (watermarks and
    category windows with no data left out)."""
    samples = samples_of(text)
    transfers = {
        dict(labels)["reason"]: int(value)
        for (name, labels), value in samples.items()
        if name == names.TRANSFERS + "_total" and dict(labels).get("unit") == unit
    }
    categories = {
        dict(labels)["category"]
        for (name, labels), _ in samples.items()
        if name.startswith(names.CATEGORY_WINDOW_SECONDS)
        or name == names.CATEGORY_WINDOW_WITHIN_TARGET_RATIO
        if dict(labels).get("unit") == unit
    }
    category_windows: dict[str, Any] = {}
    for category in sorted(categories):
        for timer in names.TIMERS:
            per_window = {
                window: _window(
                    samples,
                    names.CATEGORY_WINDOW_SECONDS,
                    names.CATEGORY_WINDOW_STOPPED,
                    names.CATEGORY_WINDOW_WITHIN_TARGET_RATIO,
                    unit=unit,
                    category=category,
                    timer=timer,
                    window=window,
                )
                for window in names.WINDOWS
            }
            if any(has_data(stats) for stats in per_window.values()):
                category_windows.setdefault(category, {})[timer] = per_window
    return {
        "unit": unit,
        "created": _count(samples, names.COMPLAINTS_CREATED + "_total", unit=unit),
        "resolved": _count(samples, names.COMPLAINTS_RESOLVED + "_total", unit=unit),
        "open": _count(samples, names.COMPLAINTS_OPEN, unit=unit),
        "reopened": _count(samples, names.REOPENED + "_total", unit=unit),
        "transfers_away": dict(sorted(transfers.items())),
        "ratings": {
            rating: _count(samples, names.RATINGS + "_total", unit=unit, rating=rating)
            for rating in names.RATINGS_VALUES
        },
        "sla": {
            timer: {
                outcome: _count(
                    samples, names.SLA + "_total", unit=unit, timer=timer, outcome=outcome
                )
                for outcome in names.OUTCOMES
            }
            for timer in names.TIMERS
        },
        "open_past_target": {
            timer: {
                threshold: _count(
                    samples, names.OPEN_PAST_TARGET, unit=unit, timer=timer, threshold=threshold
                )
                for threshold in names.THRESHOLDS
            }
            for timer in names.TIMERS
        },
        "histograms": {
            "first_response_seconds": _histogram(samples, names.FIRST_RESPONSE_WALL_SECONDS, unit),
            "resolution_seconds": _histogram(samples, names.RESOLUTION_WALL_SECONDS, unit),
            "resolution_working_seconds": _histogram(
                samples, names.RESOLUTION_WORKING_SECONDS, unit
            ),
        },
        "windows": {
            timer: {
                window: _window(
                    samples,
                    names.WINDOW_SECONDS,
                    names.WINDOW_STOPPED,
                    names.WINDOW_WITHIN_TARGET_RATIO,
                    unit=unit,
                    timer=timer,
                    window=window,
                )
                for window in names.WINDOWS
            }
            for timer in names.TIMERS
        },
        "category_windows": category_windows,
        "periods": {
            timer: {
                period: _window(
                    samples,
                    names.PERIOD_SECONDS,
                    names.PERIOD_STOPPED,
                    names.PERIOD_WITHIN_TARGET_RATIO,
                    unit=unit,
                    timer=timer,
                    period=period,
                )
                for period in ("day", "week", "month")
            }
            for timer in names.TIMERS
        },
    }


def has_data(stats: dict[str, Any]) -> bool:
    return bool(stats["count"]) or stats["within_target_ratio"] is not None


def comparable(kpis: dict[str, Any]) -> dict[str, Any]:
    """An API KPI body without what /metrics cannot show the same way: the watermark, and
    category windows with no data."""
    kept = {k: v for k, v in kpis.items() if k not in ("watermark", "watermark_epoch")}
    category_windows: dict[str, Any] = {}
    for category, per_timer in kpis["category_windows"].items():
        for timer, per_window in per_timer.items():
            if any(has_data(stats) for stats in per_window.values()):
                category_windows.setdefault(category, {})[timer] = per_window
    kept["category_windows"] = category_windows
    return kept
