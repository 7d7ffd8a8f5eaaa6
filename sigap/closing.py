"""Checking a closed period's official revision against the log (`sigap verify`), and
folding a log source for the closer (`sigap close`): the event file side lives here, the
closer itself in consumers.closing."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from consumers.closing import TopicFollower
from schemas.events import EventRejected, check_event_time
from sigap.core.period_close import LogFold, empty_score
from sigap.core.periods import PeriodKind
from sigap.core.registry import Registry
from sigap.settings import Settings

# --------------------------------------------------------------------------------------
# Verifying the official revision of a closed period
# --------------------------------------------------------------------------------------

# Bookkeeping of an official row, not a score value.
OFFICIAL_BOOKKEEPING = (
    "status",
    "cut_epoch",
    "watermark_epoch",
    "registry_version",
    "changed",
    "reason",
)


@dataclass
class OfficialCheck:
    """The stored official (and latest restated) rows of a closed period against their
    recomputation from the log, each cut at its own instant."""

    close_source: str
    close_instant: float
    official_rows: int
    restatement_rows: int
    differences: list[Any]  # sigap.verify.Difference
    skipped: str | None = None  # why nothing was compared

    def as_json(self) -> dict[str, Any]:
        return {
            "close_source": self.close_source,
            "close_instant": self.close_instant,
            "official_rows": self.official_rows,
            "restatement_rows": self.restatement_rows,
            "identical": not self.differences,
            "skipped": self.skipped,
            "differences": [difference.as_json() for difference in self.differences],
        }


def fold_source(
    source: str, mapping: Path | None, settings: Settings, registry: Registry
) -> tuple[LogFold, str, float]:
    """The log folded (not yet advanced): the events topic with its record timestamps, or
    a file with each event appended when it occurred. Returns (fold, source label, cut:
    the instant up to which it is complete)."""
    fold = LogFold(registry)
    if source == "topic":
        follower = TopicFollower(settings, fold)
        try:
            cut = follower.read_to_end()
        finally:
            follower.close()
        fold.rejected.update(follower.rejected)
        return fold, f"topic:{settings.events_topic}", cut
    from sigap.replay_sources import open_source

    path = Path(source)
    events, _ = open_source(path, mapping)
    reference = time.time()
    latest = -math.inf
    for event in events:
        try:
            check_event_time(event, reference)
        except EventRejected:
            continue
        fold.add(event, event.occurred_at.timestamp())
        latest = max(latest, event.occurred_at.timestamp())
    return fold, f"file:{path.name}", latest


def check_official(
    fold: LogFold, source_label: str, engine: Engine, kind: PeriodKind, start: date
) -> OfficialCheck | None:
    """None when the period is not closed. The fold is advanced (to the close instant, then
    to each restatement's cut)."""
    from sigap.storage.official import close_of, official_rows
    from sigap.verify import compare_scores

    close = close_of(engine, kind, start)
    if close is None:
        return None
    rows = official_rows(engine, kind, start=start, category=None)
    official = [row for row in rows if row["status"] == "official"]
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row["status"] == "restatement":
            latest[(row["unit"], row["category"])] = row  # sorted by revision: last wins
    check = OfficialCheck(close.source, close.instant, len(official), len(latest), [])
    if close.source != source_label:
        check.skipped = (
            f"the period was closed from {close.source}, not {source_label}: its official "
            "figures are a function of that log"
        )
        return check
    if fold.cut > close.instant:
        raise ValueError("the fold is past the close instant")

    def strip(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k not in OFFICIAL_BOOKKEEPING}

    fold.advance(close.instant)
    recomputed = fold.index.period_scores(kind, start, close.instant, fold.registry)
    check.differences += compare_scores(
        [strip(row) for row in official], [score.as_json() for score in recomputed.values()]
    )
    for cut in sorted({row["cut_epoch"] for row in latest.values()}):
        fold.advance(cut)
        at_cut = fold.index.period_scores(kind, start, close.instant, fold.registry)
        stored = [row for row in latest.values() if row["cut_epoch"] == cut]
        check.differences += compare_scores(
            [strip(row) for row in stored],
            [
                (
                    at_cut.get((row["unit"], row["category"]))
                    or empty_score(row["unit"], row["category"], kind, start, fold.registry)
                ).as_json()
                for row in stored
            ],
        )
    return check
