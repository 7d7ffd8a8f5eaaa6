"""Profile the worker's hot path (both stages) with pyinstrument, without a broker.

    .venv/bin/python bench/profile_hot_path.py [--events 30000] [--html bench/profile.html]

Drives streams.complaint_stage.ComplaintStage.process and
streams.unit_stage.UnitStage.process exactly as the two agents do, with dicts for the Faust
tables and an in-memory topic whose send() hands each view to the unit stage (so no Kafka,
no Faust, no RocksDB: the SIGAP code's own cost). The events are the simulator's, like
bench/run.py. Also profiles sigap.replay.replay.
Prints the stage's events/s and pyinstrument's text report (and writes HTML if asked).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pyinstrument import Profiler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.views import decode_envelope  # noqa: E402
from sigap.core.registry_file import load_registry  # noqa: E402
from sigap.simulator import TrafficModel  # noqa: E402
from streams.complaint_stage import ComplaintStage  # noqa: E402
from streams.unit_stage import UnitStage  # noqa: E402


@dataclass
class Message:
    partition: int
    offset: int
    timestamp: float


@dataclass
class Event:
    key: bytes | None
    value: bytes
    message: Message


class Topic:
    """Views go straight to the unit stage's queue (as the views topic would carry them)."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, key: bytes | None = None, value: bytes = b"", **_: Any) -> None:
        self.sent.append((key, value))


def events(days_back: float, rate_scale: float) -> list[bytes]:
    now = time.time()
    model = TrafficModel(start=now - days_back * 86400, seed=11, rate_scale=rate_scale)
    return [orjson.dumps(event) for event in model.advance(now - 60)]


async def drive(
    raw: list[bytes], registry: Any, batch: int = 1000
) -> tuple[float, float, int, int]:
    """Both stages, the complaint stage in batches of `batch` events (as the agent takes them
    from a backlog); returns the seconds of each stage, the views and the view records."""
    views, dlq = Topic(), Topic()
    complaint = ComplaintStage(
        registry=registry, complaints={}, rejections={}, views_topic=views, dead_letter_topic=dlq
    )
    complaint.views_partitions = 4
    unit = UnitStage(registry=registry, unit_views={}, partitions=4, grace_seconds=600)
    now = time.time()
    t_complaint = t_unit = 0.0
    view_offset = view_count = 0
    for start in range(0, len(raw), batch):
        events = [
            Event(orjson.loads(value)["complaint_id"].encode(), value, Message(0, offset, now))
            for offset, value in enumerate(raw[start : start + batch], start)
        ]
        t0 = time.perf_counter()
        await complaint.process_batch(events)
        t1 = time.perf_counter()
        for view_key, view_value in views.sent:
            view_count += len(decode_envelope(view_value).views)
            await unit.process(Event(view_key, view_value, Message(0, view_offset, now)))
            view_offset += 1
        views.sent.clear()
        t_complaint += t1 - t0
        t_unit += time.perf_counter() - t1
    return t_complaint, t_unit, view_count, view_offset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days-back", type=float, default=7)
    parser.add_argument("--rate-scale", type=float, default=6.0)
    parser.add_argument("--html", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=1000, help="events per complaint batch")
    args = parser.parse_args()
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    raw = events(args.days_back, args.rate_scale)
    print(f"{len(raw)} events")

    # Unprofiled timing first (pyinstrument's sampling adds a little overhead).
    for batch in sorted({1, args.batch}):
        t_complaint, t_unit, views, records = asyncio.run(drive(raw, registry, batch))
        print(
            f"batches of {batch}: complaint stage: {len(raw) / t_complaint:,.0f} events/s "
            f"({t_complaint:.2f} s); unit stage: {views:,} views in {records:,} records, "
            f"{t_unit:.2f} s ({views / t_unit:,.0f} views/s); "
            f"both: {len(raw) / (t_complaint + t_unit):,.0f} events/s"
        )

    profiler = Profiler(interval=0.0005)
    profiler.start()
    asyncio.run(drive(raw, registry, args.batch))
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html())

    from schemas.events import parse_event
    from sigap.replay import replay

    parsed = [parse_event(value) for value in raw]
    profiler = Profiler(interval=0.0005)
    profiler.start()
    t0 = time.perf_counter()
    replay(parsed, registry, reference_epoch=time.time())
    elapsed = time.perf_counter() - t0
    profiler.stop()
    print(f"replay (pre-parsed, profiled): {len(raw) / elapsed:,.0f} events/s")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
