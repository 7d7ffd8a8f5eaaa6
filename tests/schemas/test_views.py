"""The views envelope contract (schemas.views): what the complaint stage writes is what the
unit stage and the score writer read, and views land on the partition Kafka's Java and
Python clients would pick for the unit."""

from __future__ import annotations

import orjson
import pytest
from kafka.partitioner.default import murmur2

from schemas.views import (
    ViewsEnvelope,
    ViewsEnvelopeError,
    decode_envelope,
    encode_envelope,
    encode_views_records,
    unit_partition,
)

VIEW = {"u": "dlh", "c": "c-1"}


def test_a_views_record_is_the_v1_json_object() -> None:
    value = encode_envelope(3, 1_793_581_200.0, True, [VIEW])
    assert orjson.loads(value) == {"src": 3, "wm": 1_793_581_200.0, "cu": True, "vs": [VIEW]}


def test_a_heartbeat_carries_no_views() -> None:
    value = encode_envelope(1, None, False)
    assert orjson.loads(value) == {"src": 1, "wm": None, "cu": False}
    decoded = decode_envelope(value)
    assert decoded == ViewsEnvelope(source=1, watermark=None, caught_up=False, views=[])
    assert decoded.is_heartbeat


def test_decoding_reads_back_what_was_encoded() -> None:
    decoded = decode_envelope(encode_envelope(2, 12.5, True, [VIEW, VIEW]))
    assert decoded == ViewsEnvelope(source=2, watermark=12.5, caught_up=True, views=[VIEW, VIEW])
    assert not decoded.is_heartbeat


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[1, 2]",
        b'{"wm": 1.0, "cu": true}',
        b'{"src": 0, "wm": 1.0, "cu": true, "vs": {}}',
    ],
)
def test_a_value_that_is_not_an_envelope_is_refused(value: bytes) -> None:
    with pytest.raises(ViewsEnvelopeError):
        decode_envelope(value)


@pytest.mark.parametrize("unit", ["dlh", "dinkes", "unknown", "pu-bina-marga", "x"])
@pytest.mark.parametrize("partitions", [1, 4, 7])
def test_a_units_partition_is_the_kafka_default_partitioners(unit: str, partitions: int) -> None:
    # kafka-python's murmur2, independent of the aiokafka partitioner the module uses.
    expected = (murmur2(unit.encode()) & 0x7FFFFFFF) % partitions
    assert unit_partition(unit, partitions) == expected


def test_views_over_the_size_limit_are_split_over_records_with_one_stamp() -> None:
    views = [{"u": "dlh", "c": f"c-{n}", "pad": "x" * 200} for n in range(50)]
    records = encode_views_records(4, 99.0, False, views, limit=2_000)
    assert len(records) > 1
    assert all(len(value) <= 2_000 for value in records)
    decoded = [decode_envelope(value) for value in records]
    assert {(d.source, d.watermark, d.caught_up) for d in decoded} == {(4, 99.0, False)}
    assert [view for d in decoded for view in d.views] == views


def test_views_under_the_limit_are_one_record() -> None:
    assert encode_views_records(0, 1.0, True, [VIEW]) == [encode_envelope(0, 1.0, True, [VIEW])]
