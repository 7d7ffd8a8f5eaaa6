"""Digest of everything the worker's two stages and `sigap.replay` produce on the simulator's
traffic, for byte-for-byte comparison of two commits (issue 19: a speed-up must keep every
result identical).

    .venv/bin/python bench/differential.py --seed 11 --out /tmp/a.txt   # on each commit
    cmp /tmp/a.txt /tmp/b.txt

The clock is fixed (`--now`), so two runs on the same commit write the same file. Written:
every views-topic record the complaint stage sends (bytes), the `complaints` and
`unit-views` tables, each unit's snapshot (repr: floats exactly) and open timers (the worklist's
rows), and the replay's views,
snapshots, period scores and officer scores (repr). One line per item, so `diff` shows where
two commits part.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.profile_hot_path import Event, Message, Topic  # noqa: E402
from schemas.events import parse_event  # noqa: E402
from sigap.core.registry_file import load_registry  # noqa: E402
from sigap.replay import replay  # noqa: E402
from sigap.simulator import TrafficModel  # noqa: E402
from streams.complaint_stage import ComplaintStage  # noqa: E402
from streams.unit_stage import UnitStage  # noqa: E402


def dump(value: Any) -> str:
    """A deterministic text of a result: dataclasses and plain objects by their attributes
    (not repr: a Histogram's repr holds its address), floats by repr (exact)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dump(k)}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dump(item) for item in value) + "]"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(dump(item) for item in value)) + "}"
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return repr(value)
    names: list[str] = []
    for klass in type(value).__mro__:
        names.extend(getattr(klass, "__slots__", ()))
    names.extend(getattr(value, "__dict__", {}))
    attributes = ", ".join(f"{name}={dump(getattr(value, name))}" for name in dict.fromkeys(names))
    return f"{type(value).__name__}({attributes})"


async def stages(raw: list[bytes], registry: Any, now: float, batch: int, out: list[str]) -> None:
    views, dlq = Topic(), Topic()
    complaints: dict[str, Any] = {}
    complaint = ComplaintStage(
        registry=registry,
        complaints=complaints,
        rejections={},
        views_topic=views,
        dead_letter_topic=dlq,
        wall_clock=lambda: now,
    )
    complaint.views_partitions = 4
    unit_views: dict[str, Any] = {}
    unit = UnitStage(
        registry=registry,
        unit_views=unit_views,
        partitions=4,
        grace_seconds=600,
        wall_clock=lambda: now,
    )
    view_offset = 0
    for start in range(0, len(raw), batch):
        events = [
            Event(orjson.loads(value)["complaint_id"].encode(), value, Message(0, offset, now))
            for offset, value in enumerate(raw[start : start + batch], start)
        ]
        await complaint.process_batch(events)
        for view_key, view_value in views.sent:
            out.append(f"sent {view_value.decode()}")
            await unit.process(Event(view_key, view_value, Message(0, view_offset, now)))
            view_offset += 1
        views.sent.clear()
    for key, value in dlq.sent:
        out.append(f"dlq {key!r} {value!r}")
    for key in sorted(complaints):
        out.append(f"complaint {key} {bytes(complaints[key]).decode()}")
    for key in sorted(unit_views):
        out.append(f"unit-view {key} {bytes(unit_views[key]).decode()}")
    watermark, snapshots = unit.snapshot(set(range(4)))
    out.append(f"watermark {watermark!r}")
    for name in sorted(snapshots):
        out.append(f"snapshot {name} {dump(snapshots[name])}")
        # The worklist's open timers (core.open_rows holds them as columns since 5bc00ab).
        out.extend(f"open {name} {row}" for row in sorted(map(repr, unit.kpis.open_items(name))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--days-back", type=float, default=7)
    parser.add_argument("--rate-scale", type=float, default=6.0)
    parser.add_argument("--now", type=float, default=1_790_000_000.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    model = TrafficModel(
        start=args.now - args.days_back * 86400, seed=args.seed, rate_scale=args.rate_scale
    )
    raw = [orjson.dumps(event) for event in model.advance(args.now - 60)]
    out: list[str] = [f"events {len(raw)}"]
    for batch in sorted({1, args.batch}):
        out.append(f"--- stages, batches of {batch}")
        asyncio.run(stages(raw, registry, args.now, batch, out))
    out.append("--- replay")
    result = replay([parse_event(value) for value in raw], registry, reference_epoch=args.now)
    out.append(f"counts {result.events} {result.accepted} {sorted(result.rejected.items())}")
    out.append(f"watermark {result.watermark!r}")
    out.extend(f"view {dump(view)}" for view in result.views)
    out.extend(f"unit {name} {dump(result.units[name])}" for name in sorted(result.units))
    out.extend(f"score {dump(score)}" for score in result.scores)
    out.extend(f"officer {dump(score)}" for score in result.officer_scores)
    text = "\n".join(out) + "\n"
    args.out.write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    print(f"{len(raw)} events, {len(out)} lines, sha256 {digest}")


if __name__ == "__main__":
    main()
