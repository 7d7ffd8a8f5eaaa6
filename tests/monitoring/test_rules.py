"""Prometheus rules: structure, the real promtool (lint, config, unit tests), per-unit
objectives."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

import metrics.names as names
from sigap.core.registry import Registry
from sigap.core.registry_file import parse_registry
from sigap.monitoring import DEFAULT_DOCS_URL, runbook_url
from sigap.monitoring.rules import (
    BURN_POLICIES,
    SCORE_WRITER_JOB,
    SLI_WINDOWS,
    WORKER_JOB,
    PipelineSettings,
    alert_catalogue,
    build_rules,
    burn_alert_name,
    error_ratio_record,
    render_rules,
)
from sigap.settings import Settings
from tests.monitoring.helpers import DEPLOY, ROOT, require_tool, run

PROMETHEUS_DIR = DEPLOY / "prometheus"
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
SEVERITIES = {"page", "ticket", "warning"}


def alerts(rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def small_registry() -> Registry:
    """Two units on different objectives: 99% and the 95% default."""
    data = {
        "version": "test",
        "default_objective": 0.95,
        "default_calendar": "always",
        "calendars": {"always": {"kind": "always_open"}},
        "units": [
            {"code": "strict", "name": "Strict Unit", "calendar": "always", "objective": 0.99},
            {"code": "lenient", "name": "Lenient Unit", "calendar": "always"},
        ],
        "targets": [
            {
                "effective_from": date(2019, 1, 1),
                "unit": "*",
                "category": "*",
                "priority": "*",
                "response": {"clock": "wall", "hours": 24},
                "resolution": {"clock": "working", "days": 5},
            }
        ],
    }
    return parse_registry(data, "test-registry", frozenset())


# --------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------


def test_recording_rules_cover_every_window(registry: Registry) -> None:
    records = [r for g in build_rules(registry)["groups"] for r in g["rules"] if "record" in r]
    names_recorded = {r["record"] for r in records}
    for window in SLI_WINDOWS:
        assert error_ratio_record(window) in names_recorded
    used = {w for p in BURN_POLICIES for c in p.conditions for w in (c.long_window, c.short_window)}
    assert used <= set(SLI_WINDOWS)
    ratio = next(r for r in records if r["record"] == error_ratio_record("5m"))
    assert 'sigap_complaint_sla_total{outcome="missed"}[5m]' in ratio["expr"]
    assert "sum by (unit, timer)" in ratio["expr"]


def test_one_slo_group_per_unit_with_both_timers_and_severities(registry: Registry) -> None:
    groups = {g["name"]: g for g in build_rules(registry)["groups"]}
    for code in registry.units:
        group = groups[f"sigap-slo-{code}"]
        got = {(r["alert"], r["labels"]["severity"], r["labels"]["timer"]) for r in group["rules"]}
        assert got == {
            (burn_alert_name(timer, policy), policy.severity, timer)
            for timer in names.TIMERS
            for policy in BURN_POLICIES
        }
        assert all(r["labels"]["unit"] == code for r in group["rules"])


def test_each_alert_has_labels_annotations_and_runbook(registry: Registry) -> None:
    catalogue = {spec.name: spec for spec in alert_catalogue()}
    rules = alerts(build_rules(registry))
    assert {r["alert"] for r in rules} == set(catalogue)
    for rule in rules:
        spec = catalogue[rule["alert"]]
        assert rule["labels"]["severity"] == spec.severity in SEVERITIES
        assert rule["labels"]["component"] == spec.component
        extra = {"worklist_url"} if spec.component == "slo" else set()
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url", *extra}
        assert rule["annotations"]["runbook_url"] == runbook_url(rule["alert"])
        assert rule["annotations"]["runbook_url"] == (
            f"https://sigap.example/docs/runbooks.md#alert-{rule['alert'].lower()}"
        )
        if spec.per_unit:
            # Burn alerts set the unit label; the others keep it from `sum by (unit, timer)`.
            assert rule["labels"].get("unit") or "by (unit, timer)" in rule["expr"]


def test_unit_alerts_link_to_the_units_worklist(registry: Registry) -> None:
    rules = alerts(build_rules(registry, api_url="https://sigap.example.go.id/"))
    links = {
        (rule["alert"], rule["labels"].get("unit")): rule["annotations"]["worklist_url"]
        for rule in rules
        if rule["labels"]["component"] == "slo"
    }
    base = "https://sigap.example.go.id/api/units"
    assert links[("SigapResponseFastBurn", "dlh")] == f"{base}/dlh/overdue"
    assert links[("SigapComplaintsPastTarget", None)] == (
        base + "/{{ $labels.unit }}/overdue?level=1"
    )
    assert links[("SigapComplaintsNearTarget", None)] == (
        base + "/{{ $labels.unit }}/overdue?level=0.75"
    )
    assert all(
        "worklist_url" not in rule["annotations"]
        for rule in rules
        if rule["labels"]["component"] == "pipeline"
    )


def test_thresholds_use_each_units_objective() -> None:
    rules = {
        (r["labels"]["unit"], r["alert"]): r["expr"]
        for r in alerts(build_rules(small_registry()))
        if "unit" in r["labels"]
    }
    fast = rules[("strict", "SigapResponseFastBurn")]
    assert "(14.4 * (1 - 0.99))" in fast and "(6 * (1 - 0.99))" in fast
    assert "0.95" not in fast
    slow = rules[("lenient", "SigapResolutionSlowBurn")]
    assert "(3 * (1 - 0.95))" in slow and "(1 * (1 - 0.95))" in slow


def test_pipeline_thresholds_are_parameters(registry: Registry) -> None:
    settings = PipelineSettings(stall_window="2h", lag_threshold=50, dead_letter_window="1h")
    exprs = {r["alert"]: r["expr"] for r in alerts(build_rules(registry, settings))}
    assert "sigap_events_processed_total[2h]" in exprs["SigapEventsStalled"]
    assert "> 50" in exprs["SigapConsumerLagGrowing"]
    assert "[1h]" in exprs["SigapEventsDeadLettered"]
    assert f'up{{job="{WORKER_JOB}"}}' in exprs["SigapWorkerDown"]


def test_rules_only_use_contract_metric_names(registry: Registry) -> None:
    families = {
        v for k, v in vars(names).items() if k.isupper() and isinstance(v, str) and "_" in v
    }
    allowed = {f"{f}{end}" for f in families for end in ("", "_total", "_bucket")}
    text = render_rules(registry)
    used = set(re.findall(r"(?<![:\w])sigap_\w+", text))
    assert used and used <= allowed, used - allowed


def test_runbook_urls_follow_the_configured_docs_url(registry: Registry) -> None:
    rules = alerts(build_rules(registry, docs_url="https://docs.test/sigap/"))
    assert rules
    for rule in rules:
        assert rule["annotations"]["runbook_url"] == (
            f"https://docs.test/sigap/runbooks.md#alert-{rule['alert'].lower()}"
        )
    assert DEFAULT_DOCS_URL.startswith("https://")


def test_runbook_headings_exist_for_every_alert() -> None:
    doc = (ROOT / "docs" / "runbooks.md").read_text()
    headings = {line.strip() for line in doc.splitlines() if line.startswith("#")}
    for spec in alert_catalogue():
        # GitHub makes "Alert: SigapX" into the anchor "alert-sigapx" the runbooks link to.
        assert f"## Alert: {spec.name}" in headings, spec.name


# --------------------------------------------------------------------------------------
# promtool
# --------------------------------------------------------------------------------------


def test_generated_rules_pass_promtool_lint(registry: Registry, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    generated = tmp_path / "sigap-rules.yml"
    generated.write_text(render_rules(registry))
    for path in (generated, PROMETHEUS_DIR / "sigap-rules.yml"):
        result = run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(path)])
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_rules_file(registry: Registry, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    rules = build_rules(registry)
    rules["groups"][0]["rules"][0]["expr"] = "sum(rate(sigap_complaint_sla_total[5m])"
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(rules))
    result = run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(broken)])
    assert result.returncode != 0
    duplicated = build_rules(registry)
    duplicated["groups"][0]["rules"].append(duplicated["groups"][0]["rules"][0])
    broken.write_text(yaml.safe_dump(duplicated))
    result = run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(broken)])
    assert result.returncode != 0, "duplicate rules must fail the lint"


def test_prometheus_config_is_valid_and_scrapes_the_worker_and_score_writer_jobs() -> None:
    promtool = require_tool("promtool")
    config_path = PROMETHEUS_DIR / "prometheus.yml"
    result = run([promtool, "check", "config", str(config_path)])
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(config_path.read_text())
    assert config["rule_files"] == ["sigap-rules.yml"]
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    worker = jobs[WORKER_JOB]
    assert worker["static_configs"][0]["targets"] == ["127.0.0.1:6066"]
    assert worker["metrics_path"] == "/metrics"
    writer = jobs[SCORE_WRITER_JOB]
    port = Settings.model_fields["score_writer_metrics_port"].default
    assert writer["static_configs"][0]["targets"] == [f"127.0.0.1:{port}"]


def test_the_demo_scrapes_the_score_writer_on_its_port() -> None:
    from sigap.demo import _prometheus_config

    config = _prometheus_config(6066, 9090, None, 6167)
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    assert jobs[SCORE_WRITER_JOB]["static_configs"][0]["targets"] == ["127.0.0.1:6167"]
    assert jobs[WORKER_JOB]["static_configs"][0]["targets"] == ["127.0.0.1:6066"]
    unserved = _prometheus_config(6066, 9090, None, 0)
    assert SCORE_WRITER_JOB not in {c["job_name"] for c in unserved["scrape_configs"]}


def test_there_are_promtool_test_files() -> None:
    assert {p.name for p in TEST_FILES} >= {
        "burn_rate_test.yml",
        "open_past_target_test.yml",
        "holiday_cliff_test.yml",
        "pipeline_test.yml",
        "slow_burn_test.yml",
    }


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    promtool = require_tool("promtool")
    result = run([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_test_sets_interval() -> None:
    # promtool 2.42 has no default interval (2.49 added one).
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            assert "interval" in test, f"{path.name}: {test.get('name')}"


def test_every_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    all_alerts = {spec.name for spec in alert_catalogue()}
    assert all_alerts - firing == set(), "alerts never shown firing"
    assert all_alerts - quiet == set(), "alerts never shown quiet"


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    tests = yaml.safe_load((PROMETHEUS_DIR / "tests" / "pipeline_test.yml").read_text())
    tests["rule_files"] = [str(PROMETHEUS_DIR / "sigap-rules.yml")]
    first = tests["tests"][0]["alert_rule_test"][0]
    assert first["alertname"] == "SigapWorkerDown" and first["exp_alerts"] == []
    # Claim the worker is down while it is up: promtool must say so.
    first["exp_alerts"] = [{"exp_labels": {"severity": "page"}}]
    wrong = tmp_path / "wrong_test.yml"
    wrong.write_text(yaml.safe_dump(tests))
    result = run([promtool, "test", "rules", str(wrong)])
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def test_each_unit_pages_on_its_own_objective(tmp_path: Path) -> None:
    """Both units miss 20% of their response targets: a burn rate of 20 for the 99% unit
    (page) but 4 for the 95% unit (no page)."""
    promtool = require_tool("promtool")
    registry = small_registry()
    rules_path = tmp_path / "rules.yml"
    rules_path.write_text(render_rules(registry))
    strict = next(
        r
        for r in alerts(build_rules(registry))
        if r["alert"] == "SigapResponseFastBurn" and r["labels"]["unit"] == "strict"
    )
    series = []
    for unit in ("strict", "lenient"):
        series += [
            {
                "series": f'sigap_complaint_sla_total{{unit="{unit}",timer="response",'
                'outcome="met"}',
                "values": "0+8x120",
            },
            {
                "series": f'sigap_complaint_sla_total{{unit="{unit}",timer="response",'
                'outcome="missed"}',
                "values": "0+2x120",
            },
        ]
    test_file = tmp_path / "objective_test.yml"
    test_file.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(rules_path)],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": series,
                        "alert_rule_test": [
                            {
                                "eval_time": "30m",
                                "alertname": "SigapResponseFastBurn",
                                "exp_alerts": [
                                    {
                                        "exp_labels": strict["labels"],
                                        "exp_annotations": strict["annotations"],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        )
    )
    result = run([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr
