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


# --------------------------------------------------------------------------------------
# Drill-down links and per-unit thresholds
# --------------------------------------------------------------------------------------

UNIT_LINK = re.compile(r"^/d/sigap-unit-detail/[\w-]+\?var-unit=(?P<unit>\$\{[^}]+\})&")
WORKLIST_LINK = re.compile(r"^\$\{sigap_api\}/api/units/(?P<unit>\$\{[^}]+\})/overdue$")


def _per_unit(panel: dict[str, Any]) -> str | None:
    """How a per-unit panel names a value's unit in a data link: a table grouped by unit
    (its `unit` column), or a stat / bar gauge with one series per unit (its label)."""
    targets = panel.get("targets", [])
    if panel["type"] == "table" and any("by (unit" in t["expr"] for t in targets):
        return "${__data.fields.unit}"
    if panel["type"] in ("stat", "bargauge") and any(
        "{{unit}}" in t.get("legendFormat", "") for t in targets
    ):
        return "${__field.labels.unit}"
    return None


def link_problems(dashboard: dict[str, Any]) -> list[str]:
    """Per-unit panels without a data link to the unit dashboard (unit variable set to the
    value's unit) and one to that unit's overdue worklist."""
    problems = []
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in panels(dashboard):
        unit = _per_unit(panel)
        if unit is None:
            continue
        defaults = panel["fieldConfig"]["defaults"]
        links = defaults.get("links", [])
        units = [m["unit"] for m in (UNIT_LINK.match(link.get("url", "")) for link in links) if m]
        worklists = [
            m["unit"] for m in (WORKLIST_LINK.match(link.get("url", "")) for link in links) if m
        ]
        if units != [unit] or worklists != [unit]:
            problems.append(f"{panel['title']}: links {[link.get('url') for link in links]}")
        if "sigap_api" not in variables:
            problems.append(f"{panel['title']}: no sigap_api variable for the worklist link")
        if panel["type"] == "table":
            # The link takes the row's raw `unit` column: renaming it or mapping its values
            # (e.g. to unit names) would break the URL.
            renamed = [
                t["options"].get("renameByName", {}).get("unit")
                for t in panel.get("transformations", [])
            ]
            if any(renamed) or defaults.get("mappings"):
                problems.append(f"{panel['title']}: the unit column is renamed or mapped")
    return problems


@pytest.mark.parametrize("uid", sorted(EXPECTED_UIDS))
def test_every_per_unit_panel_links_to_unit_dashboard_and_worklist(
    dashboards: dict[str, dict[str, Any]], uid: str
) -> None:
    assert link_problems(dashboards[f"{uid}.json"]) == []


def test_every_per_unit_table_has_the_drilldown_links(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    tables = [
        (d, p)
        for d in dashboards.values()
        for p in panels(d)
        if p["type"] == "table" and _per_unit(p)
    ]
    assert tables, "the city overview has a per-unit table"
    target_uids = {d["uid"] for d in dashboards.values()}
    for dashboard, table in tables:
        urls = [link["url"] for link in table["fieldConfig"]["defaults"]["links"]]
        assert any(UNIT_LINK.match(u) for u in urls), (table["title"], urls)
        assert any(WORKLIST_LINK.match(u) for u in urls), (table["title"], urls)
        # The link's dashboard exists and has the variable it sets.
        assert "sigap-unit-detail" in target_uids
        unit_detail = dashboards["sigap-unit-detail.json"]
        assert "unit" in {v["name"] for v in unit_detail["templating"]["list"]}
        assert "sigap_api" in {v["name"] for v in dashboard["templating"]["list"]}
    # The check can fail: strip the links of one table.
    dashboard, table = tables[0]
    broken = copy.deepcopy(dashboard)
    for panel in panels(broken):
        if panel["id"] == table["id"]:
            panel["fieldConfig"]["defaults"]["links"] = panel["fieldConfig"]["defaults"]["links"][
                :1
            ]
    assert link_problems(broken)


def _registry_with_objectives(tmp_path: Path) -> tuple[Path, dict[str, float]]:
    """The shipped registry with three units on other objectives; the objectives read
    straight from the written YAML (a unit's `objective`, else `default_objective`)."""
    import shutil

    import yaml

    from tests.monitoring.helpers import REGISTRY

    data = yaml.safe_load(REGISTRY.read_text())
    units = data["units"]
    units[0]["objective"] = 0.99
    units[1]["objective"] = 0.9
    units[-1]["objective"] = 0.975
    shutil.copy(REGISTRY.parent / data["holiday_overrides"], tmp_path / data["holiday_overrides"])
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    reread = yaml.safe_load(path.read_text())
    objectives = {
        u["code"]: float(u.get("objective", reread["default_objective"])) for u in reread["units"]
    }
    # Events of units the registry does not list count as "unknown", on the default.
    objectives["unknown"] = float(reread["default_objective"])
    return path, objectives


def _legend_names(legend: str, code: str, expr: str) -> set[str]:
    """Every display name a legend gives the series of unit ``code`` (timers, windows)."""
    windows = re.findall(r'window=~?"([^"]+)"', expr)
    result = {legend.replace("{{unit}}", code)}
    for label, values in (
        ("timer", list(names.TIMERS)),
        ("window", [w for spec in windows for w in spec.split("|")] or [""]),
    ):
        result = {n.replace(f"{{{{{label}}}}}", v) for n in result for v in values}
    return result


def threshold_problems(
    dashboards: dict[str, dict[str, Any]], objectives: dict[str, float]
) -> list[str]:
    """Per-unit within-target panels whose thresholds for a unit's series are not that
    unit's objective (green from it, amber from 2 x objective - 1)."""
    problems = []
    checked = 0
    for dashboard in dashboards.values():
        for panel in panels(dashboard):
            targets = panel.get("targets", [])
            if not any(
                names.WINDOW_WITHIN_TARGET_RATIO in t["expr"]
                and "{{unit}}" in t.get("legendFormat", "")
                for t in targets
            ):
                continue
            overrides = panel["fieldConfig"].get("overrides", [])
            for target in targets:
                for code, objective in objectives.items():
                    expected = [(None, "red"), (round(2 * objective - 1, 9), "orange")]
                    expected.append((objective, "green"))
                    for name in _legend_names(target["legendFormat"], code, target["expr"]):
                        checked += 1
                        found = [
                            [(s["value"], s["color"]) for s in p["value"]["steps"]]
                            for o in overrides
                            if o["matcher"]["id"] == "byNames"
                            and name in o["matcher"]["options"]["names"]
                            for p in o["properties"]
                            if p["id"] == "thresholds"
                        ]
                        if found != [expected]:
                            problems.append(f"{panel['title']} / {name}: {found} != {expected}")
    assert checked, "no per-unit within-target panel found"
    return problems


def test_each_units_thresholds_equal_its_registry_objective(tmp_path: Path) -> None:
    from sigap.core.registry_file import load_registry

    path, objectives = _registry_with_objectives(tmp_path)
    assert len(set(objectives.values())) == 4  # 0.99, 0.9, 0.975 and the 0.95 default
    built = build_dashboards(load_registry(path))
    assert threshold_problems(built, objectives) == []
    # One global number instead of each unit's objective is caught.
    assert threshold_problems(built, {code: 0.95 for code in objectives})


def test_override_names_are_the_series_names_prometheus_returns(
    prometheus: PrometheusServer, registry: Registry, dashboards: dict[str, dict[str, Any]]
) -> None:
    # The overrides match by display name: every series a per-unit ratio panel shows must
    # be named in its unit's override, or it silently keeps the fallback colours.
    unmatched = []
    checked = 0
    for dashboard in dashboards.values():
        for panel in panels(dashboard):
            overrides = panel.get("fieldConfig", {}).get("overrides", [])
            by_name = {
                n: o
                for o in overrides
                if o["matcher"]["id"] == "byNames"
                for n in o["matcher"]["options"]["names"]
            }
            for target in panel.get("targets", []):
                legend = target.get("legendFormat", "")
                if (
                    names.WINDOW_WITHIN_TARGET_RATIO not in target["expr"]
                    or "{{unit}}" not in legend
                ):
                    continue
                for unit in registry.units:
                    expr = substitute(target["expr"], unit, _range_of(dashboard))
                    status, body = http_json(query_url(prometheus.url, "/api/v1/query", query=expr))
                    assert status == 200, body
                    for series in body["data"]["result"]:
                        labels = series["metric"]
                        name = re.sub(
                            r"\{\{(\w+)\}\}", lambda m, labels=labels: labels.get(m[1], ""), legend
                        )
                        checked += 1
                        if name not in by_name:
                            unmatched.append(f"{panel['title']}: {name}")
    assert checked > 0
    assert unmatched == []


def _instant(prometheus: PrometheusServer, expr: str) -> dict[tuple[str, str], float]:
    status, body = http_json(
        query_url(prometheus.url, "/api/v1/query", query=expr, time=f"{time.time():.3f}")
    )
    assert status == 200, body
    return {
        (row["metric"].get("category", ""), row["metric"].get("timer", "")): float(row["value"][1])
        for row in body["data"]["result"]
    }


def test_the_category_budget_panel_divides_each_miss_share_by_the_units_own_objective(
    prometheus: PrometheusServer, dashboards: dict[str, dict[str, Any]], registry: Registry
) -> None:
    board = dashboards["sigap-unit-detail.json"]
    (panel,) = [p for p in panels(board) if p.get("title") == "Error budget used by category"]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [
        (None, "green"),
        (1.0, "orange"),
        (2.0, "red"),
    ]
    (target,) = panel["targets"]
    for unit in registry.units:
        shown = _instant(prometheus, substitute(target["expr"], unit, _range_of(board)))
        # Independently: the raw category ratios and the objective read from the registry.
        ratios = _instant(
            prometheus,
            f"min by (category, timer) ({names.CATEGORY_WINDOW_WITHIN_TARGET_RATIO}"
            f'{{unit="{unit}", window="7d"}})',
        )
        objective = registry.units[unit].objective
        expected = {key: (1 - ratio) / (1 - objective) for key, ratio in ratios.items()}
        assert shown.keys() == expected.keys() and shown, unit
        for key, value in expected.items():
            assert math.isclose(shown[key], value, rel_tol=1e-9, abs_tol=1e-12), (unit, key)
