"""Both agents through Faust's test_context (memory:// store, no broker).

The complaint agent's output topics are recorded; the recorded unit views are then fed to
the unit agent, as the views topic would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sigap.core.registry_file import load_registry
from sigap.settings import Settings
from streams.app import HANDOVER_TURNS, SigapApp, create_app

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")


class RecordingTopic:
    """Stands in for an output topic: Faust's test_context has no producer."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


def in_process_app(settings: Settings) -> SigapApp:
    """The worker's app for Faust's test_context: output topics recorded, and every
    partition owned (test_context feeds partition 0 and assigns nothing)."""
    built = create_app(settings, REGISTRY)
    built.faust_app.finalize()
    built.faust_app.flow_control.resume()
    built.complaint_stage.views_topic = RecordingTopic()
    built.complaint_stage.dead_letter_topic = RecordingTopic()
    built.owned_partitions = lambda topic: set(range(settings.topic_partitions))
    return built


@pytest.fixture
def sigap(tmp_path: Path) -> Iterator[SigapApp]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    settings = Settings(store_url="memory://", state_dir=str(tmp_path), app_id="sigap-test")
    yield in_process_app(settings)
    loop.close()


def event(event_id: str, type_: str, complaint_id: str, at: str, **extra: Any) -> bytes:
    body = {"event_id": event_id, "type": type_, "complaint_id": complaint_id, "occurred_at": at}
    body.update(extra)
    return orjson.dumps(body)


async def _send_all(sigap: SigapApp, agent_name: str, messages: list[tuple[bytes, bytes]]) -> None:
    agent = sigap.faust_app.agents[agent_name]
    async with agent.test_context() as agent_context:
        for key, value in messages:
            await agent_context.put(value, key=key)
        # put() returns once the agent has taken the event; the complaints agent hands its
        # batch over only after HANDOVER_TURNS loop turns without another
        # (streams.app.event_batches). Those turns, and some to process it, before the
        # context stops the agent.
        for _ in range(2 * HANDOVER_TURNS + 10):
            await asyncio.sleep(0)


def run(sigap: SigapApp, messages: list[tuple[bytes, bytes]]) -> None:
    loop = asyncio.get_event_loop()
    views: Any = sigap.complaint_stage.views_topic
    already = len(views.sent)
    loop.run_until_complete(_send_all(sigap, "complaints", messages))
    new_views = [(v["key"], v["value"]) for v in views.sent[already:]]
    loop.run_until_complete(_send_all(sigap, "units", new_views))


def scrape(sigap: SigapApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(sigap.registry).decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def test_created_and_resolved_are_measured(sigap: SigapApp) -> None:
    run(
        sigap,
        [
            (b"c1", event("e1", "created", "c1", "2026-11-02T09:00:00+07:00", unit="dlh")),
            (b"c1", event("e2", "resolved", "c1", "2026-11-02T11:30:00+07:00")),
            (b"c2", event("e3", "created", "c2", "2026-11-02T10:00:00+07:00", unit="dlh")),
        ],
    )
    found = scrape(sigap)
    assert value(found, "sigap_complaints_created_total", unit="dlh") == 2
    assert value(found, "sigap_complaints_resolved_total", unit="dlh") == 1
    assert value(found, "sigap_complaints_open", unit="dlh") == 1
    assert value(found, "sigap_complaint_resolution_wall_seconds_sum", unit="dlh") == 9000.0
    assert (
        value(found, "sigap_complaint_resolution_wall_seconds_bucket", unit="dlh", le="7200.0") == 0
    )
    assert (
        value(found, "sigap_complaint_resolution_wall_seconds_bucket", unit="dlh", le="14400.0")
        == 1
    )
    # 2.5 h inside Monday's working hours; first response = the resolution (no responded).
    assert value(found, "sigap_complaint_resolution_working_seconds_sum", unit="dlh") == 9000.0
    assert value(found, "sigap_complaint_first_response_wall_seconds_sum", unit="dlh") == 9000.0
    assert (
        value(found, "sigap_complaint_sla_total", unit="dlh", timer="response", outcome="met") == 1
    )
    # Label sets exist before the first miss, for every registry unit.
    assert (
        value(found, "sigap_complaint_sla_total", unit="damkar", timer="response", outcome="missed")
        == 0
    )
    assert any(name.startswith("faust_") for name, _ in found)


def test_resolved_before_created_arrival_is_held(sigap: SigapApp) -> None:
    run(
        sigap,
        [
            (b"c9", event("r9", "resolved", "c9", "2026-11-03T12:00:00+07:00")),
            (b"c9", event("c9", "created", "c9", "2026-11-03T08:00:00+07:00", unit="dsda")),
        ],
    )
    found = scrape(sigap)
    assert value(found, "sigap_complaints_resolved_total", unit="dsda") == 1
    assert value(found, "sigap_complaint_resolution_wall_seconds_sum", unit="dsda") == 4 * 3600


def test_transfer_charges_each_unit_for_its_own_time(sigap: SigapApp) -> None:
    run(
        sigap,
        [
            (b"t1", event("t1c", "created", "t1", "2026-11-02T09:00:00+07:00", unit="dlh")),
            (
                b"t1",
                event(
                    "t1a",
                    "assigned",
                    "t1",
                    "2026-11-02T12:00:00+07:00",
                    unit="dsda",
                    reason="not_our_authority",
                ),
            ),
            (b"t1", event("t1r", "responded", "t1", "2026-11-02T13:00:00+07:00")),
        ],
    )
    found = scrape(sigap)
    assert (
        value(found, "sigap_complaint_transfers_total", unit="dlh", reason="not_our_authority") == 1
    )
    assert (
        value(found, "sigap_complaint_sla_total", unit="dsda", timer="response", outcome="met") == 1
    )
    # dlh transferred in time: neither met nor missed.
    assert (
        value(found, "sigap_complaint_sla_total", unit="dlh", timer="response", outcome="met") == 0
    )
    assert (
        value(found, "sigap_complaint_sla_total", unit="dlh", timer="response", outcome="missed")
        == 0
    )
    assert value(found, "sigap_complaints_created_total", unit="dlh") == 1
    assert value(found, "sigap_complaints_open", unit="dsda") == 1


def test_duplicates_and_bad_input_are_dead_lettered(sigap: SigapApp) -> None:
    created = event("e1", "created", "c1", "2026-11-02T09:00:00+07:00", unit="dlh")
    bad = b'{"event_id": "x", "type": "created"'
    personal = event(
        "p1", "created", "c5", "2026-11-02T09:00:00", unit="dlh", reporter_phone="0812345678"
    )
    early = event("e0", "resolved", "c1", "2026-11-02T08:00:00+07:00")
    run(
        sigap, [(b"c1", created), (b"c1", created), (b"c4", bad), (b"c5", personal), (b"c1", early)]
    )
    dead: Any = sigap.complaint_stage.dead_letter_topic
    assert [d["headers"][0][1] for d in dead.sent] == [
        b"duplicate_event_id",
        b"not_json",
        b"timestamp_without_offset",
        b"resolved_before_created",
    ]
    assert dead.sent[1]["value"] == bad  # the original bytes, unchanged
    found = scrape(sigap)
    assert value(found, "sigap_events_rejected_total", reason="not_json") == 1
    assert value(found, "sigap_complaints_created_total", unit="dlh") == 1
    assert not any("0812345678" in str(key) for key in found)


def test_unknown_unit_is_counted_as_unknown(sigap: SigapApp) -> None:
    run(
        sigap,
        [(b"u1", event("u1", "created", "u1", "2026-11-02T09:00:00+07:00", unit="dinas-baru"))],
    )
    found = scrape(sigap)
    assert value(found, "sigap_complaints_created_total", unit="unknown") == 1
    assert not any(("unit", "dinas-baru") in labels for _, labels in found)
