"""The unit stage's event-time watermark, from the progress of each source partition.

Every view the complaint stage sends carries the partition it came from, that partition's
latest event time so far, and whether that partition was caught up (no lag) when the view
was made. The watermark is:

- while some source partitions are still catching up: the smallest latest-event-time among
  them. A partition that is behind holds the watermark back, so a backfill does not count a
  deadline as missed merely because another partition is further ahead;
- when every partition seen is caught up (idle): the largest latest-event-time, advanced
  with the wall clock since it was reached, never beyond the wall clock, so quiet hours
  still move the windows and deadlines still pass;
- never lower than a value it has already returned.

Pure: the wall clock is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SourceWatermarks:
    latest: dict[int, float] = field(default_factory=dict)  # partition -> latest event time
    caught_up: dict[int, bool] = field(default_factory=dict)
    wall_at_latest: float | None = None  # wall time when the overall latest last increased
    high_water: float | None = None

    def observe(self, partition: int, latest: float, caught_up: bool, wall_now: float) -> None:
        previous_max = max(self.latest.values(), default=None)
        if latest >= self.latest.get(partition, float("-inf")):
            self.latest[partition] = latest
            self.caught_up[partition] = caught_up
        if previous_max is None or latest > previous_max:
            self.wall_at_latest = wall_now

    def current(self, wall_now: float) -> float | None:
        if not self.latest:
            return self.high_water
        behind = [t for p, t in self.latest.items() if not self.caught_up.get(p, False)]
        if behind:
            candidate = min(behind)
        else:
            newest = max(self.latest.values())
            advanced = newest + max(0.0, wall_now - (self.wall_at_latest or wall_now))
            candidate = max(newest, min(advanced, wall_now))
        if self.high_water is None or candidate > self.high_water:
            self.high_water = candidate
        return self.high_water
