"""A complaint's timeline: from all its events to what the KPIs need, per work unit.

`evaluate_complaint(events, registry, as_of=...)` is a pure function of the full set of a
complaint's known events. It sorts them itself, so the order they arrived in cannot change
the result: the streaming worker and a batch replay get the same outcome from the same
events. No clock reads, no I/O: "now" is the `as_of` argument.

Clock rules
-----------
0. Ordering. Events are ordered by (occurred_at, type, event_id), with same-instant types in
   the order: created, assigned, handed_over, resumed, paused, responded, resolved,
   reopened, rated, closed (so a pause that ends and a new one that starts at the same
   instant are two pauses, a complaint created and assigned at one instant starts with the
   assignee, and an officer handed the complaint at the instant of a response gave it).
   A repeated event_id is ignored (one copy is kept, chosen by content, not by arrival).
   The first `created` in that order is the complaint's receipt; later ones are ignored.
   Any other event earlier than the receipt is moved to the receipt instant (elapsed 0)
   and reported as the anomaly "<type>_before_created" (e.g. "resolved_before_created").
   Events later than `as_of` are not applied (counted in `pending_events`).
1. Two timers per complaint. `response` runs from receipt until the first `responded`, or
   until the first `resolved` when no response came before it. `resolution` runs from
   receipt until the first `resolved`.
2. Targets. Each holding unit's targets are `registry.targets_for(unit, category, priority,
   created_at)` with the category and priority of the `created` event and its time (target
   versions follow the complaint's creation date). Each timer's target has its own clock:
   `wall` (elapsed seconds) or `working` (seconds inside the unit's calendar,
   `registry.calendar_for(unit)`).
3. Per-unit accountability (core.charging: this rule and the clock of one charge). The
   `created` unit holds the complaint until an `assigned`
   event transfers it to another unit, and so on. When a unit receives the complaint, each
   timer that has not stopped gets a charge for that unit: its clock starts at the receipt
   (created or assigned) and its deadline is the unit's target computed from that receipt.
   A unit's clock runs only while it holds the complaint and it is not paused.
   - A unit that transfers the complaint away at or before its deadline gets no outcome for
     that timer (`transferred_away`, with the `reason`, default "unspecified"). Every
     transfer is listed in `ComplaintOutcome.transfers`: count transfers away from there,
     not from charges (one transfer stops up to two charges).
   - A unit whose deadline passed while its clock ran gets `missed`, decided at the
     deadline, whatever happens later (a later transfer does not undo it).
   - The unit holding the complaint when the timer stops gets `met` if its deadline has not
     passed (stop at or before the deadline), decided at the stop.
   - An `assigned` to the unit already holding it (after unknown-unit mapping) is ignored.
   - A unit that gets the complaint back continues its own charge: one charge per (unit,
     timer), so each (unit, timer) has at most one outcome. For that unit the time it did
     not hold the complaint counts like a pause (rule 4): its deadline moves back by it.
4. Pauses. Between `paused` and the next `resumed` every clock stops: elapsed time excludes
   paused time. When a clock restarts after a gap (pause, or time away as in rule 3) whose
   start was at or before its deadline, the deadline moves back by the clock time of the
   gap: new_deadline = max(old_deadline + gap, restart) on the wall clock, and
   max(calendar.add_working_seconds(old_deadline, working seconds of the gap on the unit's
   calendar), restart) on the working clock. Adding from the old deadline is right: the
   working time allowed (working seconds from receipt to deadline, gaps excluded) stays
   exactly the target, and it is the same instant as restarting the remaining budget at
   the restart. A working-days deadline moved this way is no longer a closing time (a
   2-hour pause moves Friday 16:00 to Monday 10:00). The max() only matters when no
   working time was left at the pause start and the unit resumes outside working hours: a
   deadline never falls inside a gap, so a unit cannot miss while paused. A gap that starts
   after the deadline changes nothing (the outcome was already `missed`). A complaint
   received (or transferred) during a pause starts its clocks paused. A pause still open at
   `as_of` counts until `as_of`; a timer that stops during a pause is treated as resumed at
   the stop. A second `paused` while paused and an unmatched `resumed` are ignored
   (anomalies "paused_while_paused", "resumed_without_pause").
5. Reopen. `reopened` after a resolution opens the complaint again: one reopen for the unit
   holding it. Timers and their outcomes stay as decided at the first resolution; the wall
   time from the reopen to the next `resolved` (pauses excluded) is rework, charged to the
   units holding it meanwhile. `reopened` while open is ignored ("reopened_while_open");
   after `closed` it still reopens ("reopened_after_closed"). A further `resolved` while
   resolved is ignored ("already_resolved"). `closed` only records `closed_at` (the last
   one); it stops no timer ("closed_while_open" if the complaint was open). `rated` records
   the rating for the unit holding the complaint; the last one wins.
6. No `created` event (as of `as_of`): `known=False` and nothing is measured; the stream
   keeps the events until `created` arrives.
7. Units not in `registry.units` are charged as "unknown" (UNKNOWN_UNIT), on the default
   calendar, so metric labels stay bounded; `unknown_unit=True`.
8. Inconsistent input never raises: it is clamped (rule 0) or ignored, and reported in
   `anomalies` (short, bounded codes, each listed once in first-seen order).
9. Extensions. `extension_granted` (timer, working_days, reason) moves the deadline of the
   unit holding the complaint at its instant by `working_days` working days on the unit's
   calendar, at the same local time (`shift_working_days`; the allowed time grows by the
   same amount), within the registry's limit for the unit in force on the creation date
   (`causes.extension_limits`, default one extension of at most 7 working days per
   complaint and unit). Not applied, with the reason in `rejected`: the timer already
   stopped (`extension_timer_stopped`), over the limit (`extension_over_limit`), or the
   deadline already passed while the clock ran (`extension_after_deadline`).
10. `miss_explained` (unit, timer, cause) records the unit's cause of a miss on its charge
   (the last one wins), a vocabulary code ("other" for an unknown one). The charge must be
   missed at the event's instant, else `miss_explained_without_miss`.
11. Objections. `objection_filed` (unit, timer) on a missed charge marks it "filed"
   (`objection_without_miss`, `objection_already_filed` otherwise); `objection_decided`
   (decision upheld|rejected) decides a filed one (`decision_without_objection`
   otherwise). An upheld objection keeps the outcome `missed` (the trail) and sets
   `TimerCharge.excused`: the scores leave it out (core.scoring).
12. Exclusions. While a registry exclusion (`exclusions`, per unit or "*") covers the unit
   holding the complaint, its clocks stop as in a pause: its deadlines move by the excluded
   working time. The excluded wall time (pauses left out) is reported per unit, by reason.
   Pauses carry an optional `reason` (vocabulary code; "unspecified" without one), and the
   paused time is reported per unit and reason.
13. Escalations. `escalated` (level) is charged to the unit holding the complaint at its
   instant (the complaint app escalated it over that unit's head); it changes no clock,
   charge or outcome. At most MAX_ESCALATIONS are kept per complaint.

Open timers at `as_of` (the stream's watermark, or the replay's end; by default the latest
event time, hand-overs between officers left out): the holder's charge has
`stopped_at=None`, elapsed clock seconds up to `as_of`,
`fraction_of_allowed = elapsed_seconds / allowed_seconds`, and outcome `missed` when `as_of`
is past its deadline, else None.

Complaint-wide durations: `response_seconds` and `resolution_seconds` are wall seconds from
receipt to the timer's stop, pauses excluded (so they equal the sum of the charges'
`elapsed_wall_seconds`). `response_working_seconds` and `resolution_working_seconds` are the
sums over the timer's charges of the working seconds each holder spent, each on its own
calendar, pauses excluded; with one holder it is that unit's working time from receipt to the
timer's stop.
`paused_wall_seconds` is the paused wall time inside the resolution timer (receipt to first
resolution, or to `as_of` while unresolved).
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from schemas.events import ComplaintEvent
from sigap.core.calendar import JAKARTA
from sigap.core.charging import TIMERS, Charge, Outcome, Timer, TimerCharge
from sigap.core.registry import UNKNOWN_UNIT, Registry

__all__ = [
    "DEFAULT_TRANSFER_REASON",
    "TIMERS",
    "ComplaintOutcome",
    "Outcome",
    "Timer",
    "TimerCharge",
    "Transfer",
    "UnitRework",
    "charges_for",
    "default_as_of",
    "evaluate_complaint",
]


DEFAULT_TRANSFER_REASON: Final = "unspecified"

# Rule 0: how events at the same instant are ordered.
_TIE_ORDER: Final[dict[str, int]] = {
    "created": 0,
    "assigned": 1,
    "handed_over": 2,
    "resumed": 3,
    "paused": 4,
    "responded": 5,
    "resolved": 6,
    "reopened": 7,
    "rated": 8,
    "closed": 9,
    # Causes and fairness controls (core.timeline rules 9-12).
    "extension_granted": 10,
    "miss_explained": 11,
    "objection_filed": 12,
    "objection_decided": 13,
    "escalated": 14,
}
# An exclusion boundary (registry `exclusions`) sorts before the events of its instant.
_BOUNDARY_TIE: Final = -1
# Bounded: the route kept per complaint (views carry it to every unit that held it).
MAX_ROUTE: Final = 32
MAX_ESCALATIONS: Final = 16
UNSPECIFIED_PAUSE: Final = "unspecified"
_ZERO: Final = timedelta(0)


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transfer:
    """One `assigned` event that moved the complaint to another unit."""

    from_unit: str
    to_unit: str
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Stint:
    """One holding of the complaint by a unit, in order (the complaint's route)."""

    unit: str
    received_at: datetime
    left_at: datetime | None  # transferred away; None for the last holder
    reason: str | None  # the `assigned` reason that brought it here (None: created here)
    active_seconds: float  # wall seconds held, pauses excluded, up to the resolution/as_of


@dataclass(frozen=True, slots=True)
class UnitRework:
    """Reopens counted for a unit and the rework time it held the complaint."""

    unit: str
    reopens: int
    rework_seconds: float


@dataclass(frozen=True, slots=True)
class ComplaintOutcome:
    complaint_id: str
    known: bool  # False until a created event is present (as of as_of)
    as_of: datetime
    created_at: datetime | None
    category: str | None
    channel: str | None
    priority: str
    units: tuple[str, ...]  # distinct holding units in order of first receipt
    holder: str | None  # unit holding the complaint at as_of
    is_open: bool  # not resolved, or reopened and not resolved again
    charges: tuple[TimerCharge, ...]
    transfers: tuple[Transfer, ...]
    first_response_at: datetime | None  # the response timer's stop (responded or resolved)
    first_resolved_at: datetime | None
    response_seconds: float | None
    response_working_seconds: float | None
    resolution_seconds: float | None
    resolution_working_seconds: float | None
    reopen_count: int
    rework_seconds: float
    rework: tuple[UnitRework, ...]
    closed_at: datetime | None
    rating: int | None
    rated_unit: str | None
    unknown_unit: bool
    anomalies: tuple[str, ...]
    paused_wall_seconds: float
    pending_events: int  # events later than as_of, not applied
    # Events of rules 9-11 not applied, with the reason (the stream dead-letters them).
    rejected: tuple[tuple[str, str], ...] = ()
    route: tuple[Stint, ...] = ()  # the holdings in order (at most MAX_ROUTE)
    # Per unit, inside the resolution timer and while the unit held the complaint:
    # paused wall seconds by pause reason, and wall seconds excluded by the registry.
    paused_by_unit: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    excluded_by_unit: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    # `escalated` events in order: (unit holding the complaint, instant, ladder level).
    escalations: tuple[tuple[str, datetime, str], ...] = ()


def charges_for(
    outcome: ComplaintOutcome, unit: str, timer: Timer | None = None
) -> tuple[TimerCharge, ...]:
    """The charges of `unit` (optionally of one timer only)."""
    return tuple(
        charge
        for charge in outcome.charges
        if charge.unit == unit and (timer is None or charge.timer == timer)
    )


# --------------------------------------------------------------------------------------
# Replaying a complaint's events
# --------------------------------------------------------------------------------------


class _Replay:
    """The complaint's state while its ordered events are applied."""

    def __init__(self, registry: Registry, created: ComplaintEvent, created_at: datetime) -> None:
        self.registry = registry
        self.created_at = created_at
        self.category = created.category
        self.priority: str = created.priority
        self.unknown_unit = False
        self.holder = self.map_unit(created.unit)
        self.units: dict[str, None] = {self.holder: None}
        self.charges: dict[tuple[str, Timer], Charge] = {}
        self.stopped: dict[Timer, datetime] = {}
        self.transfers: list[Transfer] = []
        self.anomalies: dict[str, None] = {}
        self.paused_since: datetime | None = None
        self.pauses: list[tuple[datetime, datetime]] = []
        self.resolved = False  # currently resolved (and not reopened since)
        self.closed = False
        self.closed_at: datetime | None = None
        self.rework_since: datetime | None = None  # rework clock running since
        self.reworking = False
        self.rework: dict[str, timedelta] = {}
        self.reopens: dict[str, int] = {}
        self.rating: int | None = None
        self.rated_unit: str | None = None
        self.causes = registry.causes
        self.pause_reason: str = UNSPECIFIED_PAUSE
        self.pause_reasons: list[str] = []  # parallel to self.pauses
        # Running total of the closed pauses' wall time, parallel to self.pauses.
        self.pause_totals: list[timedelta] = []
        # unit_spans' results for the stints that can no longer change (see _SpansMemo).
        self.spans_memo: _SpansMemo | None = None
        self.stint_memo: _StintMemo | None = None
        # Keep those memos: set by the incremental evaluation, which asks for an outcome
        # after every event (one outcome, as evaluate_complaint's, has no use for them).
        self.memoize = False
        self.extensions: dict[str, int] = {}
        self.rejected: dict[str, str] = {}
        self.route: list[tuple[str, datetime, str | None]] = [(self.holder, created_at, None)]
        # `escalated` events: (holding unit, instant, ladder level), at most MAX_ESCALATIONS.
        self.escalations: list[tuple[str, datetime, str]] = []
        self.receive(self.holder, created_at)

    def fork(self) -> _Replay:
        """A copy to apply events to without changing this replay (a trial: would the
        stream reject an event? core.complaint_state). Every container and charge is
        copied; the events are not replayed."""
        other = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, dict | list):
                setattr(other, name, copy.copy(value))
        other.charges = {key: copy.copy(charge) for key, charge in self.charges.items()}
        return other

    def excluded(self, unit: str, at: datetime) -> bool:
        """A registry exclusion covers `unit` at `at` (rule 12)."""
        return any(e.start <= at < e.end and e.covers(unit) for e in self.causes.exclusions)

    def idle(self, unit: str, at: datetime) -> bool:
        return self.paused_since is not None or self.excluded(unit, at)

    def boundary(self, at: datetime) -> None:
        """An exclusion starts or ends at `at`: the holder's clocks follow (rule 12)."""
        if self.paused_since is not None:
            return
        excluded = self.excluded(self.holder, at)
        for timer in self.active_timers():
            charge = self.charges[(self.holder, timer)]
            if excluded:
                charge.halt(at)
            else:
                charge.run(at)

    def reject(self, event: ComplaintEvent, reason: str) -> None:
        self.rejected[event.event_id] = reason
        self.note(reason)

    def extension_granted(self, event: ComplaintEvent, at: datetime) -> None:
        assert event.timer is not None and event.working_days is not None
        holder = self.holder
        limit = self.causes.extension_limit(holder, self.created_at.date())
        charge = self.charges.get((holder, event.timer))
        if event.timer in self.stopped or charge is None:
            self.reject(event, "extension_timer_stopped")
        elif (
            event.working_days > limit.max_working_days
            or self.extensions.get(holder, 0) >= limit.max_extensions
        ):
            self.reject(event, "extension_over_limit")
        elif charge.missed_by(at):
            self.reject(event, "extension_after_deadline")
        else:
            charge.extend(event.working_days)
            self.extensions[holder] = self.extensions.get(holder, 0) + 1

    def missed_charge(self, event: ComplaintEvent, at: datetime) -> Charge | None:
        assert event.timer is not None
        unit = self.map_unit(event.unit)
        charge = self.charges.get((unit, event.timer))
        return charge if charge is not None and charge.missed_by(at) else None

    def miss_explained(self, event: ComplaintEvent, at: datetime) -> None:
        charge = self.missed_charge(event, at)
        if charge is None:
            self.reject(event, "miss_explained_without_miss")
        else:
            charge.cause = self.causes.cause_code(event.cause)

    def objection_filed(self, event: ComplaintEvent, at: datetime) -> None:
        charge = self.missed_charge(event, at)
        if charge is None:
            self.reject(event, "objection_without_miss")
        elif charge.objection is not None:
            self.reject(event, "objection_already_filed")
        else:
            charge.objection = "filed"

    def objection_decided(self, event: ComplaintEvent) -> None:
        assert event.timer is not None
        charge = self.charges.get((self.map_unit(event.unit), event.timer))
        if charge is None or charge.objection != "filed":
            self.reject(event, "decision_without_objection")
        else:
            charge.objection = event.decision

    def map_unit(self, unit: str | None) -> str:
        if unit is not None and unit in self.registry.units:
            return unit
        self.unknown_unit = True
        return UNKNOWN_UNIT

    def note(self, anomaly: str) -> None:
        self.anomalies.setdefault(anomaly, None)

    def active_timers(self) -> list[Timer]:
        return [timer for timer in TIMERS if timer not in self.stopped]

    def receive(self, unit: str, at: datetime) -> None:
        paused = self.idle(unit, at)
        targets = None
        for timer in self.active_timers():
            charge = self.charges.get((unit, timer))
            if charge is not None:
                charge.receive_again(at, paused)
                continue
            if targets is None:
                targets = self.registry.targets_for(
                    unit, self.category, self.priority, self.created_at
                )
            spec = targets.response if timer == "response" else targets.resolution
            self.charges[(unit, timer)] = Charge(
                unit, timer, spec, self.registry.calendar_for(unit), at, paused
            )

    def halt_rework(self, at: datetime) -> None:
        if self.rework_since is not None:
            self.rework[self.holder] = self.rework.get(self.holder, _ZERO) + (
                at - self.rework_since
            )
            self.rework_since = None

    def stop_timer(self, timer: Timer, at: datetime) -> None:
        self.stopped[timer] = at
        self.charges[(self.holder, timer)].stop_timer(at)

    def apply(self, event: ComplaintEvent, at: datetime) -> None:
        kind = event.type
        if kind == "created":
            self.note("duplicate_created")
        elif kind == "assigned":
            self.assigned(event, at)
        elif kind == "responded":
            if "response" not in self.stopped:
                self.stop_timer("response", at)
        elif kind == "resolved":
            self.resolved_event(at)
        elif kind == "paused":
            self.paused(event, at)
        elif kind == "resumed":
            self.resumed(at)
        elif kind == "reopened":
            self.reopened(at)
        elif kind == "closed":
            if not self.resolved:
                self.note("closed_while_open")
            self.closed = True
            self.closed_at = at
        elif kind == "rated":
            self.rating = event.rating
            self.rated_unit = self.holder
        # `handed_over` moves the complaint between officers of the holding unit: it changes
        # no unit's clock, charge or outcome.
        elif kind == "escalated":
            # Rule 13: an escalation is charged to the unit holding the complaint; it changes
            # no clock, charge or outcome.
            if len(self.escalations) < MAX_ESCALATIONS and event.level is not None:
                self.escalations.append((self.holder, at, event.level))
        elif kind == "extension_granted":
            self.extension_granted(event, at)
        elif kind == "miss_explained":
            self.miss_explained(event, at)
        elif kind == "objection_filed":
            self.objection_filed(event, at)
        elif kind == "objection_decided":
            self.objection_decided(event)

    def assigned(self, event: ComplaintEvent, at: datetime) -> None:
        unit = self.map_unit(event.unit)
        if unit == self.holder:
            return
        reason = event.reason or DEFAULT_TRANSFER_REASON
        self.transfers.append(Transfer(self.holder, unit, at, reason))
        for timer in self.active_timers():
            self.charges[(self.holder, timer)].transfer_away(at, reason)
        rework_running = self.rework_since is not None
        self.halt_rework(at)
        self.holder = unit
        self.units.setdefault(unit, None)
        self.route.append((unit, at, reason))
        if rework_running:
            self.rework_since = at
        self.receive(unit, at)

    def resolved_event(self, at: datetime) -> None:
        if "resolution" not in self.stopped:
            if "response" not in self.stopped:
                self.stop_timer("response", at)
            self.stop_timer("resolution", at)
            self.resolved = True
        elif self.reworking:
            self.halt_rework(at)
            self.reworking = False
            self.resolved = True
        else:
            self.note("already_resolved")

    def paused(self, event: ComplaintEvent, at: datetime) -> None:
        if self.paused_since is not None:
            self.note("paused_while_paused")
            return
        self.paused_since = at
        self.pause_reason = (
            UNSPECIFIED_PAUSE if event.reason is None else self.causes.cause_code(event.reason)
        )
        for timer in self.active_timers():
            self.charges[(self.holder, timer)].halt(at)
        self.halt_rework(at)

    def resumed(self, at: datetime) -> None:
        if self.paused_since is None:
            self.note("resumed_without_pause")
            return
        self.pauses.append((self.paused_since, at))
        self.pause_reasons.append(self.pause_reason)
        self.pause_totals.append(
            (self.pause_totals[-1] if self.pause_totals else _ZERO) + (at - self.paused_since)
        )
        self.paused_since = None
        if not self.excluded(self.holder, at):
            for timer in self.active_timers():
                self.charges[(self.holder, timer)].run(at)
        if self.reworking:
            self.rework_since = at

    def reopened(self, at: datetime) -> None:
        if not self.resolved:
            self.note("reopened_while_open")
            return
        if self.closed:
            self.note("reopened_after_closed")
        self.resolved = False
        self.reworking = True
        self.reopens[self.holder] = self.reopens.get(self.holder, 0) + 1
        if self.paused_since is None:
            self.rework_since = at

    def paused_within(
        self, start: datetime, end: datetime, open_pause: tuple[datetime, datetime] | None
    ) -> timedelta:
        """Wall time paused inside [start, end]: the closed pauses (sorted and disjoint, so
        bisected and summed from their running total: exact, timedeltas) and the pause still
        open at as_of (`open_pause`, closed at as_of)."""
        if end <= start:
            return _ZERO
        pauses = self.pauses
        first = bisect.bisect_right(pauses, start, key=_pause_end)  # the first ending after
        last = bisect.bisect_left(pauses, end, key=_pause_start)  # the first starting at/after
        total = _ZERO
        if first < last:
            totals = self.pause_totals
            total = totals[last - 1] - (totals[first - 1] if first else _ZERO)
            # Only the first can start before `start`, only the last end after `end`.
            total -= max(start - pauses[first][0], _ZERO) + max(pauses[last - 1][1] - end, _ZERO)
        if open_pause is not None:
            overlap = min(open_pause[1], end) - max(open_pause[0], start)
            if overlap > _ZERO:
                total += overlap
        return total

    def outcome(
        self, complaint_id: str, channel: str | None, as_of: datetime, pending_events: int
    ) -> ComplaintOutcome:
        """The outcome at `as_of` of the events applied so far. Changes nothing in the
        replay (a pause still open and rework still running are counted up to `as_of` in
        local copies): the incremental evaluation (core.incremental) asks for the outcome
        after every event, then applies more events to the same replay."""
        open_pause = None if self.paused_since is None else (self.paused_since, as_of)
        reworked = self.rework
        if self.rework_since is not None:
            reworked = dict(reworked)
            reworked[self.holder] = reworked.get(self.holder, _ZERO) + (as_of - self.rework_since)
        # List comprehensions and loops rather than generators: asked after every event.
        charges = tuple([charge.result(as_of) for charge in self.charges.values()])
        response_stop = self.stopped.get("response")
        resolution_stop = self.stopped.get("resolution")
        response_seconds = resolution_seconds = None
        response_working_seconds = resolution_working_seconds = None
        if response_stop is not None:
            response_seconds = self.wall_seconds_unpaused(response_stop, open_pause)
            response_working_seconds = sum(
                [charge.elapsed_working_seconds for charge in charges if charge.timer == "response"]
            )
        if resolution_stop is not None:
            resolution_seconds = self.wall_seconds_unpaused(resolution_stop, open_pause)
            resolution_working_seconds = sum(
                [
                    charge.elapsed_working_seconds
                    for charge in charges
                    if charge.timer == "resolution"
                ]
            )
        rework_units = [unit for unit in self.units if unit in reworked or unit in self.reopens]
        rework = tuple(
            UnitRework(
                unit=unit,
                reopens=self.reopens.get(unit, 0),
                rework_seconds=reworked.get(unit, _ZERO).total_seconds(),
            )
            for unit in rework_units
        )
        return ComplaintOutcome(
            complaint_id=complaint_id,
            known=True,
            as_of=as_of,
            created_at=self.created_at,
            category=self.category,
            channel=channel,
            priority=self.priority,
            units=tuple(self.units),
            holder=self.holder,
            is_open=not self.resolved,
            charges=charges,
            transfers=tuple(self.transfers),
            first_response_at=response_stop,
            first_resolved_at=resolution_stop,
            response_seconds=response_seconds,
            response_working_seconds=response_working_seconds,
            resolution_seconds=resolution_seconds,
            resolution_working_seconds=resolution_working_seconds,
            reopen_count=sum(self.reopens.values()),
            rework_seconds=sum(reworked.values(), _ZERO).total_seconds(),
            rework=rework,
            closed_at=self.closed_at,
            rating=self.rating,
            rated_unit=self.rated_unit,
            unknown_unit=self.unknown_unit,
            anomalies=tuple(self.anomalies),
            paused_wall_seconds=self.paused_within(
                self.created_at, resolution_stop or as_of, open_pause
            ).total_seconds(),
            pending_events=pending_events,
            rejected=tuple(self.rejected.items()),
            escalations=tuple(self.escalations),
            **self.unit_spans(resolution_stop or as_of, open_pause),
        )

    def unit_spans(
        self, end: datetime, open_pause: tuple[datetime, datetime] | None
    ) -> dict[str, Any]:
        """The route, and per unit its paused time by reason and its excluded time, inside
        [created_at, end] (the resolution timer) and while it held the complaint.

        What can no longer change is kept, so that an outcome after every event does not
        go over the whole route and every pause again (the results are the same, added in
        the same order):
        - a stint that ended in a transfer: its end is fixed, and every pause still to come
          starts after it (events are applied in order; `end`, the first resolution or
          as_of, never falls before a stint that ended already, or is fixed). The results
          up to the last such stint are kept in `spans_memo`;
        - in the stint after them, what its closed pauses add: each ended before `end` and
          before the stint's end, whatever they become. Kept in `stint_memo`; the pause
          still open is added on top at each outcome.
        """
        memo = self.spans_memo
        if memo is None:
            done, stints = 0, []
            paused: dict[str, dict[str, float]] = {}
            excluded: dict[str, dict[str, float]] = {}
        else:
            done, stints = memo.stints_done, list(memo.route)
            paused = _copy_by_unit(memo.paused)
            excluded = _copy_by_unit(memo.excluded)
        route = self.route
        all_pauses, reasons = self.pauses, self.pause_reasons
        exclusions = self.causes.exclusions
        for index in range(done, len(route)):
            unit, start, reason = route[index]
            left = route[index + 1][1] if index + 1 < len(route) else None
            stop = min(left, end) if left is not None else end
            held = max((stop - start).total_seconds(), 0.0)
            # The closed pauses that can overlap [start, stop]: from the first ending after
            # start to the last starting before stop (sorted and disjoint: bisected).
            first = last = 0
            if all_pauses:
                first = bisect.bisect_right(all_pauses, start, key=_pause_end)
                last = bisect.bisect_left(all_pauses, stop, key=_pause_start)
            partial = self.stint_memo
            if partial is not None and partial.index == index and index == done:
                paused = _copy_by_unit(partial.paused)
                first = max(first, partial.pauses_done)
                active_sum, excluded_sums = partial.active_sum, list(partial.excluded_sums)
            else:
                active_sum, excluded_sums = 0.0, [0.0] * len(exclusions)
            pieces = [(all_pauses[k], reasons[k]) for k in range(first, last)]
            # Sums in the order of the pauses, one addition at a time (as Python 3.11's sum).
            for (pause_start, pause_end), why in pieces:
                active_sum = self._add_pause(
                    paused,
                    excluded_sums,
                    unit,
                    start,
                    stop,
                    pause_start,
                    pause_end,
                    why,
                    active_sum,
                )
            if left is None and self.memoize:  # the last stint: its closed pauses are kept
                self.stint_memo = _StintMemo(
                    index,
                    max(last, first),
                    _copy_by_unit(paused),
                    active_sum,
                    tuple(excluded_sums),
                )
            if open_pause is not None:  # the latest pause, still open: counted up to as_of
                active_sum = self._add_pause(
                    paused,
                    excluded_sums,
                    unit,
                    start,
                    stop,
                    open_pause[0],
                    open_pause[1],
                    self.pause_reason,
                    active_sum,
                )
            for number, exclusion in enumerate(exclusions):
                if not exclusion.covers(unit):
                    continue
                lo, hi = max(exclusion.start, start), min(exclusion.end, stop)
                if hi <= lo:
                    continue
                seconds = (hi - lo).total_seconds() - excluded_sums[number]
                if seconds > 0:
                    by_reason = excluded.setdefault(unit, {})
                    by_reason[exclusion.reason] = by_reason.get(exclusion.reason, 0.0) + seconds
            active = held - active_sum
            if len(stints) < MAX_ROUTE:
                stints.append(Stint(unit, start, left, reason, max(active, 0.0)))
            if left is not None and self.memoize:  # ended in a transfer: final (docstring)
                self.spans_memo = _SpansMemo(
                    index + 1, tuple(stints), _copy_by_unit(paused), _copy_by_unit(excluded)
                )
        return {
            "route": tuple(stints),
            "paused_by_unit": tuple(
                (unit, tuple(sorted(by.items()))) for unit, by in paused.items()
            ),
            "excluded_by_unit": tuple(
                (unit, tuple(sorted(by.items()))) for unit, by in excluded.items()
            ),
        }

    def _add_pause(
        self,
        paused: dict[str, dict[str, float]],
        excluded_sums: list[float],
        unit: str,
        start: datetime,
        stop: datetime,
        pause_start: datetime,
        pause_end: datetime,
        why: str,
        active_sum: float,
    ) -> float:
        """Add what one pause takes from the stint [start, stop] of `unit`: its paused
        seconds by reason, and its share of each exclusion's time (`excluded_sums`, by
        exclusion); returns the stint's paused seconds so far."""
        overlap = _overlap(pause_start, pause_end, start, stop)
        if overlap <= 0:
            return active_sum
        by_reason = paused.setdefault(unit, {})
        by_reason[why] = by_reason.get(why, 0.0) + overlap
        p_start, p_end = max(pause_start, start), min(pause_end, stop)
        for number, exclusion in enumerate(self.causes.exclusions):
            if exclusion.covers(unit):
                lo, hi = max(exclusion.start, start), min(exclusion.end, stop)
                excluded_sums[number] += _overlap(p_start, p_end, lo, hi)
        return active_sum + _overlap(p_start, p_end, start, stop)

    def wall_seconds_unpaused(
        self, stop: datetime, open_pause: tuple[datetime, datetime] | None
    ) -> float:
        span = stop - self.created_at
        return (span - self.paused_within(self.created_at, stop, open_pause)).total_seconds()


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def _pause_start(pause: tuple[datetime, datetime]) -> datetime:
    return pause[0]


def _pause_end(pause: tuple[datetime, datetime]) -> datetime:
    return pause[1]


def _copy_by_unit(by_unit: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {unit: dict(by) for unit, by in by_unit.items()}


@dataclass(frozen=True, slots=True)
class _StintMemo:
    """_Replay.unit_spans in stint `index` after its closed pauses up to `pauses_done`
    (which can no longer change): the paused seconds by unit and reason (the earlier stints
    included), the stint's paused seconds, and its paused seconds inside each exclusion."""

    index: int
    pauses_done: int
    paused: dict[str, dict[str, float]]
    active_sum: float
    excluded_sums: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class _SpansMemo:
    """_Replay.unit_spans after its first `stints_done` stints, which can no longer change:
    the route so far (at most MAX_ROUTE stints) and the paused and excluded seconds by unit
    and reason (never changed: copied before use)."""

    stints_done: int
    route: tuple[Stint, ...]
    paused: dict[str, dict[str, float]]
    excluded: dict[str, dict[str, float]]


def _overlap(start: datetime, end: datetime, lo: datetime, hi: datetime) -> float:
    return max((min(end, hi) - max(start, lo)).total_seconds(), 0.0)


def _order_key(event: ComplaintEvent) -> tuple[datetime, int, str]:
    return (event.occurred_at, _TIE_ORDER[event.type], event.event_id)


def _distinct(events: Iterable[ComplaintEvent]) -> tuple[list[ComplaintEvent], bool]:
    """One event per event_id, chosen by content so arrival order does not matter.

    Returns the events and whether two copies of one event_id differed.
    """
    by_id: dict[str, ComplaintEvent] = {}
    conflicting = False
    for event in events:
        kept = by_id.get(event.event_id)
        if kept is None:
            by_id[event.event_id] = event
        elif kept != event:
            conflicting = True
            # Rare: compare whole contents only for conflicting redeliveries.
            candidates = sorted((kept, event), key=lambda e: (_order_key(e), e.model_dump_json()))
            by_id[event.event_id] = candidates[0]
    return list(by_id.values()), conflicting


def default_as_of(events: Iterable[ComplaintEvent]) -> datetime:
    """The latest event time, `handed_over` events left out (unless there is nothing else).

    A hand-over between officers changes no unit's clock, so it does not move the instant a
    unit's view is made at either: unit figures are the same whether or not an app sends
    officer codes and hand-overs.
    """
    latest: datetime | None = None
    latest_hand_over: datetime | None = None
    for event in events:
        if event.type == "handed_over":
            if latest_hand_over is None or event.occurred_at > latest_hand_over:
                latest_hand_over = event.occurred_at
        elif latest is None or event.occurred_at > latest:
            latest = event.occurred_at
    chosen = latest if latest is not None else latest_hand_over
    if chosen is None:
        raise ValueError("default_as_of needs at least one event")
    return chosen


def evaluate_complaint(
    events: Iterable[ComplaintEvent],
    registry: Registry,
    *,
    as_of: datetime | None = None,
) -> ComplaintOutcome:
    """Everything the KPIs need about one complaint, from all its known events.

    `events` may come in any order and may repeat event_ids; they must share one
    complaint_id (ValueError otherwise, or if there are none). `as_of` is the evaluation
    instant (aware): the stream's watermark or the replay's end; by default the latest
    event time (`default_as_of`: hand-overs between officers left out). The clock rules are
    in the module docstring. Datetimes in the result are in Asia/Jakarta.
    """
    distinct, conflicting = _distinct(events)
    if not distinct:
        raise ValueError("evaluate_complaint needs at least one event")
    complaint_id = distinct[0].complaint_id
    for event in distinct:
        if event.complaint_id != complaint_id:
            raise ValueError("events of more than one complaint given to evaluate_complaint")
    if as_of is None:
        as_of = default_as_of(distinct)
    elif as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    as_of = as_of.astimezone(JAKARTA)

    applicable = sorted([e for e in distinct if e.occurred_at <= as_of], key=_order_key)
    pending_events = len(distinct) - len(applicable)
    created: ComplaintEvent | None = None
    for event in applicable:
        if event.type == "created":
            created = event
            break
    if created is None:
        return ComplaintOutcome(
            complaint_id=complaint_id,
            known=False,
            as_of=as_of,
            created_at=None,
            category=None,
            channel=None,
            priority="normal",
            units=(),
            holder=None,
            is_open=False,
            charges=(),
            transfers=(),
            first_response_at=None,
            first_resolved_at=None,
            response_seconds=None,
            response_working_seconds=None,
            resolution_seconds=None,
            resolution_working_seconds=None,
            reopen_count=0,
            rework_seconds=0.0,
            rework=(),
            closed_at=None,
            rating=None,
            rated_unit=None,
            unknown_unit=False,
            anomalies=("conflicting_duplicate",) if conflicting else (),
            paused_wall_seconds=0.0,
            pending_events=pending_events,
        )

    created_at = created.occurred_at.astimezone(JAKARTA)
    replay = _Replay(registry, created, created_at)
    if conflicting:
        replay.note("conflicting_duplicate")
    # Rule 0: an event earlier than the receipt is moved to the receipt instant.
    timed: list[tuple[datetime, int, str, ComplaintEvent | None]] = []
    for event in applicable:
        if event is created:
            continue
        at = event.occurred_at.astimezone(JAKARTA)
        if at < created_at:
            replay.note(f"{event.type}_before_created")
            at = created_at
        timed.append((at, _TIE_ORDER[event.type], event.event_id, event))
    # Rule 12: the clocks of a unit under a registry exclusion stop at its start and run
    # again at its end (a boundary is an event without content).
    for exclusion in registry.causes.exclusions:
        for instant in (exclusion.start, exclusion.end):
            if created_at < instant <= as_of:
                timed.append((instant.astimezone(JAKARTA), _BOUNDARY_TIE, "", None))
    timed.sort(key=lambda item: item[:3])
    for at, _, _, item in timed:
        if item is None:
            replay.boundary(at)
        else:
            replay.apply(item, at)
    return replay.outcome(complaint_id, created.channel, as_of, pending_events)
