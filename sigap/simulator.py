"""Realistic complaint traffic for Surabaya's work units (demo and tests).

A seeded model on a simulated clock. Complaints arrive per unit as a Poisson process whose
rate follows the day in Asia/Jakarta: busy office mornings, quiet small hours, lighter
weekends and public holidays. On arrival each complaint gets its whole lifecycle, drawn
from its own random stream:

- `created` for the unit the citizen (or the command center) picked;
- `responded`: the first public answer, within hours for most complaints, given by the
  unit's duty admins (07:00-22:00 every day; round the clock for damkar/bpbd); some
  complaints get none before their resolution;
- `assigned` (reason `not_our_authority`): a share is passed on, during the first unit's
  working time, to the unit actually in charge, which then answers and resolves;
- `paused` / `resumed`: the unit waits hours to days for the citizen (missing details), with a
  `reason` from the registry's causes vocabulary (docs/causes.md);
- `resolved` after some working hours of the holder, so office units resolve inside their
  office hours (Mon-Fri 08:00-16:00, national holidays off) and damkar/bpbd at any hour;
  the log-normal tail, a backlog share and a few never-resolved complaints miss their
  targets; complaints in a `complex` / `very_complex` category take longer;
- `reopened` by the citizen, then `resolved` again; `rated` 1-5 (good ratings are the
  rule, worse when slow or reopened); `closed` some days after the last resolution.

Then causes, fairness controls and escalations (docs/causes.md, docs/operations.md), timed
against the deadlines and misses the core computes for that lifecycle with the simulator's
registry (its targets, calendars, extension limits, causes vocabulary and escalation ladder):

- `escalated`: a complaint not answered (`responded`, or a `resolved` that answers it) within
  an escalation level's `after_hours` goes to that level a few minutes later (WargaKu: to
  `walikota` after 1x24 hours; about one complaint in ten);
- `extension_granted`: SHARE_EXTENDED of the holders whose timer takes long (at least
  LONG_WORK_FRACTION of the allowed time) get one extension, mostly on the resolution timer,
  of 1 to the registry's maximum working days, in their working time while the clock runs
  and well before the deadline;
- `miss_explained`: SHARE_EXPLAINED of the misses get a cause from the vocabulary, in the
  unit's working hours after the deadline (a paused complaint's resolution miss often by its
  pause reason);
- `objection_filed` then `objection_decided` (upheld or rejected): SHARE_OBJECTED of the
  explained misses, after the explanation.

Categories come from the registry's taxonomy (`categories:` in deploy/registry.yaml): a unit
draws from the categories listing it (`units:`), rarely from those listing no unit (education,
permits, staff conduct, ...), ordinary categories more often than complex ones; a
SHARE_UNLISTED_CATEGORY of complaints carry the app's catch-all "lainnya", which the registry
does not name (counted as `other`). The category's tier gives the work it takes.

Events carry no personal data, only the contract's fields. `advance(to)` returns every
event with occurred_at in [now, to), in event-time order; later ones wait in a heap. It
never reads the clock itself: the caller decides how simulated time maps to real time.

Determinism: arrivals are handled in global time order whatever the `advance` steps, and
each unit's arrivals and each complaint's lifecycle have their own seeded random stream,
so one seed and start give the same events however `advance` is called. Officer codes, pause
reasons and each kind of the events above have streams of their own, and those events are
numbered after the lifecycle's: the lifecycle events of a seed (ids, times, fields) are the
same with or without them.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final

from schemas.events import ComplaintEvent
from sigap.core.calendar import WorkingCalendar, indonesian_holidays
from sigap.core.charging import Timer
from sigap.core.periods import JAKARTA
from sigap.core.registry import Registry
from sigap.core.timeline import ComplaintOutcome, evaluate_complaint
from sigap.settings import DEFAULT_REGISTRY

MINUTE: Final = 60.0
HOUR: Final = 3600.0
OFFICERS_PER_UNIT: Final = 5  # pseudonymous codes <unit>-o1 .. -o5


@dataclass(frozen=True)
class UnitProfile:
    """One work unit's traffic. The first four fields keep their historical order; the
    categories come from the registry (category_plans)."""

    code: str
    # Weekday average; the hour of day shapes it, weekends and holidays lower it.
    complaints_per_hour: float
    # Median work to resolve a normal-priority complaint: working hours on the unit's
    # calendar (office hours), wall hours when always_open.
    median_resolution_hours: float
    share_resolved: float  # the rest are never resolved: open past every target
    always_open: bool = False  # damkar/bpbd: answer, work and resolve round the clock
    median_response_hours: float = 2.5  # duty hours (wall hours when always_open)
    share_responded: float = 0.93  # the rest get no public response before resolution
    share_transferred: float = 0.08
    transfer_to: tuple[str, ...] = ()  # where its misrouted complaints belong
    share_paused: float = 0.1
    share_reopened: float = 0.05
    share_backlog: float = 0.04  # resolved only after sitting in a backlog (~6x the work)
    quiet_day_factor: float = 0.55  # arrivals on weekends and public holidays
    daily_swing: float = 1.0  # 0: flat over the day, 1: the full city-wide profile


# Packed by hand (fmt: off) so the units' parameters can be compared at a glance.
# fmt: off
SURABAYA_UNITS: tuple[UnitProfile, ...] = (
    UnitProfile(
        "dlh", 2.5, 10.0, 0.985,
        median_response_hours=2.0, share_transferred=0.07,
        transfer_to=("dsda", "satpol-pp", "dinkes"), share_paused=0.08, share_reopened=0.06,
    ),
    UnitProfile(
        "dsda", 2.0, 20.0, 0.96,
        median_response_hours=3.5, share_responded=0.9, share_transferred=0.09,
        transfer_to=("dlh", "dishub"), share_paused=0.12, share_reopened=0.07,
        share_backlog=0.08,
    ),
    UnitProfile(
        "dishub", 1.4, 12.0, 0.98,
        median_response_hours=3.0, share_responded=0.92, share_transferred=0.09,
        transfer_to=("dsda", "satpol-pp"), share_backlog=0.05,
    ),
    UnitProfile(
        "satpol-pp", 1.2, 8.0, 0.985,
        median_response_hours=1.5, share_transferred=0.10, transfer_to=("dishub", "dlh"),
        share_paused=0.06, share_reopened=0.08,
    ),
    UnitProfile(
        "dispendukcapil", 1.0, 9.0, 0.99,
        median_response_hours=2.5, share_responded=0.95, share_transferred=0.05,
        transfer_to=("dinkes",), share_paused=0.2, share_reopened=0.03, share_backlog=0.03,
    ),
    UnitProfile(
        "dinkes", 0.6, 12.0, 0.985,
        median_response_hours=3.0, transfer_to=("dlh", "dispendukcapil"), share_paused=0.12,
        share_reopened=0.04, share_backlog=0.05,
    ),
    UnitProfile(
        "damkar", 0.35, 2.0, 0.995,
        always_open=True, median_response_hours=0.15, share_responded=0.9,
        share_transferred=0.04, transfer_to=("bpbd", "dlh"), share_paused=0.01,
        share_reopened=0.01, share_backlog=0.0,
        quiet_day_factor=0.9, daily_swing=0.5,
    ),
    UnitProfile(
        "bpbd", 0.2, 6.0, 0.98,
        always_open=True, median_response_hours=0.2, share_transferred=0.06,
        transfer_to=("damkar", "dsda"), share_paused=0.03, share_reopened=0.03,
        share_backlog=0.03,
        quiet_day_factor=0.9, daily_swing=0.4,
    ),
)
# fmt: on

# City-wide arrivals per hour of day (Asia/Jakarta), relative: busy office mornings, a
# lunch dip, an evening bump after work, quiet small hours. Normalised to a mean of 1.
_HOURLY_RAW: Final = (
    0.25, 0.15, 0.10, 0.10, 0.15, 0.35, 0.70, 1.10, 1.50, 1.75, 1.80, 1.65,
    1.30, 1.45, 1.55, 1.45, 1.25, 1.05, 0.95, 1.05, 1.05, 0.85, 0.60, 0.40,
)  # fmt: skip
HOURLY_PROFILE: Final = tuple(weight * 24 / sum(_HOURLY_RAW) for weight in _HOURLY_RAW)

CHANNELS: Final = ("wargaku", "media-sosial", "command-center-112", "surat")
_CHANNEL_WEIGHTS: Final = {False: (55, 20, 15, 10), True: (20, 10, 70, 0)}
PRIORITIES: Final = ("low", "normal", "high", "urgent")
_PRIORITY_WEIGHTS: Final = {False: (15, 60, 20, 5), True: (0, 30, 35, 35)}
# Urgent work gets done first: multiplier of the work (and rework) time.
_PRIORITY_SPEED: Final = {"low": 1.3, "normal": 1.0, "high": 0.7, "urgent": 0.45}

# Work multipliers of the categories' tiers, near the ratio of their targets (14 and 60
# working days against 5), so they miss about as often as ordinary ones (office units only:
# the emergency units have their own targets whatever the category).
_COMPLEXITY_WORK: Final = {"ordinary": 1.0, "complex": 2.6, "very_complex": 10.0}
# The registry's resolution targets in working hours (8 per office day), for ratings only.
_TARGET_HOURS: Final = {"ordinary": 40.0, "complex": 112.0, "very_complex": 480.0}
# How often a unit's complaints fall in each of its categories, by tier: road or drainage
# works are reported less often than rubbish, a new bridge rarely.
_TIER_WEIGHT: Final = {"ordinary": 1.0, "complex": 0.6, "very_complex": 0.05}
SHARE_SHARED_CATEGORY: Final = 0.03  # a category no unit lists (education, permits, ...)
SHARE_UNLISTED_CATEGORY: Final = 0.02  # the app's catch-all, not in the registry: "other"
UNLISTED_CATEGORY: Final = "lainnya"
_EMERGENCY_TARGET_HOURS: Final = 24.0

RESPONSE_SIGMA: Final = 1.0
RESOLUTION_SIGMA: Final = 0.9
BACKLOG_FACTOR: Final = 6.0
TRANSFER_MEDIAN_HOURS: Final = {False: 3.0, True: 0.3}  # first unit's working hours
CITIZEN_REPLY_MEDIAN_HOURS: Final = 20.0  # duty hours while paused (hours to days)
REOPEN_MEDIAN_HOURS: Final = 15.0  # duty hours after the resolution
REWORK_MEDIAN_HOURS: Final = 4.0  # working hours to resolve a reopened complaint
SHARE_RATED: Final = 0.6
RATING_MEDIAN_HOURS: Final = 5.0  # duty hours after the last resolution
SHARE_CLOSED: Final = 0.88
CLOSE_MEDIAN_HOURS: Final = 72.0  # wall: the app closes complaints after ~3 days
# Rating weights for 1..5 stars by resolution working time over the target.
_RATING_WEIGHTS: Final = (
    (0.5, (2, 3, 8, 30, 57)),
    (1.0, (4, 6, 15, 35, 40)),
    (math.inf, (18, 22, 28, 20, 12)),
)
TRANSFER_REASON: Final = "not_our_authority"
# Why units pause (registry causes vocabulary): Surabaya's own reports put citizens who
# cannot be reached and joint site surveys first. Drawn from a stream of its own, so the
# rest of each lifecycle is the same as without reasons.
PAUSE_REASONS: Final = (
    ("citizen_unreachable", 0.45),
    ("joint_site_survey", 0.25),
    ("awaiting_other_agency", 0.15),
    ("procurement", 0.1),
    ("other", 0.05),
)

# Causes, fairness controls and escalations (docs/causes.md, docs/operations.md), each drawn
# from a random stream of its own (so the lifecycle events above stay those of the same seed
# without them) and timed with the registry's targets and calendars, as the worker does.
# A unit foresees a long job: of the holders whose timer takes at least LONG_WORK_FRACTION of
# its allowed time (misses included), SHARE_EXTENDED get an extension, granted in their
# working time well before the deadline; SHARE_RESPONSE_EXTENSION of them on the response timer
# when it still runs, the rest on the resolution timer.
LONG_WORK_FRACTION: Final = 0.8
SHARE_EXTENDED: Final = 0.05
SHARE_RESPONSE_EXTENSION: Final = 0.1
MIN_EXTENSION_WINDOW_HOURS: Final = 2.0  # working hours between receipt and the last moment
SHARE_EXPLAINED: Final = 0.6  # misses the unit explains (`miss_explained`), after the deadline
EXPLAIN_MEDIAN_HOURS: Final = 6.0  # the unit's working hours after the deadline
SHARE_PAUSE_CAUSE: Final = 0.5  # a paused complaint's resolution miss: the pause's reason
SHARE_OBJECTED: Final = 0.15  # explained misses the unit objects to
OBJECTION_MEDIAN_HOURS: Final = 4.0  # working hours after the explanation
DECISION_MEDIAN_HOURS: Final = 16.0  # working hours after the objection (about 2 days)
SHARE_UPHELD: Final = 0.35
# The complaint app checks for unanswered complaints every few minutes.
ESCALATION_DELAY_MINUTES: Final = (1.0, 15.0)
# Preferred codes of the registry's causes vocabulary, by weight; a vocabulary code not listed
# gets OTHER_CODE_WEIGHT, a listed code the registry lacks is left out.
EXTENSION_REASONS: Final = (
    ("joint_site_survey", 0.35),
    ("procurement", 0.25),
    ("awaiting_other_agency", 0.25),
    ("citizen_unreachable", 0.05),
    ("other", 0.1),
)
MISS_CAUSES: Final = {
    "response": (
        ("awaiting_other_agency", 0.35),
        ("other", 0.25),
        ("joint_site_survey", 0.2),
        ("citizen_unreachable", 0.1),
        ("procurement", 0.05),
        ("force_majeure", 0.05),
    ),
    "resolution": (
        ("joint_site_survey", 0.3),
        ("awaiting_other_agency", 0.25),
        ("procurement", 0.2),
        ("citizen_unreachable", 0.15),
        ("other", 0.07),
        ("force_majeure", 0.03),
    ),
}
OTHER_CODE_WEIGHT: Final = 0.02
# Objections to misses whose cause was outside the unit's hands are upheld more often.
_OUTSIDE_CAUSES: Final = frozenset({"force_majeure", "awaiting_other_agency"})
_EVALUATION_HORIZON: Final = timedelta(days=3 * 366)  # past every deadline of the lifecycle


@dataclass(frozen=True)
class CategoryPlan:
    """A unit's categories to draw from, with their weights and tiers."""

    own: tuple[str, ...]
    own_weights: tuple[float, ...]
    shared: tuple[str, ...]
    tiers: dict[str, str]


def category_plans(registry: Registry, units: Sequence[UnitProfile]) -> dict[str, CategoryPlan]:
    """Each unit's CategoryPlan from the registry's taxonomy (see the module docstring); a
    unit no category lists draws only from the shared ones."""
    taxonomy = registry.category_specs
    shared = tuple(c.code for c in taxonomy.values() if not c.units)
    tiers = {c.code: c.tier for c in taxonomy.values()}
    plans = {}
    for unit in units:
        own = tuple(c.code for c in taxonomy.values() if unit.code in c.units)
        plans[unit.code] = CategoryPlan(
            own=own,
            own_weights=tuple(_TIER_WEIGHT[tiers[code]] for code in own),
            shared=shared,
            tiers=tiers,
        )
    return plans


def _default_registry() -> Registry:

    from sigap.core.registry_file import load_registry

    return load_registry(DEFAULT_REGISTRY)


def rfc3339(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).astimezone(JAKARTA).isoformat()


@lru_cache(maxsize=8)
def _holidays(first_year: int, last_year: int) -> frozenset[date]:
    return frozenset(indonesian_holidays(range(first_year, last_year + 1)))


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(median), sigma)


def _contract_event(occurred: float, event: dict[str, Any]) -> ComplaintEvent:
    """A simulated event as the core sees it (already valid: no parsing needed)."""
    return ComplaintEvent.model_validate(
        {**event, "occurred_at": datetime.fromtimestamp(occurred, JAKARTA)}
    )


class TrafficModel:
    def __init__(
        self,
        start: float,
        seed: int = 7,
        units: Sequence[UnitProfile] = SURABAYA_UNITS,
        rate_scale: float = 1.0,
        registry: Registry | None = None,
    ) -> None:
        """`registry` gives the categories (default: the shipped deploy/registry.yaml)."""
        self.seed = seed
        self.now = start
        self.units = tuple(units)
        self.rate_scale = rate_scale
        self.sequence = 0
        self.pending: list[tuple[float, int, int, dict[str, Any]]] = []
        self._by_code = {unit.code: unit for unit in self.units}
        self.registry = registry if registry is not None else _default_registry()
        self._plans = category_plans(self.registry, self.units)
        # Events of the fairness controls the simulator's own check had to leave out (none
        # expected: the tests assert it stays 0).
        self.withdrawn = 0
        # Holidays around the start: enough for any demo; later years just have none.
        year = datetime.fromtimestamp(start, JAKARTA).year
        self._holidays = _holidays(year - 1, year + 5)
        self._office = WorkingCalendar.office_hours("office", self._holidays)
        self._always_open = WorkingCalendar.always_open("always_open")
        # Duty admins answer the public and citizens reply in waking hours, every day.
        self._duty = WorkingCalendar(
            name="duty",
            weekly_hours={day: ((time(7), time(22)),) for day in range(7)},
            holidays=frozenset(),
        )
        # Separate streams: a unit's arrivals do not depend on the other units' draws.
        self._arrival_rngs = [random.Random(f"{seed}/arrivals/{unit.code}") for unit in self.units]
        self._arrivals: list[tuple[float, int]] = []
        for index in range(len(self.units)):
            heapq.heappush(self._arrivals, (self._next_arrival(index, start), index))

    # -- arrivals --------------------------------------------------------------------------

    def _quiet_day(self, local: datetime) -> bool:
        return local.weekday() >= 5 or local.date() in self._holidays

    def _rate_factor(self, unit: UnitProfile, at: float) -> float:
        local = datetime.fromtimestamp(at, JAKARTA)
        hourly = 1.0 + unit.daily_swing * (HOURLY_PROFILE[local.hour] - 1.0)
        return hourly * (unit.quiet_day_factor if self._quiet_day(local) else 1.0)

    def _next_arrival(self, index: int, after: float) -> float:
        """Next arrival of a non-homogeneous Poisson process, by thinning (Lewis-Shedler)."""
        unit = self.units[index]
        peak_factor = (1.0 + unit.daily_swing * (max(HOURLY_PROFILE) - 1.0)) * max(
            1.0, unit.quiet_day_factor
        )
        peak = unit.complaints_per_hour * self.rate_scale * peak_factor / HOUR
        if peak <= 0:
            return math.inf
        rng = self._arrival_rngs[index]
        at = after
        while True:
            at += rng.expovariate(peak)
            if rng.random() * peak_factor < self._rate_factor(unit, at):
                # Whole seconds, like the complaint app's timestamps.
                return float(math.ceil(at))

    def advance(self, to: float) -> list[dict[str, Any]]:
        """Events with occurred_at in [now, to), oldest first."""
        # Global time order, so complaint numbers do not depend on how time is stepped.
        while self._arrivals and self._arrivals[0][0] < to:
            at, index = heapq.heappop(self._arrivals)
            self._arrive(self.units[index], at)
            heapq.heappush(self._arrivals, (self._next_arrival(index, at), index))
        due = []
        while self.pending and self.pending[0][0] < to:
            due.append(heapq.heappop(self.pending)[3])
        self.now = to
        return due

    def _arrive(self, unit: UnitProfile, at: float) -> None:
        self.sequence += 1
        number = self.sequence
        complaint_id = f"SBY-{self.seed}-{number:07d}"
        previous = -math.inf
        steps = self._with_officers(number, self._lifecycle(number, unit, at))
        timed: list[tuple[float, dict[str, Any]]] = []
        for step, (moment, fields) in enumerate(steps):
            # Strictly increasing whole seconds: no same-instant ties inside a complaint.
            occurred = max(float(math.ceil(moment.timestamp())), previous + MINUTE)
            previous = occurred
            event = {
                "event_id": f"sim-{self.seed}-{number}-{step}",
                "complaint_id": complaint_id,
                "occurred_at": rfc3339(occurred),
                **fields,
            }
            timed.append((occurred, event))
        # Added after the lifecycle, numbered after it: its events keep their ids and times.
        timed += self._fairness_events(number, complaint_id, timed)
        for step, (occurred, event) in enumerate(timed):
            heapq.heappush(self.pending, (occurred, number, step, event))

    # -- officers (pseudonymous codes) ------------------------------------------------------

    def _with_officers(
        self, number: int, steps: list[tuple[datetime, dict[str, Any]]]
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """Officer codes on the lifecycle (own random stream: the unit figures stay those of
        the same seed without officers): each unit has OFFICERS_PER_UNIT officers
        (`<unit>-o<k>`), one complaint in ten is received without a code (`unassigned`),
        and about half are handed over to a colleague, halfway between two steps."""
        rng = random.Random(f"{self.seed}/officers/{number}")
        result: list[tuple[datetime, dict[str, Any]]] = []
        unit = ""
        officer: str | None = None
        handed = False
        for index, (moment, fields) in enumerate(steps):
            fields = dict(fields)
            kind = fields["type"]
            if kind in ("created", "assigned"):
                unit = str(fields["unit"])
                officer = None if rng.random() < 0.1 else self._officer(unit, rng)
            if kind in ("created", "assigned", "responded", "resolved") and officer is not None:
                fields["officer"] = officer
            result.append((moment, fields))
            later = steps[index + 1][0] if index + 1 < len(steps) else None
            if (
                not handed
                and kind in ("created", "assigned", "responded", "resumed")
                and later is not None
                and later - moment >= 4 * timedelta(minutes=1)
                and rng.random() < 0.3
            ):
                handed = True
                officer = self._officer(unit, rng, other_than=officer)
                middle = moment + (later - moment) / 2
                result.append((middle, {"type": "handed_over", "officer": officer}))
        return result

    @staticmethod
    def _officer(unit: str, rng: random.Random, other_than: str | None = None) -> str:
        codes = [f"{unit}-o{k}" for k in range(1, OFFICERS_PER_UNIT + 1)]
        return rng.choice([code for code in codes if code != other_than] or codes)

    # -- causes, fairness controls and escalations ------------------------------------------

    def _fairness_events(
        self, number: int, complaint_id: str, timed: list[tuple[float, dict[str, Any]]]
    ) -> list[tuple[float, dict[str, Any]]]:
        """`escalated`, `extension_granted`, `miss_explained`, `objection_filed` and
        `objection_decided` for the complaint's lifecycle `timed` (see the module docstring),
        each kind from its own random stream. Deadlines and misses are the core's
        (core.timeline with the simulator's registry): an extension is granted before the
        holder's deadline, an explanation or objection comes after the miss. Every added
        event is checked against the whole complaint as the worker checks it; one the
        core would not apply is left out (counted in `withdrawn`)."""
        taken = {occurred for occurred, _ in timed}
        added: list[tuple[float, dict[str, Any]]] = []

        def add(moment: datetime, fields: dict[str, Any]) -> None:
            occurred = float(math.ceil(moment.timestamp()))
            while occurred in taken:  # no same-instant ties inside a complaint
                occurred += 1.0
            taken.add(occurred)
            step = len(timed) + len(added)
            event = {
                "event_id": f"sim-{self.seed}-{number}-{step}",
                "complaint_id": complaint_id,
                "occurred_at": rfc3339(occurred),
                **fields,
            }
            added.append((occurred, event))

        lifecycle = [_contract_event(occurred, event) for occurred, event in timed]
        created_at = lifecycle[0].occurred_at
        horizon = created_at + _EVALUATION_HORIZON
        for moment, fields in self._escalations(number, lifecycle):
            add(moment, fields)
        outcome = evaluate_complaint(lifecycle, self.registry, as_of=horizon)
        extension = self._extension(number, lifecycle, outcome)
        if extension is not None:
            add(*extension)
            # The extension may turn a miss into a met target.
            outcome = evaluate_complaint(
                [*lifecycle, _contract_event(*added[-1])], self.registry, as_of=horizon
            )
        for moment, fields in self._explanations(number, lifecycle, outcome):
            add(moment, fields)
        return self._checked(lifecycle, added, horizon)

    def _checked(
        self,
        lifecycle: list[ComplaintEvent],
        added: list[tuple[float, dict[str, Any]]],
        horizon: datetime,
    ) -> list[tuple[float, dict[str, Any]]]:
        """`added` without the events the core rejects (none expected; a safety net so the
        demo never sends a dead letter), nor those that depend on them."""
        while added:
            events = lifecycle + [_contract_event(*item) for item in added]
            rejected = dict(evaluate_complaint(events, self.registry, as_of=horizon).rejected)
            if not rejected:
                break
            self.withdrawn += len(rejected)
            added = [item for item in added if item[1]["event_id"] not in rejected]
        return added

    def _escalations(
        self, number: int, lifecycle: list[ComplaintEvent]
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """The complaint app escalates a complaint not answered (no `responded`, nor a
        `resolved` that answers it) within a level's `after_hours` of its receipt to that
        level of the registry's ladder (WargaKu: to the mayor after 1x24 hours), a few minutes
        after that instant, when it checks."""
        rng = random.Random(f"{self.seed}/escalation/{number}")
        created_at = lifecycle[0].occurred_at
        answered = next(
            (e.occurred_at for e in lifecycle if e.type in ("responded", "resolved")), None
        )
        result: list[tuple[datetime, dict[str, Any]]] = []
        levels = [level for level in self.registry.escalation.levels if level.after_hours]
        for level in sorted(levels, key=lambda level: level.after_hours or 0.0):
            assert level.after_hours is not None
            checked = created_at + timedelta(
                hours=level.after_hours, minutes=rng.uniform(*ESCALATION_DELAY_MINUTES)
            )
            # Not answered when the app checks (a minute's margin for the rounding to seconds).
            if answered is None or answered > checked + timedelta(minutes=1):
                result.append((checked, {"type": "escalated", "level": level.code}))
        return result

    def _extension(
        self, number: int, lifecycle: list[ComplaintEvent], outcome: ComplaintOutcome
    ) -> tuple[datetime, dict[str, Any]] | None:
        """At most one `extension_granted` (the registry's default limit is one per complaint
        and unit): for a holder whose timer takes long, granted in its working time between
        its receipt and the earliest of its deadline, the timer's stop and a pause."""
        rng = random.Random(f"{self.seed}/extension/{number}")
        candidates = {
            charge.timer: charge
            for charge in outcome.charges
            if charge.unit in self.registry.units
            and not charge.transferred_away
            and charge.stints == 1
            and charge.fraction_of_allowed >= LONG_WORK_FRACTION
        }
        if not candidates or rng.random() >= SHARE_EXTENDED:
            return None
        timer: Timer = "response" if rng.random() < SHARE_RESPONSE_EXTENSION else "resolution"
        charge = candidates.get(timer)
        if charge is None:
            return None
        limit = self.registry.causes.extension_limit(
            charge.unit, lifecycle[0].occurred_at.astimezone(JAKARTA).date()
        )
        if limit.max_extensions < 1:
            return None
        last = charge.deadline
        if charge.stopped_at is not None:
            last = min(last, charge.stopped_at)
        pauses = [
            e.occurred_at
            for e in lifecycle
            if e.type == "paused" and e.occurred_at > charge.received_at
        ]
        if pauses:
            last = min(last, pauses[0])
        calendar = self.registry.calendar_for(charge.unit)
        window = calendar.working_seconds_between(charge.received_at, last)
        if window < MIN_EXTENSION_WINDOW_HOURS * HOUR:
            return None
        granted_at = calendar.add_working_seconds(
            charge.received_at, window * rng.uniform(0.2, 0.6)
        )
        fields = {
            "type": "extension_granted",
            "timer": charge.timer,
            "working_days": rng.randint(1, limit.max_working_days),
            "reason": self._vocabulary_code(rng, EXTENSION_REASONS),
        }
        return granted_at, fields

    def _explanations(
        self, number: int, lifecycle: list[ComplaintEvent], outcome: ComplaintOutcome
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """`miss_explained` for SHARE_EXPLAINED of the misses, in the unit's working hours
        after its deadline, and for SHARE_OBJECTED of those an `objection_filed` after it and
        an `objection_decided` (upheld or rejected) after that."""
        explaining = random.Random(f"{self.seed}/miss-explained/{number}")
        objecting = random.Random(f"{self.seed}/objection/{number}")
        pause_reasons = [
            e.reason
            for e in lifecycle
            if e.type == "paused" and self.registry.causes.known(e.reason)
        ]
        result: list[tuple[datetime, dict[str, Any]]] = []
        for charge in outcome.charges:
            if (
                charge.outcome != "missed"
                or charge.decided_at is None
                or charge.unit not in self.registry.units
                or explaining.random() >= SHARE_EXPLAINED
            ):
                continue
            calendar = self.registry.calendar_for(charge.unit)
            explained_at = calendar.add_working_seconds(
                charge.decided_at + timedelta(minutes=1),
                _lognormal(explaining, EXPLAIN_MEDIAN_HOURS, 0.8) * HOUR,
            )
            if (
                charge.timer == "resolution"
                and pause_reasons
                and explaining.random() < SHARE_PAUSE_CAUSE
            ):
                cause = pause_reasons[0]
            else:
                cause = self._vocabulary_code(explaining, MISS_CAUSES[charge.timer])
            which = {"unit": charge.unit, "timer": charge.timer}
            result.append((explained_at, {"type": "miss_explained", **which, "cause": cause}))
            if objecting.random() >= SHARE_OBJECTED:
                continue
            filed_at = calendar.add_working_seconds(
                explained_at, _lognormal(objecting, OBJECTION_MEDIAN_HOURS, 0.6) * HOUR
            )
            decided_at = calendar.add_working_seconds(
                filed_at + timedelta(minutes=1),
                _lognormal(objecting, DECISION_MEDIAN_HOURS, 0.6) * HOUR,
            )
            upheld = SHARE_UPHELD * (1.6 if cause in _OUTSIDE_CAUSES else 1.0)
            decision = "upheld" if objecting.random() < upheld else "rejected"
            result.append((filed_at, {"type": "objection_filed", **which}))
            result.append(
                (decided_at, {"type": "objection_decided", **which, "decision": decision})
            )
        return result

    def _vocabulary_code(self, rng: random.Random, preferred: Sequence[tuple[str, float]]) -> str:
        """A code of the registry's causes vocabulary: the preferred ones by weight, any other
        vocabulary code with OTHER_CODE_WEIGHT."""
        weights = dict(preferred)
        codes = list(self.registry.causes.vocabulary)
        return rng.choices(codes, [weights.get(code, OTHER_CODE_WEIGHT) for code in codes])[0]

    # -- one complaint's lifecycle ---------------------------------------------------------

    def _work_calendar(self, unit: UnitProfile) -> WorkingCalendar:
        return self._always_open if unit.always_open else self._office

    def _after_work(self, unit: UnitProfile, start: datetime, hours: float) -> datetime:
        return self._work_calendar(unit).add_working_seconds(start, hours * HOUR)

    def _after_duty(self, start: datetime, hours: float) -> datetime:
        return self._duty.add_working_seconds(start, hours * HOUR)

    def _response_time(self, unit: UnitProfile, received: datetime, rng: random.Random) -> datetime:
        hours = _lognormal(rng, unit.median_response_hours, RESPONSE_SIGMA)
        if unit.always_open:
            return received + timedelta(hours=hours)
        if self._quiet_day(received):
            hours *= 2.0  # fewer admins on duty at weekends and on holidays
        return self._after_duty(received, hours)

    def _category(self, unit: UnitProfile, rng: random.Random) -> tuple[str, str]:
        """The complaint's category and its tier (see the module docstring)."""
        plan = self._plans[unit.code]
        draw = rng.random()
        if draw < SHARE_UNLISTED_CATEGORY:
            return UNLISTED_CATEGORY, "ordinary"
        if plan.shared and (draw < SHARE_UNLISTED_CATEGORY + SHARE_SHARED_CATEGORY or not plan.own):
            code = rng.choice(plan.shared)
        elif plan.own:
            code = rng.choices(plan.own, plan.own_weights)[0]
        else:
            return UNLISTED_CATEGORY, "ordinary"
        return code, plan.tiers[code]

    def _lifecycle(
        self, number: int, unit: UnitProfile, at: float
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """The complaint's events in lifecycle order (also time order, before rounding)."""
        rng = random.Random(f"{self.seed}/complaint/{number}")
        created_at = datetime.fromtimestamp(at, JAKARTA)
        destinations = [self._by_code[code] for code in unit.transfer_to if code in self._by_code]
        target: UnitProfile | None = None
        if destinations and rng.random() < unit.share_transferred:
            target = rng.choice(destinations)
        holder = target or unit
        # A misrouted complaint is about the subject of the unit that ends up with it.
        category, complexity = self._category(holder, rng)
        priority = rng.choices(PRIORITIES, _PRIORITY_WEIGHTS[unit.always_open])[0]
        channel = rng.choices(CHANNELS, _CHANNEL_WEIGHTS[unit.always_open])[0]
        steps: list[tuple[datetime, dict[str, Any]]] = [
            (
                created_at,
                {
                    "type": "created",
                    "unit": unit.code,
                    "category": category,
                    "channel": channel,
                    "priority": priority,
                },
            )
        ]

        answered = rng.random() < unit.share_responded
        response_at = self._response_time(unit, created_at, rng) if answered else None
        received = created_at
        if target is not None:
            hours = _lognormal(rng, TRANSFER_MEDIAN_HOURS[unit.always_open], 0.8)
            received = self._after_work(unit, created_at, hours)
            if response_at is not None and response_at < received:
                # The first unit answered before passing the complaint on.
                steps.append((response_at, {"type": "responded"}))
                response_at = None
            elif response_at is not None:
                response_at = self._response_time(target, received, rng)
            steps.append(
                (received, {"type": "assigned", "unit": target.code, "reason": TRANSFER_REASON})
            )

        speed = _PRIORITY_SPEED[priority]
        complexity_work = 1.0 if holder.always_open else _COMPLEXITY_WORK[complexity]
        median_work = holder.median_resolution_hours * speed * complexity_work
        work = _lognormal(rng, median_work, RESOLUTION_SIGMA)
        if rng.random() < holder.share_backlog:
            work *= _lognormal(rng, BACKLOG_FACTOR, 0.4)
        resolves = rng.random() < holder.share_resolved
        calendar = self._work_calendar(holder)

        pause: tuple[datetime, datetime] | None = None
        resolved_at = self._after_work(holder, received, work)
        if rng.random() < holder.share_paused:
            paused_at = self._after_work(holder, received, work * rng.uniform(0.15, 0.7))
            # The unit asks the citizen for details after its first answer, not before.
            earliest = max(received, response_at or received) + timedelta(minutes=15)
            if paused_at < earliest:
                paused_at = self._after_work(holder, earliest, 0.25)
            spent = calendar.working_seconds_between(received, paused_at) / HOUR
            if spent < work:
                resumed_at = self._after_duty(
                    paused_at, max(1.0, _lognormal(rng, CITIZEN_REPLY_MEDIAN_HOURS, 0.9))
                )
                pause = (paused_at, resumed_at)
                resolved_at = self._after_work(holder, resumed_at, work - spent)
        if resolves and response_at is not None and response_at >= resolved_at:
            response_at = None  # resolved before anyone answered: the resolution is the answer
        if response_at is not None:
            steps.append((response_at, {"type": "responded"}))
        if pause is not None:
            reasons = random.Random(f"{self.seed}/pause-reason/{number}")
            reason = reasons.choices(
                [code for code, _ in PAUSE_REASONS], [weight for _, weight in PAUSE_REASONS]
            )[0]
            steps.append((pause[0], {"type": "paused", "reason": reason}))
            steps.append((pause[1], {"type": "resumed"}))
        if not resolves:
            return steps

        steps.append((resolved_at, {"type": "resolved"}))
        last_resolved = resolved_at
        reopened = rng.random() < holder.share_reopened
        if reopened:
            reopened_at = self._after_duty(resolved_at, _lognormal(rng, REOPEN_MEDIAN_HOURS, 0.8))
            last_resolved = self._after_work(
                holder, reopened_at, _lognormal(rng, REWORK_MEDIAN_HOURS * speed, 0.8)
            )
            steps.append((reopened_at, {"type": "reopened"}))
            steps.append((last_resolved, {"type": "resolved"}))

        rated_at: datetime | None = None
        if rng.random() < SHARE_RATED:
            worked = calendar.working_seconds_between(received, resolved_at)
            if pause is not None:
                worked -= calendar.working_seconds_between(*pause)
            target_hours = (
                _EMERGENCY_TARGET_HOURS if holder.always_open else _TARGET_HOURS[complexity]
            )
            rated_at = self._after_duty(last_resolved, _lognormal(rng, RATING_MEDIAN_HOURS, 1.0))
            rating = self._rating(rng, worked / HOUR / target_hours, reopened)
            steps.append((rated_at, {"type": "rated", "rating": rating}))
        if rng.random() < SHARE_CLOSED:
            closed_at = last_resolved + timedelta(hours=_lognormal(rng, CLOSE_MEDIAN_HOURS, 0.35))
            if rated_at is not None:
                closed_at = max(closed_at, rated_at + timedelta(minutes=10))
            steps.append((closed_at, {"type": "closed"}))
        return steps

    @staticmethod
    def _rating(rng: random.Random, slowness: float, reopened: bool) -> int:
        weights = next(weights for bound, weights in _RATING_WEIGHTS if slowness <= bound)
        rating = rng.choices((1, 2, 3, 4, 5), weights)[0]
        if reopened and rng.random() < 0.5:
            rating = max(1, rating - 1)  # it had to be done twice
        return rating
