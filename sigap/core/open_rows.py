"""One unit's open timers (the worklist's rows), held as columns.

Why columns: the unit stage holds a row for every open timer of its units, up to two per
open complaint, and core.worklist reads them at each worklist request. Held as tuples of
boxed floats in a dict keyed by (complaint id, timer), they cost ~720 bytes per open
complaint, most of the worker's memory at a million open complaints (bench/RESULTS.md,
"bytes per open complaint"). Here a complaint has one slot, its timers' numbers are unboxed
doubles in one array and its strings are indexes into the few distinct values: ~250 bytes.

Rules
-----
- Rows go in and come out as core.worklist.OpenTimerRow, field for field (numbers as
  floats): the worklist and the snapshot format (streams.unit_snapshot) do not change.
- One row per (complaint id, timer): putting a row again replaces it.
- A complaint's slot is freed when its last timer is removed and reused by the next new
  complaint; when more than half the slots (and over `COMPACT_MIN_FREE`) are free, the columns
  are rebuilt, so that memory follows the open complaints down after a peak.
- A timer outside core.charging.TIMERS (none is produced today) is kept as a plain row, not
  refused: a view the unit stage accepted is always on the worklist.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from typing import Any, Final

from sigap.core.charging import TIMERS
from sigap.core.worklist import OpenTimerRow

__all__ = ["COMPACT_MIN_FREE", "OpenRows"]

_TIMER_INDEX: Final[dict[str, int]] = {timer: index for index, timer in enumerate(TIMERS)}
_TIMERS: Final = len(TIMERS)
# Per slot and timer: held_since, deadline, allowed_seconds, half_at, three_quarters_at.
_NUMBERS: Final = 5
_PRESENT: Final = 1
_RUNNING: Final = 2
# Free slots below this never trigger a rebuild: small units are not rebuilt back and forth.
COMPACT_MIN_FREE: Final = 4096


class OpenRows:
    """The open timers of one unit; see the module's rules."""

    __slots__ = (
        "_category",
        "_clock",
        "_flags",
        "_free",
        "_numbers",
        "_other",
        "_rows",
        "_slot_of",
        "_string_index",
        "_strings",
    )

    def __init__(self, rows: Iterable[OpenTimerRow] = ()) -> None:
        self._slot_of: dict[str, int] = {}
        self._free: list[int] = []
        # Per slot and timer (index slot * _TIMERS + timer):
        self._flags = bytearray()  # _PRESENT | _RUNNING
        self._category = array("I")  # index in _strings
        self._clock = array("I")  # index in _strings
        self._numbers = array("d")  # _NUMBERS each
        self._strings: list[str] = []
        self._string_index: dict[str, int] = {}
        self._other: dict[tuple[str, str], OpenTimerRow] = {}
        self._rows = 0
        for row in rows:
            self.put(row)

    def __len__(self) -> int:
        """How many rows (open timers) are held."""
        return self._rows

    def put(self, row: OpenTimerRow) -> None:
        complaint_id, timer = row[0], row[1]
        timer_index = _TIMER_INDEX.get(timer)
        if timer_index is None:
            if (complaint_id, timer) not in self._other:
                self._rows += 1
            self._other[(complaint_id, timer)] = row
            return
        slot = self._slot_of.get(complaint_id)
        if slot is None:
            slot = self._allocate(complaint_id)
        index = slot * _TIMERS + timer_index
        if not self._flags[index] & _PRESENT:
            self._rows += 1
        self._flags[index] = _PRESENT | (_RUNNING if row[7] else 0)
        self._category[index] = self._string(row[2])
        self._clock[index] = self._string(row[5])
        numbers = self._numbers
        first = index * _NUMBERS
        numbers[first] = row[3]
        numbers[first + 1] = row[4]
        numbers[first + 2] = row[6]
        numbers[first + 3] = row[8]
        numbers[first + 4] = row[9]

    def remove(self, complaint_id: str, timer: str) -> None:
        """Drop the row of (complaint id, timer), if held."""
        timer_index = _TIMER_INDEX.get(timer)
        if timer_index is None:
            if self._other.pop((complaint_id, timer), None) is not None:
                self._rows -= 1
            return
        slot = self._slot_of.get(complaint_id)
        if slot is None:
            return
        flags = self._flags
        index = slot * _TIMERS + timer_index
        if not flags[index] & _PRESENT:
            return
        flags[index] = 0
        self._rows -= 1
        first = slot * _TIMERS
        if any(flags[first : first + _TIMERS]):
            return
        del self._slot_of[complaint_id]
        self._free.append(slot)
        free = len(self._free)
        if free > COMPACT_MIN_FREE and 2 * free > len(flags) // _TIMERS:
            self._compact()

    def rows(self) -> Iterator[OpenTimerRow]:
        """Every row held (complaints in the order their slots were taken)."""
        strings, flags, numbers = self._strings, self._flags, self._numbers
        category, clock = self._category, self._clock
        for complaint_id, slot in self._slot_of.items():
            for timer_index, timer in enumerate(TIMERS):
                index = slot * _TIMERS + timer_index
                flag = flags[index]
                if not flag & _PRESENT:
                    continue
                first = index * _NUMBERS
                yield (
                    complaint_id,
                    timer,
                    strings[category[index]],
                    numbers[first],
                    numbers[first + 1],
                    strings[clock[index]],
                    numbers[first + 2],
                    bool(flag & _RUNNING),
                    numbers[first + 3],
                    numbers[first + 4],
                )
        yield from self._other.values()

    def slots(self) -> int:
        """Slots in the columns, taken or free (what the memory follows)."""
        return len(self._flags) // _TIMERS

    def to_state(self) -> tuple[Any, ...]:
        """The columns as plain data (str, bytes, lists, tuples, int), for the unit stage's
        snapshot (streams.unit_snapshot): `from_state` takes them back without a step per
        row, which a restart at a million open complaints would pay a million times."""
        return (
            list(self._slot_of),
            array("q", self._slot_of.values()).tobytes(),
            array("q", self._free).tobytes(),
            bytes(self._flags),
            self._category.tobytes(),
            self._clock.tobytes(),
            self._numbers.tobytes(),
            list(self._strings),
            list(self._other.values()),
            self._rows,
        )

    @classmethod
    def from_state(cls, state: tuple[Any, ...]) -> OpenRows:
        """The OpenRows of a `to_state`; ValueError when its parts do not fit together."""
        ids, slots, free, flags, category, clock, numbers, strings, other, rows = state
        held = cls()
        slot_array, free_array = array("q"), array("q")
        slot_array.frombytes(slots)
        free_array.frombytes(free)
        held._flags = bytearray(flags)
        held._category.frombytes(category)
        held._clock.frombytes(clock)
        held._numbers.frombytes(numbers)
        cells = len(held._flags)
        slots_held = cells // _TIMERS
        held._slot_of = dict(zip(ids, slot_array, strict=False))
        held._other = {(row[0], row[1]): tuple(row) for row in other}
        every_slot = set(slot_array).union(free_array)
        if (
            len(ids) != len(slot_array)
            or len(held._slot_of) != len(ids)  # an id twice
            or cells % _TIMERS
            or len(slot_array) + len(free_array) != slots_held
            or len(every_slot) != slots_held  # a slot taken twice, or taken and free
            or (every_slot and (min(every_slot) < 0 or max(every_slot) >= slots_held))
            or len(held._category) != cells
            or len(held._clock) != cells
            or len(held._numbers) != cells * _NUMBERS
            or (cells and max(held._category) >= len(strings))
            or (cells and max(held._clock) >= len(strings))
            or int(rows) != cells - held._flags.count(0) + len(held._other)
        ):
            raise ValueError("open rows: the columns of the state do not fit together")
        held._free = list(free_array)
        held._strings = list(strings)
        held._string_index = {value: index for index, value in enumerate(held._strings)}
        held._rows = int(rows)
        return held

    def _allocate(self, complaint_id: str) -> int:
        if self._free:
            slot = self._free.pop()
        else:
            slot = len(self._flags) // _TIMERS
            self._flags.extend(bytes(_TIMERS))
            self._category.extend((0,) * _TIMERS)
            self._clock.extend((0,) * _TIMERS)
            self._numbers.extend((0.0,) * (_TIMERS * _NUMBERS))
        self._slot_of[complaint_id] = slot
        return slot

    def _string(self, value: str) -> int:
        index = self._string_index.get(value)
        if index is None:
            index = self._string_index[value] = len(self._strings)
            self._strings.append(value)
        return index

    def _compact(self) -> None:
        fresh = OpenRows(list(self.rows()))
        for name in OpenRows.__slots__:
            setattr(self, name, getattr(fresh, name))
