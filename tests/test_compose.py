"""docker-compose.yml, checked without Docker (no engine on development or CI machines).

The file is validated against the Compose Specification JSON schema (vendored in
tests/data/, see SOURCE.md there), then against what the stack needs: the services, ports
on 127.0.0.1 only, mounted repository paths that exist, the generated monitoring files
mounted where the containers read them, and the mounted Prometheus and Alertmanager
configurations accepted by promtool and amtool laid out as the containers see them.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft202012Validator

from sigap.monitoring.dashboards import render_datasource_provisioning
from sigap.monitoring.rules import SCORE_WRITER_JOB, WORKER_JOB
from sigap.settings import Settings
from tests.monitoring.helpers import require_tool, run

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
REQUIRED_SERVICES = {
    "kafka",
    "worker",
    "score-writer",
    "simulator",
    "prometheus",
    "alertmanager",
    "grafana",
    "postgres",
}
SIGAP_SERVICES = ("worker", "score-writer", "simulator")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # safe_load resolves the `<<: *sigap` merge keys as Compose does.
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    # No format checker: the schema's "duration" format means Go durations ("5s"), which
    # jsonschema's ISO 8601 duration check would reject.
    return Draft202012Validator(schema)


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, source, target) of each volume entry, short or long syntax."""
    found = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            found.append((entry["type"], str(entry.get("source", "")), entry["target"]))
            continue
        parts = entry.split(":")
        source, target = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        found.append((kind, source, target))
    return found


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository path of each bind mount."""
    return {
        target: (ROOT / source).resolve()
        for kind, source, target in mounts(service)
        if kind == "bind"
    }


def command_flag(service: dict[str, Any], flag: str) -> str:
    for argument in service["command"]:
        if argument.startswith(f"{flag}="):
            return str(argument.split("=", 1)[1])
    raise AssertionError(f"{flag} missing from {service['command']}")


def mirror(service: dict[str, Any], base: Path) -> Path:
    """Copy the service's bind mounts under base at their container paths."""
    for target, source in bind_mounts(service).items():
        destination = base / target.lstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination)
        else:
            shutil.copyfile(source, destination)
    return base


def test_valid_against_the_compose_specification(
    compose: dict[str, Any], validator: Draft202012Validator
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


@pytest.mark.parametrize(
    ("service", "key", "value"),
    [
        ("worker", "prots", ["127.0.0.1:6066:6066"]),  # a misspelt key
        ("grafana", "restart", ["always"]),  # a list where a string goes
        ("postgres", "healthcheck", {"test": ["CMD", "true"], "interval": 10}),  # not "10s"
    ],
)
def test_the_schema_rejects_a_broken_file(
    compose: dict[str, Any], validator: Draft202012Validator, service: str, key: str, value: Any
) -> None:
    # A validator that accepts anything would make the test above pass for nothing.
    broken = copy.deepcopy(compose)
    broken["services"][service][key] = value
    paths = [list(error.absolute_path) for error in validator.iter_errors(broken)]
    assert any(path[:2] == ["services", service] for path in paths), paths


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    assert REQUIRED_SERVICES - set(services(compose)) == set()
    for name, service in services(compose).items():
        assert "image" in service or "build" in service, name
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build["context"])
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (context / (dockerfile or "Dockerfile")).is_file(), name
        image = service.get("image", "")
        if "/" in image or ":" in image:  # a registry image: a pinned tag, never latest
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
            assert tag and tag != "latest", f"{name}: {image} is not pinned"


def test_host_ports_are_bound_to_loopback_only(compose: dict[str, Any]) -> None:
    published = 0
    for name, service in services(compose).items():
        for port in service.get("ports", []):
            published += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
                continue
            # Short syntax: only HOST_IP:HOST_PORT:CONTAINER_PORT names an address.
            spec = str(port)
            assert spec.count(":") == 2 and spec.startswith("127.0.0.1:"), f"{name}: {spec}"
    assert published >= 5  # worker, prometheus, alertmanager, grafana, postgres


def test_mounted_repository_paths_exist(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services(compose).items():
        for kind, source, target in mounts(service):
            if kind == "bind":
                path = (ROOT / source).resolve()
                assert path.exists(), f"{name}: {source} (mounted at {target}) does not exist"
                assert path.is_relative_to(ROOT), f"{name}: {source} is outside the repository"
            elif kind == "volume" and source:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_dependencies_exist_and_healthchecks_back_them(compose: dict[str, Any]) -> None:
    every = services(compose)
    for name, service in every.items():
        depends = service.get("depends_on", {})
        for dependency in depends:
            assert dependency in every, f"{name} depends on unknown {dependency}"
            condition = depends[dependency].get("condition") if isinstance(depends, dict) else None
            if condition == "service_healthy":
                assert "healthcheck" in every[dependency], f"{dependency} has no healthcheck"
    for name in ("kafka", "worker", "postgres", "prometheus", "alertmanager", "grafana"):
        assert "healthcheck" in every[name], name


def test_sigap_services_share_kafka_and_the_score_database(compose: dict[str, Any]) -> None:
    every = services(compose)
    environments = {name: every[name]["environment"] for name in SIGAP_SERVICES}
    bootstrap = {env["KAFKA_BOOTSTRAP_SERVERS"] for env in environments.values()}
    assert len(bootstrap) == 1, environments
    # The address the broker advertises, or clients are redirected to one they cannot reach.
    advertised = every["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"PLAINTEXT://{bootstrap.pop()}" in advertised.split(",")

    url = urlsplit(environments["score-writer"]["DATABASE_URL"])
    postgres = every["postgres"]["environment"]
    assert url.scheme == "postgresql+psycopg"
    assert (url.hostname, url.port) == ("postgres", 5432)
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.path == f"/{postgres['POSTGRES_DB']}"
    assert every["score-writer"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_prometheus_scrapes_the_worker_with_the_generated_rules(compose: dict[str, Any]) -> None:
    every = services(compose)
    prometheus = every["prometheus"]
    binds = bind_mounts(prometheus)
    config_path = command_flag(prometheus, "--config.file")
    assert config_path in binds, "the config file Prometheus reads is not mounted"
    rules_file = (ROOT / "deploy" / "prometheus" / "sigap-rules.yml").resolve()
    assert rules_file in binds.values(), "the generated rules are not mounted"
    rules_target = next(target for target, source in binds.items() if source == rules_file)

    config = yaml.safe_load(binds[config_path].read_text())
    config_dir = PurePosixPath(config_path).parent
    loaded = {str(config_dir / rule) for rule in config["rule_files"]}  # absolute stays as is
    assert rules_target in loaded, f"rule_files {config['rule_files']} miss {rules_target}"

    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker_port = every["worker"]["ports"][0].rsplit(":", 1)[1]
    targets = jobs[WORKER_JOB]["static_configs"][0]["targets"]
    assert targets == [f"worker:{worker_port}"]
    writer_port = Settings.model_fields["score_writer_metrics_port"].default
    writer_targets = jobs[SCORE_WRITER_JOB]["static_configs"][0]["targets"]
    assert writer_targets == [f"score-writer:{writer_port}"]
    alertmanagers = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    listen = command_flag(every["alertmanager"], "--web.listen-address").rsplit(":", 1)[1]
    assert alertmanagers == [f"alertmanager:{listen}"]


def test_promtool_accepts_the_mounted_prometheus_config(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    promtool = require_tool("promtool")
    prometheus = services(compose)["prometheus"]
    root = mirror(prometheus, tmp_path)
    config_file = root / command_flag(prometheus, "--config.file").lstrip("/")
    # Absolute rule_files name container paths: point them into the mirror.
    config = yaml.safe_load(config_file.read_text())
    config["rule_files"] = [
        str(root / rule.lstrip("/")) if rule.startswith("/") else rule
        for rule in config["rule_files"]
    ]
    config_file.write_text(yaml.safe_dump(config))
    checked = run([promtool, "check", "config", str(config_file)], cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout, checked.stdout


def test_amtool_accepts_the_mounted_alertmanager_config(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    amtool = require_tool("amtool")
    alertmanager = services(compose)["alertmanager"]
    generated = (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").resolve()
    assert generated in bind_mounts(alertmanager).values(), "the generated routes are not mounted"
    root = mirror(alertmanager, tmp_path)
    config_file = root / command_flag(alertmanager, "--config.file").lstrip("/")
    checked = run([amtool, "check-config", str(config_file)])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_is_provisioned_with_prometheus_and_the_dashboards(
    compose: dict[str, Any],
) -> None:
    every = services(compose)
    binds = bind_mounts(every["grafana"])
    datasource = binds["/etc/grafana/provisioning/datasources/sigap.yml"]
    provisioned = [yaml.safe_load(datasource.read_text())]
    # The generated datasource, with the URL Prometheus has inside the compose network.
    listen = command_flag(every["prometheus"], "--web.listen-address").rsplit(":", 1)[1]
    url = f"http://prometheus:{listen}"
    assert provisioned == [yaml.safe_load(render_datasource_provisioning(url))]

    providers = yaml.safe_load(
        (binds["/etc/grafana/provisioning/dashboards"] / "sigap.yml").read_text()
    )["providers"]
    dashboards_path = providers[0]["options"]["path"]
    assert binds[dashboards_path] == (ROOT / "deploy" / "grafana" / "dashboards").resolve()
    assert sorted(binds[dashboards_path].glob("*.json")), "no dashboards to provision"
