"""The unit stage: from the views topic to each unit's KPIs.

Source: the views topic (schemas.views), keyed by unit. Keep the latest view of each
(unit, complaint) in the `unit-views` table and each unit's monotonic counters in the
`unit-counters` table; the derived state (open timers, windows) lives in memory in
core.unit_kpis and is rebuilt from the tables after every rebalance. Because the stage is
keyed by unit, each unit's metrics come from exactly one worker.

This module is the I/O edge: the decisions are all in core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import orjson

from metrics.names import RESOLUTION_BUCKETS, UNKNOWN_UNIT, histogram_bounds
from schemas.views import decode_envelope, unit_partition
from sigap.core.holiday_cliff import deadlines_after_break
from sigap.core.registry import Registry
from sigap.core.unit_kpis import StoredView, UnitKpis, UnitSnapshot
from sigap.core.unit_view import UnitView
from sigap.core.watermarks import SourceWatermarks

__all__ = ["PROGRESS_STEP_SECONDS", "RESTORED_SOURCE", "WINDOW_STATS_SECONDS", "UnitStage"]

log = logging.getLogger(__name__)

RESTORED_SOURCE = -1  # the source partition standing for "as restored from the table"
# The unit stage saves a partition's watermark when it has moved this far (event seconds).
PROGRESS_STEP_SECONDS = 1.0
# How long /metrics may show window and period statistics before recomputing them: far
# below Prometheus' scrape interval, and a scrape no longer stalls the agents each time.
WINDOW_STATS_SECONDS = 5.0


class UnitStage:
    def __init__(
        self,
        *,
        registry: Registry,
        unit_views: Any,
        partitions: int,
        grace_seconds: float,
        unit_progress: Any | None = None,
        wall_clock: Callable[[], float] = time.time,
        cache_size: int = 20_000,
    ) -> None:
        self.registry = registry
        self.unit_views = unit_views
        # Per views partition (str): the watermark reached, so that a restart or the next
        # owner resumes from it rather than from the partition's latest view.
        self.unit_progress: Any = {} if unit_progress is None else unit_progress
        self._progress_saved: dict[int, float] = {}
        self.views_failed = 0  # views skipped on an internal error, since start
        self.stale_views = 0  # views older than the one held, ignored, since start
        # Recently applied views with what they counted: most views need no table read.
        self.cache_size = cache_size
        self._stored: dict[str, StoredView] = {}
        # Per unit: when its window statistics were computed, in the snapshot holding them.
        self._window_stats: dict[str, tuple[float, UnitSnapshot]] = {}
        self.partitions = partitions
        self.wall_clock = wall_clock
        bounds = histogram_bounds(registry)
        self.bucket_bounds = bounds
        self.grace_seconds = grace_seconds
        self.kpis = UnitKpis(bounds, bounds, grace_seconds, resolution_bounds=RESOLUTION_BUCKETS)
        # One watermark per views partition: the progress stamps a partition carries arrive
        # in order with its views, whatever the pace at which other partitions are read.
        self.watermarks: dict[int, SourceWatermarks] = {}

    def watermark_of(self, unit: str) -> float:
        source = self.watermarks.get(unit_partition(unit, self.partitions))
        current = None if source is None else source.current(self.wall_clock())
        return 0.0 if current is None else current

    async def process(self, event: Any) -> None:
        """One views-topic record: the views of one batch (or one view), or a heartbeat."""
        envelope = decode_envelope(event.value)
        # The views first, at the watermark before this record: its stamp says how far its
        # source was once these views were made, so it moves the watermark only after them.
        # Observed first, the stamp of a source's last backlog batch carried the watermark
        # past the deadlines of timers that the same record shows stopped in time.
        for encoded in envelope.views:  # none in a heartbeat
            try:
                self.apply(UnitView.from_json(encoded), encoded)
            except Exception:
                # A bug in the KPI code: skip this view rather than crash the agent, which
                # would lose the whole record (Faust does not retry it). The complaint stage
                # keeps the complaint's events and the score writer has its own copy.
                self.views_failed += 1
                log.exception("internal error applying a unit view; skipped")
        # Every stamp counts, one without an event time too: announced behind, that source
        # holds the partition's watermark until it is heard from (core.watermarks).
        source = self.watermarks.get(event.message.partition)
        if source is None:
            source = self.watermarks[event.message.partition] = SourceWatermarks()
        source.observe(envelope.source, envelope.watermark, envelope.caught_up, self.wall_clock())
        self._save_progress(event.message.partition, source)

    def _save_progress(self, partition: int, source: SourceWatermarks) -> None:
        """Store the partition's watermark when it has moved by PROGRESS_STEP_SECONDS: at
        most one small table write per views record, in the partition's own changelog (the
        write happens while that partition's record is processed)."""
        current = source.current(self.wall_clock())
        if current is None or current < self._progress_saved.get(partition, 0.0) + (
            PROGRESS_STEP_SECONDS
        ):
            return
        self.unit_progress[str(partition)] = orjson.dumps({"wm": current})
        self._progress_saved[partition] = current

    def saved_progress(self, partition: int) -> float | None:
        data = self.unit_progress.get(str(partition))
        if data is None:
            return None
        value = orjson.loads(data) if isinstance(data, bytes | bytearray) else data
        return float(value["wm"])

    def apply(self, view: UnitView, encoded: dict[str, Any] | None = None) -> None:
        key = f"{view.unit}|{view.complaint_id}"
        previous = self._stored.get(key)
        if previous is None:
            stored_data = self.unit_views.get(key)
            if isinstance(stored_data, bytes | bytearray):
                stored_data = orjson.loads(stored_data)
            previous = StoredView.from_json(stored_data) if stored_data else None
        if previous is not None and view.as_of < previous.view.as_of:
            # Older than the view held (by its own order, the complaint's latest event
            # time): a zombie worker's or a replayed record. It cannot take the unit back.
            self.stale_views += 1
            return
        stored = self.kpis.apply(view, previous, self.watermark_of(view.unit))
        cache = self._stored
        if len(cache) >= self.cache_size and key not in cache:
            del cache[next(iter(cache))]  # the oldest: a miss only costs a table read
        cache[key] = stored
        # One table entry holds the view and what it counted: written together or not at all.
        self.unit_views[key] = orjson.dumps(
            {"v": view.to_json() if encoded is None else encoded, "k": stored.counted.to_json()}
        )

    def rebuild(self, owned_partitions: set[int]) -> None:
        """Derived state from the tables, for the partitions this worker owns now.

        The watermark of each partition restarts from the one saved for it (or, if none was
        saved, from its latest view; never from a view when one was saved: views are applied
        ahead of a watermark held back), as if every source were caught up, and advances with
        the wall clock from there: it must not fall back, or misses exported before would
        vanish and the window gauges would jump back. It stays there while a source
        partition the complaint stage has announced (after its own assignment) has not been
        heard from: that partition's backlog may hold timers stopped before the deadlines
        another partition's backlog would carry the watermark past (core.watermarks).
        """
        self.kpis = UnitKpis(
            self.bucket_bounds,
            self.bucket_bounds,
            self.grace_seconds,
            resolution_bounds=RESOLUTION_BUCKETS,
        )
        self._stored.clear()
        self._window_stats.clear()
        latest: dict[int, float] = {}

        def owned_views() -> Iterator[StoredView]:
            for key, data in self.unit_views.items():
                partition = unit_partition(str(key).partition("|")[0], self.partitions)
                if partition not in owned_partitions:
                    continue
                stored = StoredView.from_json(
                    orjson.loads(data) if isinstance(data, bytes | bytearray) else data
                )
                latest[partition] = max(latest.get(partition, 0.0), stored.view.as_of)
                yield stored

        self.kpis.restore_all(owned_views())
        wall_now = self.wall_clock()
        self._progress_saved.clear()
        for partition in sorted(owned_partitions):
            saved = self.saved_progress(partition)
            if saved is not None:
                self._progress_saved[partition] = saved
                # The watermark reached, not the latest view: a worker killed while catching
                # up had applied views well ahead of its watermark (held back by a partition
                # still behind), and restarting from them skipped past that partition's
                # backlog (tests/faults/test_deadlines_during_faults.py, 1 run in 9).
                latest[partition] = saved
        for partition, as_of in latest.items():
            source = self.watermarks.setdefault(partition, SourceWatermarks())
            source.observe(RESTORED_SOURCE, as_of, True, wall_now)

    def forget_cached_views(self) -> None:
        """After a rebalance: another worker may have changed the stored views meanwhile."""
        self._stored.clear()

    def expire(self) -> None:
        """Drop window data older than any window of the slowest partition can hold."""
        wall_now = self.wall_clock()
        marks = [source.current(wall_now) for source in self.watermarks.values()]
        known = [mark for mark in marks if mark is not None]
        if known:
            self.kpis.expire(min(known))

    def owned_units(self, owned_partitions: set[int]) -> list[str]:
        """Registry units (pre-created label sets) and any other unit with data."""
        candidates: Iterable[str] = {*self.registry.units, UNKNOWN_UNIT, *self.kpis.counters}
        return sorted(
            unit for unit in candidates if unit_partition(unit, self.partitions) in owned_partitions
        )

    def snapshot(self, owned_partitions: set[int]) -> tuple[float | None, dict[str, UnitSnapshot]]:
        """Per-unit snapshots, and the lowest watermark of the owned partitions.

        The window and period statistics (quantiles over up to 30 days: tens of ms per unit
        with a large state, on the event loop) are recomputed at most every
        WINDOW_STATS_SECONDS; counters, open and past-target counts are always current.
        """
        units = self.owned_units(owned_partitions)
        wall_now = self.wall_clock()
        snapshots = {}
        for unit in units:
            cached = self._window_stats.get(unit)
            reuse = None
            if cached is not None and wall_now - cached[0] < WINDOW_STATS_SECONDS:
                reuse = cached[1]
            snapshot = self.kpis.unit_snapshot(unit, self.watermark_of(unit), reuse)
            if reuse is None:
                self._window_stats[unit] = (wall_now, snapshot)
            watermark = self.watermark_of(unit)
            if watermark > 0:
                # The holiday cliff at the unit's watermark (event time), like the worklist.
                cliff = deadlines_after_break(
                    self.kpis.open_items(unit), self.registry.calendar_for(unit), watermark
                )
                if cliff is not None:
                    snapshot = replace(snapshot, after_break=dict(cliff.by_timer))
            snapshots[unit] = snapshot
        marks = [self.watermark_of(unit) for unit in units if self.watermark_of(unit) > 0]
        return (min(marks) if marks else None), snapshots
