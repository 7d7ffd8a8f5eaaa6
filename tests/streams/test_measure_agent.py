"""The measure agent through Faust's test_context (memory:// store, no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest

from core.settings import Settings
from streams.app import SigapApp, create_app


class RecordingTopic:
    """Stands in for an output topic: Faust's test_context has no producer."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


@pytest.fixture
def sigap(tmp_path: Any) -> Iterator[SigapApp]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    settings = Settings(store_url="memory://", state_dir=str(tmp_path), app_id="sigap-test")
    built = create_app(settings)
    app = built.faust_app
    app.finalize()
    app.flow_control.resume()
    built.processor.resolutions_topic = RecordingTopic()
    built.processor.dead_letter_topic = RecordingTopic()
    # test_context feeds partition 0 and has no partition assignment.
    built.processor.owned_partitions = lambda: {0}
    yield built
    loop.close()


def event(event_id: str, type_: str, complaint_id: str, at: str, **extra: Any) -> bytes:
    body = {"event_id": event_id, "type": type_, "complaint_id": complaint_id, "occurred_at": at}
    body.update(extra)
    return orjson.dumps(body)


async def _send_all(sigap: SigapApp, messages: list[tuple[bytes, bytes]]) -> None:
    agent = sigap.faust_app.agents["measure"]
    async with agent.test_context() as agent_context:
        for key, value in messages:
            await agent_context.put(value, key=key)


def run(sigap: SigapApp, messages: list[tuple[bytes, bytes]]) -> None:
    asyncio.get_event_loop().run_until_complete(_send_all(sigap, messages))


def scrape(sigap: SigapApp) -> str:
    return generate_latest(sigap.registry).decode()


def test_pairs_created_and_resolved_and_measures_duration(sigap: SigapApp) -> None:
    run(
        sigap,
        [
            (b"c1", event("e1", "created", "c1", "2026-11-02T09:00:00+07:00", unit="dlh")),
            (b"c1", event("e2", "resolved", "c1", "2026-11-02T11:30:00+07:00")),
            (b"c2", event("e3", "created", "c2", "2026-11-02T10:00:00+07:00", unit="dlh")),
        ],
    )
    snapshot = sigap.processor.snapshot()
    dlh = snapshot.units["dlh"]
    assert (dlh.created, dlh.resolved, dlh.open) == (2, 1, 1)
    assert dlh.resolution_seconds_sum == 9000.0
    sent = sigap.processor.resolutions_topic.sent  # type: ignore[attr-defined]
    assert len(sent) == 1
    assert sent[0]["key"] == b"c1"
    assert orjson.loads(sent[0]["value"])["resolution_seconds"] == 9000.0
    text = scrape(sigap)
    assert 'complaints_created_total{unit="dlh"} 2.0' in text
    assert 'complaints_open{unit="dlh"} 1.0' in text
    assert 'complaint_resolution_seconds_bucket{le="7200.0",unit="dlh"} 0.0' in text
    assert 'complaint_resolution_seconds_bucket{le="14400.0",unit="dlh"} 1.0' in text
    assert 'complaint_resolution_seconds_sum{unit="dlh"} 9000.0' in text
    assert "faust_" in text  # Faust's sensor metrics share the page


def test_resolved_before_created_is_held_then_measured(sigap: SigapApp) -> None:
    run(
        sigap,
        [
            (b"c9", event("r9", "resolved", "c9", "2026-11-03T12:00:00+07:00")),
            (b"c9", event("c9", "created", "c9", "2026-11-03T08:00:00+07:00", unit="dsda")),
        ],
    )
    dsda = sigap.processor.snapshot().units["dsda"]
    assert (dsda.created, dsda.resolved, dsda.open) == (1, 1, 0)
    assert dsda.resolution_seconds_sum == 4 * 3600


def test_duplicate_event_id_is_ignored(sigap: SigapApp) -> None:
    created = event("e1", "created", "c1", "2026-11-02T09:00:00+07:00", unit="dlh")
    resolved = event("e2", "resolved", "c1", "2026-11-02T10:00:00+07:00")
    run(sigap, [(b"c1", created), (b"c1", created), (b"c1", resolved), (b"c1", resolved)])
    dlh = sigap.processor.snapshot().units["dlh"]
    assert (dlh.created, dlh.resolved) == (1, 1)
    assert len(sigap.processor.resolutions_topic.sent) == 1  # type: ignore[attr-defined]
    assert sigap.processor.snapshot().rejected_by_reason == {}


def test_bad_input_is_dead_lettered_with_reason(sigap: SigapApp) -> None:
    bad = b'{"event_id": "x", "type": "created"'
    personal = event(
        "p1", "created", "c5", "2026-11-02T09:00:00", unit="dlh", reporter_phone="0812345678"
    )
    run(sigap, [(b"c4", bad), (b"c5", personal)])
    dead = sigap.processor.dead_letter_topic.sent  # type: ignore[attr-defined]
    assert [d["headers"] for d in dead] == [
        [("sigap-reason", b"not_json")],
        [("sigap-reason", b"timestamp_without_offset")],
    ]
    assert [d["value"] for d in dead] == [bad, personal]  # original bytes, unchanged
    assert sigap.processor.snapshot().rejected_by_reason == {
        "not_json": 1,
        "timestamp_without_offset": 1,
    }
    assert "0812345678" not in scrape(sigap)
