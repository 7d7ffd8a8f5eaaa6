"""Views envelope contract v1: the records of the views topic (`complaint-unit-views`).

Written by the complaint stage (streams.complaint_stage), read by the unit stage
(streams.unit_stage) and the score writer (consumers.score_writer). `encode_envelope` and
`decode_envelope` are the only code that writes or parses these records.

Value: a UTF-8 JSON object

    {"src": 3, "wm": 1793581200.0, "cu": true, "vs": [view, view, ...]}

- ``src``: the events-topic partition the views come from (int).
- ``wm``: the latest event time (epoch seconds) accepted from that partition when the record
  was sent, or null when none is known since the sender was assigned that partition.
- ``cu``: that partition was caught up (its last offset processed was at its highwater).

A stamp with ``wm`` null is an announcement (heartbeat, to every views partition):

- ``cu`` false: the sender has just been assigned that partition and reads it anew from its
  committed offset, event time unknown. Sent before anything else it sends from it. Readers
  forget what that partition said before and hold their watermark until it is heard from;
- ``cu`` true: that partition has nothing to read (empty, or nothing new since its committed
  offset), still without an event time: it releases the hold and moves nothing.

A views record (with ``vs``) always carries an event time.
- ``vs``: the unit views (core.unit_view.UnitView.to_json objects) of one batch for units of
  this views partition, split over several records with the same stamp when they would
  exceed MAX_VIEWS_RECORD_BYTES. A record without ``vs`` is a heartbeat: progress only.

The (src, wm, cu) stamps of a views partition arrive in order with its views, so readers
keep one core.watermarks.SourceWatermarks per views partition. A record's stamp describes its
source once the record's views were made: readers apply the views first, then the stamp.

Key: none. Partition: `unit_partition(unit, partitions)`, the Kafka producer's default
partitioner (murmur2) applied to the unit code, so each unit's views are in one partition
and each unit's metrics come from exactly one worker. Heartbeats go to every partition.

Versioning: this is v1 (``VERSION``), as the event contract is v1. A change readers must
know of gets a new version and a version field; v1 records carry none. The announcements
(``wm`` null) changed no field: a reader that predates them read a null ``wm`` as "moves
nothing" and keeps working (without the hold), and every record of an older writer means
the same to a newer reader (an older writer sent no null ``wm``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiokafka.partitioner import DefaultPartitioner

__all__ = [
    "MAX_VIEWS_RECORD_BYTES",
    "VERSION",
    "ViewsEnvelope",
    "ViewsEnvelopeError",
    "decode_envelope",
    "encode_envelope",
    "encode_views_records",
    "unit_partition",
]

VERSION: Final = 1
# The largest views-topic record the complaint stage sends (bytes of its value): well under
# the broker's 1 MiB default (max.message.bytes) and the producer's max_request_size, with
# room for the record's overhead. A batch's views for one partition are split to fit.
MAX_VIEWS_RECORD_BYTES: Final = 900_000


class ViewsEnvelopeError(ValueError):
    """A views-topic record that is not a v1 envelope."""


@dataclass(frozen=True, slots=True)
class ViewsEnvelope:
    """One views-topic record: a progress stamp and the encoded views it carries."""

    source: int  # "src"
    watermark: float | None  # "wm"
    caught_up: bool  # "cu"
    views: list[dict[str, Any]]  # "vs"; empty for a heartbeat

    @property
    def is_heartbeat(self) -> bool:
        return not self.views


def encode_envelope(
    source: int,
    watermark: float | None,
    caught_up: bool,
    views: list[dict[str, Any]] | None = None,
) -> bytes:
    """The record value; ``views=None`` makes a heartbeat (no "vs")."""
    value: dict[str, Any] = {"src": source, "wm": watermark, "cu": caught_up}
    if views is not None:
        value["vs"] = views
    return orjson.dumps(value)


def encode_views_records(
    source: int,
    watermark: float | None,
    caught_up: bool,
    views: list[dict[str, Any]],
    limit: int = MAX_VIEWS_RECORD_BYTES,
) -> list[bytes]:
    """The values of the records carrying `views` under one progress stamp: one record, or
    as many as it takes for none to exceed `limit` bytes (halving the list: the common case
    encodes once). Every record carries the same stamp, sent after its views' complaints
    were recorded, so the split changes no watermark."""
    value = encode_envelope(source, watermark, caught_up, views)
    if len(value) <= limit or len(views) <= 1:
        # A single view beyond the limit cannot happen: a complaint holds at most
        # MAX_EVENTS_PER_COMPLAINT events, and its view stays far below (tested).
        return [value]
    half = len(views) // 2
    return encode_views_records(
        source, watermark, caught_up, views[:half], limit
    ) + encode_views_records(source, watermark, caught_up, views[half:], limit)


def decode_envelope(data: bytes | bytearray | memoryview | str) -> ViewsEnvelope:
    """Parse a record value; raises ViewsEnvelopeError if it is not a v1 envelope."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ViewsEnvelopeError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ViewsEnvelopeError("not a JSON object")
    try:
        source, watermark, caught_up = value["src"], value["wm"], value["cu"]
    except KeyError as missing:
        raise ViewsEnvelopeError(f"missing field {missing}") from None
    views = value.get("vs", [])
    if not isinstance(views, list):
        raise ViewsEnvelopeError('"vs" is not a list')
    return ViewsEnvelope(source, watermark, bool(caught_up), views)


@functools.lru_cache(maxsize=4096)
def unit_partition(unit: str, partitions: int) -> int:
    """The views-topic partition of a unit: the producer's own partitioner (murmur2)."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(unit.encode(), every, every))
