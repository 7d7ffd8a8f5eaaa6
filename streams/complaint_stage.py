"""The complaint stage: from the events topic to the views topic.

Source: the events topic, keyed by complaint_id. Per batch of events: parse, validate, keep
each complaint's events in the `complaints` table, evaluate each complaint of the batch once
(core.timeline) and send the changed unit views to the views topic, on each unit's
partition: one record per (source, views) partition holding the batch's views
(schemas.views). After every assignment, before anything else, every events partition it
now reads is announced to every views partition as behind, event time unknown (`assigned`).
Rejected messages go to the dead-letter topic with a reason
(schemas.dead_letters).

This module is the I/O edge: the decisions are all in core.
"""

from __future__ import annotations

import hashlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from faust.streams import _current_event

from metrics.names import UNKNOWN_UNIT
from schemas.dead_letters import INTERNAL_ERROR, REASON_HEADER
from schemas.events import EventRejected, admit_message
from schemas.views import encode_envelope, encode_views_records, unit_partition
from sigap.core.complaint_state import (
    DUPLICATE_EVENT_ID,
    ComplaintState,
    changed_encoded_views,
    is_redelivery,
    record_event,
)
from sigap.core.registry import Registry

__all__ = ["INTERNAL_ERROR", "REASON_HEADER", "ComplaintStage", "PipelineCounts", "acting_for"]

log = logging.getLogger(__name__)

# Kafka's record timestamp types (aiokafka / faust Message.timestamp_type).
LOG_APPEND_TIME = 1
# At most this many cached complaint states keep their fold (core.incremental: the
# evaluation kept event by event, in memory only; about 8-15 KiB for a complaint of 5-50
# events, so at most ~150 MB). A complaint that lost its fold (or its cached state)
# rebuilds it from its events once, at its next event: as costly as one full evaluation.
MAX_FOLDS: Final = 10_000


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


class acting_for:  # a function's name: used as `with acting_for(event):`
    """Make `event` Faust's current event: a table finds the partition of a key's entry (its
    store and changelog partition) from the current event, and in a batch that must be the
    partition of the event being handled, not of the last one read.

    A class rather than a @contextmanager generator: entered once or twice per event."""

    __slots__ = ("_event", "_token")

    def __init__(self, event: Any) -> None:
        self._event = event

    def __enter__(self) -> None:
        self._token = _current_event.set(weakref.ref(self._event))

    def __exit__(self, *exc_info: object) -> None:
        _current_event.reset(self._token)


async def _unknown_offset(partition: int) -> int | None:
    return None


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
        fold_cache_size: int = MAX_FOLDS,
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
        self._heartbeat_sent: dict[int, tuple[tuple[float | None, bool], float]] = {}
        # The events partitions assigned (None: never told, as in tests without a broker),
        # and an assignment not announced to the unit stage yet (see `assigned`).
        self._assigned: set[int] | None = None
        self._to_announce: set[int] | None = None
        self._epoch = 0  # announcements sent
        self.views_partitions = 1
        # Recently used complaint states, so that most events need no table read and decode.
        self.cache_size = cache_size
        self._states: dict[str, ComplaintState] = {}
        # The complaints whose cached state keeps its fold, least recently evaluated first.
        self.fold_cache_size = fold_cache_size
        self._folded: dict[str, None] = {}
        self._in_batch = False
        # Set by the app: the highwater mark of an events-topic partition, if known.
        self.highwater: Callable[[int], int | None] = lambda partition: None
        # Set by the app: the offset this worker starts reading an assigned events-topic
        # partition at (its committed offset, else its earliest), if known.
        self.start_offset: Callable[[int], Awaitable[int | None]] = _unknown_offset

    def assigned(self, partitions: set[int]) -> None:
        """The events partitions this worker reads from now on (after every assignment).

        Before its next batch or heartbeat the stage announces each of them to every views
        partition as behind with its event time unknown: it reads them anew from their
        committed positions, and until it is heard from again such a partition holds the
        unit stage's watermark (core.watermarks). Without this, after a restart, the backlog
        of the partition read first carried the watermark past deadlines whose timers had
        stopped in time in the backlog of a partition not read yet: counted missed."""
        self._to_announce = set(partitions)

    async def process(self, event: Any) -> None:
        await self.process_batch([event])

    async def process_batch(self, events: Sequence[Any]) -> None:
        """Validate and record each event in order; then evaluate each complaint the batch
        touched once, write its state once, and send its changed views: one views-topic
        record per (source partition, views partition) holding them all."""
        await self._announce_assignment()
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
            self._keep_fold(complaint_id, item.state)
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
            watermark, caught_up = self._progress(source, last_offset[source])
            for value in encode_views_records(source, watermark, caught_up, views):
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
        self._folded.clear()

    def _keep_fold(self, complaint_id: str, state: ComplaintState) -> None:
        """Note that the complaint was just evaluated (its state keeps its fold); beyond
        `fold_cache_size` complaints, the least recently evaluated one's fold is dropped."""
        folded = self._folded
        folded.pop(complaint_id, None)
        if state.fold is None:
            return
        folded[complaint_id] = None
        while len(folded) > self.fold_cache_size:
            oldest = next(iter(folded))
            del folded[oldest]
            cached = self._states.get(oldest)
            if cached is not None:
                cached.fold = None

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

    def _progress(self, partition: int, offset: int) -> tuple[float | None, bool]:
        """How far a source partition is (core.watermarks): its latest event time, and
        whether it is caught up."""
        self._last_offset[partition] = offset
        highwater = self.highwater(partition)
        caught_up = highwater is not None and offset + 1 >= highwater
        return self._latest_event_time.get(partition), caught_up

    async def _announce_assignment(self) -> None:
        """Send the announcement of a new assignment (see `assigned`), once, before anything
        else this stage sends from then on; the progress kept so far is forgotten (the
        partitions are read again from their committed positions)."""
        partitions = self._to_announce
        if partitions is None:
            return
        self._to_announce = None
        self._epoch += 1
        self._assigned = partitions
        self._latest_event_time.clear()
        self._last_offset.clear()
        self._heartbeat_sent.clear()
        if partitions:
            log.info(
                "events partitions %s announced behind (event time unknown) to %d views partitions",
                sorted(partitions),
                self.views_partitions,
            )
        for partition in sorted(partitions):
            for views_partition in range(self.views_partitions):
                await self.views_topic.send(
                    key=None,
                    partition=views_partition,
                    value=encode_envelope(partition, None, False),
                )

    async def _caught_up_unheard(self, partition: int) -> bool:
        """An assigned partition this stage has processed nothing of since its assignment is
        caught up when it starts at or past its highwater: nothing to read (empty, or
        nothing new since the last commit)."""
        highwater = self.highwater(partition)
        if highwater is None:
            return False
        if highwater <= 0:
            return True  # never written to
        start = await self.start_offset(partition)
        return start is not None and start >= highwater

    async def heartbeat(self) -> None:
        """Tell every unit partition how far each source partition is, when that changed,
        and again every `heartbeat_repeat_seconds` when it did not.

        A unit partition learns of a source's progress only from the views it receives;
        one that receives none from a busy source would keep an old watermark, and its
        deadlines would never pass. Sent after the views already sent, so never ahead.
        The repeats change no watermark; they give the unit stage a record to save its
        wall-clock-advanced watermark with during quiet hours (a table write needs one).
        An assigned partition without an event time (nothing processed since the assignment,
        or only rejected events) is reported caught up, without one, once it is: announced
        behind, it would otherwise hold the unit stage's watermark for good.
        """
        if self._in_batch:
            # The batch's views are still being sent: a stamp now could overtake them.
            return
        await self._announce_assignment()
        epoch = self._epoch
        # Assigned partitions without an event time (nothing read since the assignment, or
        # only rejected events): announced behind, they release the unit stage's watermark
        # by reporting "caught up" once they are (an empty partition must not hold it).
        unheard: dict[int, tuple[float | None, bool]] = {}
        for partition in sorted((self._assigned or set()) - set(self._latest_event_time)):
            offset = self._last_offset.get(partition)
            if offset is not None:
                _, caught_up = self._progress(partition, offset)
            else:
                caught_up = await self._caught_up_unheard(partition)
            if caught_up:
                unheard[partition] = (None, True)
        if self._in_batch or self._epoch != epoch:
            return  # a batch or an assignment came meanwhile: the next heartbeat
        stamps: dict[int, tuple[float | None, bool]] = {}
        for partition in list(self._latest_event_time):
            offset = self._last_offset.get(partition)
            if offset is not None:
                stamps[partition] = self._progress(partition, offset)
        for partition, stamp in {**unheard, **stamps}.items():
            watermark, caught_up = stamp
            now = self.monotonic_clock()
            sent = self._heartbeat_sent.get(partition)
            repeat_due = sent is None or now - sent[1] >= self.heartbeat_repeat_seconds
            if sent is not None and sent[0] == stamp and not repeat_due:
                continue
            self._heartbeat_sent[partition] = (stamp, now)
            for views_partition in range(self.views_partitions):
                if self._epoch != epoch:
                    return  # announced meanwhile: an older stamp now would end the hold
                await self.views_topic.send(
                    key=None,
                    partition=views_partition,
                    value=encode_envelope(partition, watermark, caught_up),
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
