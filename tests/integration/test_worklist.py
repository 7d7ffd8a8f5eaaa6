"""The overdue worklist of a real worker on a real broker equals, complaint for complaint,
what a replay of the same events computes at the same watermark; `sigap overdue` prints
the worker's list; the overdue gauges agree with it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import metrics.names as names
from schemas.events import ComplaintEvent
from sigap.core.registry_file import load_registry
from sigap.replay import replay, replay_worklist
from streams.api import worklist_entry_json
from tests.integration.processes import Stack, http_get, run_sigap, running_stack, wait_for
from tests.monitoring.helpers import REGISTRY, http_json

pytestmark = pytest.mark.kafka
NOW = datetime.now(UTC).replace(microsecond=0)


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def ev(complaint: str, kind: str, hours_ago: float, **extra: Any) -> None:
        n = sum(1 for e in out if e["complaint_id"] == complaint)
        out.append(
            {
                "event_id": f"{complaint}-{n}",
                "type": kind,
                "complaint_id": complaint,
                "occurred_at": at(hours_ago),
                **extra,
            }
        )

    # dlh: response targets are 24 wall hours; resolution 5 working days.
    for n, hours in enumerate((200, 120, 70, 50, 30, 20, 14, 8, 2)):
        ev(f"w{n}", "created", hours, unit="dlh", category="complex" if n % 2 else None)
    ev("w1", "responded", 110)  # response met; resolution still open
    ev("w3", "paused", 40)  # paused at 10 h: below 50%, stays there
    ev("w4", "paused", 10)  # paused at 20 h (>= 75%), not past its deadline
    ev("w5", "resolved", 1)  # closed: off the list
    ev("t1", "created", 60, unit="dlh")
    ev("t1", "assigned", 50, unit="dsda", reason="not_our_authority")  # dsda holds it
    ev("d1", "created", 40, unit="dsda")
    return [{k: v for k, v in e.items() if v is not None} for e in out]


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("worklist")
    with running_stack({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, base) as running:
        served = wait_for(lambda: http_get(running.metrics_url), bool, 120, "the worker")
        assert served, running.worker.log_text()
        jsonl = base / "events.jsonl"
        jsonl.write_text("".join(json.dumps(e) + "\n" for e in events()))
        published = run_sigap(["publish", str(jsonl)], running.env)
        assert published.returncode == 0, published.stderr
        yield running


def api_base(stack: Stack) -> str:
    return stack.metrics_url.removesuffix("/metrics")


def overdue(stack: Stack, unit: str, query: str = "limit=500") -> dict[str, Any]:
    status, body = http_json(f"{api_base(stack)}/api/units/{unit}/overdue?{query}")
    assert status == 200, body
    result: dict[str, Any] = body
    return result


def replayed(unit: str, watermark: float, **options: Any) -> list[dict[str, Any]]:
    registry = load_registry(REGISTRY)
    result = replay([ComplaintEvent.model_validate_json(json.dumps(e)) for e in events()], registry)
    page = replay_worklist(result, unit, watermark, registry, **options)
    return [worklist_entry_json(item) for item in page.entries]


def settled(stack: Stack, unit: str, complaints: int) -> dict[str, Any]:
    """The worker's list once every complaint of the unit is in its state."""

    def probe() -> dict[str, Any]:
        status, body = http_json(f"{api_base(stack)}/api/units/{unit}/kpis")
        return body if status == 200 else {}

    kpis = wait_for(probe, lambda b: b.get("created", 0) >= complaints, 120, "the events")
    assert kpis.get("created", 0) >= complaints, kpis
    return overdue(stack, unit)


def test_the_live_worklist_equals_the_replayed_one_complaint_for_complaint(stack: Stack) -> None:
    for unit, created in (("dlh", 10), ("dsda", 1)):
        live = settled(stack, unit, created)
        watermark = live["watermark_epoch"]
        assert watermark is not None
        assert live["items"], f"{unit}: an empty list proves nothing"
        assert live["items"] == replayed(unit, watermark), unit
        assert live["total"] == len(live["items"])


def test_the_list_is_oldest_deadline_first_and_holds_what_the_day_needs(stack: Stack) -> None:
    live = settled(stack, "dlh", 10)
    items = live["items"]
    deadlines = [item["deadline"] for item in items]
    assert deadlines == sorted(deadlines)
    ids = {(item["complaint_id"], item["timer"]) for item in items}
    # Past the 24-hour response deadline, unanswered and running: w0 (200 h ago) and w2
    # (70 h); w1 was answered; w3 was paused at 10 h (below 50%), w4 at 20 h (past 75%):
    # a paused clock cannot pass its deadline.
    past = {i["complaint_id"] for i in items if i["timer"] == "response" and i["level"] == "1"}
    assert past == {"w0", "w2"}
    assert ("w4", "response") in ids and next(
        i for i in items if i["complaint_id"] == "w4" and i["timer"] == "response"
    )["paused"]
    assert ("w5", "response") not in ids and ("w5", "resolution") not in ids  # resolved
    assert ("w1", "response") not in ids  # answered
    assert all(i["complaint_id"] != "t1" for i in items)  # transferred to dsda
    dsda = overdue(stack, "dsda")["items"]
    t1 = next(i for i in dsda if i["complaint_id"] == "t1" and i["timer"] == "response")
    assert t1["held_since"] == at(50).replace("+00:00", "Z")
    for item in items:
        assert set(item) == {
            "complaint_id",
            "timer",
            "level",
            "deadline",
            "clock",
            "past_deadline_wall_seconds",
            "past_deadline_working_seconds",
            "held_since",
            "category",
            "paused",
            "due_after_break",
        }
    assert set(live) >= {"after_break"}


def test_pages_are_bounded_and_stable(stack: Stack) -> None:
    whole = settled(stack, "dlh", 10)["items"]
    first = overdue(stack, "dlh", "limit=3")
    assert first["next_offset"] == 3 and len(first["items"]) == 3
    rest = overdue(stack, "dlh", "limit=500&offset=3")
    ids = [i["complaint_id"] + i["timer"] for i in (*first["items"], *rest["items"])]
    assert ids == [i["complaint_id"] + i["timer"] for i in whole]
    status, body = http_json(f"{api_base(stack)}/api/units/dlh/overdue?limit=501")
    assert status == 400 and body["parameter"] == "limit"
    status, body = http_json(f"{api_base(stack)}/api/units/dlh/overdue?level=0.6")
    assert status == 400 and body["parameter"] == "level"
    status, body = http_json(f"{api_base(stack)}/api/units/nope/overdue")
    assert status == 404


def test_sigap_overdue_prints_the_workers_list(stack: Stack) -> None:
    settled(stack, "dlh", 10)
    env = {**stack.env, "SIGAP_WEB_HOST": "127.0.0.1"}
    printed = run_sigap(["overdue", "--unit", "dlh", "--level", "1", "--format", "json"], env)
    assert printed.returncode == 0, printed.stderr
    body = json.loads(printed.stdout)
    assert body["items"] == replayed("dlh", body["watermark_epoch"], min_level=1.0)
    table = run_sigap(["overdue", "--unit", "dlh"], env)
    assert table.returncode == 0, table.stderr
    assert "w0" in table.stdout and "past deadline" in table.stdout
    missing = run_sigap(["overdue", "--unit", "nope"], env)
    assert missing.returncode != 0 and "404" in missing.stderr


def test_the_overdue_gauges_agree_with_the_list(stack: Stack) -> None:
    live = settled(stack, "dlh", 10)
    text = http_get(stack.metrics_url)
    bands: dict[str, float] = {}
    oldest = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("unit") != "dlh" or labels.get("timer") != "response":
                continue
            if sample.name == names.OVERDUE:
                bands[labels["late_by"]] = sample.value
            elif sample.name == names.OVERDUE_OLDEST:
                oldest = sample.value
    past = [i for i in live["items"] if i["timer"] == "response" and i["level"] == "1"]
    assert sum(bands.values()) == len(past)
    assert oldest is not None
    worst = max(i["past_deadline_wall_seconds"] for i in past)
    assert abs(oldest - worst) < 120  # the scrape came a moment after the list
