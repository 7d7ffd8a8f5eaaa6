"""The cost of a complaint's k-th event in the complaint stage: full evaluation vs incremental.

    .venv/bin/python bench/cost_per_event.py [--repeat 15] [--ks 10,100,500,1000]

For each k, a complaint of k - 1 events in event-time order is recorded, then its k-th
event, and the time of evaluating it is measured. Two repeating mixes of events:

- `bounded`: pauses with a reason and resumes, escalations, ratings, responses and
  hand-overs by the same officer: the complaint's views stay the same size;
- `growing`: the same with transfers back and forth between two units and hand-overs
  between officers: every transfer and officer change is listed in the views (a unit's
  transfers away, an officer's spans), so the views themselves grow with k.

The two evaluations:

- full: what the stage did before issue 19 (core.timeline.evaluate_complaint of all the
  events, core.unit_view.unit_views, core.officers.attach_officers, each view encoded and
  hashed);
- incremental: core.complaint_state.changed_encoded_views with the complaint's fold kept
  from the k - 1 events before (core.incremental): the k-th event applied to it. A
  complaint is folded from FOLD_MIN_EVENTS (10) events on, so for k = 10 this is the
  fold's first build (a full evaluation and a little more); compare from k = 100 on.

Prints the best of `--repeat` runs per k (microseconds) and the ratios. No broker, no I/O.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.events import ComplaintEvent  # noqa: E402
from sigap.core.calendar import JAKARTA  # noqa: E402
from sigap.core.complaint_state import (  # noqa: E402
    ComplaintState,
    changed_encoded_views,
    encoded_view_hash,
    record_event,
)
from sigap.core.officers import attach_officers  # noqa: E402
from sigap.core.registry import Registry  # noqa: E402
from sigap.core.registry_file import load_registry  # noqa: E402
from sigap.core.timeline import evaluate_complaint  # noqa: E402
from sigap.core.unit_view import unit_views  # noqa: E402

START = datetime(2026, 1, 5, 8, tzinfo=JAKARTA)
MIXES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "bounded": [
        ("handed_over", {"officer": "o-1"}),
        ("paused", {"reason": "procurement"}),
        ("resumed", {}),
        ("escalated", {"level": "dinas"}),
        ("rated", {"rating": 4}),
        ("paused", {}),
        ("resumed", {}),
        ("responded", {"officer": "o-1"}),
    ],
    "growing": [
        ("handed_over", {"officer": "o-2"}),
        ("paused", {"reason": "procurement"}),
        ("resumed", {}),
        ("escalated", {"level": "dinas"}),
        ("assigned", {"unit": "dsda", "officer": "o-3"}),
        ("rated", {"rating": 4}),
        ("assigned", {"unit": "dlh"}),
        ("responded", {"officer": "o-1"}),
    ],
}


def history(count: int, mix: str) -> list[ComplaintEvent]:
    cycle = MIXES[mix]
    events = [_event(0, "created", {"unit": "dlh", "officer": "o-1"})]
    events += [_event(index, *cycle[index % len(cycle)]) for index in range(1, count)]
    return events


def _event(index: int, kind: str, fields: dict[str, Any]) -> ComplaintEvent:
    return ComplaintEvent.model_validate(
        {
            "event_id": f"e{index}",
            "type": kind,
            "complaint_id": "c-1",
            "occurred_at": START + timedelta(minutes=7 * index),
            **fields,
        }
    )


def full_changed(state: ComplaintState, registry: Registry) -> int:
    """The stage's evaluation before issue 19: all the events replayed."""
    outcome = evaluate_complaint(state.events, registry)
    views = attach_officers(unit_views(outcome, registry), state.events, outcome, registry)
    changed = 0
    for unit, view in views.items():
        digest = encoded_view_hash(view.to_json())
        if state.view_hashes.get(unit) != digest:
            state.view_hashes[unit] = digest
            changed += 1
    return changed


def kth_event_seconds(k: int, mix: str, registry: Registry, incremental: bool) -> float:
    events = history(k, mix)
    state = ComplaintState()
    for event in events[:-1]:
        record_event(state, event, registry)
    if incremental:
        changed_encoded_views(state, registry)  # the fold of the k - 1 events (built once)
    else:
        full_changed(state, registry)
    record_event(state, events[-1], registry)
    start = time.perf_counter()
    if incremental:
        changed_encoded_views(state, registry)
    else:
        full_changed(state, registry)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--ks", default="10,100,500,1000")
    args = parser.parse_args()
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    ks = [int(k) for k in args.ks.split(",")]
    for mix in MIXES:
        rows = []
        for k in ks:
            full = min(kth_event_seconds(k, mix, registry, False) for _ in range(args.repeat))
            incremental = min(kth_event_seconds(k, mix, registry, True) for _ in range(args.repeat))
            rows.append((k, full, incremental))
        base_full, base_incremental = rows[0][1], rows[0][2]
        print(f"{mix} mix: the k-th event of a complaint, best of {args.repeat} (microseconds)")
        print(
            f"{'k':>6} {'full':>10} {'incremental':>12} {'full/incr':>10} "
            f"{'full/full(k0)':>14} {'incr/incr(k0)':>14}"
        )
        for k, full, incremental in rows:
            print(
                f"{k:>6} {full * 1e6:>10.0f} {incremental * 1e6:>12.0f} "
                f"{full / incremental:>10.1f} {full / base_full:>14.1f} "
                f"{incremental / base_incremental:>14.2f}"
            )
        print(f"(k0 = {ks[0]})")


if __name__ == "__main__":
    main()
