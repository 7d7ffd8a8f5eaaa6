"""A seeded generator of complaint-event messages, valid and invalid, each labelled with the
outcome the contract (docs/contract.md, with "Rejected events") gives it.

The labels are assigned by construction, independently of the service code: each invalid
message is built to break exactly one rule. The valid complaints are deliberately simple
(created, responded, resolved, in order, within two hours of event time) so that the
expected KPIs are obvious: created and resolved per unit, resolution seconds = resolved
minus created.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

REGISTRY_UNITS = [
    "dlh",
    "dsda",
    "dishub",
    "satpol-pp",
    "dispendukcapil",
    "dinkes",
    "damkar",
    "bpbd",
]
UNKNOWN_CODES = ["opd-baru", "kelurahan-9", "x_unit"]
ACCEPTED = "accepted"
JAKARTA = timezone(timedelta(hours=7))
BASE = datetime(2026, 10, 5, 9, 0, tzinfo=JAKARTA)  # a Monday in the past


@dataclass
class Message:
    key: bytes | None
    value: bytes
    expected: str  # ACCEPTED or the rejection reason


@dataclass
class Expected:
    created: dict[str, int] = field(default_factory=dict)
    resolved: dict[str, int] = field(default_factory=dict)
    resolution_sum: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    # (unit label, Jakarta day of resolution, seconds) per resolved complaint
    resolutions: list[tuple[str, str, float]] = field(default_factory=list)


def stamp(rnd: random.Random, moment: datetime) -> str:
    """The same instant written with one of several valid offsets."""
    offset = rnd.choice([timedelta(hours=7), timedelta(0), timedelta(hours=-3, minutes=-30)])
    text = moment.astimezone(timezone(offset)).isoformat()
    return text.replace("+00:00", "Z") if offset == timedelta(0) and rnd.random() < 0.5 else text


def event(event_id: str, type_: str, complaint_id: str, at: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "complaint_id": complaint_id,
        "occurred_at": at,
        **extra,
    }


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def unit_label(code: str) -> str:
    return code if code in REGISTRY_UNITS else "unknown"


class Generator:
    def __init__(
        self, seed: int, now: datetime, garbage: list[str], personal: dict[str, str]
    ) -> None:
        self.rnd = random.Random(seed)
        self.now = now
        self.garbage = garbage or ["x"]
        self.personal = personal
        self.counter = 0
        self.streams: list[list[Message]] = []

    def eid(self) -> str:
        self.counter += 1
        return f"ev-{self.counter:06d}"

    def extras(self) -> dict[str, Any]:
        """Unknown fields the app may send: dropped at parsing."""
        if self.rnd.random() < 0.3:
            return dict(self.personal)
        return {}

    # -- valid complaints, with invalid messages about them in their own key's order --
    def complaint(self, index: int, expected: Expected) -> None:
        rnd = self.rnd
        cid = f"c-{index:05d}"
        code = (
            rnd.choice(REGISTRY_UNITS + UNKNOWN_CODES)
            if rnd.random() < 0.15
            else rnd.choice(REGISTRY_UNITS)
        )
        label = unit_label(code)
        created_at = BASE + timedelta(seconds=rnd.randrange(0, 3600))
        responded_at = created_at + timedelta(seconds=rnd.randrange(60, 1200))
        resolved_at = created_at + timedelta(seconds=rnd.randrange(1300, 7000))
        created = event(
            self.eid(),
            "created",
            cid,
            stamp(rnd, created_at),
            unit=code,
            category=rnd.choice(["sampah", "jalan", "banjir"]),
            **self.extras(),
        )
        responded = event(self.eid(), "responded", cid, stamp(rnd, responded_at), **self.extras())
        resolve = rnd.random() < 0.8
        resolved = event(self.eid(), "resolved", cid, stamp(rnd, resolved_at), **self.extras())
        key = cid.encode()
        stream = [Message(key, dumps(created), ACCEPTED)]
        accepted_events = [created]
        expected.created[label] = expected.created.get(label, 0) + 1
        if rnd.random() < 0.1:  # a second created
            other = event(self.eid(), "created", cid, stamp(rnd, created_at), unit=code)
            stream.append(Message(key, dumps(other), "duplicate_created"))
        if rnd.random() < 0.1:  # a resolution earlier than the creation
            early = created_at - timedelta(seconds=rnd.randrange(1, 86400))
            stream.append(
                Message(
                    key,
                    dumps(event(self.eid(), "resolved", cid, stamp(rnd, early))),
                    "resolved_before_created",
                )
            )
        stream.append(Message(key, dumps(responded), ACCEPTED))
        accepted_events.append(responded)
        if rnd.random() < 0.1:  # a broken copy with the right key
            broken, reason = self.broken(responded)
            stream.append(Message(key, broken, reason))
        if resolve:
            stream.append(Message(key, dumps(resolved), ACCEPTED))
            accepted_events.append(resolved)
            seconds = (resolved_at - created_at).total_seconds()
            expected.resolved[label] = expected.resolved.get(label, 0) + 1
            expected.resolution_sum[label] = expected.resolution_sum.get(label, 0.0) + seconds
            day = resolved_at.astimezone(JAKARTA).date().isoformat()
            expected.resolutions.append((label, day, seconds))
        if rnd.random() < 0.15:  # a redelivery (or a producer bug): same event_id, any content
            again = dict(rnd.choice(accepted_events))
            if rnd.random() < 0.5:
                again["occurred_at"] = stamp(
                    rnd, created_at + timedelta(seconds=rnd.randrange(0, 600))
                )
            stream.append(Message(key, dumps(again), "duplicate_event_id"))
        for message in stream:
            if message.expected == ACCEPTED:
                expected.accepted += 1
        self.streams.append(stream)
        if rnd.random() < 0.08:  # the same valid event under another key
            wrong = rnd.choice([b"c-other", cid.upper().encode(), b"", (cid + " ").encode()])
            copy = dict(rnd.choice(accepted_events))
            copy["event_id"] = self.eid()
            self.streams.append([Message(wrong, dumps(copy), "key_mismatch")])

    def broken(self, valid: dict[str, Any]) -> tuple[bytes, str]:
        """A copy of a valid event that breaks exactly one field rule."""
        rnd = self.rnd
        copy = dict(valid)
        choice = rnd.randrange(8)
        if choice == 0:
            field_name = rnd.choice(["event_id", "type", "complaint_id", "occurred_at"])
            del copy[field_name]
            return dumps(copy), f"missing_{field_name}"
        if choice == 1:
            copy["event_id"] = rnd.choice(["", 12345, None, "e" * 129, ["e1"]])
            return dumps(copy), "invalid_event_id"
        if choice == 2:
            copy["occurred_at"] = rnd.choice(
                ["yesterday", 1767225600, "2026-13-01T10:00:00+07:00", ""]
            )
            return dumps(copy), "invalid_occurred_at"
        if choice == 3:
            copy["priority"] = rnd.choice(["mega", "URGENT", 3, ""])
            return dumps(copy), "invalid_priority"
        if choice == 4:
            copy["type"] = rnd.choice(["archived", "Created", "deleted", "rating"])
            return dumps(copy), "unknown_type"
        if choice == 5:
            copy["occurred_at"] = copy["occurred_at"][:19]
            return dumps(copy), "timestamp_without_offset"
        if choice == 6:
            copy["category"] = rnd.choice(["", "k" * 65, 7])
            return dumps(copy), "invalid_category"
        copy["unit"] = rnd.choice(["DLH", "-dlh", "dinas kebersihan", 7, "u" * 65])
        return dumps(copy), "invalid_unit"

    # -- messages that are invalid on their own --
    def standalone(self, index: int) -> Message:
        rnd = self.rnd
        cid = f"bad-{index:05d}"
        key = cid.encode()
        at = stamp(rnd, BASE + timedelta(seconds=rnd.randrange(0, 3600)))
        kind = rnd.randrange(11)
        if kind == 0:
            return Message(
                key,
                b'{"event_id": "' + rnd.choice(self.garbage).encode() + b'", "type": ',
                "not_json",
            )
        if kind == 1:
            raw = rnd.choice(
                [b"", b"not json at all", b"{'single': 'quotes'}", b"\xff\xfe\x00", b'{"a": 1,}']
            )
            return Message(key, raw, "not_json")
        if kind == 2:
            value = rnd.choice(
                [
                    [event(self.eid(), "created", cid, at, unit="dlh")],
                    [],
                    [1, 2],
                    "created",
                    42,
                    None,
                    True,
                ]
            )
            return Message(key, dumps(value), "not_object")
        if kind == 3:
            big = event(
                self.eid(), "created", cid, at, unit="dlh", complaint_text="x" * (70 * 1024)
            )
            return Message(key, dumps(big), "too_large")
        if kind == 4:
            return Message(
                key,
                dumps(event(self.eid(), rnd.choice(["archived", "", "CREATED"]), cid, at)),
                "unknown_type",
            )
        if kind == 5:
            return Message(
                key,
                dumps(event(self.eid(), "created", cid, at[:19], unit="dlh")),
                "timestamp_without_offset",
            )
        if kind == 6:
            future = self.now + timedelta(
                days=rnd.randrange(2, 400), seconds=rnd.randrange(0, 86400)
            )
            return Message(
                key,
                dumps(event(self.eid(), "created", cid, stamp(rnd, future), unit="dlh")),
                "occurred_at_in_future",
            )
        if kind == 7:
            past = datetime(
                rnd.randrange(1970, 2000), rnd.randrange(1, 12), rnd.randrange(1, 28), tzinfo=UTC
            )
            return Message(
                key,
                dumps(event(self.eid(), "created", cid, stamp(rnd, past), unit="dlh")),
                "occurred_at_before_2000",
            )
        if kind == 8:
            rating = rnd.choice(["3", 0, 6, 4.5, True, "lima", -1])
            return Message(
                key, dumps(event(self.eid(), "rated", cid, at, rating=rating)), "invalid_rating"
            )
        if kind == 9:
            return Message(key, dumps(event(self.eid(), "rated", cid, at)), "missing_rating")
        return Message(key, dumps(event(self.eid(), "created", cid, at)), "missing_unit")

    def generate(self, complaints: int, standalone: int) -> tuple[list[Message], Expected]:
        expected = Expected()
        for index in range(complaints):
            self.complaint(index, expected)
        for index in range(standalone):
            self.streams.append([self.standalone(index)])
        # Interleave the streams at random, keeping each key's own order.
        messages: list[Message] = []
        active = [list(reversed(stream)) for stream in self.streams]
        while active:
            position = self.rnd.randrange(len(active))
            stream = active[position]
            messages.append(stream.pop())
            if not stream:
                active[position] = active[-1]
                active.pop()
        for message in messages:
            if message.expected != ACCEPTED:
                expected.rejected[message.expected] = expected.rejected.get(message.expected, 0) + 1
        return messages, expected
