"""The `sigap rules`, `sigap alertmanager-config` and `sigap dashboards` commands, and the
generated files in deploy/ being up to date with them."""

from __future__ import annotations

import filecmp
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from sigap.cli.monitoring import alertmanager_config, dashboards, register, rules
from tests.monitoring.helpers import DEPLOY, REGISTRY


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_register_adds_the_three_commands() -> None:
    group = click.Group("sigap")
    register(group)
    assert set(group.commands) == {"rules", "alertmanager-config", "dashboards"}


def test_generated_rules_are_up_to_date(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    result = runner.invoke(rules, ["--registry", str(REGISTRY), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (DEPLOY / "prometheus" / "sigap-rules.yml").read_text(), (
        "deploy/prometheus/sigap-rules.yml is stale: run `sigap rules`"
    )


def test_generated_alertmanager_config_is_up_to_date(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "alertmanager.yml"
    result = runner.invoke(alertmanager_config, ["--registry", str(REGISTRY), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (DEPLOY / "alertmanager" / "alertmanager.yml").read_text(), (
        "deploy/alertmanager/alertmanager.yml is stale: run `sigap alertmanager-config`"
    )


def test_generated_grafana_files_are_up_to_date(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(dashboards, ["--registry", str(REGISTRY), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    deployed = DEPLOY / "grafana"
    assert generated == sorted(p.relative_to(deployed) for p in deployed.rglob("*") if p.is_file())
    stale = [
        str(p) for p in generated if not filecmp.cmp(tmp_path / p, deployed / p, shallow=False)
    ]
    assert stale == [], "deploy/grafana is stale: run `sigap dashboards`"


def test_registry_defaults_to_sigap_registry(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A registry with one unit only: the output follows the file named by the variable.
    data = yaml.safe_load(REGISTRY.read_text())
    data["units"] = [u for u in data["units"] if u["code"] == "dlh"]
    data["targets"] = [t for t in data["targets"] if t["unit"] in ("*", "dlh")]
    data["iku"]["targets"] = [t for t in data["iku"]["targets"] if t["unit"] in ("*", "dlh")]
    for category in data.get("categories", []):  # the taxonomy's usual units: dlh only
        category["units"] = [code for code in category.get("units", []) if code == "dlh"]
    data["holiday_overrides"] = str((REGISTRY.parent / data["holiday_overrides"]).resolve())
    small = tmp_path / "registry.yaml"
    small.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("SIGAP_REGISTRY", str(small))
    out = tmp_path / "am.yml"
    result = runner.invoke(alertmanager_config, ["--out", str(out)])
    assert result.exit_code == 0, result.output
    receivers = {r["name"] for r in yaml.safe_load(out.read_text())["receivers"]}
    assert receivers == {
        "sigap-default",
        "sigap-ops",
        "sigap-dlh-page",
        "sigap-dlh-ticket",
        "sigap-dlh-duty",
        "sigap-dlh-unit-head",
        "sigap-dlh-department-head",
    }


def test_options_change_the_output(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "am.yml"
    result = runner.invoke(
        alertmanager_config,
        ["--registry", str(REGISTRY), "--out", str(out), "--webhook-base", "https://hooks.test/a"],
    )
    assert result.exit_code == 0, result.output
    assert "https://hooks.test/a/dlh/page" in out.read_text()
    result = runner.invoke(
        dashboards,
        [
            "--registry",
            str(REGISTRY),
            "--out",
            str(tmp_path / "grafana"),
            "--prometheus-url",
            "http://prom.test:9090",
            "--dashboards-path",
            "/srv/dashboards",
        ],
    )
    assert result.exit_code == 0, result.output
    provisioning = tmp_path / "grafana" / "provisioning"
    assert "http://prom.test:9090" in (provisioning / "datasources" / "sigap.yml").read_text()
    assert "/srv/dashboards" in (provisioning / "dashboards" / "sigap.yml").read_text()


def test_invalid_registry_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "registry.yaml"
    bad.write_text("version: 1\nunits: []\n")
    out = tmp_path / "rules.yml"
    result = runner.invoke(rules, ["--registry", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert "invalid registry" in result.output
    assert not out.exists()
    missing = runner.invoke(rules, ["--registry", str(tmp_path / "nope.yaml"), "--out", str(out)])
    assert missing.exit_code == 1
    assert "cannot read" in missing.output
