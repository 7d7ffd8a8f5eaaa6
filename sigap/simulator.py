"""Realistic complaint traffic for a handful of Surabaya work units (demo and tests).

A seeded model on a simulated clock: complaints arrive per unit as a Poisson process, most
are resolved after a log-normal time typical of the unit, some stay open. `advance(to)`
returns every event that falls due up to `to` (epoch seconds), in event-time order. It
never reads the clock itself: the caller decides how simulated time maps to real time.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.periods import JAKARTA

HOUR = 3600.0


@dataclass(frozen=True)
class UnitProfile:
    code: str
    complaints_per_hour: float
    median_resolution_hours: float
    share_resolved: float
    categories: tuple[str, ...]


SURABAYA_UNITS: tuple[UnitProfile, ...] = (
    UnitProfile("dlh", 3.0, 20.0, 0.9, ("sampah", "taman", "polusi")),
    UnitProfile("dsda", 2.0, 70.0, 0.8, ("jalan-rusak", "saluran", "banjir")),
    UnitProfile("dishub", 1.5, 30.0, 0.85, ("lampu-lalu-lintas", "parkir", "angkutan")),
    UnitProfile("satpol-pp", 1.2, 12.0, 0.9, ("pkl", "reklame", "ketertiban")),
    UnitProfile("dispendukcapil", 1.0, 40.0, 0.95, ("ktp", "kk", "akta")),
    UnitProfile("damkar", 0.4, 1.5, 0.97, ("kebakaran", "penyelamatan")),
)
CHANNELS = ("wargaku", "media-sosial", "command-center-112", "surat")
PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")


def rfc3339(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).astimezone(JAKARTA).isoformat()


class TrafficModel:
    def __init__(
        self,
        start: float,
        seed: int = 7,
        units: Sequence[UnitProfile] = SURABAYA_UNITS,
        rate_scale: float = 1.0,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = start
        self.units = tuple(units)
        self.rate_scale = rate_scale
        self.sequence = 0
        self.next_arrival = [start + self._gap(unit) for unit in self.units]
        self.pending: list[tuple[float, int, dict[str, Any]]] = []

    def _gap(self, unit: UnitProfile) -> float:
        return self.rng.expovariate(unit.complaints_per_hour * self.rate_scale / HOUR)

    def _next_id(self) -> int:
        self.sequence += 1
        return self.sequence

    def advance(self, to: float) -> list[dict[str, Any]]:
        """Events with occurred_at in [now, to), oldest first."""
        for index, unit in enumerate(self.units):
            while self.next_arrival[index] < to:
                self._arrive(unit, self.next_arrival[index])
                self.next_arrival[index] += self._gap(unit)
        due = []
        while self.pending and self.pending[0][0] < to:
            due.append(heapq.heappop(self.pending)[2])
        self.now = to
        return due

    def _arrive(self, unit: UnitProfile, at: float) -> None:
        number = self._next_id()
        complaint_id = f"SBY-{self.seed}-{number:07d}"
        created = {
            "event_id": f"sim-{self.seed}-{number}-c",
            "type": "created",
            "complaint_id": complaint_id,
            "occurred_at": rfc3339(at),
            "unit": unit.code,
            "category": self.rng.choice(unit.categories),
            "channel": self.rng.choice(CHANNELS),
            "priority": self.rng.choice(PRIORITIES),
        }
        heapq.heappush(self.pending, (at, number * 2, created))
        if self.rng.random() < unit.share_resolved:
            hours = self.rng.lognormvariate(0.0, 0.8) * unit.median_resolution_hours
            resolved_at = at + max(60.0, hours * HOUR)
            resolved = {
                "event_id": f"sim-{self.seed}-{number}-r",
                "type": "resolved",
                "complaint_id": complaint_id,
                "occurred_at": rfc3339(resolved_at),
            }
            heapq.heappush(self.pending, (resolved_at, number * 2 + 1, resolved))
