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
from sigap.core.holiday_cliff import cliff_window
from sigap.core.registry import Registry
from sigap.core.unit_kpis import StoredView, UnitKpis, UnitSnapshot
from sigap.core.unit_view import UnitView
from sigap.core.watermarks import SourceWatermarks
from streams.unit_snapshot import (
    PartitionSnapshot,
    SnapshotStore,
    TableDigest,
    stored_values_by_partition,
)

__all__ = ["PROGRESS_STEP_SECONDS", "RESTORED_SOURCE", "WINDOW_STATS_SECONDS", "UnitStage"]

log = logging.getLogger(__name__)

RESTORED_SOURCE = -1  # the source partition standing for "as restored from the table"
# The unit stage saves a partition's watermark when it has moved this far (event seconds).
PROGRESS_STEP_SECONDS = 1.0
# How long /metrics may show window and period statistics before recomputing them: far
# below Prometheus' scrape interval, and a scrape no longer stalls the agents each time.
WINDOW_STATS_SECONDS = 5.0


def _key_text(key: Any) -> str:
    """A table key as text (Faust's table keys are JSON strings, decoded to str)."""
    return key.decode() if isinstance(key, bytes | bytearray) else str(key)


def _entry_bytes(data: Any) -> bytes:
    """A table entry as stored (the worker stores orjson bytes; a test table may hold the
    decoded value)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray):
        return bytes(data)
    return orjson.dumps(data)


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
        snapshots: SnapshotStore | None = None,
    ) -> None:
        self.registry = registry
        # Saved at a clean stop, loaded by the next rebuild (streams.unit_snapshot).
        self.snapshots = snapshots
        self.snapshot_loads = 0  # partitions whose derived state came from a snapshot
        # Per unit: the latest view's as_of (what a rebuild restarts a watermark from
        # when none was saved), kept so that a snapshot can carry it.
        self._latest_as_of: dict[str, float] = {}
        self._partition_of_unit: dict[str, int] = {}
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

    def partition_of(self, unit: str) -> int:
        partition = self._partition_of_unit.get(unit)
        if partition is None:
            partition = self._partition_of_unit[unit] = unit_partition(unit, self.partitions)
        return partition

    def watermark_of(self, unit: str) -> float:
        source = self.watermarks.get(self.partition_of(unit))
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
        if view.as_of > self._latest_as_of.get(view.unit, 0.0):
            self._latest_as_of[view.unit] = view.as_of
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
        started = time.perf_counter()
        decoded = 0
        self.kpis = UnitKpis(
            self.bucket_bounds,
            self.bucket_bounds,
            self.grace_seconds,
            resolution_bounds=RESOLUTION_BUCKETS,
        )
        self._stored.clear()
        self._window_stats.clear()
        self._latest_as_of.clear()
        latest: dict[int, float] = {}
        snapshots: dict[int, PartitionSnapshot] = {}
        if self.snapshots is not None:
            for partition in sorted(owned_partitions):
                snapshot = self.snapshots.take(partition)
                if snapshot is not None:
                    snapshots[partition] = snapshot
        digests = {partition: TableDigest() for partition in snapshots}

        def owned_views(
            partitions: set[int], digests: dict[int, TableDigest]
        ) -> Iterator[StoredView]:
            # The hot loop of a restart: a million entries at a million open complaints.
            partition_of = self._partition_of_unit
            for key, data in self.unit_views.items():
                text = key if type(key) is str else _key_text(key)
                unit = text.partition("|")[0]
                partition = partition_of.get(unit)
                if partition is None:
                    partition = self.partition_of(unit)
                if partition not in partitions:
                    continue
                digest = digests.get(partition)
                if digest is not None:  # a snapshot's partition: checked, not decoded
                    digest.add(data if type(data) is bytes else _entry_bytes(data))
                    continue
                stored = StoredView.from_json(
                    orjson.loads(data) if isinstance(data, bytes | bytearray) else data
                )
                nonlocal decoded
                decoded += 1
                as_of = stored.view.as_of
                if as_of > latest.get(partition, 0.0):
                    latest[partition] = as_of
                if as_of > self._latest_as_of.get(unit, 0.0):
                    self._latest_as_of[unit] = as_of
                yield stored

        # The snapshots' partitions are checked on their raw values when the store allows
        # (no key decoded); the pass through items() is then only for the partitions
        # without a snapshot (none at a restart after a clean stop).
        raw = self._raw_digests(set(snapshots))
        if raw is not None:
            digests = raw
            if owned_partitions - set(snapshots):
                self.kpis.restore_all(owned_views(owned_partitions - set(snapshots), {}))
        else:
            self.kpis.restore_all(owned_views(owned_partitions, digests))
        refused: set[int] = set()
        for partition, snapshot in snapshots.items():
            if digests[partition].as_tuple() != snapshot.digest:
                log.warning(
                    "unit snapshot %s not loaded: the table's entries of views partition %d "
                    "changed after it was written (%d entries now, %d then); decoding them",
                    snapshot.path,
                    partition,
                    digests[partition].count,
                    snapshot.digest[0],
                )
                refused.add(partition)
                continue
            try:
                # Checked whole before anything is taken (UnitKpis.load_units_state).
                self.kpis.load_units_state(snapshot.state["kpis"])
                self._latest_as_of.update(snapshot.state["latest_as_of"])
            except (ValueError, KeyError, TypeError, IndexError) as error:
                log.warning(
                    "unit snapshot %s not loaded: its state does not fit together (%s: %s); "
                    "decoding the stored views of views partition %d",
                    snapshot.path,
                    type(error).__name__,
                    error,
                    partition,
                )
                refused.add(partition)
                continue
            if snapshot.latest_view_as_of is not None:
                latest[partition] = snapshot.latest_view_as_of
            self.snapshot_loads += 1
            log.info(
                "unit snapshot %s loaded: %d stored views of views partition %d not decoded",
                snapshot.path,
                snapshot.digest[0],
                partition,
            )
        if refused:
            self.kpis.restore_all(owned_views(refused, {}))
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
        log.info(
            "unit state of views partitions %s rebuilt in %.1f s: %d stored views decoded, "
            "%d partitions from snapshots",
            sorted(owned_partitions),
            time.perf_counter() - started,
            decoded,
            len(snapshots) - len(refused),
        )

    def _raw_digests(self, partitions: set[int]) -> dict[int, TableDigest] | None:
        """The digests of `partitions` from the store's raw values, or None when the table
        cannot be read that way (then items() is read: the same values, the same digest)."""
        raw = stored_values_by_partition(self.unit_views, partitions)
        if raw is None:
            return None
        digests = {}
        for partition, values in raw.items():
            digest = digests[partition] = TableDigest()
            for value in values:
                digest.add(value)
        return digests

    def save_snapshot(self, owned_partitions: set[int]) -> int:
        """Write the derived state of each owned partition with its table digest (a clean
        stop: nothing is applied meanwhile, the agents are stopped). Returns how many
        stored views the snapshots stand for."""
        if self.snapshots is None:
            return 0
        raw = self._raw_digests(owned_partitions)
        if raw is not None:
            digests = raw
        else:
            digests = {partition: TableDigest() for partition in owned_partitions}
            for key, data in self.unit_views.items():
                digest = digests.get(self.partition_of(_key_text(key).partition("|")[0]))
                if digest is not None:
                    digest.add(_entry_bytes(data))
        units = self.kpis.known_units() | set(self._latest_as_of)
        for partition, digest in sorted(digests.items()):
            held = [unit for unit in units if self.partition_of(unit) == partition]
            latest = [self._latest_as_of[unit] for unit in held if unit in self._latest_as_of]
            state = {
                "kpis": self.kpis.units_state(held),
                "latest_as_of": {
                    unit: self._latest_as_of[unit] for unit in held if unit in self._latest_as_of
                },
            }
            path = self.snapshots.save(partition, digest, max(latest) if latest else None, state)
            log.info(
                "unit snapshot %s written: %d stored views of views partition %d",
                path,
                digest.count,
                partition,
            )
        return sum(digest.count for digest in digests.values())

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
        return sorted(unit for unit in candidates if self.partition_of(unit) in owned_partitions)

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
                window = cliff_window(self.registry.calendar_for(unit), watermark)
                if window is not None:
                    after_break = self.kpis.running_deadlines_in(unit, window.start, window.end)
                    snapshot = replace(snapshot, after_break=after_break)
            snapshots[unit] = snapshot
        marks = [self.watermark_of(unit) for unit in units if self.watermark_of(unit) > 0]
        return (min(marks) if marks else None), snapshots
