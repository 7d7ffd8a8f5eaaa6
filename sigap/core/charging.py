"""Per-unit charging: which work unit is accountable for a complaint's timer, and how.

This is the rule a reader most often looks for; `core.timeline` applies it to a complaint's
ordered events (its docstring states every clock rule; these are rules 3, 4 and 9-12 there).

The rule
--------
A complaint has two timers, `response` and `resolution`. The unit named by `created` holds
the complaint until an `assigned` event transfers it to another unit, and so on. When a unit
receives the complaint, each timer that has not stopped gets a *charge* for that unit: one
per (unit, timer), so each (unit, timer) has at most one outcome.

- The charge's clock starts at the receipt (created or assigned); its deadline is the unit's
  target computed from that receipt, on the target's clock (`wall` seconds, or `working`
  seconds on the unit's calendar). The clock runs only while the unit holds the complaint
  and the complaint is not paused (nor excluded for the unit).
- Transferred away at or before the deadline: no outcome (`transferred_away`, with the
  transfer's reason).
- The deadline passed while the clock ran: `missed`, decided at the deadline, whatever
  happens later (a later transfer does not undo it).
- Holding the complaint when the timer stops, deadline not passed: `met`, decided at the stop.
- Gaps: a pause, an exclusion, or the time a unit did not hold the complaint before it got
  it back, stops the clock; when it restarts, a deadline not yet passed at the gap's start
  moves back by the gap's clock time: max(old_deadline + gap, restart) on the wall clock,
  and max(calendar.add_working_seconds(old_deadline, working seconds of the gap), restart)
  on the working clock. So the working time allowed stays exactly the target, and a unit
  cannot miss while paused or away.
- An extension granted to the holder moves its deadline by N working days at the same local
  time (`shift_working_days`); a miss may carry the unit's cause, and an objection upheld
  against a miss excuses it (`TimerCharge.excused`: the scores leave it out).
- Open at `as_of`: elapsed up to `as_of`, `missed` if `as_of` is past the deadline.

`fraction_of_allowed` is elapsed clock seconds over allowed clock seconds (receipt to
deadline, gaps excluded): the basis of the "open past 50/75/100 % of target" gauges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sigap.core.calendar import WorkingCalendar
from sigap.core.registry import TargetSpec

__all__ = [
    "TIMERS",
    "Charge",
    "Clock",
    "Outcome",
    "Timer",
    "TimerCharge",
    "shift_working_days",
]

Timer = Literal["response", "resolution"]
Outcome = Literal["met", "missed"]
Clock = Literal["wall", "working"]

#: The two timers of every complaint, in this order everywhere (metrics, scores, reports).
TIMERS: Final[tuple[Timer, ...]] = ("response", "resolution")

_ZERO: Final = timedelta(0)


@dataclass(frozen=True, slots=True)
class TimerCharge:
    """One unit's share of one timer (at most one per (unit, timer))."""

    unit: str
    timer: Timer
    received_at: datetime  # first receipt by this unit while the timer ran
    deadline: datetime  # after pause (and time-away) extensions
    target_label: str  # TargetSpec.label, e.g. "24h wall", "5 working days"
    clock: Clock
    allowed_seconds: float  # clock seconds from receipt to deadline, gaps excluded
    # When the unit stopped being charged: the timer's stop, or its transfer away; None
    # while it still holds the complaint with the timer running at as_of.
    stopped_at: datetime | None
    elapsed_seconds: float  # clock seconds charged (pauses and time away excluded)
    elapsed_wall_seconds: float
    elapsed_working_seconds: float  # on the unit's calendar, whatever the target's clock
    fraction_of_allowed: float  # elapsed_seconds / allowed_seconds
    outcome: Outcome | None  # None: transferred away in time, or still running in time
    # When the outcome became known, in event time: the stop (met) or the deadline (missed).
    decided_at: datetime | None
    transferred_away: bool  # the unit's last holding of the complaint ended in a transfer
    transfer_reason: str | None
    stints: int  # how many times the unit received the complaint while this timer ran
    running: bool  # the clock runs at as_of (held, not stopped, not paused)
    extension_days: int = 0  # working days granted by `extension_granted` (rule 9)
    cause: str | None = None  # the unit's `miss_explained` cause of a miss (rule 10)
    objection: str | None = None  # "filed", "upheld" or "rejected" (rule 11)

    @property
    def excused(self) -> bool:
        """A miss removed from the score by an upheld objection (the trail stays)."""
        return self.outcome == "missed" and self.objection == "upheld"


def shift_working_days(calendar: WorkingCalendar, moment: datetime, days: int) -> datetime:
    """`moment` moved `days` working days later on `calendar`, at the same local time (the
    close of day 5 becomes the close of day 5 + days); 24 hours a day when always open."""
    if calendar.is_always_open:
        return moment + timedelta(days=days)
    local = moment.astimezone(calendar.tz)
    day = local.date()
    counted = 0
    for _ in range(days * 30 + 400):  # bounded: no calendar has that many idle days
        if counted >= days:
            break
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return datetime.combine(day, local.timetz())


class Charge:
    """One unit's clock for one timer: the mutable state behind a TimerCharge while a
    complaint's events are replayed (the module docstring states the rule)."""

    __slots__ = (
        "allowed_seconds",
        "calendar",
        "cause",
        "deadline",
        "decided_at",
        "elapsed_wall",
        "elapsed_working",
        "extension_days",
        "finished",
        "idle_since",
        "objection",
        "outcome",
        "received_at",
        "running_since",
        "spec",
        "stints",
        "stopped_at",
        "timer",
        "transfer_reason",
        "transferred_away",
        "unit",
    )

    def __init__(
        self,
        unit: str,
        timer: Timer,
        spec: TargetSpec,
        calendar: WorkingCalendar,
        received_at: datetime,
        paused: bool,
    ) -> None:
        self.unit = unit
        self.timer: Timer = timer
        self.spec = spec
        self.calendar = calendar
        self.received_at = received_at
        self.deadline = spec.deadline(calendar, received_at)
        self.allowed_seconds = self._clock_seconds(received_at, self.deadline)
        # Exactly one of running_since / idle_since is set until the charge is finished.
        self.running_since: datetime | None = None if paused else received_at
        self.idle_since: datetime | None = received_at if paused else None
        self.elapsed_wall = _ZERO
        self.elapsed_working = 0.0
        self.outcome: Outcome | None = None
        self.decided_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.transferred_away = False
        self.transfer_reason: str | None = None
        self.stints = 1
        self.finished = False
        self.extension_days = 0
        self.cause: str | None = None
        self.objection: str | None = None

    def missed_by(self, now: datetime) -> bool:
        """The deadline passed while the clock ran (missed at or before `now`)."""
        if self.outcome == "missed":
            return True
        return self.running_since is not None and not self.finished and self.deadline < now

    def extend(self, days: int) -> None:
        """Rule 9: the deadline moves by `days` working days on the unit's calendar."""
        moved = shift_working_days(self.calendar, self.deadline, days)
        self.allowed_seconds += self._clock_seconds(self.deadline, moved)
        self.deadline = moved
        self.extension_days += days

    def _clock_seconds(self, start: datetime, end: datetime) -> float:
        if self.spec.clock == "wall":
            return max((end - start).total_seconds(), 0.0)
        return self.calendar.working_seconds_between(start, end)

    def _folded_deadline(self, now: datetime) -> datetime:
        """The deadline moved back by the gap since idle_since up to `now` (rule 4)."""
        assert self.idle_since is not None
        if self.outcome is None and now > self.idle_since:
            if self.spec.clock == "wall":
                moved = self.deadline + (now - self.idle_since)
            else:
                gap = self.calendar.working_seconds_between(self.idle_since, now)
                moved = self.calendar.add_working_seconds(self.deadline, gap)
            return max(moved, now)
        return self.deadline

    def _fold_gap(self, now: datetime) -> None:
        """Move the deadline back by the gap since idle_since (rule 4); the gap restarts."""
        self.deadline = self._folded_deadline(now)
        self.idle_since = now

    def halt(self, now: datetime) -> None:
        """Stop the running clock at `now` (pause, transfer away, or timer stop)."""
        started = self.running_since
        if started is None:
            return
        if self.outcome is None and self.deadline < now:
            self.outcome = "missed"
            self.decided_at = self.deadline
        self.elapsed_wall += now - started
        self.elapsed_working += self.calendar.working_seconds_between(started, now)
        self.running_since = None
        self.idle_since = now

    def run(self, now: datetime) -> None:
        """Restart the clock at `now` after a gap."""
        if self.running_since is not None or self.finished:
            return
        self._fold_gap(now)
        self.idle_since = None
        self.running_since = now

    def stop_timer(self, now: datetime) -> None:
        """The timer stopped while this unit held the complaint."""
        self.halt(now)
        self._fold_gap(now)
        self.idle_since = None
        if self.outcome is None:
            self.outcome = "met"
            self.decided_at = now
        self.stopped_at = now
        self.finished = True

    def transfer_away(self, now: datetime, reason: str) -> None:
        self.halt(now)
        self._fold_gap(now)  # the time away is a gap until the unit gets it back
        self.stopped_at = now
        self.transferred_away = True
        self.transfer_reason = reason

    def receive_again(self, now: datetime, paused: bool) -> None:
        self.stints += 1
        self.stopped_at = None
        self.transferred_away = False
        self.transfer_reason = None
        if paused:
            self._fold_gap(now)
        else:
            self.run(now)

    def result(self, as_of: datetime) -> TimerCharge:
        """The charge as evaluated at as_of. Changes nothing: an incremental evaluation
        (core.incremental) asks for it after every event and then applies more events."""
        elapsed_wall = self.elapsed_wall
        elapsed_working = self.elapsed_working
        deadline = self.deadline
        outcome = self.outcome
        decided_at = self.decided_at
        # Still held with the timer running at as_of: evaluate it as open.
        running = False
        if not self.finished and not self.transferred_away:
            started = self.running_since
            running = started is not None
            if started is not None:
                if outcome is None and deadline < as_of:
                    outcome, decided_at = "missed", deadline
                elapsed_wall += as_of - started
                elapsed_working += self.calendar.working_seconds_between(started, as_of)
            elif outcome is None and self.idle_since is not None:
                # An open pause counts as paused until as_of.
                deadline = self._folded_deadline(as_of)
        wall_seconds = elapsed_wall.total_seconds()
        elapsed = wall_seconds if self.spec.clock == "wall" else elapsed_working
        allowed = self.allowed_seconds
        return TimerCharge(
            unit=self.unit,
            timer=self.timer,
            received_at=self.received_at,
            deadline=deadline,
            target_label=self.spec.label,
            clock=self.spec.clock,
            allowed_seconds=allowed,
            stopped_at=self.stopped_at,
            elapsed_seconds=elapsed,
            elapsed_wall_seconds=wall_seconds,
            elapsed_working_seconds=elapsed_working,
            # Targets are positive, so allowed > 0; the guard only keeps bad data from raising.
            fraction_of_allowed=elapsed / allowed if allowed > 0 else 0.0,
            outcome=outcome,
            decided_at=decided_at,
            transferred_away=self.transferred_away,
            transfer_reason=self.transfer_reason,
            stints=self.stints,
            running=running,
            extension_days=self.extension_days,
            cause=self.cause,
            objection=self.objection,
        )
