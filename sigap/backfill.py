"""`sigap replay FILE --store`: load an event file's history into the score database.

The views come from sigap.replay (the same as `sigap replay` and `sigap verify --source
FILE`) and are stored with their period scores as the score writer would
(storage.bulk_scores.store_views_bulk: new revisions where rows exist); then every period whose
close instant the file reaches is closed (consumers.closing.Closer, source "file:<name>"), each
event taken as appended when it occurred (core.period_close).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from consumers.closing import Closer, CloseReport
from schemas.events import ComplaintEvent, EventRejected, check_event_time
from sigap.core.registry import Registry
from sigap.replay import replay
from sigap.replay_sources import SourceReport, open_source
from sigap.storage.bulk_scores import store_views_bulk


def file_source(path: Path) -> str:
    return f"file:{path.name}"


@dataclass
class BackfillReport:
    events: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    source_problems: dict[str, int] = field(default_factory=dict)
    watermark: float | None = None
    views: int = 0
    score_rows: int = 0
    close: CloseReport | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        close = self.close
        return {
            "events": self.events,
            "accepted": self.accepted,
            "rejected": dict(sorted(self.rejected.items())),
            "source_problems": self.source_problems,
            "watermark": self.watermark,
            "views_stored": self.views,
            "score_rows_written": self.score_rows,
            "periods_closed": 0 if close is None else len(close.closed),
            "official_rows": 0 if close is None else close.official_rows,
            "restatement_rows": 0 if close is None else close.restatement_rows,
            "seconds": {name: round(value, 2) for name, value in self.seconds.items()},
        }


def fold_file(closer: Closer, events: list[ComplaintEvent], reference_epoch: float) -> None:
    """Add a file's events to the closer's fold, each appended when it occurred."""
    for event in events:
        try:
            check_event_time(event, reference_epoch)
        except EventRejected:
            continue  # counted by replay
        closer.fold.add(event, event.occurred_at.timestamp())


def backfill(
    path: Path,
    mapping: Path | None,
    engine: Engine,
    registry: Registry,
    grace_seconds: float,
    *,
    as_of: float | None = None,
    on_event: Callable[[], None] | None = None,
    on_phase: Callable[[str, int | None], Callable[[int], None]] | None = None,
) -> BackfillReport:
    """Store the file's views and scores, then close the due periods. `on_phase(name,
    total)` returns a callback advancing a progress bar of that phase."""
    report = BackfillReport()
    started = time.monotonic()
    events_iter, source_report = open_source(path, mapping)
    events = list(_counted(events_iter, on_event))
    report.seconds["read"] = time.monotonic() - started
    reference = time.time()
    mark = time.monotonic()
    result = replay(iter(events), registry, reference_epoch=reference, as_of=as_of)
    report.seconds["replay"] = time.monotonic() - mark
    report.events, report.accepted = result.events, result.accepted
    report.rejected.update(result.rejected)
    report.source_problems = dict(sorted(_reasons(source_report).items()))
    report.watermark = result.watermark
    if result.watermark is None:
        return report
    mark = time.monotonic()
    advance = on_phase("storing views and scores", len(result.views)) if on_phase else None
    report.views, report.score_rows = store_views_bulk(
        engine,
        result.views,
        result.watermark,
        grace_seconds,
        registry=registry,
        progress=advance,
    )
    report.seconds["store"] = time.monotonic() - mark
    mark = time.monotonic()
    closer = Closer(engine, registry, file_source(path))
    fold_file(closer, events, reference)
    if on_phase is not None:
        on_phase("closing due periods", None)
    report.close = closer.run(result.watermark)
    report.seconds["close"] = time.monotonic() - mark
    report.seconds["total"] = time.monotonic() - started
    return report


def _reasons(source_report: SourceReport) -> dict[str, int]:
    return dict(source_report.reasons())


def _counted(
    events: Iterator[ComplaintEvent], on_event: Callable[[], None] | None
) -> Iterator[ComplaintEvent]:
    for event in events:
        if on_event is not None:
            on_event()
        yield event
