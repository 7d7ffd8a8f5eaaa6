"""The unit stage's snapshot (streams.unit_snapshot), without a broker: what it loads equals
what decoding every stored view rebuilds, and anything it cannot vouch for is refused with
the file's name. The real-broker version (SIGTERM, restart) is
tests/faults/test_unit_snapshot_restart.py."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from metrics.names import RESOLUTION_BUCKETS
from sigap.core.open_rows import OpenRows
from sigap.core.unit_kpis import Histogram, UnitCounters, UnitKpis
from sigap.simulator import TrafficModel
from streams.complaint_stage import ComplaintStage
from streams.unit_snapshot import SnapshotStore
from streams.unit_stage import UnitStage
from tests.faults.test_redelivery import REGISTRY, Event, RecordingTopic

PARTITIONS = 4
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC).timestamp()  # spans Nyepi and Lebaran 2026
DAY = 86400.0
FINGERPRINT = "test-fingerprint"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def traffic(seed: int, days: float, start: float = START) -> list[dict[str, Any]]:
    return TrafficModel(start, seed=seed, rate_scale=1.5).advance(start + days * DAY)


class Pipeline:
    """The two stages on in-memory tables, the views handed from one to the other."""

    def __init__(self, snapshot_dir: Path, clock: Clock) -> None:
        self.views_topic = RecordingTopic()
        self.complaints = ComplaintStage(
            registry=REGISTRY,
            complaints={},
            rejections={},
            views_topic=self.views_topic,
            dead_letter_topic=RecordingTopic(),
        )
        self.complaints.views_partitions = PARTITIONS
        self.unit_views: dict[str, Any] = {}
        self.unit_progress: dict[str, Any] = {}
        self.clock = clock
        self.snapshot_dir = snapshot_dir
        self.units = self.unit_stage(snapshots=True)
        self.offset = 0

    def unit_stage(self, *, snapshots: bool) -> UnitStage:
        return UnitStage(
            registry=REGISTRY,
            unit_views=self.unit_views,
            unit_progress=self.unit_progress,
            partitions=PARTITIONS,
            grace_seconds=600,
            wall_clock=self.clock,
            snapshots=SnapshotStore(self.snapshot_dir, FINGERPRINT) if snapshots else None,
        )

    def views_of(self, events: list[dict[str, Any]]) -> list[bytes]:
        """The views-topic records the complaint stage makes of `events`."""
        sent: list[bytes] = []

        async def run() -> None:
            for first in range(0, len(events), 50):
                batch = []
                for event in events[first : first + 50]:
                    self.offset += 1
                    record = SimpleNamespace(
                        partition=self.offset % PARTITIONS,
                        offset=self.offset,
                        timestamp=self.clock(),
                    )
                    key = str(event["complaint_id"]).encode()
                    batch.append(Event(record, orjson.dumps(event), key))
                await self.complaints.process_batch(batch)
                sent.extend(record["value"] for record in self.views_topic.sent)
                self.views_topic.sent.clear()

        asyncio.run(run())
        return sent

    @staticmethod
    def apply(stage: UnitStage, records: list[bytes]) -> None:
        async def run() -> None:
            for value in records:
                message = SimpleNamespace(partition=0, offset=0, timestamp=0.0)
                await stage.process(Event(message, value))

        asyncio.run(run())

    def feed(self, events: list[dict[str, Any]]) -> None:
        self.apply(self.units, self.views_of(events))


def canonical(kpis: UnitKpis) -> dict[str, Any]:
    """The whole derived state, with the worklist rows in a fixed order."""
    state = kpis.units_state(kpis.known_units())
    # An empty entry reads as a missing one (a live stage keeps the keys of timers that
    # were open once; a rebuild makes only those open now).
    return {
        "counters": state["counters"],
        "open_complaints": {u: n for u, n in state["open_complaints"].items() if n},
        "open": {k: v for k, v in state["open"].items() if any(v)},
        "windows": {k: v for k, v in state["windows"].items() if v[1] or any(v[0].values())},
        "items": {
            u: sorted(OpenRows.from_state(columns).rows())
            for u, columns in state["items"].items()
            if columns[0] or columns[8]
        },
    }


def exported(stage: UnitStage, watermark: float) -> dict[str, Any]:
    """What /metrics shows of every unit at `watermark` (the snapshots' values)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Histogram):
            return value.to_json()
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return {
        unit: plain(dataclasses.asdict(stage.kpis.unit_snapshot(unit, watermark)))
        for unit in sorted(stage.kpis.known_units())
    }


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    clock = Clock(START + 12 * DAY)
    pipeline = Pipeline(tmp_path / "unit-snapshots", clock)
    pipeline.feed(traffic(seed=5, days=10))
    assert len(pipeline.unit_views) > 500  # a real workload: hundreds of complaints
    return pipeline


def test_a_loaded_snapshot_equals_decoding_every_stored_view(pipeline: Pipeline) -> None:
    owned = set(range(PARTITIONS))
    written = pipeline.units.save_snapshot(owned)
    assert written == len(pipeline.unit_views)
    assert len(list(pipeline.snapshot_dir.glob("*.snapshot"))) == PARTITIONS

    loaded = pipeline.unit_stage(snapshots=True)
    loaded.rebuild(owned)
    decoded = pipeline.unit_stage(snapshots=False)
    decoded.rebuild(owned)

    assert loaded.snapshot_loads == PARTITIONS
    assert canonical(loaded.kpis) == canonical(decoded.kpis)
    # The live stage, which applied every view one at a time, holds the same state.
    assert canonical(pipeline.units.kpis) == canonical(decoded.kpis)
    for watermark in (START + 3 * DAY, START + 10 * DAY, START + 12 * DAY):
        assert exported(loaded, watermark) == exported(decoded, watermark)
    for unit in decoded.kpis.known_units():
        assert sorted(loaded.kpis.open_items(unit), key=repr) == sorted(
            decoded.kpis.open_items(unit), key=repr
        )
    # The watermarks restart from the same place.
    assert [loaded.watermark_of(u) for u in REGISTRY.units] == [
        decoded.watermark_of(u) for u in REGISTRY.units
    ]
    # Each snapshot is read once.
    assert list(pipeline.snapshot_dir.glob("*.snapshot")) == []

    # And both go on the same way: five more days of traffic, the same views to each (on
    # copies of the tables, as two workers would have).
    for stage in (loaded, decoded):
        stage.unit_views = dict(pipeline.unit_views)
        stage.unit_progress = dict(pipeline.unit_progress)
    more = pipeline.views_of(traffic(seed=6, days=5, start=START + 10 * DAY))
    pipeline.clock.now = START + 16 * DAY
    Pipeline.apply(loaded, more)
    Pipeline.apply(decoded, more)
    assert canonical(loaded.kpis) == canonical(decoded.kpis)
    assert exported(loaded, START + 16 * DAY) == exported(decoded, START + 16 * DAY)


def test_a_snapshot_is_refused_when_its_partition_changed_after_it(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    owned = set(range(PARTITIONS))
    pipeline.units.save_snapshot(owned)
    # A later view (another owner's, or one applied after the snapshot) changes the table.
    key = next(iter(pipeline.unit_views))
    entry = orjson.loads(pipeline.unit_views[key])
    entry["v"]["category"] = "changed-after-the-snapshot"
    pipeline.unit_views[key] = orjson.dumps(entry)
    changed = pipeline.units.partition_of(key.partition("|")[0])

    loaded = pipeline.unit_stage(snapshots=True)
    with caplog.at_level(logging.INFO):
        loaded.rebuild(owned)
    decoded = pipeline.unit_stage(snapshots=False)
    decoded.rebuild(owned)

    assert loaded.snapshot_loads == PARTITIONS - 1
    refusal = [r.getMessage() for r in caplog.records if "not loaded" in r.getMessage()]
    assert len(refusal) == 1
    assert f"views-{changed}.snapshot" in refusal[0] and "changed after" in refusal[0]
    assert canonical(loaded.kpis) == canonical(decoded.kpis)
    assert exported(loaded, START + 12 * DAY) == exported(decoded, START + 12 * DAY)


class Executes:
    """Unpickling this would call os.getcwd: a snapshot must never run code."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        import os

        return (os.getcwd, ())


def damage(path: Path, how: str) -> None:
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif how == "not a pickle":
        path.write_bytes(b"this is not a snapshot\n")
    elif how == "runs code":
        path.write_bytes(pickle.dumps({"format": 1, "state": Executes()}))
    elif how == "other format":
        document = pickle.loads(path.read_bytes())
        document["format"] = 99
        path.write_bytes(pickle.dumps(document))
    elif how == "other code":
        document = pickle.loads(path.read_bytes())
        document["fingerprint"] = "written-by-another-version"
        path.write_bytes(pickle.dumps(document))
    elif how == "other partition":
        document = pickle.loads(path.read_bytes())
        document["partition"] = (document["partition"] + 1) % PARTITIONS
        path.write_bytes(pickle.dumps(document))
    elif how == "columns that do not fit":
        # Written by this code, for this table, but its worklist columns are one id short:
        # refused whole, nothing of it taken (the counters come before the columns).
        document = pickle.loads(path.read_bytes())
        items = document["state"]["kpis"]["items"]
        unit = next(unit for unit, columns in items.items() if columns[0])
        items[unit] = (items[unit][0][:-1], *items[unit][1:])
        path.write_bytes(pickle.dumps(document))
    else:  # pragma: no cover
        raise AssertionError(how)


REASONS = {
    "truncated": "unreadable",
    "not a pickle": "unreadable",
    "runs code": "plain data only",
    "other format": "format 99",
    "other code": "fingerprint differs",
    "other partition": "holds partition",
    "columns that do not fit": "does not fit together",
}


@pytest.mark.parametrize("how", sorted(REASONS))
def test_a_damaged_or_foreign_snapshot_is_refused_naming_the_file(
    pipeline: Pipeline, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    owned = set(range(PARTITIONS))
    pipeline.units.save_snapshot(owned)
    target = pipeline.snapshot_dir / "views-1.snapshot"
    damage(target, how)

    loaded = pipeline.unit_stage(snapshots=True)
    with caplog.at_level(logging.WARNING):
        loaded.rebuild(owned)
    decoded = pipeline.unit_stage(snapshots=False)
    decoded.rebuild(owned)

    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1, messages
    assert str(target) in messages[0] and REASONS[how] in messages[0], messages[0]
    assert loaded.snapshot_loads == PARTITIONS - 1
    assert canonical(loaded.kpis) == canonical(decoded.kpis)
    assert not target.exists()  # refused snapshots are not read again


def test_only_owned_partitions_are_saved_and_loaded(pipeline: Pipeline) -> None:
    pipeline.units.save_snapshot({0, 2})
    assert sorted(p.name for p in pipeline.snapshot_dir.iterdir()) == [
        "views-0.snapshot",
        "views-2.snapshot",
    ]
    loaded = pipeline.unit_stage(snapshots=True)
    loaded.rebuild({0, 1})  # partition 2 moved to another worker; 1 came here
    decoded = pipeline.unit_stage(snapshots=False)
    decoded.rebuild({0, 1})
    assert loaded.snapshot_loads == 1
    assert canonical(loaded.kpis) == canonical(decoded.kpis)
    assert all(pipeline.units.partition_of(u) in {0, 1} for u in loaded.kpis.known_units())


def test_the_counters_round_trip_every_field() -> None:
    bounds = (1.0, 10.0)
    source = UnitKpis(bounds, bounds, resolution_bounds=RESOLUTION_BUCKETS)
    counters = source.counters_for("dlh")
    for spec in dataclasses.fields(UnitCounters):
        value = getattr(counters, spec.name)
        if isinstance(value, int):
            setattr(counters, spec.name, len(spec.name))
        elif isinstance(value, dict):
            setattr(counters, spec.name, {spec.name: 3})
    for histogram in (counters.first_response, counters.resolution_working, counters.resolution):
        histogram.observe(5.0)
        histogram.observe(50.0)
    target = UnitKpis(bounds, bounds, resolution_bounds=RESOLUTION_BUCKETS)
    target.load_units_state(pickle.loads(pickle.dumps(source.units_state(["dlh"]))))
    loaded = target.counters["dlh"]
    for spec in dataclasses.fields(UnitCounters):
        if spec.name.endswith("bounds"):
            continue
        left, right = getattr(loaded, spec.name), getattr(counters, spec.name)
        if hasattr(left, "to_json"):
            left, right = left.to_json(), right.to_json()
        assert left == right, spec.name


def test_a_directory_in_place_of_a_snapshot_does_not_stop_the_start(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    owned = set(range(PARTITIONS))
    pipeline.units.save_snapshot(owned)
    target = pipeline.snapshot_dir / "views-2.snapshot"
    target.unlink()
    target.mkdir()
    loaded = pipeline.unit_stage(snapshots=True)
    with caplog.at_level(logging.WARNING):
        loaded.rebuild(owned)
    decoded = pipeline.unit_stage(snapshots=False)
    decoded.rebuild(owned)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(target) in m and "unreadable" in m for m in messages), messages
    assert any(str(target) in m and "could not be removed" in m for m in messages), messages
    assert loaded.snapshot_loads == PARTITIONS - 1
    assert canonical(loaded.kpis) == canonical(decoded.kpis)
