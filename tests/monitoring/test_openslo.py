"""`sigap openslo`: the OpenSLO v1 documents of each unit's objectives (monitoring.openslo),
validated against the specification's JSON schema (tests/data/openslo, see SOURCE.md), their
objectives read independently from deploy/registry.yaml, their queries run on a real
Prometheus."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft7Validator
from referencing import Registry as SchemaRegistry
from referencing import Resource
from referencing.jsonschema import DRAFT7

from metrics import names
from sigap.cli.openslo import openslo, register
from sigap.core.registry import Registry
from sigap.monitoring.openslo import CLOCK_KEY, build_documents, openslo_name, render_openslo
from tests.monitoring.conftest import PrometheusServer
from tests.monitoring.helpers import REGISTRY, http_json, query_url
from tests.monitoring.test_dashboards import _contract_names, check_query

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "openslo"
AT = datetime(2026, 11, 15, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    files = [SCHEMA_DIR / "openslo.schema.json", *sorted((SCHEMA_DIR / "parts").glob("*.json"))]
    schemas = [json.loads(path.read_text()) for path in files]
    resources = [
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT7)) for s in schemas
    ]
    root = schemas[0]
    Draft7Validator.check_schema(root)
    return Draft7Validator(root, registry=SchemaRegistry().with_resources(resources))


@pytest.fixture(scope="module")
def documents(registry: Registry) -> list[dict[str, Any]]:
    """The generated stream, parsed back from its YAML text."""
    return [d for d in yaml.safe_load_all(render_openslo(registry, AT)) if d is not None]


def _errors(validator: Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_every_generated_document_validates_against_the_openslo_v1_schema(
    validator: Draft7Validator, documents: list[dict[str, Any]]
) -> None:
    assert documents
    problems = {d["metadata"]["name"]: _errors(validator, d) for d in documents}
    assert {name: p for name, p in problems.items() if p} == {}


def test_the_schema_rejects_documents_that_break_the_specification(
    validator: Draft7Validator, documents: list[dict[str, Any]]
) -> None:
    slo = next(d for d in documents if d["kind"] == "SLO")
    sli = next(d for d in documents if d["kind"] == "SLI")
    broken = []
    for path, value in [
        (("spec", "objectives", 0, "target"), 1.0),  # a target is below 1
        (("spec", "budgetingMethod"), "Requests"),
        (("spec", "timeWindow", 0, "calendar", "startTime"), "2026-01-01"),
        (("metadata", "name"), "dlh_response"),  # no underscores in names
        (("apiVersion",), "openslo/v2"),
    ]:
        document = copy.deepcopy(slo)
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        broken.append(document)
    both = copy.deepcopy(sli)
    both["spec"]["ratioMetric"]["bad"] = both["spec"]["ratioMetric"]["good"]  # good xor bad
    broken.append(both)
    assert all(_errors(validator, d) for d in broken), [
        d for d in broken if not _errors(validator, d)
    ]


def _independent_objectives() -> dict[tuple[str, str], float]:
    """(unit, timer) -> objective, straight from the YAML file: an `iku.targets` entry of the
    unit with category "*", else the "*"/"*" entry, setting `<timer>_within_target` (a
    percentage), else the unit's `objective`, else `default_objective`."""
    data = yaml.safe_load(REGISTRY.read_text())
    entries = {(e["unit"], e["category"]): e for e in (data.get("iku") or {}).get("targets", [])}
    result = {}
    for unit in data["units"]:
        for timer in ("response", "resolution"):
            key = f"{timer}_within_target"
            percent = next(
                (
                    float(entries[k][key])
                    for k in ((unit["code"], "*"), ("*", "*"))
                    if k in entries and key in entries[k]
                ),
                None,
            )
            if percent is None:
                percent = float(unit.get("objective", data["default_objective"])) * 100
            result[unit["code"], timer] = percent / 100
    return result


def test_objective_values_equal_the_registry_file(documents: list[dict[str, Any]]) -> None:
    expected = _independent_objectives()
    assert expected
    found: dict[tuple[str, str], set[float]] = {}
    for d in documents:
        if d["kind"] == "SLO":
            labels = d["metadata"]["labels"]
            key = (labels["sigap.surabaya.go.id/unit"], labels["sigap.surabaya.go.id/timer"])
            found.setdefault(key, set()).update(o["target"] for o in d["spec"]["objectives"])
    assert found == {(openslo_name(u), t): {v} for (u, t), v in expected.items()}


def test_each_unit_has_a_service_two_slis_and_month_and_quarter_slos_in_jakarta(
    registry: Registry, documents: list[dict[str, Any]]
) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in documents:
        assert d["apiVersion"] == "openslo/v1"
        by_kind.setdefault(d["kind"], []).append(d)
    units = {openslo_name(code) for code in registry.units}
    assert {d["metadata"]["name"] for d in by_kind["Service"]} == units
    slis = {d["metadata"]["name"]: d for d in by_kind["SLI"]}
    assert set(slis) == {
        f"{u}-{t}-within-target" for u in units for t in ("response", "resolution")
    }
    assert len(by_kind["SLO"]) == 4 * len(units)
    windows: dict[str, set[str]] = {}
    for slo in by_kind["SLO"]:
        spec = slo["spec"]
        assert spec["budgetingMethod"] == "Occurrences"
        assert spec["service"] in units and spec["indicatorRef"] in slis
        assert spec["indicatorRef"].startswith(spec["service"] + "-")
        (window,) = spec["timeWindow"]
        assert window["isRolling"] is False
        assert window["calendar"] == {
            "startTime": "2026-01-01 00:00:00",
            "timeZone": "Asia/Jakarta",
        }
        windows.setdefault(spec["indicatorRef"], set()).add(window["duration"])
    assert windows == {name: {"1M", "1Q"} for name in slis}


def test_working_time_clocks_are_stated_as_an_extension(
    documents: list[dict[str, Any]],
) -> None:
    data = yaml.safe_load(REGISTRY.read_text())
    calendars = {u["code"]: u["calendar"] for u in data["units"]}
    for d in documents:
        if d["kind"] == "Service":
            continue
        meta = d["metadata"]
        unit, timer = (
            meta["labels"]["sigap.surabaya.go.id/unit"],
            meta["labels"]["sigap.surabaya.go.id/timer"],
        )
        # deploy/registry.yaml: every first response is on the wall clock (24 h, emergency
        # units 1 h), every resolution on the working clock (days, emergency units 24 h).
        expected = "wall" if timer == "response" else "working-time"
        assert meta["labels"][CLOCK_KEY] == meta["annotations"][CLOCK_KEY] == expected, meta
        assert meta["annotations"]["sigap.surabaya.go.id/calendar"] == calendars[unit]
        assert meta["annotations"]["sigap.surabaya.go.id/registry-version"] == data["version"]
    dlh = next(d for d in documents if d["metadata"]["name"] == "dlh-resolution-within-target")
    assert dlh["metadata"]["annotations"]["sigap.surabaya.go.id/targets"] == (
        "5 working days, 14 working days, 60 working days"
    )


def _queries(documents: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(SLI name, good query, total query) of every SLI."""
    out = []
    for d in documents:
        if d["kind"] == "SLI":
            ratio = d["spec"]["ratioMetric"]
            assert ratio["counter"] is True
            good, total = (ratio[k]["metricSource"] for k in ("good", "total"))
            assert good["type"] == total["type"] == "Prometheus"
            out.append((d["metadata"]["name"], good["spec"]["query"], total["spec"]["query"]))
    return out


def test_queries_read_the_sla_counter_of_the_metrics_contract(
    documents: list[dict[str, Any]],
) -> None:
    used = {
        name
        for _, good, total in _queries(documents)
        for name in re.findall(r"(?<![:\w])sigap_\w+", good + total)
    }
    assert used == {f"{names.SLA}_total"}
    assert used <= _contract_names()


def _value(prometheus: PrometheusServer, query: str) -> float:
    status, body = http_json(query_url(prometheus.url, "/api/v1/query", query=query))
    assert status == 200 and body["status"] == "success", body
    (series,) = body["data"]["result"]
    return float(series["value"][1])


def test_every_sli_query_runs_on_a_real_prometheus(
    prometheus: PrometheusServer, registry: Registry, documents: list[dict[str, Any]]
) -> None:
    checked = 0
    for name, good, total in _queries(documents):
        assert check_query(prometheus, good, instant=True) is None, (name, good)
        assert check_query(prometheus, total, instant=True) is None, (name, total)
        unit = re.search(r'unit="([^"]+)"', good)
        timer = re.search(r'timer="([^"]+)"', good)
        assert unit and timer
        # Independently: total = met + missed, each read on its own; good = met.
        met, missed = (
            _value(
                prometheus,
                f'sum({names.SLA}_total{{unit="{unit[1]}",timer="{timer[1]}",outcome="{o}"}})',
            )
            for o in ("met", "missed")
        )
        assert _value(prometheus, good) == met
        assert _value(prometheus, total) == met + missed
        assert 0 < met < met + missed
        checked += 1
    assert checked == 2 * len(registry.units)


def test_openslo_names_replace_underscores() -> None:
    assert openslo_name("satpol_pp") == "satpol-pp"
    assert openslo_name("dlh") == "dlh"


def test_a_naive_instant_is_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_documents(registry, datetime(2026, 1, 1))


def test_register_adds_the_openslo_command() -> None:
    group = click.Group("sigap")
    register(group)
    assert set(group.commands) == {"openslo"}


def test_cli_writes_one_stream_to_a_file_or_one_file_per_unit_to_a_directory(
    registry: Registry, tmp_path: Path, validator: Draft7Validator
) -> None:
    runner = CliRunner()
    stdout = runner.invoke(openslo, ["--registry", str(REGISTRY)])
    assert stdout.exit_code == 0, stdout.output
    out = tmp_path / "sigap-openslo.yaml"
    result = runner.invoke(openslo, ["--registry", str(REGISTRY), "--output", str(out)])
    assert result.exit_code == 0, result.output
    streamed = [d for d in yaml.safe_load_all(out.read_text()) if d]
    assert streamed == [d for d in yaml.safe_load_all(stdout.stdout) if d]
    directory = tmp_path / "openslo"
    result = runner.invoke(openslo, ["--registry", str(REGISTRY), "--output", f"{directory}/"])
    assert result.exit_code == 0, result.output
    files = sorted(directory.glob("*.yaml"))
    assert [f.stem for f in files] == sorted(registry.units)
    per_unit = [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]
    assert per_unit == streamed
    for d in per_unit:
        assert not _errors(validator, d)
