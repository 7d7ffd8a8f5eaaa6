"""The real worker's /metrics, as the real tools see it: a real broker, a real `sigap worker`,
`promtool check metrics` on its page, and a real Prometheus that scrapes it every second and
evaluates the generated rules (deploy/prometheus/sigap-rules.yml) on what it scraped.

tests/monitoring/ checks the rules and dashboards on synthetic samples; this checks that
the worker's actual exposition fits them (names, labels, types).
"""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import metrics.names as names
from sigap.core.registry_file import load_registry
from sigap.monitoring.rules import WORKER_JOB
from streams.unit_stage import WINDOW_STATS_SECONDS
from tests.integration.processes import Stack, http_get, run_sigap, running_stack, wait_for
from tests.monitoring.helpers import (
    REGISTRY,
    free_port,
    http_json,
    query_url,
    require_tool,
    server,
)

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "sigap-rules.yml"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
# The metric families of the contract (metrics/names.py), without label values.
SIGAP_FAMILIES = frozenset(
    value
    for key, value in vars(names).items()
    if key.isupper()
    and isinstance(value, str)
    and value not in (names.UNKNOWN_UNIT, names.OTHER_REASON, names.PREFIX)
    # The score writer's own metrics: that process exports them, not the worker.
    and value not in names.SCORE_WRITER_FAMILIES
)
SAMPLE_SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count")


def at(hours_ago: float) -> str:
    # Recent event times: the worker rejects events a day ahead of the record's timestamp.
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return moment.replace(microsecond=0).isoformat()


def events() -> list[dict[str, Any]]:
    def ev(event_id: str, type_: str, complaint: str, hours_ago: float, **extra: Any) -> Any:
        return {
            "event_id": event_id,
            "type": type_,
            "complaint_id": complaint,
            "occurred_at": at(hours_ago),
            **extra,
        }

    return [
        ev("s1", "created", "s-c1", 3, unit="dlh", category="sampah"),
        ev("s2", "responded", "s-c1", 2.5),
        ev("s3", "resolved", "s-c1", 1),
        ev("s4", "created", "s-c2", 2, unit="dlh"),
        ev("s5", "resolved", "s-c2", 0.5),  # also stops the response timer
        ev("s6", "created", "s-c3", 1.5, unit="dsda"),  # left open
    ]


CREATED = {"dlh": 2, "dsda": 1}
# Both dlh complaints stopped both timers well within the targets (24 h, 5 working days).
SLA_MET = {("dlh", "response"): 2, ("dlh", "resolution"): 2}


@dataclass(frozen=True)
class Scraped:
    stack: Stack
    prometheus: str  # base URL


def query(prometheus: str, expr: str) -> tuple[int, Any]:
    return http_json(query_url(prometheus, "/api/v1/query", query=expr))


def result(prometheus: str, expr: str) -> list[dict[str, Any]]:
    status, body = query(prometheus, expr)
    assert status == 200, f"{expr}: {status} {body}"
    found: list[dict[str, Any]] = body["data"]["result"]
    return found


def by_label(rows: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {row["metric"].get(label, ""): float(row["value"][1]) for row in rows}


def sigap_created(text: str) -> dict[str, float]:
    created = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sigap_complaints_created_total":
                created[sample.labels["unit"]] = sample.value
    return created


@pytest.fixture(scope="module")
def scraped(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    """A worker on fresh topics, scraped every second by a real Prometheus (on a free port)
    from before the events arrive, so counters and rates move while it watches."""
    prometheus_bin = require_tool("prometheus")
    base = tmp_path_factory.mktemp("worker-scrape")
    (base / "stack").mkdir()
    with running_stack({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, base / "stack") as stack:
        served = wait_for(lambda: http_get(stack.metrics_url), bool, 120, "the worker's /metrics")
        assert served, f"the worker did not serve {stack.metrics_url}:\n{stack.worker.log_text()}"
        worker = urlsplit(stack.metrics_url)
        port = free_port()
        config = base / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],  # the generated file, as shipped
                    "scrape_configs": [
                        {
                            "job_name": WORKER_JOB,
                            "metrics_path": worker.path,
                            "static_configs": [{"targets": [worker.netloc]}],
                        }
                    ],
                }
            )
        )
        url = f"http://127.0.0.1:{port}"
        command = [
            prometheus_bin,
            f"--config.file={config}",
            f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        with server(command, f"{url}/-/ready", base / "prometheus.log", "prometheus"):
            up = wait_for(
                lambda: result(url, f'up{{job="{WORKER_JOB}"}}'),
                lambda rows: by_label(rows, "job") == {WORKER_JOB: 1.0},
                60,
                "the first scrape",
            )
            assert by_label(up, "job") == {WORKER_JOB: 1.0}, up
            # `up` is 1 as soon as /metrics answers, but the unit series appear only once the
            # worker owns its partitions. rate() needs a sample from before the events: if
            # the first sample already held them, the increase is 0 and the SLI is 0/0 = NaN.
            before = wait_for(
                lambda: result(url, 'sigap_complaint_sla_total{unit=~"dlh|dsda"}'),
                lambda rows: len(rows) == 2 * 2 * len(names.TIMERS),
                120,
                "the registry units' zero SLA series in Prometheus",
            )
            assert {float(row["value"][1]) for row in before} == {0.0}, before

            jsonl = base / "events.jsonl"
            jsonl.write_text("".join(json.dumps(event) + "\n" for event in events()))
            published = run_sigap(["publish", str(jsonl)], stack.env)
            assert published.returncode == 0, published.stderr
            text = wait_for(
                lambda: http_get(stack.metrics_url),
                lambda t: all(sigap_created(t).get(u) == n for u, n in CREATED.items()),
                120,
                "the events in /metrics",
            )
            assert {u: sigap_created(text).get(u) for u in CREATED} == CREATED
            yield Scraped(stack, url)


def run_stdin(command: list[str], text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=text, capture_output=True, text=True, timeout=60)


def is_sigap(metric: str) -> bool:
    """Whether a family or sample name is one of the contract's (metrics/names.py)."""
    return any(metric == family + suffix for family in SIGAP_FAMILIES for suffix in SAMPLE_SUFFIXES)


def sigap_problem(line: str) -> bool:
    """Whether a promtool lint line (`<metric> <problem>`) is about a contract metric."""
    return is_sigap(line.split(" ", 1)[0])


def only_sigap(text: str) -> str:
    """The exposition without Faust's families: HELP, TYPE and samples of SIGAP's only."""
    kept = []
    for line in text.splitlines():
        if line.startswith("#"):  # "# HELP name ..." or "# TYPE name ..."
            parts = line.split(" ", 3)
            name = parts[2] if len(parts) >= 3 else ""
        else:
            name = line.split("{", 1)[0].split(" ", 1)[0]
        if is_sigap(name):
            kept.append(line)
    return "\n".join(kept) + "\n"


def test_promtool_accepts_the_worker_metrics(scraped: Scraped) -> None:
    promtool = require_tool("promtool")
    text = http_get(scraped.stack.metrics_url)
    families = {family.name for family in text_string_to_metric_families(text)}
    assert families >= SIGAP_FAMILIES, f"missing from /metrics: {SIGAP_FAMILIES - families}"

    # The whole page, as Prometheus gets it: it parses (exit 1 would be a parse error).
    # Faust's sensor metrics share the page and promtool's lint objects to one of them
    # (faust_events_runtime_ms: "abbreviated units"): that is Faust's to fix, so on the whole
    # page only problems naming a contract metric (metrics/names.py) count.
    whole = run_stdin([promtool, "check", "metrics"], text)
    assert whole.returncode in (0, 3), whole.stdout + whole.stderr  # 3: lint problems only
    ours_on_page = {line for line in lines(whole) if sigap_problem(line)}

    # SIGAP's families alone: the exit code agrees with what promtool says.
    alone = run_stdin([promtool, "check", "metrics"], only_sigap(text))
    ours_alone = set(lines(alone))
    assert (alone.returncode, ours_alone) == (0, set()), ours_alone
    assert ours_on_page == set()


def fetch(url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_the_metrics_page_negotiates_its_format_and_compresses(scraped: Scraped) -> None:
    url = scraped.stack.metrics_url
    plain_headers, _ = fetch(url)
    assert plain_headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "content-encoding" not in plain_headers

    zipped_headers, zipped = fetch(url, **{"Accept-Encoding": "gzip"})
    assert zipped_headers.get("content-encoding") == "gzip"
    unzipped = gzip.decompress(zipped).decode()
    assert len(zipped) * 4 < len(unzipped)  # the page is repetitive: gzip shrinks it a lot
    families = {family.name for family in text_string_to_metric_families(unzipped)}
    assert families >= SIGAP_FAMILIES

    om_headers, om = fetch(url, Accept="application/openmetrics-text; version=1.0.0")
    assert om_headers["content-type"].startswith("application/openmetrics-text")
    assert om.decode().rstrip().endswith("# EOF")


def test_every_sigap_metric_has_the_prefix_and_the_process_metrics_are_there(
    scraped: Scraped,
) -> None:
    text = http_get(scraped.stack.metrics_url)
    families = {family.name: family.type for family in text_string_to_metric_families(text)}
    ours = {name for name in families if not name.startswith(("faust_", "process_", "python_"))}
    assert ours and all(name.startswith(names.PREFIX) for name in ours), ours
    # No summary: a sliding window's count goes down, a summary's _count must not.
    assert {name: kind for name, kind in families.items() if kind == "summary"} == {}
    assert families.get("process_cpu_seconds") == "counter"
    assert families.get("process_resident_memory_bytes") == "gauge"
    assert "process_start_time_seconds" in families


def window_samples(
    text: str,
) -> tuple[dict[tuple[str, str, str, str, str], float], dict[tuple[str, str, str, str], float]]:
    """The window quantile gauges by (unit, timer, window, clock, percentile) and the stopped
    timer counts by (unit, timer, window, clock), from one /metrics page."""
    window: dict[tuple[str, str, str, str, str], float] = {}
    stopped: dict[tuple[str, str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == names.WINDOW_SECONDS:
                key = (labels["unit"], labels["timer"], labels["window"], labels["clock"])
                window[(*key, labels["percentile"])] = sample.value
            elif sample.name == names.WINDOW_STOPPED:
                key = (labels["unit"], labels["timer"], labels["window"], labels["clock"])
                stopped[key] = sample.value
    return window, stopped


def test_window_series_exist_for_empty_windows_with_a_clock_label(scraped: Scraped) -> None:
    # The window statistics are recomputed at most every WINDOW_STATS_SECONDS (counters are
    # always current), so they may lag the counters the fixture waited for by that long.
    text = wait_for(
        lambda: http_get(scraped.stack.metrics_url),
        lambda t: window_samples(t)[1].get(("dlh", "response", "24h", "wall")) == 2,
        WINDOW_STATS_SECONDS + 30,
        "dlh's window statistics in /metrics",
    )
    window, stopped = window_samples(text)
    registry = load_registry(REGISTRY)
    for unit in registry.units:  # every registry unit, also those with no complaint at all
        for timer in names.TIMERS:
            for name in names.WINDOWS:
                for clock in names.CLOCKS:
                    assert (unit, timer, name, clock) in stopped, (unit, timer, name, clock)
    # dsda's only complaint is open: its windows are empty, quantiles NaN, counts 0.
    assert stopped[("dsda", "response", "24h", "wall")] == 0
    assert math.isnan(window[("dsda", "response", "24h", "wall", "50")])
    # dlh's two responses (24 h wall target) and resolutions (working days) are apart.
    assert stopped[("dlh", "response", "24h", "wall")] == 2
    assert stopped[("dlh", "response", "24h", "working")] == 0
    assert stopped[("dlh", "resolution", "24h", "working")] == 2
    assert stopped[("dlh", "resolution", "24h", "wall")] == 0


def lines(checked: subprocess.CompletedProcess[str]) -> list[str]:
    return (checked.stdout + checked.stderr).splitlines()


def rules_health(prometheus: str) -> list[dict[str, Any]]:
    status, body = http_json(f"{prometheus}/api/v1/rules")
    assert status == 200, body
    return [rule for group in body["data"]["groups"] for rule in group["rules"]]


def test_prometheus_scrapes_the_worker_and_evaluates_the_rules(scraped: Scraped) -> None:
    url = scraped.prometheus
    assert by_label(result(url, f'up{{job="{WORKER_JOB}"}}'), "job") == {WORKER_JOB: 1.0}

    # Every rule evaluated at least once, without error, on the scraped series.
    rules = wait_for(
        lambda: rules_health(url),
        lambda found: all(rule["health"] != "unknown" for rule in found),
        60,
        "the first rule evaluations",
    )
    broken = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert broken == []
    recording = [rule for rule in rules if rule["type"] == "recording"]
    assert recording and all(rule["health"] == "ok" for rule in recording)

    # Recorded series exist for every unit and timer of the registry.
    registry = load_registry(REGISTRY)
    objectives = result(url, "sigap:complaint_sla_objective:ratio")
    assert {(r["metric"]["unit"], r["metric"]["timer"]) for r in objectives} == {
        (unit, timer) for unit in registry.units for timer in names.TIMERS
    }

    # Dashboard-style queries return the numbers the events make.
    created = wait_for(
        lambda: by_label(result(url, "sum by (unit) (sigap_complaints_created_total)"), "unit"),
        lambda found: all(found.get(unit) == n for unit, n in CREATED.items()),
        30,
        "the created complaints in Prometheus",
    )
    assert {unit: created.get(unit) for unit in CREATED} == CREATED
    sla = wait_for(
        lambda: result(url, 'sigap_complaint_sla_total{outcome="met"}'),
        lambda rows: all(
            any(
                (r["metric"]["unit"], r["metric"]["timer"]) == key and float(r["value"][1]) == n
                for r in rows
            )
            for key, n in SLA_MET.items()
        ),
        60,
        "the SLA outcomes in Prometheus",
    )
    met = {(r["metric"]["unit"], r["metric"]["timer"]): float(r["value"][1]) for r in sla}
    assert {key: met.get(key) for key in SLA_MET} == SLA_MET
    # Scraped before and after the events: the rates and the SLI recording rule moved.
    per_hour = by_label(
        result(url, "sum by (unit) (rate(sigap_complaints_created_total[1m])) * 3600"), "unit"
    )
    assert per_hour.get("dlh", 0) > 0, per_hour
    # A recorded series trails the raw samples by up to an evaluation interval: until the
    # rule has run on the scrape that brought the events it still holds 0/0 (NaN).
    expected_ratio = [("resolution", 0.0), ("response", 0.0)]
    error_ratio = wait_for(
        lambda: sorted(
            (r["metric"]["timer"], float(r["value"][1]))
            for r in result(url, 'sigap:complaint_sla_error_ratio:rate5m{unit="dlh"}')
        ),
        lambda rows: rows == expected_ratio,
        30,
        "the recorded error ratio",
    )
    assert error_ratio == expected_ratio


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expr) of every panel query, Grafana's variables filled in."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = (
                    target["expr"]
                    .replace("$__rate_interval", "1m")
                    .replace("$__range", "1h")
                    .replace("$unit", "dlh")
                )
                found.append((path.stem, panel["title"], expr))
    return found


# Panels that must show data once the worker is scraped (every target of the panel). Others
# may legitimately be empty on a handful of events, e.g. Faust's processing-time histogram
# or ratings.
MUST_SHOW = {
    ("sigap-city-overview", "Open complaints"),
    ("sigap-city-overview", "Complaints created per hour"),
    ("sigap-city-overview", "Within target in range (response / resolution)"),
    ("sigap-city-overview", "Compliance per unit"),
    ("sigap-pipeline", "Worker up"),
    ("sigap-pipeline", "Watermark delay"),
    ("sigap-slo", "Error budget remaining (30d)"),
    ("sigap-unit-detail", "Objective"),
    ("sigap-unit-detail", "Created and resolved per hour"),
}


def test_the_dashboards_queries_run_on_the_scraped_worker(scraped: Scraped) -> None:
    queries = dashboard_queries()
    assert MUST_SHOW - {(board, title) for board, title, _ in queries} == set()

    def run_all() -> tuple[list[Any], set[tuple[str, str]]]:
        failed, empty = [], set()
        for board, title, expr in queries:
            status, body = query(scraped.prometheus, expr)
            if status != 200:
                failed.append((board, title, expr, body))
            elif not body["data"]["result"]:
                empty.add((board, title))
        return failed, empty

    # Recorded series appear after the rules' first evaluations: wait for them.
    failed, empty = wait_for(
        run_all, lambda found: not found[0] and not MUST_SHOW & found[1], 30, "panel data"
    )
    assert failed == []
    assert sorted(MUST_SHOW & empty) == []
