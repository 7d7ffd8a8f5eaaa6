"""Alertmanager configuration: amtool's own checks and routing tests for every unit and
severity, inhibition rules, and inhibition in a real Alertmanager."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sigap.core.registry import Registry
from sigap.monitoring.alertmanager import (
    DEFAULT_RECEIVER,
    DEFAULT_WEBHOOK_BASE,
    OPS_RECEIVER,
    build_alertmanager_config,
    expected_receiver,
    render_alertmanager_config,
)
from sigap.monitoring.rules import (
    ALERT_EVENTS_STALLED,
    ALERT_PAST_TARGET,
    ALERT_WORKER_DOWN,
    THRESHOLD_OF_ALERT,
    alert_catalogue,
)
from tests.monitoring.helpers import DEPLOY, free_port, http_json, require_tool, run, server

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"


def route_test(amtool: str, config: Path, receiver: str, labels: dict[str, str]) -> int:
    result = run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            f"--verify.receivers={receiver}",
            *(f"{k}={v}" for k, v in labels.items()),
        ]
    )
    return result.returncode


def test_amtool_accepts_the_config(registry: Registry, tmp_path: Path) -> None:
    amtool = require_tool("amtool")
    generated = tmp_path / "alertmanager.yml"
    generated.write_text(render_alertmanager_config(registry))
    for path in (generated, CONFIG):
        result = run([amtool, "check-config", str(path)])
        assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_rejects_a_broken_config(registry: Registry, tmp_path: Path) -> None:
    amtool = require_tool("amtool")
    config = build_alertmanager_config(registry)
    config["route"]["routes"][1]["receiver"] = "no-such-receiver"
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(config))
    assert run([amtool, "check-config", str(broken)]).returncode != 0


def routing_cases(registry: Registry) -> list[tuple[dict[str, str], str]]:
    """(alert labels, receiver) for every unit and severity, pipeline alerts and strays."""
    cases = []
    for code in registry.units:
        for severity, kind in (("page", "page"), ("ticket", "ticket"), ("warning", "ticket")):
            for timer in ("response", "resolution"):
                labels = {
                    "alertname": "SigapResponseFastBurn",
                    "component": "slo",
                    "severity": severity,
                    "unit": code,
                    "timer": timer,
                }
                cases.append((labels, f"sigap-{code}-{kind}"))
    # Open-target alerts: routed by their threshold to the people the registry names.
    roles = {"0.5": "duty", "0.75": "unit-head", "1": "department-head"}
    for code in registry.units:
        for alertname, threshold in THRESHOLD_OF_ALERT.items():
            labels = {
                "alertname": alertname,
                "component": "slo",
                "severity": "warning" if threshold != "1" else "ticket",
                "unit": code,
                "timer": "response",
                "threshold": threshold,
            }
            cases.append((labels, f"sigap-{code}-{roles[threshold]}"))
    for spec in alert_catalogue():
        if spec.component == "pipeline":
            labels = {"alertname": spec.name, "component": "pipeline", "severity": spec.severity}
            cases.append((labels, OPS_RECEIVER))
    # unit="unknown" (unregistered unit) and unlabelled alerts go to the default receiver.
    cases.append(
        (
            {"alertname": ALERT_PAST_TARGET, "component": "slo", "severity": "ticket"}
            | {"unit": "unknown", "timer": "response"},
            DEFAULT_RECEIVER,
        )
    )
    cases.append(({"alertname": "Watchdog"}, DEFAULT_RECEIVER))
    return cases


def test_python_routing_model_matches_the_expectations(registry: Registry) -> None:
    for labels, receiver in routing_cases(registry):
        assert expected_receiver(registry, labels) == receiver, labels


def test_amtool_routes_every_unit_and_severity(registry: Registry) -> None:
    amtool = require_tool("amtool")
    wrong = [
        (labels, receiver)
        for labels, receiver in routing_cases(registry)
        if route_test(amtool, CONFIG, receiver, labels) != 0
    ]
    assert wrong == []


def test_amtool_route_test_fails_on_a_wrong_receiver() -> None:
    amtool = require_tool("amtool")
    page = {"alertname": "SigapResponseFastBurn", "component": "slo", "severity": "page"}
    page["unit"] = "dlh"
    assert route_test(amtool, CONFIG, "sigap-dlh-page", page) == 0
    assert route_test(amtool, CONFIG, "sigap-dlh-ticket", page) != 0
    assert route_test(amtool, CONFIG, "sigap-dsda-page", page) != 0


def test_every_unit_has_page_and_ticket_webhooks(registry: Registry) -> None:
    config = build_alertmanager_config(registry, "http://hooks.example:8080/x/")
    urls = {r["name"]: r["webhook_configs"][0]["url"] for r in config["receivers"]}
    for code in registry.units:
        assert urls[f"sigap-{code}-page"] == f"http://hooks.example:8080/x/{code}/page"
        assert urls[f"sigap-{code}-ticket"] == f"http://hooks.example:8080/x/{code}/ticket"
    assert urls[OPS_RECEIVER] == "http://hooks.example:8080/x/ops"
    assert urls[DEFAULT_RECEIVER] == "http://hooks.example:8080/x/default"
    for code in registry.units:
        for role in ("duty", "unit_head", "department_head"):
            receiver = f"sigap-{code}-{role.replace('_', '-')}"
            assert urls[receiver] == f"http://hooks.example:8080/x/{code}/{role}"
    assert len(urls) == 5 * len(registry.units) + 2
    deployed = yaml.safe_load(CONFIG.read_text())
    assert all(
        r["webhook_configs"][0]["url"].startswith(DEFAULT_WEBHOOK_BASE)
        for r in deployed["receivers"]
    )


# --------------------------------------------------------------------------------------
# Inhibition
# --------------------------------------------------------------------------------------


def _matches(matchers: list[str], labels: dict[str, str]) -> bool:
    for matcher in matchers:
        match = re.fullmatch(r'(\w+)(=~|!=|=)"(.*)"', matcher)
        assert match, matcher
        name, op, value = match.groups()
        actual = labels.get(name, "")
        ok = {
            "=": actual == value,
            "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None,
        }[op]
        if not ok:
            return False
    return True


def inhibited(config: dict[str, Any], target: dict[str, str], source: dict[str, str]) -> bool:
    """Alertmanager's rule: a firing source mutes a target when both match and the
    `equal` labels agree (missing counts as empty)."""
    return any(
        _matches(rule["source_matchers"], source)
        and _matches(rule["target_matchers"], target)
        and all(source.get(k, "") == target.get(k, "") for k in rule.get("equal", []))
        and source != target
        for rule in config["inhibit_rules"]
    )


PAGE_DLH = {"alertname": "SigapResponseFastBurn", "component": "slo", "severity": "page"} | {
    "unit": "dlh",
    "timer": "response",
}
TICKET_DLH = {"alertname": "SigapResponseSlowBurn", "component": "slo", "severity": "ticket"} | {
    "unit": "dlh",
    "timer": "response",
}
PAST_DLH = {"alertname": ALERT_PAST_TARGET, "component": "slo", "severity": "ticket"} | {
    "unit": "dlh",
    "timer": "response",
}
PAST_DLH_RESOLUTION = PAST_DLH | {"timer": "resolution"}
NEAR_DLH = PAST_DLH | {"alertname": "SigapComplaintsNearTarget", "severity": "warning"}
TICKET_DSDA = TICKET_DLH | {"unit": "dsda"}
WORKER_DOWN = {"alertname": ALERT_WORKER_DOWN, "component": "pipeline", "severity": "page"}
STALLED = {"alertname": ALERT_EVENTS_STALLED, "component": "pipeline", "severity": "page"}
DEAD_LETTERS = {"alertname": "SigapEventsDeadLettered", "component": "pipeline"} | {
    "severity": "ticket"
}


def test_inhibition_rules(registry: Registry) -> None:
    config = build_alertmanager_config(registry)
    # A page mutes tickets and warnings of the same unit and timer only.
    assert inhibited(config, TICKET_DLH, PAGE_DLH)
    assert inhibited(config, PAST_DLH, PAGE_DLH)
    assert inhibited(config, NEAR_DLH, PAGE_DLH)
    assert not inhibited(config, PAST_DLH_RESOLUTION, PAGE_DLH)
    assert not inhibited(config, TICKET_DSDA, PAGE_DLH)
    assert not inhibited(config, PAGE_DLH, TICKET_DLH)
    # A stale pipeline mutes every SLO alert, pages included, but not other pipeline alerts.
    for source in (WORKER_DOWN, STALLED):
        for target in (PAGE_DLH, TICKET_DLH, PAST_DLH, TICKET_DSDA):
            assert inhibited(config, target, source)
        assert not inhibited(config, DEAD_LETTERS, source)
    assert not inhibited(config, PAGE_DLH, DEAD_LETTERS)
    assert not inhibited(config, WORKER_DOWN, PAGE_DLH)


def _post(url: str, alerts: list[dict[str, str]]) -> None:
    now = datetime.now(UTC).isoformat()
    body = json.dumps([{"labels": a, "startsAt": now} for a in alerts]).encode()
    status, answer = http_json(f"{url}/api/v2/alerts", data=body)
    assert status == 200, answer


def _states(url: str) -> dict[str, bool]:
    status, alerts = http_json(f"{url}/api/v2/alerts")
    assert status == 200
    return {
        json.dumps(a["labels"], sort_keys=True): bool(a["status"]["inhibitedBy"]) for a in alerts
    }


def _key(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True)


def _wait_for(url: str, expected: dict[str, bool]) -> dict[str, bool | None]:
    deadline = time.monotonic() + 30
    while True:
        states = _states(url)
        got = {k: states.get(k) for k in expected}
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_inhibition_in_a_real_alertmanager(registry: Registry, tmp_path: Path) -> None:
    binary = require_tool("prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    # Webhooks to a closed local port: this test only reads alert states, not deliveries.
    config.write_text(render_alertmanager_config(registry, f"http://127.0.0.1:{free_port()}"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip port: a single local instance
        "--log.level=warn",
    ]
    with server(command, f"{url}/-/ready", tmp_path / "alertmanager.log", "alertmanager"):
        _post(url, [PAGE_DLH, TICKET_DLH, PAST_DLH, PAST_DLH_RESOLUTION, TICKET_DSDA])
        expected = {
            _key(PAGE_DLH): False,
            _key(TICKET_DLH): True,
            _key(PAST_DLH): True,
            _key(PAST_DLH_RESOLUTION): False,
            _key(TICKET_DSDA): False,
        }
        assert _wait_for(url, expected) == expected
        _post(url, [WORKER_DOWN, DEAD_LETTERS])
        expected = dict.fromkeys(expected, True) | {
            _key(WORKER_DOWN): False,
            _key(DEAD_LETTERS): False,
        }
        assert _wait_for(url, expected) == expected


@pytest.mark.parametrize("path", [CONFIG], ids=["deploy"])
def test_deployed_config_is_generated(path: Path, registry: Registry) -> None:
    assert path.read_text() == render_alertmanager_config(registry)


# --------------------------------------------------------------------------------------
# Quiet hours: time intervals from the working calendar
# --------------------------------------------------------------------------------------

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def _in_spec(spec: dict[str, Any], moment: datetime) -> bool:
    """Alertmanager's reading of one time-interval spec (every given field must match),
    written here from its documentation, not from the generator."""
    from zoneinfo import ZoneInfo

    local = moment.astimezone(ZoneInfo(spec.get("location", "UTC")))
    if "weekdays" in spec and _WEEKDAYS[local.weekday()] not in spec["weekdays"]:
        return False
    if "years" in spec and str(local.year) not in spec["years"]:
        return False
    if "months" in spec and _MONTHS[local.month - 1] not in spec["months"]:
        return False
    if "days_of_month" in spec and str(local.day) not in spec["days_of_month"]:
        return False
    if "times" in spec:
        minute = local.hour * 60 + local.minute

        def minutes(text: str) -> int:
            hours, mins = text.split(":")
            return int(hours) * 60 + int(mins)

        return any(
            minutes(t["start_time"]) <= minute < minutes(t["end_time"]) for t in spec["times"]
        )
    return True


def _muted(config: dict[str, Any], route: dict[str, Any], moment: datetime) -> bool:
    intervals = {i["name"]: i["time_intervals"] for i in config.get("time_intervals", [])}
    return any(
        _in_spec(spec, moment)
        for name in route.get("mute_time_intervals", [])
        for spec in intervals[name]
    )


def _threshold_route(config: dict[str, Any], unit: str, threshold: str) -> dict[str, Any]:
    unit_route = next(r for r in config["route"]["routes"] if r["matchers"] == [f'unit="{unit}"'])
    return next(r for r in unit_route["routes"] if r["matchers"] == [f'threshold="{threshold}"'])


def test_non_urgent_notifications_wait_for_working_hours_and_skip_holidays(
    registry: Registry,
) -> None:
    from zoneinfo import ZoneInfo

    wib = ZoneInfo("Asia/Jakarta")
    config = yaml.safe_load(CONFIG.read_text())  # the deployed, generated file
    assert all(
        spec["location"] == "Asia/Jakarta"
        for interval in config["time_intervals"]
        for spec in interval["time_intervals"]
    )
    wednesday_work = datetime(2026, 12, 2, 10, 0, tzinfo=wib)
    wednesday_night = datetime(2026, 12, 2, 20, 0, tzinfo=wib)
    wednesday_early = datetime(2026, 12, 2, 7, 59, tzinfo=wib)
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=wib)
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=wib)  # Friday, Hari Raya Natal
    independence = datetime(2026, 8, 17, 10, 0, tzinfo=wib)  # Monday, HUT RI
    for unit in ("dlh", "dsda"):  # office calendar
        for threshold in ("0.5", "0.75"):
            route = _threshold_route(config, unit, threshold)
            assert not _muted(config, route, wednesday_work)
            for quiet in (wednesday_night, wednesday_early, saturday, christmas, independence):
                assert _muted(config, route, quiet), (unit, threshold, quiet)
        # Urgent: the 100% route and pages are never muted.
        assert "mute_time_intervals" not in _threshold_route(config, unit, "1")
        unit_route = next(
            r for r in config["route"]["routes"] if r["matchers"] == [f'unit="{unit}"']
        )
        for route in unit_route["routes"]:
            if route["matchers"] != ['threshold="0.5"'] and route["matchers"] != [
                'threshold="0.75"'
            ]:
                assert "mute_time_intervals" not in route, route
    # Round-the-clock units are never muted.
    for unit in ("damkar", "bpbd"):
        for threshold in ("0.5", "0.75", "1"):
            assert not _muted(config, _threshold_route(config, unit, threshold), christmas)


def test_every_calendar_holiday_is_a_quiet_day(registry: Registry) -> None:
    """Each holiday and cuti bersama the office calendar knows (2026-2030) is muted all day."""
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    config = yaml.safe_load(CONFIG.read_text())
    route = _threshold_route(config, "dlh", "0.5")
    holidays = sorted(d for d in registry.calendar_for("dlh").holidays if 2026 <= d.year <= 2030)
    assert len(holidays) > 50
    for day in holidays:
        noon = datetime.combine(day, clock(12), tzinfo=ZoneInfo("Asia/Jakarta"))
        assert _muted(config, route, noon), day


def test_amtool_accepts_the_time_intervals(registry: Registry, tmp_path: Path) -> None:
    amtool = require_tool("amtool")
    config = build_alertmanager_config(registry)
    assert config["time_intervals"], "no time intervals generated"
    bad = tmp_path / "bad.yml"
    config["time_intervals"][0]["time_intervals"][0]["location"] = "Asia/Nowhere"
    bad.write_text(yaml.safe_dump(config))
    assert run([amtool, "check-config", str(bad)]).returncode != 0
