"""Profile the unit stage's rebuild (restart-to-ready) with pyinstrument, without a broker.

    .venv/bin/python bench/profile_rebuild.py [--open 200000] [--profile] [--snapshot] [--memory]

Builds the unit-views table of N open complaints the way the worker does (the complaint
stage's views applied by the unit stage, dicts for the tables, the bench's `created`
events), encodes each entry as the worker stores it (orjson bytes), then times
`UnitStage.rebuild` on it: the Python part of a restart after Faust's recovery. The real
worker also reads the entries from RocksDB; bench/run.py measures the whole restart.

With --snapshot it also times the clean-stop path (streams.unit_snapshot): writing the
snapshot, then the rebuild that loads it (the table's digest included) against the rebuild
that decodes every view, alternated, in this one process.

With --memory it reports the bytes per open complaint that the rebuilt unit stage holds
(tracemalloc: every Python allocation the rebuild leaves behind, by source line), the
in-process part of the worker's "bytes per open complaint" figure (bench/run.py measures the
whole process and its RocksDB files).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from pyinstrument import Profiler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from benchkit.common import UNITS  # noqa: E402
from benchkit.workloads import created_event  # noqa: E402

from bench.profile_hot_path import Event, Message, Topic  # noqa: E402
from sigap.core.registry_file import load_registry  # noqa: E402
from streams.complaint_stage import ComplaintStage  # noqa: E402
from streams.unit_snapshot import SnapshotStore  # noqa: E402
from streams.unit_stage import UnitStage  # noqa: E402

PARTITIONS = 4
BATCH = 1000


async def build_unit_views(open_complaints: int) -> dict[str, Any]:
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    topic = Topic()
    complaints = ComplaintStage(
        registry=registry,
        complaints={},
        rejections={},
        views_topic=topic,
        dead_letter_topic=Topic(),
    )
    complaints.views_partitions = PARTITIONS
    views: dict[str, Any] = {}
    units = UnitStage(registry=registry, unit_views=views, partitions=PARTITIONS, grace_seconds=600)
    start = time.time() - 3600
    for first in range(0, open_complaints, BATCH):
        batch = []
        for i in range(first, min(first + BATCH, open_complaints)):
            event = created_event(f"open-{i}", UNITS[i % len(UNITS)], start + i * 1e-3)
            message = Message(partition=i % PARTITIONS, offset=i, timestamp=start + i * 1e-3)
            batch.append(Event(event["complaint_id"].encode(), orjson.dumps(event), message))
        await complaints.process_batch(batch)
        for _, value in topic.sent:
            await units.process(Event(None, value, Message(0, 0, 0.0)))
        topic.sent.clear()
    return views


def served_state(views: dict[str, Any]) -> Any:
    """What the API and Open311 read of a worker that owns every views partition: the unit
    stage rebuilt from `views` (bench/open311_walk.py, bench/api_share.py)."""
    from types import SimpleNamespace

    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    stage = UnitStage(registry=registry, unit_views=views, partitions=PARTITIONS, grace_seconds=600)
    stage.rebuild(set(range(PARTITIONS)))
    return SimpleNamespace(
        unit_stage=stage,
        exported_partitions=lambda topic: set(range(PARTITIONS)),
        settings=SimpleNamespace(views_topic="views"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open", type=int, default=200_000, help="open complaints")
    parser.add_argument("--profile", action="store_true", help="print pyinstrument's report")
    parser.add_argument("--snapshot", action="store_true", help="time the snapshot path too")
    parser.add_argument("--memory", action="store_true", help="bytes held per open complaint")
    args = parser.parse_args()
    t = time.perf_counter()
    views = asyncio.run(build_unit_views(args.open))
    print(f"built {len(views):,} unit-views entries in {time.perf_counter() - t:.1f}s")
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    if args.memory:
        measure_memory(views, registry)
        return
    stage = UnitStage(registry=registry, unit_views=views, partitions=PARTITIONS, grace_seconds=600)
    profiler = Profiler() if args.profile else None
    if profiler:
        profiler.start()
    t = time.perf_counter()
    stage.rebuild(set(range(PARTITIONS)))
    elapsed = time.perf_counter() - t
    if profiler:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
    per_entry = elapsed / max(1, len(views)) * 1e6
    print(f"rebuild: {elapsed:.2f}s for {len(views):,} entries ({per_entry:.1f} us each)")
    open_total = sum(s.open_complaints for s in stage.snapshot(set(range(PARTITIONS)))[1].values())
    print(f"open complaints after the rebuild: {open_total:,}")
    if args.snapshot:
        compare_snapshot(views, registry, stage)


def measure_memory(views: dict[str, Any], registry: Any) -> None:
    import gc
    import os
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    stage = UnitStage(registry=registry, unit_views=views, partitions=PARTITIONS, grace_seconds=600)
    stage.rebuild(set(range(PARTITIONS)))
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = after.compare_to(before, "lineno")
    held = len(views)
    total = sum(stat.size_diff for stat in grown)
    print(
        f"the rebuilt unit stage holds {total / held:.0f} B per open complaint "
        f"({held:,} open; load {os.getloadavg()[0]:.1f}); by line:"
    )
    for stat in grown[:8]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno}"
        print(f"  {stat.size_diff / held:7.1f} B  {where}")
    assert stage.kpis.open_items(UNITS[0]), "the rebuild holds the open timers"


def compare_snapshot(views: dict[str, Any], registry: Any, decoded: UnitStage) -> None:
    import os
    import tempfile

    owned = set(range(PARTITIONS))
    directory = Path(tempfile.mkdtemp(prefix="sigap-snapshot-"))
    store = SnapshotStore(directory, "bench")
    decoded.snapshots = store
    for attempt in range(2):
        t = time.perf_counter()
        decoded.save_snapshot(owned)
        saved = time.perf_counter() - t
        size = sum(path.stat().st_size for path in directory.iterdir())
        loaded = UnitStage(
            registry=registry,
            unit_views=views,
            partitions=PARTITIONS,
            grace_seconds=600,
            snapshots=store,
        )
        t = time.perf_counter()
        loaded.rebuild(owned)
        from_snapshot = time.perf_counter() - t
        again = UnitStage(
            registry=registry, unit_views=views, partitions=PARTITIONS, grace_seconds=600
        )
        t = time.perf_counter()
        again.rebuild(owned)
        from_views = time.perf_counter() - t
        assert loaded.snapshot_loads == PARTITIONS
        print(
            f"attempt {attempt + 1}: snapshot written in {saved:.2f}s ({size / 1e6:.1f} MB, "
            f"{size / max(1, len(views)):.0f} B per stored view); rebuild from the snapshot "
            f"{from_snapshot:.2f}s, by decoding the views {from_views:.2f}s: "
            f"{from_views / from_snapshot:.1f}x; load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
