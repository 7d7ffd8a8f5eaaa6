"""One work unit's view of one complaint: the record that flows from the complaint stage to
the unit stage (and to the score writer, and through batch replay).

A complaint's outcome (core.timeline) concerns every unit that held it. The unit stage is
keyed by unit, so the complaint stage splits each outcome into one `UnitView` per unit and
sends each to its unit's partition. A view is the full current state of that (unit,
complaint) pair, not a delta: the receiver keeps the latest one, so redelivery and
reordering of views of different versions cannot double-count anything.

Times are epoch seconds (floats), durations seconds; JSON keys are short on purpose (the
views are the bulk of the changelog). Holds no personal data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sigap.core.calendar import WorkingCalendar
from sigap.core.officer_view import OfficerView
from sigap.core.registry import UNKNOWN_UNIT, Registry, TargetSpec
from sigap.core.timeline import TIMERS, ComplaintOutcome, Timer, TimerCharge

OTHER_CATEGORY = "other"
NEVER = math.inf  # a threshold instant that cannot be reached while the clock is stopped


@dataclass(frozen=True, slots=True)
class TimerView:
    """A unit's charge for one timer (see core.timeline.TimerCharge)."""

    received_at: float
    deadline: float
    clock: str  # "wall" or "working"
    allowed_seconds: float
    elapsed_seconds: float  # in the target's clock, pauses and time away excluded
    outcome: str | None  # "met", "missed", or None (undecided, or transferred away in time)
    decided_at: float | None
    stopped_at: float | None
    transferred_away: bool
    running: bool  # the clock runs at the view's as_of
    # Instants at which 50% and 75% of the allowed time are used up, projected from as_of
    # with the clock running; 0.0 when already reached, NEVER while the clock is stopped.
    half_at: float
    three_quarters_at: float
    extension_days: int = 0  # granted by extension_granted (core.timeline rule 9)
    cause: str | None = None  # the unit's explanation of a miss (rule 10)
    objection: str | None = None  # "filed", "upheld", "rejected" (rule 11)

    @property
    def excused(self) -> bool:
        """A miss removed from the scores by an upheld objection (the outcome stays)."""
        return self.outcome == "missed" and self.objection == "upheld"

    def to_json(self) -> list[Any]:
        extra: list[Any] = []
        if self.extension_days or self.cause is not None or self.objection is not None:
            extra = [self.extension_days, self.cause, self.objection]
        return [
            self.received_at,
            self.deadline,
            self.clock,
            self.allowed_seconds,
            self.elapsed_seconds,
            self.outcome,
            self.decided_at,
            self.stopped_at,
            self.transferred_away,
            self.running,
            _finite_or_none(self.half_at),
            _finite_or_none(self.three_quarters_at),
            *extra,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> TimerView:
        # Positional, in field order: a restart decodes a million of these.
        half, three_quarters = data[10], data[11]
        return cls(
            data[0],
            data[1],
            data[2],
            data[3],
            data[4],
            data[5],
            data[6],
            data[7],
            data[8],
            data[9],
            NEVER if half is None else half,
            NEVER if three_quarters is None else three_quarters,
            *(data[12:15] if len(data) > 12 else ()),
        )

    @property
    def is_open(self) -> bool:
        """Undecided and still with this unit: watched for 50/75/100% of its time."""
        return self.outcome is None and not self.transferred_away and self.stopped_at is None


@dataclass(frozen=True, slots=True)
class UnitView:
    unit: str
    complaint_id: str
    as_of: float  # the latest event time of the complaint when the view was made
    category: str  # a registry category, or "other": a bounded label value
    channel: str | None
    priority: str
    created_at: float
    created_here: bool  # this unit received the complaint first
    holder: bool  # this unit holds the complaint at as_of
    open: bool  # ... and the complaint is open (not resolved, or reopened)
    timers: Mapping[str, TimerView]
    response_seconds: float | None  # wall, pauses excluded; set for the unit that responded
    resolved_at: float | None  # first resolution; set for the unit that resolved it
    resolution_seconds: float | None  # wall, pauses excluded
    resolution_working_seconds: float | None
    transfers_away: tuple[tuple[float, str], ...]  # (at, reason)
    reopens: int
    rework_seconds: float
    rating: int | None
    deleted: bool = False  # the unit no longer appears in the complaint's history
    response_working_seconds: float | None = None  # working time on the holders' calendars
    # Paused wall time of the complaint inside its resolution timer (to resolution or as_of).
    paused_seconds: float = 0.0
    # The complaint's route: (unit, received_at, left_at, reason, active seconds) per stint.
    route: tuple[tuple[str, float, float | None, str | None, float], ...] = ()
    # While this unit held it, inside the resolution timer: paused seconds by pause reason,
    # and seconds excluded by the registry's exclusions, by reason.
    paused_by_reason: tuple[tuple[str, float], ...] = ()
    excluded_by_reason: tuple[tuple[str, float], ...] = ()
    # The complaint's first resolution, by whichever unit (for the routing ledger).
    first_resolved_at: float | None = None
    # Escalations while this unit held the complaint: (instant, ladder level), in order.
    escalations: tuple[tuple[float, str], ...] = ()
    # The officer split of this view (core.officers); None when the complaint carries no
    # officer code and no hand-over: everything is then the unit's `unassigned` officer's.
    officers: tuple[OfficerView, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        encoded: dict[str, Any] = {
            "u": self.unit,
            "id": self.complaint_id,
            "at": self.as_of,
            "cat": self.category,
            "ch": self.channel,
            "pr": self.priority,
            "c": self.created_at,
            "ch1": self.created_here,
            "h": self.holder,
            "o": self.open,
            "t": {timer: view.to_json() for timer, view in self.timers.items()},
            "rs": self.response_seconds,
            "ra": self.resolved_at,
            "rv": self.resolution_seconds,
            "rw": self.resolution_working_seconds,
            "tr": [list(t) for t in self.transfers_away],
            "ro": self.reopens,
            "rk": self.rework_seconds,
            "rt": self.rating,
            "del": self.deleted,
            "rsw": self.response_working_seconds,
            "ps": self.paused_seconds,
            **(
                {
                    "rte": [list(stint) for stint in self.route],
                    "pbr": [list(item) for item in self.paused_by_reason],
                    "exr": [list(item) for item in self.excluded_by_reason],
                    "fra": self.first_resolved_at,
                }
                if self.route
                else {}
            ),
            # Only when there is one: views without escalations keep their encoding (and hash).
            **({"esc": [list(item) for item in self.escalations]} if self.escalations else {}),
        }
        if self.officers is not None:
            encoded["of"] = [officer.to_json() for officer in self.officers]
        return encoded

    def with_officers(self, officers: tuple[OfficerView, ...] | None) -> UnitView:
        """This view with its officer split: `dataclasses.replace(self, officers=...)`
        without its generic field walk (once per view made). Every field is passed on, in
        field order (tests/core/test_unit_view_with_officers.py checks that against
        `dataclasses.fields`)."""
        return UnitView(
            self.unit,
            self.complaint_id,
            self.as_of,
            self.category,
            self.channel,
            self.priority,
            self.created_at,
            self.created_here,
            self.holder,
            self.open,
            self.timers,
            self.response_seconds,
            self.resolved_at,
            self.resolution_seconds,
            self.resolution_working_seconds,
            self.transfers_away,
            self.reopens,
            self.rework_seconds,
            self.rating,
            self.deleted,
            self.response_working_seconds,
            self.paused_seconds,
            self.route,
            self.paused_by_reason,
            self.excluded_by_reason,
            self.first_resolved_at,
            self.escalations,
            officers,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnitView:
        return cls(
            unit=data["u"],
            complaint_id=data["id"],
            as_of=data["at"],
            category=data["cat"],
            channel=data["ch"],
            priority=data["pr"],
            created_at=data["c"],
            created_here=data["ch1"],
            holder=data["h"],
            open=data["o"],
            timers={timer: TimerView.from_json(view) for timer, view in data["t"].items()},
            response_seconds=data["rs"],
            resolved_at=data["ra"],
            resolution_seconds=data["rv"],
            resolution_working_seconds=data["rw"],
            transfers_away=tuple([(float(at), str(reason)) for at, reason in data["tr"]]),
            reopens=data["ro"],
            rework_seconds=data["rk"],
            rating=data["rt"],
            deleted=data["del"],
            # Absent from views written before these fields existed.
            response_working_seconds=data.get("rsw"),
            paused_seconds=data.get("ps", 0.0),
            # List comprehensions, not generators: a view is decoded per view received.
            route=tuple(
                [
                    (str(u), float(r), None if left is None else float(left), why, float(active))
                    for u, r, left, why, active in data.get("rte", ())
                ]
            ),
            paused_by_reason=tuple([(str(k), float(v)) for k, v in data.get("pbr", ())]),
            excluded_by_reason=tuple([(str(k), float(v)) for k, v in data.get("exr", ())]),
            first_resolved_at=data.get("fra"),
            escalations=tuple([(float(at), str(level)) for at, level in data.get("esc", ())]),
            officers=(
                None
                if data.get("of") is None
                else tuple([OfficerView.from_json(item) for item in data["of"]])
            ),
        )


def deleted_view(unit: str, complaint_id: str, as_of: float) -> UnitView:
    """Replaces a unit's view when a late event removes the unit from the history."""
    return UnitView(
        unit=unit,
        complaint_id=complaint_id,
        as_of=as_of,
        category=OTHER_CATEGORY,
        channel=None,
        priority="normal",
        created_at=as_of,
        created_here=False,
        holder=False,
        open=False,
        timers={},
        response_seconds=None,
        resolved_at=None,
        resolution_seconds=None,
        resolution_working_seconds=None,
        transfers_away=(),
        reopens=0,
        rework_seconds=0.0,
        rating=None,
        deleted=True,
    )


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def category_label(category: str | None, registry: Registry) -> str:
    """Event categories are free text; only the registry's categories become label values."""
    return category if category is not None and category in registry.categories else OTHER_CATEGORY


def _threshold_at(
    charge: TimerCharge, fraction: float, calendar: WorkingCalendar, as_of: float
) -> float:
    """The instant `fraction` of the allowed time is used up, projected from `as_of` (the
    view's instant, epoch seconds) with the clock running (TimerView.half_at)."""
    used = charge.allowed_seconds * fraction
    if charge.elapsed_seconds >= used:
        return 0.0
    if not charge.running:
        return NEVER
    remaining = used - charge.elapsed_seconds
    if charge.clock == "wall":
        return as_of + remaining
    return calendar.add_working_seconds_epoch(as_of, remaining)


def _timer_view(charge: TimerCharge, calendar: WorkingCalendar, as_of: float) -> TimerView:
    """A charge as its view; `as_of` is the outcome's as_of in epoch seconds, converted once
    per outcome by the caller (`datetime.timestamp` gives the same float every time)."""
    decided_at = charge.decided_at
    stopped_at = charge.stopped_at
    return TimerView(
        charge.received_at.timestamp(),
        charge.deadline.timestamp(),
        charge.clock,
        charge.allowed_seconds,
        charge.elapsed_seconds,
        charge.outcome,
        None if decided_at is None else decided_at.timestamp(),
        None if stopped_at is None else stopped_at.timestamp(),
        charge.transferred_away,
        charge.running,
        _threshold_at(charge, 0.5, calendar, as_of),
        _threshold_at(charge, 0.75, calendar, as_of),
        charge.extension_days,
        charge.cause,
        charge.objection,
    )


def unit_views(outcome: ComplaintOutcome, registry: Registry) -> dict[str, UnitView]:
    """Split a complaint's outcome into one view per unit that held it."""
    if not outcome.known or outcome.created_at is None:
        return {}
    category = category_label(outcome.category, registry)
    by_unit: dict[str, dict[Timer, TimerCharge]] = {unit: {} for unit in outcome.units}
    for charge in outcome.charges:
        by_unit[charge.unit][charge.timer] = charge
    transfers: dict[str, list[tuple[float, str]]] = {unit: [] for unit in outcome.units}
    for transfer in outcome.transfers:
        transfers[transfer.from_unit].append((transfer.at.timestamp(), transfer.reason))
    rework = {item.unit: item for item in outcome.rework}
    first_unit = outcome.units[0]
    route = tuple(
        (
            stint.unit,
            stint.received_at.timestamp(),
            _epoch(stint.left_at),
            stint.reason,
            stint.active_seconds,
        )
        for stint in outcome.route
    )
    paused_by_unit = dict(outcome.paused_by_unit)
    excluded_by_unit = dict(outcome.excluded_by_unit)
    # The outcome's instants in epoch seconds, once for all its units' views.
    as_of = outcome.as_of.timestamp()
    created_at = outcome.created_at.timestamp()
    first_resolved_at = _epoch(outcome.first_resolved_at)

    def stopped_by(timer: Timer, unit: str, at: datetime | None) -> bool:
        charge = by_unit[unit].get(timer)
        return (
            at is not None
            and charge is not None
            and charge.stopped_at == at
            and not charge.transferred_away
        )

    views = {}
    for unit in outcome.units:
        calendar = registry.calendar_for(unit)
        responded = stopped_by("response", unit, outcome.first_response_at)
        resolved = stopped_by("resolution", unit, outcome.first_resolved_at)
        unit_rework = rework.get(unit)
        views[unit] = UnitView(
            unit=unit,
            complaint_id=outcome.complaint_id,
            as_of=as_of,
            category=category,
            channel=outcome.channel,
            priority=outcome.priority,
            created_at=created_at,
            created_here=unit == first_unit,
            holder=unit == outcome.holder,
            open=unit == outcome.holder and outcome.is_open,
            timers={
                timer: _timer_view(charge, calendar, as_of)
                for timer, charge in sorted(by_unit[unit].items())
            },
            response_seconds=outcome.response_seconds if responded else None,
            resolved_at=first_resolved_at if resolved else None,
            resolution_seconds=outcome.resolution_seconds if resolved else None,
            resolution_working_seconds=(outcome.resolution_working_seconds if resolved else None),
            transfers_away=tuple(transfers[unit]),
            reopens=unit_rework.reopens if unit_rework else 0,
            rework_seconds=unit_rework.rework_seconds if unit_rework else 0.0,
            rating=outcome.rating if outcome.rated_unit == unit else None,
            response_working_seconds=outcome.response_working_seconds if responded else None,
            paused_seconds=outcome.paused_wall_seconds,
            route=route,
            paused_by_reason=paused_by_unit.get(unit, ()),
            excluded_by_reason=excluded_by_unit.get(unit, ()),
            first_resolved_at=first_resolved_at,
            escalations=tuple(
                (at.timestamp(), level)
                for held_by, at, level in outcome.escalations
                if held_by == unit
            ),
        )
    return views


def nominal_target_seconds(spec: TargetSpec, calendar: WorkingCalendar) -> float:
    """A target in its clock's seconds: N working days are N of the calendar's longest days.

    Used for histogram bucket bounds, so that each configured target is a bound exactly.
    """
    if spec.hours is not None:
        return spec.hours * 3600.0
    assert spec.days is not None
    if calendar.is_always_open:
        return spec.days * 86400.0
    longest_day = max(
        sum(_interval_end_seconds(end) - _seconds_of_day(start) for start, end in day)
        for day in calendar.weekly_hours.values()
    )
    return float(spec.days * longest_day)


def _seconds_of_day(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _interval_end_seconds(end: time) -> int:
    # time(0) as an interval end means 24:00 (core.calendar.END_OF_DAY).
    return 86400 if end == time(0) else _seconds_of_day(end)


def target_bucket_bounds(registry: Registry) -> tuple[float, ...]:
    """Every configured target, in seconds of its clock, on every unit's calendar."""
    bounds = set()
    calendars = [registry.calendar_for(code) for code in registry.units] or [
        registry.calendar_for(UNKNOWN_UNIT)
    ]
    for spec in registry.all_target_specs():
        for calendar in calendars:
            bounds.add(nominal_target_seconds(spec, calendar))
    return tuple(sorted(bounds))


__all__ = [
    "NEVER",
    "OTHER_CATEGORY",
    "TIMERS",
    "TimerView",
    "UnitView",
    "category_label",
    "deleted_view",
    "nominal_target_seconds",
    "target_bucket_bounds",
    "unit_views",
]
