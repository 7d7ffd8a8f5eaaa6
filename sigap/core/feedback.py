"""Evaluation and feedback for one unit: which targets it missed, and where the time went.

Pure functions over the stored unit views (core.unit_view.UnitView): no I/O, no clock
reads; "now" and the period are arguments (epoch seconds, the period as [begin, end)).

Which timers count in a period follows core.scoring exactly: a timer counts in the period
holding its decision instant (its stop when met, its deadline when missed); an open timer
still running whose deadline is at or before the watermark is a miss decided at its
deadline, even when the stored view was made before that deadline passed.

Where the time went (`time_breakdown`), in wall seconds, for a complaint the unit resolved
or still holds. The span runs from the complaint's creation to its first resolution (when
this unit resolved it) or to the view's `as_of` (while the unit holds it open):

- `before_arrival`: with other units before it reached this one (the time lost in transfers:
  from creation to this unit's first receipt; zero when the complaint was created here);
- `paused`: paused, waiting for the citizen (the complaint's paused time in that span);
- `before_first_response`: at this unit, not paused, until the first response (all of its
  time here while it has not responded; zero when another unit responded before the
  transfer);
- `after_first_response`: at this unit, not paused, from the first response to the end.

The four add up to the span. Pauses before the complaint reached the unit are rare and
count as `paused`; time away after the unit transferred it and before it came back counts
as time at the unit (a view keeps only the first receipt). A view of a unit that transferred
the complaint away for good has no breakdown: its part ended with the transfer, counted in
`transfers_away`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sigap.core.charging import TIMERS
from sigap.core.unit_view import TimerView, UnitView

BUCKETS: tuple[str, ...] = (
    "before_arrival",
    "before_first_response",
    "after_first_response",
    "paused",
)


@dataclass(frozen=True, slots=True)
class TimeBreakdown:
    """Where one complaint's time went, seen from one unit (wall seconds)."""

    complaint_id: str
    before_arrival: float
    before_first_response: float
    after_first_response: float
    paused: float
    resolved: bool  # the span ends at this unit's resolution (else at the view's as_of)

    @property
    def total(self) -> float:
        return (
            self.before_arrival
            + self.before_first_response
            + self.after_first_response
            + (self.paused)
        )

    def bucket(self, name: str) -> float:
        value: float = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Decision:
    """One of the unit's timers decided in a period."""

    complaint_id: str
    timer: str
    outcome: str  # "met" or "missed"
    decided_at: float
    deadline: float
    # Past the deadline when the timer stopped, or at `now` while still open (missed only).
    overdue_seconds: float


@dataclass(frozen=True, slots=True)
class Overdue:
    """An open timer of the unit past its deadline at an instant."""

    complaint_id: str
    timer: str
    deadline: float
    overdue_seconds: float


@dataclass(frozen=True, slots=True)
class TimeLost:
    """Breakdowns summed over a set of complaints (wall seconds per bucket)."""

    complaints: int
    seconds: dict[str, float]

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def share(self, bucket: str) -> float | None:
        total = self.total_seconds
        return self.seconds[bucket] / total if total > 0 else None

    def mean_seconds(self, bucket: str) -> float | None:
        return self.seconds[bucket] / self.complaints if self.complaints else None


@dataclass(frozen=True, slots=True)
class Feedback:
    """A unit's evaluation for one period."""

    unit: str
    decisions: tuple[Decision, ...]
    missed: tuple[Decision, ...]  # the misses, most overdue first
    time_lost_missed: TimeLost  # over the complaints with at least one miss in the period
    time_lost_all: TimeLost  # over every complaint with a timer decided in the period
    transfers_away: int  # transfers away by the unit in the period
    overdue: tuple[Overdue, ...]  # open and past target at the period's evaluation instant


def _arrival(view: UnitView) -> float:
    if view.created_here or not view.timers:
        return view.created_at
    return min(timer.received_at for timer in view.timers.values())


def _span_end(view: UnitView) -> float | None:
    if view.resolved_at is not None:
        return view.resolved_at
    if view.holder and view.timers:
        return view.as_of
    return None  # transferred away for good (or only rework after the first resolution)


def time_breakdown(view: UnitView, now: float | None = None) -> TimeBreakdown | None:
    """Where the complaint's time went, seen from the view's unit (see the module doc).

    With `now` (e.g. the watermark) a complaint the unit still holds open is followed up to
    `now` rather than to its view's `as_of`: nothing happened to it in between, so that time
    is paused if its clocks were stopped at `as_of`, else time at the unit.
    """
    if view.deleted:
        return None
    end = _span_end(view)
    if end is None:
        return None
    extra_paused = 0.0
    if now is not None and view.resolved_at is None and now > end:
        if not any(timer.running for timer in view.timers.values()):
            extra_paused = now - end
        end = now
    total = max(end - view.created_at, 0.0)
    before_arrival = min(max(_arrival(view) - view.created_at, 0.0), total)
    paused = min(max(view.paused_seconds, 0.0) + extra_paused, total - before_arrival)
    active = total - before_arrival - paused
    response = view.timers.get("response")
    if view.response_seconds is not None:
        # Pause-free seconds from creation to the first response, which this unit made.
        before_response = min(max(view.response_seconds - before_arrival, 0.0), active)
    elif response is not None and response.stopped_at is None and not response.transferred_away:
        before_response = active  # not answered yet: all its time here is before the response
    else:
        before_response = 0.0  # answered before it reached this unit
    return TimeBreakdown(
        complaint_id=view.complaint_id,
        before_arrival=before_arrival,
        before_first_response=before_response,
        after_first_response=active - before_response,
        paused=paused,
        resolved=view.resolved_at is not None,
    )


def _decision(timer: TimerView, watermark: float) -> tuple[str, float] | None:
    """(outcome, decided_at) as core.scoring counts it, or None while undecided."""
    if timer.outcome is not None and timer.decided_at is not None:
        return timer.outcome, timer.decided_at
    if timer.is_open and timer.running and timer.deadline <= watermark:
        return "missed", timer.deadline
    return None


def decisions_in(
    views: Iterable[UnitView], unit: str, begin: float, end: float, watermark: float
) -> list[Decision]:
    """The unit's timers decided in [begin, end), by complaint id then timer."""
    found = []
    for view in views:
        if view.unit != unit or view.deleted:
            continue
        for name, timer in sorted(view.timers.items()):
            if timer.excused:
                continue  # removed from the score by an upheld objection
            decided = _decision(timer, watermark)
            if decided is None or not begin <= decided[1] < end:
                continue
            outcome, decided_at = decided
            if outcome == "met":
                overdue = 0.0
            elif timer.stopped_at is not None:
                overdue = max(timer.stopped_at - timer.deadline, 0.0)
            else:
                overdue = max(watermark - timer.deadline, 0.0)
            found.append(
                Decision(
                    complaint_id=view.complaint_id,
                    timer=name,
                    outcome=outcome,
                    decided_at=decided_at,
                    deadline=timer.deadline,
                    overdue_seconds=overdue,
                )
            )
    return sorted(found, key=lambda d: (d.complaint_id, TIMERS.index(d.timer)))


def overdue_at(views: Iterable[UnitView], unit: str, at: float) -> list[Overdue]:
    """The unit's timers open and past their deadline at `at`, most overdue first.

    A timer was open at `at` if the unit had received it and it had not stopped (or been
    transferred away) by then; a paused timer is never overdue (its deadline moves).
    """
    found = []
    for view in views:
        if view.unit != unit or view.deleted:
            continue
        for name, timer in view.timers.items():
            if timer.received_at > at or timer.deadline >= at:
                continue
            if timer.stopped_at is not None and timer.stopped_at <= at:
                continue
            missed = timer.outcome == "missed" or (
                timer.outcome is None and timer.is_open and timer.running
            )
            if missed:
                found.append(Overdue(view.complaint_id, name, timer.deadline, at - timer.deadline))
    return sorted(found, key=lambda o: (-o.overdue_seconds, o.complaint_id, o.timer))


def sum_breakdowns(breakdowns: Iterable[TimeBreakdown]) -> TimeLost:
    seconds = dict.fromkeys(BUCKETS, 0.0)
    count = 0
    for item in breakdowns:
        count += 1
        for bucket in BUCKETS:
            seconds[bucket] += item.bucket(bucket)
    return TimeLost(complaints=count, seconds=seconds)


def transfers_in(views: Iterable[UnitView], unit: str, begin: float, end: float) -> int:
    return sum(
        1
        for view in views
        if view.unit == unit and not view.deleted
        for at, _reason in view.transfers_away
        if begin <= at < end
    )


def unit_feedback(
    views: Sequence[UnitView],
    unit: str,
    begin: float,
    end: float,
    watermark: float,
    *,
    overdue_limit: int | None = 10,
) -> Feedback:
    """The evaluation of `unit` for the period [begin, end), as known at `watermark`.

    Overdue complaints are those open and past target at the period's end, or at the
    watermark while the period is still running; the `overdue_limit` most overdue (all of
    them with None).
    """
    decisions = decisions_in(views, unit, begin, end, watermark)
    missed = sorted(
        (d for d in decisions if d.outcome == "missed"),
        key=lambda d: (-d.overdue_seconds, d.complaint_id, d.timer),
    )
    by_id = {view.complaint_id: view for view in views if view.unit == unit}
    missed_ids = {d.complaint_id for d in missed}
    decided_ids = {d.complaint_id for d in decisions}

    def lost(ids: set[str]) -> TimeLost:
        # Open complaints are followed to the period's end (or the watermark before it).
        breakdowns = (time_breakdown(by_id[cid], min(end, watermark)) for cid in sorted(ids))
        return sum_breakdowns(b for b in breakdowns if b is not None)

    return Feedback(
        unit=unit,
        decisions=tuple(decisions),
        missed=tuple(missed),
        time_lost_missed=lost(missed_ids),
        time_lost_all=lost(decided_ids),
        transfers_away=transfers_in(views, unit, begin, end),
        overdue=tuple(overdue_at(views, unit, min(end, watermark))[:overdue_limit]),
    )


__all__ = [
    "BUCKETS",
    "Decision",
    "Feedback",
    "Overdue",
    "TimeBreakdown",
    "TimeLost",
    "decisions_in",
    "overdue_at",
    "sum_breakdowns",
    "time_breakdown",
    "transfers_in",
    "unit_feedback",
]
