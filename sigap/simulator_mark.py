"""How far a simulator has published: so a restarted `sigap simulate --state FILE` (what
`make demo` runs) continues the same simulated history instead of publishing it again.

The traffic model is deterministic: one seed and start give the same events however
`advance` is stepped (sigap/simulator.py). So a mark of (seed, start, until) is enough: a
restart rebuilds the model from the same seed and start and advances it to ``until`` without
publishing; only events from ``until`` on go out. Without this, a second run with the same
seed republished every seeded event id, and the worker rejected each as duplicate_event_id.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class PublishedMark:
    """Every event of the model (seed, start) with occurred_at before ``until`` was
    published and flushed."""

    seed: int
    start: float
    until: float


def load_mark(path: Path) -> PublishedMark | None:
    """The mark in ``path``; None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PublishedMark(
            seed=int(data["seed"]), start=float(data["start"]), until=float(data["until"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_mark(path: Path, mark: PublishedMark) -> None:
    """Write the mark atomically (a crash leaves the old one or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(asdict(mark)), encoding="utf-8")
    os.replace(temporary, path)


def starting_point(
    mark: PublishedMark | None, seed: int, fresh_start: float
) -> tuple[float, float | None]:
    """(model start, simulated time already published or None) for a simulator with
    ``seed`` that would start its clock at ``fresh_start``: the marked history when the
    mark is of the same seed, else a fresh one."""
    if mark is None or mark.seed != seed or mark.until < mark.start:
        return fresh_start, None
    return mark.start, mark.until
