"""Grafana dashboards: valid against Grafana's JSON schemas, every query runs on a real
Prometheus and returns data."""

from __future__ import annotations

import copy
import json
import math
import re
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import metrics.names as names
from sigap.core.registry import Registry
from sigap.monitoring.dashboards import DATASOURCE_UID, FAUST_SERIES, build_dashboards
from tests.monitoring.conftest import PrometheusServer
from tests.monitoring.helpers import VENDOR_GRAFANA, http_json, query_url, unavailable
from tests.monitoring.synthetic import faust_families

PANEL_TYPES = ("timeseries", "stat", "gauge", "bargauge", "table", "text")
# Concrete values for Grafana's built-in variables. The synthetic data has one sample a
# minute, so a rate needs a window of a few minutes, as Grafana's $__rate_interval gives.
RATE_INTERVAL = "5m"
INTERVAL = "1m"
EXPECTED_UIDS = {"sigap-city-overview", "sigap-unit-detail", "sigap-slo", "sigap-pipeline"}


@cache
def schema(name: str) -> dict[str, Any]:
    path = VENDOR_GRAFANA / f"{name}.jsonschema.json"
    if not path.exists():
        unavailable(f"Grafana schema {path} is missing (shared/vendor/grafana beside the repo)")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def definition_validator(name: str, definition: str) -> jsonschema.Draft7Validator:
    """A validator for one definition of a schema file (panel schemas have no root)."""
    definitions = schema(name)["definitions"]
    return jsonschema.Draft7Validator(
        {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    )


def errors(validator: jsonschema.Draft7Validator, instance: Any) -> list[str]:
    return [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(instance)]


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def panel_problems(panel: dict[str, Any]) -> list[str]:
    """Schema problems of one panel's options, custom field config and targets."""
    kind = panel["type"]
    if kind == "row":
        return []
    if kind not in PANEL_TYPES:
        return [f"panel type {kind!r} has no schema here"]
    title = panel.get("title")
    problems = [
        f"{title}: options {p}"
        for p in errors(definition_validator(kind, "Options"), panel.get("options"))
    ]
    custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
    if "FieldConfig" in schema(kind)["definitions"]:
        problems += [
            f"{title}: fieldConfig.defaults.custom {p}"
            for p in errors(definition_validator(kind, "FieldConfig"), custom)
        ]
    elif custom:
        problems.append(f"{title}: {kind} defines no custom field config, got {custom}")
    target_validator = jsonschema.Draft7Validator(schema("prometheus"))
    for target in panel.get("targets", []):
        problems += [f"{title}: target {p}" for p in errors(target_validator, target)]
    return problems


@pytest.fixture(scope="module")
def dashboards(registry: Registry) -> dict[str, dict[str, Any]]:
    return build_dashboards(registry)


def test_the_four_dashboards_are_built(dashboards: dict[str, dict[str, Any]]) -> None:
    assert {d["uid"] for d in dashboards.values()} == EXPECTED_UIDS
    assert set(dashboards) == {f"{uid}.json" for uid in EXPECTED_UIDS}


@pytest.mark.parametrize("uid", sorted(EXPECTED_UIDS))
def test_dashboard_validates_against_grafana_schemas(
    dashboards: dict[str, dict[str, Any]], uid: str
) -> None:
    dashboard = dashboards[f"{uid}.json"]
    assert errors(jsonschema.Draft7Validator(schema("dashboard")), dashboard) == []
    problems = [p for panel in panels(dashboard) for p in panel_problems(panel)]
    assert problems == []


@pytest.mark.parametrize("uid", sorted(EXPECTED_UIDS))
def test_every_query_uses_the_provisioned_datasource(
    dashboards: dict[str, dict[str, Any]], uid: str
) -> None:
    dashboard = dashboards[f"{uid}.json"]
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        if panel["type"] in ("row", "text"):
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    # A datasource variable (dashboards import into an existing Grafana), defaulting to the
    # provisioned Prometheus; every query variable reads through it.
    chooser = variables["datasource"]
    assert (chooser["type"], chooser["query"]) == ("datasource", "prometheus")
    assert chooser["current"]["value"] == DATASOURCE_UID
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}"


def test_schema_checks_catch_mistakes(dashboards: dict[str, dict[str, Any]]) -> None:
    # The validation above must be able to fail: break each layer once.
    dashboard = copy.deepcopy(dashboards["sigap-pipeline.json"])
    del dashboard["schemaVersion"]
    assert errors(jsonschema.Draft7Validator(schema("dashboard")), dashboard)
    timeseries = next(
        p for p in panels(dashboards["sigap-pipeline.json"]) if p["type"] == "timeseries"
    )
    broken = copy.deepcopy(timeseries)
    broken["options"]["legend"]["displayMode"] = "sideways"
    assert panel_problems(broken)
    broken = copy.deepcopy(timeseries)
    broken["fieldConfig"]["defaults"]["custom"]["lineWidth"] = "thick"
    assert panel_problems(broken)
    broken = copy.deepcopy(timeseries)
    del broken["targets"][0]["expr"]
    assert panel_problems(broken)
    stat = next(p for p in panels(dashboards["sigap-pipeline.json"]) if p["type"] == "stat")
    broken = copy.deepcopy(stat)
    broken["options"]["colorMode"] = "rainbow"
    assert panel_problems(broken)


def test_faust_metrics_on_the_pipeline_dashboard_exist() -> None:
    # Sample names faust's own sensor exports (prefix "faust", as streams/app.py sets it).
    suffix = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    exported = {
        f"{family}{end}" for family, kind in faust_families().items() for end in suffix[kind]
    }
    assert set(FAUST_SERIES) <= exported


def _contract_names() -> set[str]:
    families = {
        value
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and value.startswith(names.PREFIX)
    }
    return {f"{f}{end}" for f in families for end in ("", "_total", "_bucket", "_sum", "_count")}


def all_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(panel title, expression, instant) of every query of a dashboard."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel.get("title", ""), target["expr"], bool(target.get("instant"))


def test_queries_only_use_contract_metric_names(dashboards: dict[str, dict[str, Any]]) -> None:
    allowed = _contract_names()
    used = {
        name
        for dashboard in dashboards.values()
        for _, expr, _ in all_exprs(dashboard)
        # Recorded series (sigap:complaint_...) are checked against the rules instead.
        for name in re.findall(r"(?<![:\w])sigap_\w+", expr)
    }
    assert used, "no contract metric found in the queries"
    assert used <= allowed, used - allowed


# --------------------------------------------------------------------------------------
# Against a real Prometheus
# --------------------------------------------------------------------------------------


def _range_of(dashboard: dict[str, Any]) -> str:
    match = re.fullmatch(r"now-(\d+[smhdw])", dashboard["time"]["from"])
    assert match, dashboard["time"]
    return match.group(1)


def substitute(expr: str, unit: str, range_: str) -> str:
    text = (
        expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", INTERVAL)
        .replace("$__range", range_)
        .replace("${unit}", unit)
        .replace("$unit", unit)
    )
    assert "$" not in text, f"unsubstituted variable in {text}"
    return text


def check_query(prometheus: PrometheusServer, expr: str, instant: bool) -> str | None:
    """None when the query parses and returns at least one real value; else the problem."""
    now = time.time()
    if instant:
        url = query_url(prometheus.url, "/api/v1/query", query=expr, time=f"{now:.3f}")
    else:
        url = query_url(
            prometheus.url,
            "/api/v1/query_range",
            query=expr,
            start=f"{now - 3600:.3f}",
            end=f"{now:.3f}",
            step="60",
        )
    status, body = http_json(url)
    if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
        return f"HTTP {status}: {body}"
    data = body["data"]
    if data["resultType"] == "scalar":
        values = [data["result"][1]]
    elif data["resultType"] == "vector":
        values = [series["value"][1] for series in data["result"]]
    else:
        values = [v for series in data["result"] for _, v in series["values"]]
    if not any(not math.isnan(float(v)) for v in values):
        return f"no data ({len(data['result'])} series, all empty or NaN)"
    return None


def test_query_check_reports_broken_and_empty_queries(prometheus: PrometheusServer) -> None:
    assert check_query(prometheus, f"sum({names.COMPLAINTS_OPEN})", instant=True) is None
    broken = check_query(prometheus, f"sum(rate({names.COMPLAINTS_CREATED}_total[5m])", True)
    assert broken is not None and "HTTP 400" in broken
    empty = check_query(prometheus, f'{names.COMPLAINTS_OPEN}{{unit="no-such-unit"}}', False)
    assert empty is not None and "no data" in empty


@pytest.mark.parametrize("uid", sorted(EXPECTED_UIDS))
def test_every_panel_query_returns_data(
    prometheus: PrometheusServer,
    registry: Registry,
    dashboards: dict[str, dict[str, Any]],
    uid: str,
) -> None:
    dashboard = dashboards[f"{uid}.json"]
    range_ = _range_of(dashboard)
    uses_unit = "$unit" in json.dumps(dashboard)
    units = list(registry.units) if uses_unit else ["-"]
    problems = []
    checked = 0
    for title, expr, instant in all_exprs(dashboard):
        for unit in units:
            concrete = substitute(expr, unit, range_)
            problem = check_query(prometheus, concrete, instant)
            checked += 1
            if problem is not None:
                problems.append(f"{title} [{unit}]: {concrete}\n  -> {problem}")
    assert checked > 0
    assert problems == [], "\n".join(problems)


def test_unit_variable_lists_every_registry_unit(
    prometheus: PrometheusServer, registry: Registry, dashboards: dict[str, dict[str, Any]]
) -> None:
    variables = [
        v
        for d in dashboards.values()
        for v in d["templating"].get("list", [])
        if v["type"] == "query"
    ]
    assert {v["name"] for v in variables} == {"unit"}
    for variable in variables:
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["query"])
        assert match, variable["query"]
        metric, label = match.groups()
        status, body = http_json(
            query_url(prometheus.url, f"/api/v1/label/{label}/values", **{"match[]": metric})
        )
        assert status == 200 and body["status"] == "success", body
        assert set(registry.units) <= set(body["data"])


def test_generated_rules_load_into_prometheus(prometheus: PrometheusServer) -> None:
    deadline = time.monotonic() + 30
    while True:
        status, body = http_json(query_url(prometheus.url, "/api/v1/rules"))
        assert status == 200
        rules = [r for g in body["data"]["groups"] for r in g["rules"]]
        # "unknown" only means not evaluated yet; wait for every rule's first evaluation.
        if all(r["health"] != "unknown" for r in rules) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert rules
    assert [
        (r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"
    ] == []


def test_dashboard_files_are_json_objects() -> None:
    # Grafana's file provider reads every *.json there; each must be one dashboard.
    folder = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
    for path in folder.glob("*.json"):
        model = json.loads(path.read_text())
        assert model["uid"] in EXPECTED_UIDS


def test_recorded_series_in_queries_are_recorded_by_the_rules(
    registry: Registry, dashboards: dict[str, dict[str, Any]]
) -> None:
    from sigap.monitoring.rules import build_rules

    recorded = {
        rule["record"]
        for group in build_rules(registry)["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    used = {
        name
        for dashboard in dashboards.values()
        for _, expr, _ in all_exprs(dashboard)
        for name in re.findall(r"\bsigap:[\w:]+", expr)
    }
    assert used, "the SLO dashboard should read recorded series"
    assert used <= recorded, used - recorded
