"""`sigap replay --workers N`: sharded by complaint, then by unit, across processes, the same
result as the sequential replay, to the last view, snapshot and score, in the same order."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from schemas.events import ComplaintEvent, parse_event
from sigap.cli import main
from sigap.core.registry_file import load_registry, parse_registry
from sigap.replay import ReplayResult, replay, result_json
from sigap.replay_sources import open_source
from sigap.simulator import TrafficModel
from tests.shared import shared_file

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC).timestamp()  # spans Nyepi and Lebaran 2026


def assert_same(sequential: ReplayResult, parallel: ReplayResult) -> None:
    assert parallel.events == sequential.events
    assert parallel.accepted == sequential.accepted
    assert parallel.rejected == sequential.rejected
    assert parallel.watermark == sequential.watermark
    assert parallel.views == sequential.views  # same views, same order
    assert list(parallel.units) == list(sequential.units)
    for unit, expected in sequential.units.items():
        got = parallel.units[unit]
        # UnitCounters holds histograms (no ==): compare their JSON form.
        assert got.counters.to_json() == expected.counters.to_json(), unit
        assert got.open_complaints == expected.open_complaints, unit
        assert got.sla_missed_open == expected.sla_missed_open, unit
        assert got.open_past == expected.open_past, unit
        assert got.windows == expected.windows, unit
        assert got.periods == expected.periods, unit
    assert parallel.scores == sequential.scores
    assert result_json(parallel) == result_json(sequential)


def simulated(seed: int) -> list[ComplaintEvent]:
    """A month of the simulator's traffic, with redeliveries, events of complaints whose
    `created` comes late, and an unknown unit: rejections and held events included."""
    raw = TrafficModel(START, seed=seed, rate_scale=1.5).advance(START + 14 * 86400)
    rng = random.Random(seed)
    raw += rng.sample(raw, k=len(raw) // 20)  # duplicates: duplicate_event_id
    rng.shuffle(raw[: len(raw) // 3])  # some resolutions before their creation
    raw.append(
        {
            "event_id": "x-unknown-unit",
            "type": "created",
            "complaint_id": "x-1",
            "occurred_at": "2026-03-10T09:00:00+07:00",
            "unit": "not-registered",
        }
    )
    return [parse_event(orjson.dumps(event)) for event in raw]


@pytest.mark.slow  # process pools on two weeks of simulated traffic
@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_replay_equals_the_sequential_replay_on_simulated_traffic(workers: int) -> None:
    events = simulated(seed=7)
    reference = START + 15 * 86400
    sequential = replay(events, REGISTRY, reference_epoch=reference)
    assert sequential.rejected and sequential.views and sequential.scores  # a real workload
    parallel = replay(events, REGISTRY, reference_epoch=reference, workers=workers)
    assert_same(sequential, parallel)


@pytest.mark.slow  # a process pool
def test_parallel_replay_equals_the_sequential_replay_with_an_as_of() -> None:
    events = simulated(seed=3)
    as_of = START + 6 * 86400  # later events pending, open timers evaluated then
    sequential = replay(events, REGISTRY, as_of=as_of)
    assert_same(sequential, replay(events, REGISTRY, as_of=as_of, workers=4))


def test_parallel_replay_of_no_events_is_empty() -> None:
    assert_same(replay([], REGISTRY), replay([], REGISTRY, workers=2))


@pytest.mark.slow  # a process pool
def test_parallel_replay_equals_the_sequential_replay_on_a_real_data_set() -> None:
    path = shared_file("data", "baltimore_311_customer_service_requests_2019-10.csv")
    mapping = ROOT / "deploy" / "csv-mappings" / "baltimore-311.yaml"
    events = list(open_source(path, mapping)[0])
    units = sorted({event.unit for event in events if event.unit is not None})
    registry = parse_registry(
        {
            "version": "parallel-test",
            "calendars": {"office": {"kind": "office_hours", "start": "08:00", "end": "16:00"}},
            "units": [{"code": u, "name": u, "calendar": "office"} for u in units],
            "targets": [
                {
                    "effective_from": "2000-01-01",
                    "unit": "*",
                    "category": "*",
                    "priority": "*",
                    "response": {"clock": "wall", "hours": 24},
                    "resolution": {"clock": "working", "days": 5},
                }
            ],
        },
        "parallel-test",
        frozenset(),
    )
    sequential = replay(events, registry)
    assert len(sequential.units) > 2 and sequential.scores
    assert_same(sequential, replay(events, registry, workers=3))


@pytest.mark.slow  # a process pool
def test_sigap_replay_workers_prints_the_same_json(tmp_path: Path) -> None:
    file = tmp_path / "events.jsonl"
    raw = TrafficModel(START, seed=5, rate_scale=1.0).advance(START + 10 * 86400)
    file.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in raw))
    runner = CliRunner()
    one = runner.invoke(main, ["replay", str(file), "--format", "json"])
    two = runner.invoke(main, ["replay", str(file), "--format", "json", "--workers", "2"])
    assert one.exit_code == 0, one.output
    assert two.exit_code == 0, two.output
    assert json.loads(two.output) == json.loads(one.output)
    assert json.loads(one.output)["events"] == len(raw)
