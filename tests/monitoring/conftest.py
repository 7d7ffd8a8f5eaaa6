"""Fixtures of the monitoring tests: the registry, and a real Prometheus filled with
synthetic SIGAP metrics that evaluates the generated rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sigap.core.registry import Registry
from sigap.core.registry_file import load_registry
from sigap.monitoring.rules import BUDGET_REMAINING_RECORD, render_rules
from tests.monitoring.helpers import (
    REGISTRY,
    free_port,
    http_json,
    query_url,
    require_tool,
    run,
    server,
    unavailable,
)
from tests.monitoring.synthetic import openmetrics


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry(REGISTRY)


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    # Unix time of the last synthetic sample: queries at or shortly after it see data.
    data_end: float


@pytest.fixture(scope="module")
def prometheus(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """Prometheus on 127.0.0.1 (free port), backfilled with a few hours of every contract
    metric for every registry unit, evaluating the generated rules every second."""
    prometheus_bin = require_tool("prometheus")
    promtool = require_tool("promtool")
    base = tmp_path_factory.mktemp("prometheus")
    data = base / "data"
    rules = base / "sigap-rules.yml"
    rules.write_text(render_rules(registry))
    config = base / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                # Fast rule evaluation so recorded series exist within seconds.
                "global": {"scrape_interval": "15s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
            }
        )
    )
    end = float(int(time.time()) - 5)
    source = base / "sigap.om"
    source.write_text(openmetrics(registry.units, end))
    backfill = run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)])
    if backfill.returncode != 0:
        pytest.fail(f"promtool could not backfill:\n{backfill.stdout}\n{backfill.stderr}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        prometheus_bin,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=30d",
        "--log.level=warn",
    ]
    with server(command, f"{url}/-/ready", base / "prometheus.log", "prometheus"):
        # The SLO dashboard reads recorded series: wait for the rules' first evaluations.
        deadline = time.monotonic() + 60
        while True:
            status, body = http_json(query_url(url, "/api/v1/query", query=BUDGET_REMAINING_RECORD))
            if status == 200 and body["data"]["result"]:
                break
            if time.monotonic() > deadline:
                unavailable(f"recording rules produced nothing: {status} {body}")
            time.sleep(0.5)
        yield PrometheusServer(url=url, data_end=end)


@pytest.fixture(scope="session")
def deploy_dir() -> Path:
    from tests.monitoring.helpers import DEPLOY

    return DEPLOY
