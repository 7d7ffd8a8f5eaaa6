"""The two stages of the worker, as plain classes the Faust agents call per event.

Complaint stage (`ComplaintStage`, source: the events topic, keyed by complaint_id), per
batch of events: parse, validate, keep each complaint's events in the `complaints` table,
evaluate each complaint of the batch once (core.timeline) and send the changed unit views to
the views topic, on each unit's partition: one record per (source, views) partition holding
the batch's views. Rejected messages go to the dead-letter topic with a reason.

Unit stage (`UnitStage`, source: the views topic, keyed by unit): keep the latest view of
each (unit, complaint) in the `unit-views` table and each unit's monotonic counters in the
`unit-counters` table; the derived state (open timers, windows) lives in memory in
core.unit_kpis and is rebuilt from the tables after every rebalance. Because the stage is
keyed by unit, each unit's metrics come from exactly one worker.

This module is the I/O edge: the decisions are all in core.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner
from faust.streams import _current_event

from core.complaint_state import (
    DUPLICATE_EVENT_ID,
    ComplaintState,
    changed_encoded_views,
    is_redelivery,
    record_event,
)
from core.registry import Registry
from core.totals import RESOLUTION_BUCKETS
from core.unit_kpis import StoredView, UnitKpis, UnitSnapshot
from core.unit_view import UnitView, target_bucket_bounds
from core.watermarks import SourceWatermarks
from metrics.names import UNKNOWN_UNIT
from schemas.events import EventRejected, admit_message

log = logging.getLogger(__name__)

REASON_HEADER = "sigap-reason"
# The dead-letter reason of events whose complaint the KPI code failed on (a bug).
INTERNAL_ERROR = "internal_error"
RESTORED_SOURCE = -1  # the source partition standing for "as restored from the table"
# The unit stage saves a partition's watermark when it has moved this far (event seconds).
PROGRESS_STEP_SECONDS = 1.0
# Kafka's record timestamp types (aiokafka / faust Message.timestamp_type).
LOG_APPEND_TIME = 1
# The largest views-topic record the complaint stage sends (bytes of its value): well under
# the broker's 1 MiB default (max.message.bytes) and the producer's max_request_size, with
# room for the record's overhead. A batch's views for one partition are split to fit.
MAX_VIEWS_RECORD_BYTES = 900_000
# How long /metrics may show window and period statistics before recomputing them: far
# below Prometheus' scrape interval, and a scrape no longer stalls the agents each time.
WINDOW_STATS_SECONDS = 5.0


@dataclass
class PipelineCounts:
    """Per worker, since start: pipeline health, not KPIs."""

    processed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass
class _Touched:
    """A complaint changed (or redelivered) in the batch being processed."""

    state: ComplaintState
    event: Any  # one of its events: the partition its table entry belongs to
    dirty: bool = False  # the state changed: write it
    resend: bool = False  # send every view again (a redelivery)
    # Its events accepted in the batch (and not dropped since), by event_id.
    accepted: dict[str, Any] = field(default_factory=dict)


@contextmanager
def acting_for(event: Any) -> Iterator[None]:
    """Make `event` Faust's current event: a table finds the partition of a key's entry (its
    store and changelog partition) from the current event, and in a batch that must be the
    partition of the event being handled, not of the last one read."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class ComplaintStage:
    def __init__(
        self,
        *,
        registry: Registry,
        complaints: Any,
        rejections: Any,
        views_topic: Any,
        dead_letter_topic: Any,
        cache_size: int = 20_000,
        heartbeat_repeat_seconds: float = 60.0,
        monotonic_clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.wall_clock = wall_clock
        # The registry's categories: any other category is read as "other" by the parser.
        self._categories = registry.categories
        self.heartbeat_repeat_seconds = heartbeat_repeat_seconds
        self.monotonic_clock = monotonic_clock
        self.complaints = complaints
        self.rejections = rejections
        self.views_topic = views_topic
        self.dead_letter_topic = dead_letter_topic
        self.counts = PipelineCounts()
        self._unknown_units_seen: set[str] = set()
        self._latest_event_time: dict[int, float] = {}  # per events-topic partition
        self._last_offset: dict[int, int] = {}  # the last offset processed, per partition
        # Per source partition: the stamp last sent in a heartbeat, and when (monotonic).
        self._heartbeat_sent: dict[int, tuple[tuple[float, bool], float]] = {}
        self.views_partitions = 1
        # Recently used complaint states, so that most events need no table read and decode.
        self.cache_size = cache_size
        self._states: dict[str, ComplaintState] = {}
        self._in_batch = False
        # Set by the app: the highwater mark of an events-topic partition, if known.
        self.highwater: Callable[[int], int | None] = lambda partition: None

    async def process(self, event: Any) -> None:
        await self.process_batch([event])

    async def process_batch(self, events: Sequence[Any]) -> None:
        """Validate and record each event in order; then evaluate each complaint the batch
        touched once, write its state once, and send its changed views: one views-topic
        record per (source partition, views partition) holding them all."""
        self._in_batch = True
        try:
            await self._process_batch(events)
        finally:
            self._in_batch = False

    async def _process_batch(self, events: Sequence[Any]) -> None:
        touched: dict[str, _Touched] = {}
        last_offset: dict[int, int] = {}
        for event in events:
            with acting_for(event):
                await self._record(event, touched)
            last_offset[event.message.partition] = event.message.offset
        outgoing: dict[tuple[int, int], list[dict[str, Any]]] = {}
        views_partitions = self.views_partitions
        for complaint_id, item in touched.items():
            try:
                changed = changed_encoded_views(item.state, self.registry, every_view=item.resend)
            except Exception:
                await self._contain_internal_error(complaint_id, item)
                continue
            if item.dirty:  # after the views: the state holds the hashes of the views sent
                with acting_for(item.event):
                    self.complaints[complaint_id] = orjson.dumps(item.state.to_json())
            source = item.event.message.partition
            for view, encoded in changed:
                destination = unit_partition(view.unit, views_partitions)
                outgoing.setdefault((source, destination), []).append(encoded)
        for partition, offset in last_offset.items():
            self._last_offset[partition] = offset
        for (source, destination), views in outgoing.items():
            envelope = self._envelope(source, last_offset[source])
            for value in views_records(envelope, views):
                await self.views_topic.send(key=None, partition=destination, value=value)

    async def _contain_internal_error(self, complaint_id: str, item: _Touched) -> None:
        """A bug in the KPI code, met while evaluating one complaint: rather than crash the
        agent (Faust restarts it and the batch is lost), dead-letter the complaint's events
        of this batch (reason `internal_error`), keep its stored state as it was, and go
        on with the other complaints. Once the bug is fixed they can be published again:
        event_id idempotency makes that safe."""
        log.exception(
            "internal error evaluating a complaint: its %d event(s) of this batch are "
            "dead-lettered (reason=%s)",
            len(item.accepted),
            INTERNAL_ERROR,
        )
        self._states.pop(complaint_id, None)  # the next event reloads the stored state
        for event in item.accepted.values():
            self.counts.processed -= 1
            with acting_for(event):
                await self.reject(event.message.partition, event.key, event.value, INTERNAL_ERROR)

    def _state_of(self, complaint_id: str) -> ComplaintState:
        state = self._states.get(complaint_id)
        if state is None:
            stored = self.complaints.get(complaint_id)
            if isinstance(stored, bytes | bytearray):
                stored = orjson.loads(stored)
            state = ComplaintState.from_json(stored)
            states = self._states
            if len(states) >= self.cache_size:
                del states[next(iter(states))]  # the oldest: a miss only costs a table read
            states[complaint_id] = state
        return state

    def forget_cached_states(self) -> None:
        """After a rebalance: another worker may have changed the complaints meanwhile."""
        self._states.clear()

    async def _record(self, event: Any, touched: dict[str, _Touched]) -> None:
        message = event.message
        raw: bytes = event.value if event.value is not None else b""
        state: ComplaintState | None = None
        try:
            complaint_event = admit_message(
                event.key, raw, self._reference_epoch(message), categories=self._categories
            )
            state = self._state_of(complaint_event.complaint_id)
            dropped = record_event(state, complaint_event, self.registry)
        except EventRejected as rejected:
            await self.reject(message.partition, event.key, raw, rejected.reason)
            if (
                rejected.reason == DUPLICATE_EVENT_ID
                and state is not None
                and is_redelivery(state, complaint_event)
            ):
                # After a crash the state may hold the event while the views it produced
                # were never sent: send them again (the unit stage ignores what it has).
                # The event was accepted before, so it counts towards its partition's
                # progress: without this, the first views sent after a restart or a
                # rebalance carried no event time ("wm": null) and crashed the unit stage.
                self._note_event_time(message.partition, complaint_event.occurred_at.timestamp())
                item = touched.get(complaint_event.complaint_id)
                if item is None:
                    item = touched[complaint_event.complaint_id] = _Touched(state, event)
                item.resend = True
                # Written again so that its changelog catches up: a SIGKILL can keep a
                # write in the local RocksDB whose changelog record was never produced,
                # and a worker recovering this partition from the changelog would miss it.
                item.dirty = True
            return
        item = touched.get(complaint_event.complaint_id)
        if item is None:
            item = touched[complaint_event.complaint_id] = _Touched(state, event)
        item.dirty = True
        item.accepted[complaint_event.event_id] = event
        self.counts.processed += 1
        self._report_unknown_unit(complaint_event.unit)
        for held, reason in dropped:
            # The original bytes of a held event are not kept: its validated form is sent.
            self.counts.processed -= 1
            item.accepted.pop(held.event_id, None)
            await self.reject(
                message.partition,
                held.complaint_id.encode(),
                held.model_dump_json(exclude_none=True).encode(),
                reason,
            )
        self._note_event_time(message.partition, complaint_event.occurred_at.timestamp())

    def _reference_epoch(self, message: Any) -> float:
        """The clock an event may not be ahead of (schemas.events.check_event_time): the
        broker's append time when the topic has LogAppendTime (as SIGAP creates it), else
        the wall clock now, never the producer's own record timestamp."""
        if getattr(message, "timestamp_type", None) == LOG_APPEND_TIME:
            return float(message.timestamp)
        return self.wall_clock()

    def _note_event_time(self, partition: int, occurred_at: float) -> None:
        latest = max(occurred_at, self._latest_event_time.get(partition, occurred_at))
        self._latest_event_time[partition] = latest

    def _envelope(self, partition: int, offset: int) -> dict[str, Any]:
        """Where a view comes from and how far that partition is (core.watermarks)."""
        self._last_offset[partition] = offset
        highwater = self.highwater(partition)
        caught_up = highwater is not None and offset + 1 >= highwater
        return {"src": partition, "wm": self._latest_event_time.get(partition), "cu": caught_up}

    async def heartbeat(self) -> None:
        """Tell every unit partition how far each source partition is, when that changed,
        and again every `heartbeat_repeat_seconds` when it did not.

        A unit partition learns of a source's progress only from the views it receives;
        one that receives none from a busy source would keep an old watermark, and its
        deadlines would never pass. Sent after the views already sent, so never ahead.
        The repeats change no watermark; they give the unit stage a record to save its
        wall-clock-advanced watermark with during quiet hours (a table write needs one).
        """
        if self._in_batch:
            # The batch's views are still being sent: a stamp now could overtake them.
            return
        for partition, latest in list(self._latest_event_time.items()):
            offset = self._last_offset.get(partition)
            if offset is None:
                continue
            envelope = self._envelope(partition, offset)
            stamp = (latest, bool(envelope["cu"]))
            now = self.monotonic_clock()
            sent = self._heartbeat_sent.get(partition)
            repeat_due = sent is None or now - sent[1] >= self.heartbeat_repeat_seconds
            if sent is not None and sent[0] == stamp and not repeat_due:
                continue
            self._heartbeat_sent[partition] = (stamp, now)
            for views_partition in range(self.views_partitions):
                await self.views_topic.send(
                    key=None, partition=views_partition, value=orjson.dumps(envelope)
                )

    def _report_unknown_unit(self, unit: str | None) -> None:
        if unit is None or unit in self.registry.units or unit in self._unknown_units_seen:
            return
        self._unknown_units_seen.add(unit)
        # Not the code itself: a producer may put anything in `unit`, even a phone number.
        digest = hashlib.sha256(unit.encode()).hexdigest()[:12]
        log.warning(
            "a unit code not in the registry (sha256 %s..., %d characters) is counted as %r",
            digest,
            len(unit),
            UNKNOWN_UNIT,
        )

    async def reject(self, partition: int, key: bytes | None, raw: bytes, reason: str) -> None:
        counter_key = f"{partition}:{reason}"
        self.rejections[counter_key] = int(self.rejections.get(counter_key) or 0) + 1
        # The original bytes go to the dead-letter topic, never to the log: they may hold
        # a reporter's name or phone number.
        log.warning("event rejected: reason=%s partition=%d", reason, partition)
        await self.dead_letter_topic.send(
            key=key, value=raw, headers=[(REASON_HEADER, reason.encode())]
        )

    def rejected_by_reason(self, owned_partitions: set[int]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for key, value in list(self.rejections.items()):
            partition, _, reason = str(key).partition(":")
            if int(partition) in owned_partitions:
                totals[reason] = totals.get(reason, 0) + int(value)
        return totals


def views_records(
    envelope: dict[str, Any], views: list[dict[str, Any]], limit: int = MAX_VIEWS_RECORD_BYTES
) -> list[bytes]:
    """The values of the views-topic records carrying `views` under `envelope`: one record,
    or as many as it takes for none to exceed `limit` bytes (halving the list: the common
    case encodes once). Every record carries the same progress stamp, sent after its views'
    complaints were recorded, so the split changes no watermark."""
    value = orjson.dumps({**envelope, "vs": views})
    if len(value) <= limit or len(views) <= 1:
        # A single view beyond the limit cannot happen: a complaint holds at most
        # MAX_EVENTS_PER_COMPLAINT events, and its view stays far below (tested).
        return [value]
    half = len(views) // 2
    return views_records(envelope, views[:half], limit) + views_records(
        envelope, views[half:], limit
    )


@functools.lru_cache(maxsize=4096)
def unit_partition(unit: str, partitions: int) -> int:
    """The views-topic partition of a unit: the producer's own partitioner (murmur2)."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(unit.encode(), every, every))


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
        bounds = tuple(sorted(set(RESOLUTION_BUCKETS) | set(target_bucket_bounds(registry))))
        self.bucket_bounds = bounds
        self.grace_seconds = grace_seconds
        self.kpis = UnitKpis(bounds, bounds, grace_seconds)
        # One watermark per views partition: the progress stamps a partition carries arrive
        # in order with its views, whatever the pace at which other partitions are read.
        self.watermarks: dict[int, SourceWatermarks] = {}

    def watermark_of(self, unit: str) -> float:
        source = self.watermarks.get(unit_partition(unit, self.partitions))
        current = None if source is None else source.current(self.wall_clock())
        return 0.0 if current is None else current

    async def process(self, event: Any) -> None:
        """One views-topic record: the views of one batch (or one view), or a heartbeat."""
        envelope = orjson.loads(event.value)
        if envelope.get("wm") is not None:  # a stamp without an event time moves nothing
            source = self.watermarks.get(event.message.partition)
            if source is None:
                source = self.watermarks[event.message.partition] = SourceWatermarks()
            source.observe(envelope["src"], envelope["wm"], envelope["cu"], self.wall_clock())
            self._save_progress(event.message.partition, source)
        views = envelope.get("vs")
        if views is None:
            views = [envelope["v"]] if "v" in envelope else []  # else a heartbeat
        for encoded in views:
            try:
                self.apply(UnitView.from_json(encoded), encoded)
            except Exception:
                # A bug in the KPI code: skip this view rather than crash the agent, which
                # would lose the whole record (Faust does not retry it). The complaint stage
                # keeps the complaint's events and the score writer has its own copy.
                self.views_failed += 1
                log.exception("internal error applying a unit view; skipped")

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
        saved, from its latest view), as if every source were caught up, and advances with
        the wall clock from there: it must not fall back, or misses exported before would
        vanish and the window gauges would jump back.
        """
        self.kpis = UnitKpis(self.bucket_bounds, self.bucket_bounds, self.grace_seconds)
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
                latest[partition] = max(latest.get(partition, saved), saved)
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
            snapshots[unit] = snapshot
        marks = [self.watermark_of(unit) for unit in units if self.watermark_of(unit) > 0]
        return (min(marks) if marks else None), snapshots
