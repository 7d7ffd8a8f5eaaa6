"""Per-event work of the `measure` agent: parse, pair, update totals, emit, dead-letter.

I/O edge around the pure core: parsing is schemas.events, pairing is core.pairing, totals
are core.totals. This module only moves their results into Faust tables and topics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from core.pairing import Change, ComplaintRecord, Resolution, apply_event
from core.totals import UnitTotals
from metrics.collector import TotalsSnapshot
from schemas.events import ComplaintEvent, EventRejected, check_event_time, parse_event

log = logging.getLogger(__name__)


def _partition_key(partition: int, name: str) -> str:
    return f"{partition}:{name}"


def _split_partition_key(key: str) -> tuple[int, str]:
    partition, _, name = key.partition(":")
    return int(partition), name


def resolution_message(resolution: Resolution) -> bytes:
    """The value written to the resolutions topic for the score writer."""
    return orjson.dumps(
        {
            "complaint_id": resolution.complaint_id,
            "unit": resolution.unit,
            "created_at": resolution.created_at,
            "resolved_at": resolution.resolved_at,
            "resolution_seconds": resolution.resolution_seconds,
            "resolved_event_id": resolution.resolved_event_id,
        }
    )


class EventProcessor:
    def __init__(
        self,
        *,
        app: Any,
        events_topic_name: str,
        complaints: Any,
        unit_totals: Any,
        rejections: Any,
        resolutions_topic: Any,
        dead_letter_topic: Any,
    ) -> None:
        self.app = app
        self.events_topic_name = events_topic_name
        self.complaints = complaints
        self.unit_totals = unit_totals
        self.rejections = rejections
        self.resolutions_topic = resolutions_topic
        self.dead_letter_topic = dead_letter_topic
        # Replaceable for tests without a broker, where nothing is ever assigned.
        self.owned_partitions: Callable[[], set[int]] = self._owned_partitions

    async def process(self, event: Any) -> None:
        message = event.message
        raw: bytes = event.value if event.value is not None else b""
        try:
            complaint_event = parse_event(raw)
            if event.key is not None and event.key != complaint_event.complaint_id.encode():
                raise EventRejected("key_mismatch")
            check_event_time(complaint_event, message.timestamp)
        except EventRejected as rejected:
            await self._reject(message.partition, event.key, raw, rejected.reason)
            return
        await self._apply(message.partition, complaint_event, event.key, raw)

    async def _apply(
        self, partition: int, event: ComplaintEvent, key: bytes | None, raw: bytes
    ) -> None:
        complaint_key = event.complaint_id
        record = ComplaintRecord.from_json(self.complaints.get(complaint_key))
        applied = apply_event(record, event)
        if applied.changes == (Change.DUPLICATE,):
            return
        if Change.REJECTED in applied.changes:
            assert applied.reason is not None
            await self._reject(partition, key, raw, applied.reason)
            return
        self.complaints[complaint_key] = record.to_json()
        if applied.unit is None:  # held resolution: nothing to count yet
            return
        totals_key = _partition_key(partition, applied.unit)
        totals = UnitTotals.from_json(self.unit_totals.get(totals_key))
        if Change.CREATED in applied.changes:
            totals.created += 1
        if applied.resolution is not None:
            totals.observe_resolution(applied.resolution.resolution_seconds)
        self.unit_totals[totals_key] = totals.to_json()
        if applied.resolution is not None:
            await self.resolutions_topic.send(
                key=complaint_key.encode(), value=resolution_message(applied.resolution)
            )

    async def _reject(self, partition: int, key: bytes | None, raw: bytes, reason: str) -> None:
        counter_key = _partition_key(partition, reason)
        self.rejections[counter_key] = int(self.rejections.get(counter_key) or 0) + 1
        # The original bytes go to the dead-letter topic, never to the log: they may hold
        # a reporter's name or phone number.
        log.warning("event rejected: reason=%s partition=%d", reason, partition)
        await self.dead_letter_topic.send(
            key=key, value=raw, headers=[("sigap-reason", reason.encode())]
        )

    def _owned_partitions(self) -> set[int]:
        """Partitions of the events topic this worker owns now (empty before assignment)."""
        actives = self.app.assignor.assigned_actives()
        return {tp.partition for tp in actives if tp.topic == self.events_topic_name}

    def snapshot(self) -> TotalsSnapshot:
        """Sum the owned partitions' totals, for a scrape of /metrics.

        Only owned partitions count: after a rebalance the table may still hold a revoked
        partition's keys for a moment, and another worker now exports them.
        """
        owned = self.owned_partitions()
        snapshot = TotalsSnapshot()
        for key, value in _items(self.unit_totals):
            partition, unit = _split_partition_key(key)
            if partition not in owned:
                continue
            snapshot.units.setdefault(unit, UnitTotals()).add(UnitTotals.from_json(value))
        for key, value in _items(self.rejections):
            partition, reason = _split_partition_key(key)
            if partition not in owned:
                continue
            snapshot.rejected_by_reason[reason] = snapshot.rejected_by_reason.get(reason, 0) + int(
                value
            )
        return snapshot


def _items(table: Any) -> Iterable[tuple[str, Any]]:
    return list(table.items())
