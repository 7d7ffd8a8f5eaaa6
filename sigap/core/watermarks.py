"""The unit stage's event-time watermark, from the progress of each source partition.

Every view the complaint stage sends carries the partition it came from, that partition's
latest event time so far, and whether that partition was caught up (no lag) when the view
was made. The watermark is:

- while some source partition is announced behind with its event time still unknown (a
  complaint stage that has just been assigned it and has not read it yet): held where it is.
  Such a partition may hold events older than anything seen so far, so no other partition
  may carry the watermark past them. The hold ends when that partition sends a stamp with an
  event time, or reports that it is caught up without one (nothing to read: an empty
  partition, or nothing new since its committed position);
- while some source partitions are still catching up: the smallest latest-event-time among
  them. A partition that is behind holds the watermark back, so a backfill does not count a
  deadline as missed merely because another partition is further ahead;
- when every partition seen is caught up (idle): the largest latest-event-time, advanced
  with the wall clock since it was reached, never beyond the wall clock, so quiet hours
  still move the windows and deadlines still pass;
- never lower than a value it has already returned.

A stamp without an event time (``latest`` None) is an announcement: not caught up, the
partition is being read anew from its committed position (what it said before no longer
counts; it holds the watermark); caught up, it has nothing to read (it releases its hold
and moves nothing).

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
    # Partitions announced behind whose event time is not known yet: they hold the watermark.
    unknown: set[int] = field(default_factory=set)

    def observe(
        self, partition: int, latest: float | None, caught_up: bool, wall_now: float
    ) -> None:
        if latest is None:
            if caught_up:
                self.unknown.discard(partition)
            else:
                # Read anew from its committed position: its earlier stamps no longer say
                # how far it is (a restarted reader starts behind them).
                self.unknown.add(partition)
                self.latest.pop(partition, None)
                self.caught_up.pop(partition, None)
            return
        self.unknown.discard(partition)
        previous_max = max(self.latest.values(), default=None)
        if latest >= self.latest.get(partition, float("-inf")):
            self.latest[partition] = latest
            self.caught_up[partition] = caught_up
        if previous_max is None or latest > previous_max:
            self.wall_at_latest = wall_now

    @property
    def held(self) -> bool:
        """Some source partition is behind with its event time unknown."""
        return bool(self.unknown)

    def current(self, wall_now: float) -> float | None:
        if self.unknown:
            if self.high_water is None and self.latest:
                # Never returned a value yet (just restored): the lowest it knows of.
                self.high_water = min(self.latest.values())
            return self.high_water
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
