"""The unit registry: work units (OPD), their working calendars and their IKU targets.

One YAML file (``deploy/registry.yaml`` by default; its header documents the format) says
which units exist, which working calendar each one is on, the share of complaints each must
handle within target (its objective) and the response/resolution targets themselves.

This module is the domain model: the dataclasses and the lookups, all pure. Reading and
validating the file (its YAML schema, the error prose, `load_registry` and `parse_registry`)
is core.registry_file.

Target lookup (`Registry.targets_for`)
--------------------------------------
Target entries are keyed by (unit, category, priority), each part either an exact value or
the wildcard ``"*"``, and versioned by ``effective_from``. For a complaint, only entries
whose ``effective_from`` is on or before the complaint's creation date (the Asia/Jakarta
calendar day of ``created_at``) are candidates. Among those the most specific key wins,
tried in this order (first key with a candidate wins):

    1. (unit, category, priority)     5. ("*",  category, priority)
    2. (unit, category, "*")          6. ("*",  category, "*")
    3. (unit, "*",      priority)     7. ("*",  "*",      priority)
    4. (unit, "*",      "*")          8. ("*",  "*",      "*")

That is: an exact unit beats ``"*"`` first, then an exact category beats ``"*"``, then an
exact priority beats ``"*"``. A category of the taxonomy (``categories:``) also matches the
entries of its complexity tier (``complex`` / ``very_complex``; ``ordinary`` has none), after
its own and before ``"*"``: the category part is tried as (category, tier, ``"*"``).
Within the winning key, the entry with the latest ``effective_from`` applies. Matching is
exact and case-sensitive; a complaint without a category only matches ``category: "*"``
entries.

The catch-all ("*", "*", "*") must be effective from the earliest ``effective_from`` in the
file, so every lookup on or after that date succeeds. A complaint created before that date
is judged by the registry as of that earliest date (the first version extends backwards),
so replaying old events never fails.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal

from schemas.events import OTHER
from sigap.core.calendar import (
    JAKARTA,
    WorkingCalendar,
)
from sigap.core.cause_settings import CauseSettings
from sigap.core.close_rules import CloseRules
from sigap.core.escalation import DEFAULT_ESCALATION, EscalationSettings
from sigap.core.predikat import DEFAULT_PREDIKAT, PredikatVersion
from sigap.core.ranking import DEFAULT_CONFIDENCE, DEFAULT_MIN_DECIDED_TIMERS

__all__ = [
    "CATEGORY_TIERS",
    "CODE_RE",
    "DEFAULT_CALENDAR",
    "DEFAULT_IKU_TARGETS",
    "DEFAULT_MAX_ACHIEVEMENT_PERCENT",
    "DEFAULT_OBJECTIVE",
    "IKU_INDICATORS",
    "PRIORITIES",
    "UNKNOWN_UNIT",
    "WILDCARD",
    "CategorySpec",
    "IkuSettings",
    "IkuTargetEntry",
    "RankingSettings",
    "Registry",
    "RegistryError",
    "TargetKey",
    "TargetSpec",
    "TargetTimeline",
    "Targets",
    "Unit",
]

WILDCARD: Final = "*"
# The app counts events of unregistered units under this code, so no real unit may use it.
UNKNOWN_UNIT: Final = "unknown"
PRIORITIES: Final = ("low", "normal", "high", "urgent")
CODE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULT_OBJECTIVE: Final = 0.95
DEFAULT_CALENDAR: Final = "office"
# IKU (core.iku): achievement is capped at this percentage unless the file says otherwise.
DEFAULT_MAX_ACHIEVEMENT_PERCENT: Final = 120.0
# The IKU indicators a target can be set for in the `iku:` section. The two within-target
# shares default to the unit's objective (as a percentage); the others to these values.
IKU_INDICATORS: Final = (
    "response_within_target",
    "resolution_within_target",
    "response_p90_working_hours",
    "resolution_p90_working_hours",
    "rating_mean",
)
DEFAULT_IKU_TARGETS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "response_p90_working_hours": 8.0,  # one office day
        "resolution_p90_working_hours": 40.0,  # five office days
        "rating_mean": 4.0,
    }
)
# Complexity tiers of the taxonomy's categories (SP4N-LAPOR!: 5, 14, 60 working days): a
# category matches the target entries of its tier's key; "ordinary" has none (the "*" ones).
CATEGORY_TIERS: Final = ("ordinary", "complex", "very_complex")
TIER_KEYS: Final[Mapping[str, str | None]] = MappingProxyType(
    {"ordinary": None, "complex": "complex", "very_complex": "very_complex"}
)
# The label of a category the registry does not name (the contract's catch-all label).
OTHER_CATEGORY: Final = OTHER
# Lookup timelines are memoised per (unit, category, priority). Categories come from events,
# so that key space is open-ended: the memo is simply cleared when it grows past this.
_MEMO_LIMIT: Final = 65536


class RegistryError(ValueError):
    """The registry file is unusable.

    One line per problem, each naming the file, the entry (list index plus the entry's code
    or key when known) and the field, e.g.
    ``deploy/registry.yaml: units[2] (code 'dlh'): field 'objective': must be < 1``.
    ``problems`` holds the lines.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One target: ``hours`` on the wall or working clock, or ``days`` working days."""

    clock: Literal["wall", "working"]
    hours: float | None = None
    days: int | None = None

    def __post_init__(self) -> None:
        # The file models check all of this with better messages; this guards direct use.
        if (self.hours is None) == (self.days is None):
            raise ValueError("set exactly one of 'hours' or 'days'")
        if self.hours is not None and not self.hours > 0:
            raise ValueError("'hours' must be > 0")
        if self.days is not None and (self.clock != "working" or self.days <= 0):
            raise ValueError("'days' must be > 0 and needs clock 'working'")

    def deadline(self, calendar: WorkingCalendar, start: datetime) -> datetime:
        """The instant by which the target is met, for a clock started at aware ``start``.

        wall hours: ``start`` + hours of elapsed time (``calendar`` is ignored);
        working hours: ``calendar.add_working_seconds``;
        working days: ``calendar.working_days_deadline`` (close of the Nth working day).
        """
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if self.days is not None:
            return calendar.working_days_deadline(start, self.days)
        assert self.hours is not None  # __post_init__: exactly one of hours/days
        if self.clock == "working":
            return calendar.add_working_seconds(start, self.hours * 3600.0)
        # Add elapsed time in UTC: aware-datetime arithmetic is local wall arithmetic, which
        # would be off by an hour across a DST change if a caller passes a DST zone.
        return (start.astimezone(UTC) + timedelta(hours=self.hours)).astimezone(start.tzinfo)

    @property
    def label(self) -> str:
        """Human label, e.g. ``"24h wall"``, ``"8h working"``, ``"5 working days"``."""
        if self.days is not None:
            return f"{self.days} working day{'' if self.days == 1 else 's'}"
        return f"{self.hours:g}h {self.clock}"


@dataclass(frozen=True, slots=True)
class Targets:
    """The response and resolution targets that apply to one complaint."""

    response: TargetSpec
    resolution: TargetSpec


@dataclass(frozen=True, slots=True)
class Unit:
    """A registered work unit (OPD)."""

    code: str
    name: str
    calendar_name: str
    objective: float


@dataclass(frozen=True, slots=True)
class IkuTargetEntry:
    """IKU indicator targets for a (unit, category), either part "*"; a subset of
    IKU_INDICATORS (the others come from less specific entries or the defaults)."""

    unit: str
    category: str
    targets: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class IkuSettings:
    """The registry's `iku:` section (all optional)."""

    max_achievement_percent: float = DEFAULT_MAX_ACHIEVEMENT_PERCENT
    entries: tuple[IkuTargetEntry, ...] = ()

    def explicit_target(
        self, unit: str, category: str, indicator: str, tier_key: str | None = None
    ) -> float | None:
        """The most specific entry's target: (unit, category), (unit, tier), (unit, "*"),
        ("*", category), ("*", tier), ("*", "*"), the tier's only when `tier_key` is given
        (a taxonomy category's tier); None when no entry sets it."""
        categories = [category, *([tier_key] if tier_key else []), WILDCARD]
        keys = [(u, c) for u in (unit, WILDCARD) for c in categories]
        by_key = {(e.unit, e.category): e for e in self.entries}
        for key in dict.fromkeys(keys):
            entry = by_key.get(key)
            if entry is not None and indicator in entry.targets:
                return entry.targets[indicator]
        return None


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """A category of the taxonomy (`categories:`): its complexity tier gives its targets;
    `units` usually handle it (informative; the simulator draws from it)."""

    code: str
    name: str
    tier: str  # one of CATEGORY_TIERS
    units: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RankingSettings:
    """The registry's `ranking:` section (core.ranking; docs/scores.md, "Ranking")."""

    min_decided_timers: int = DEFAULT_MIN_DECIDED_TIMERS
    confidence: float = DEFAULT_CONFIDENCE


# Target entries are keyed by (unit, category, priority); each key has a timeline of versions.
TargetKey = tuple[str, str, str]
TargetTimeline = tuple[list[date], list[Targets]]


class Registry:
    """A parsed, validated registry. Read-only; only an internal lookup memo changes."""

    __slots__ = (
        "_calendars",
        "_categories",
        "_default_calendar",
        "_frozen",
        "_iku_memo",
        "_index",
        "_memo",
        "_specs",
        "category_specs",
        "causes",
        "close_rules",
        "default_calendar_name",
        "default_objective",
        "escalation",
        "iku",
        "predikat",
        "ranking",
        "source",
        "units",
        "version",
    )

    def __init__(
        self,
        *,
        version: str,
        source: str,
        units: Mapping[str, Unit],
        calendars: Mapping[str, WorkingCalendar],
        default_calendar_name: str,
        default_objective: float,
        index: Mapping[TargetKey, TargetTimeline],
        iku: IkuSettings | None = None,
        causes: CauseSettings | None = None,
        escalation: EscalationSettings | None = None,
        close_rules: CloseRules | None = None,
        category_specs: Mapping[str, CategorySpec] | None = None,
        ranking: RankingSettings | None = None,
        predikat: tuple[PredikatVersion, ...] | None = None,
    ) -> None:
        self.version: str = version
        self.source: str = source
        self.units: Mapping[str, Unit] = MappingProxyType(dict(units))
        self._calendars: Mapping[str, WorkingCalendar] = MappingProxyType(dict(calendars))
        self.default_calendar_name: str = default_calendar_name
        self._default_calendar = self._calendars[default_calendar_name]
        self.default_objective: float = default_objective
        self._index: dict[TargetKey, TargetTimeline] = dict(index)
        self._memo: dict[tuple[str, str | None, str], TargetTimeline] = {}
        self._iku_memo: dict[tuple[str, str], Mapping[str, float]] = {}
        self._specs = frozenset(
            spec
            for _, targets in self._index.values()
            for t in targets
            for spec in (t.response, t.resolution)
        )
        self.category_specs: Mapping[str, CategorySpec] = MappingProxyType(
            dict(category_specs or {})
        )
        self._categories = frozenset(
            {key[1] for key in self._index if key[1] != WILDCARD} | set(self.category_specs)
        )
        self.iku: IkuSettings = iku if iku is not None else IkuSettings()
        # Causes vocabulary, extension limits, exclusions (core.cause_settings).
        self.causes: CauseSettings = causes if causes is not None else CauseSettings()
        # When each period closes (core.period_close); the default: 5 working days.
        self.close_rules: CloseRules = close_rules if close_rules is not None else CloseRules()
        # The escalation ladder and who is told at 50/75/100% (core.escalation).
        self.escalation: EscalationSettings = (
            escalation if escalation is not None else DEFAULT_ESCALATION
        )
        self.ranking: RankingSettings = ranking if ranking is not None else RankingSettings()
        # Performance grades: versioned thresholds and distribution rules (core.predikat).
        self.predikat: tuple[PredikatVersion, ...] = predikat or (DEFAULT_PREDIKAT,)
        self._frozen = True

    def __setattr__(self, name: str, value: object) -> None:
        # Shared by every stream worker: no rebinding after construction.
        if getattr(self, "_frozen", False):
            raise AttributeError(f"Registry is read-only (cannot set {name!r})")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Registry is read-only (cannot delete {name!r})")

    def __repr__(self) -> str:
        return (
            f"Registry(source={self.source!r}, version={self.version!r}, "
            f"units={len(self.units)}, target_keys={len(self._index)})"
        )

    @property
    def categories(self) -> frozenset[str]:
        """The taxonomy's categories and those named by target entries: the only category
        label values exported (any other is "other")."""
        return self._categories

    def tier_key(self, category: str | None) -> str | None:
        """The target key of a taxonomy category's tier ("complex", "very_complex"); None for
        an ordinary category or one not in the taxonomy."""
        spec = self.category_specs.get(category) if category is not None else None
        return None if spec is None else TIER_KEYS[spec.tier]

    @property
    def calendars(self) -> Mapping[str, WorkingCalendar]:
        """The named working calendars defined in the file."""
        return self._calendars

    def calendar_for(self, unit_code: str) -> WorkingCalendar:
        """The unit's working calendar.

        An unregistered unit (including ``"unknown"``) gets the default calendar: the one
        named by ``default_calendar`` in the file, ``"office"`` unless set.
        """
        unit = self.units.get(unit_code)
        if unit is None:
            return self._default_calendar
        return self._calendars[unit.calendar_name]

    def objective_for(self, unit_code: str) -> float:
        """The unit's objective; the file's ``default_objective`` for unregistered units."""
        unit = self.units.get(unit_code)
        return self.default_objective if unit is None else unit.objective

    def iku_target(self, unit_code: str, category: str, indicator: str) -> float:
        """The target of an IKU indicator (IKU_INDICATORS) for a unit and category ("*" for
        all): the most specific `iku.targets` entry setting it, else the default (the
        unit's objective x 100 for the within-target shares, DEFAULT_IKU_TARGETS else)."""
        try:
            return self.iku_targets(unit_code, category)[indicator]
        except KeyError:
            raise ValueError(f"unknown IKU indicator {indicator!r}") from None

    def iku_targets(self, unit_code: str, category: str) -> Mapping[str, float]:
        """iku_target of every indicator of IKU_INDICATORS, remembered per (unit, category):
        every period score asks for them."""
        key = (unit_code, category)
        found = self._iku_memo.get(key)
        if found is None:
            found = MappingProxyType(
                {name: self._iku_target(unit_code, category, name) for name in IKU_INDICATORS}
            )
            if len(self._iku_memo) >= _MEMO_LIMIT:
                self._iku_memo.clear()  # bounded: unit and category codes come from events
            self._iku_memo[key] = found
        return found

    def _iku_target(self, unit_code: str, category: str, indicator: str) -> float:
        explicit = self.iku.explicit_target(unit_code, category, indicator, self.tier_key(category))
        if explicit is not None:
            return explicit
        if indicator in ("response_within_target", "resolution_within_target"):
            return self.objective_for(unit_code) * 100.0
        try:
            return DEFAULT_IKU_TARGETS[indicator]
        except KeyError:
            raise ValueError(f"unknown IKU indicator {indicator!r}") from None

    def targets_for(
        self, unit_code: str, category: str | None, priority: str, created_at: datetime
    ) -> Targets:
        """The targets for a complaint created at aware ``created_at`` (see module docstring).

        Unregistered units, categories and priorities simply fall through to ``"*"``
        entries. Raises ValueError for a naive ``created_at``.
        """
        if created_at.tzinfo is None:
            # astimezone() would silently use the host's zone, which must not matter here.
            raise ValueError("created_at must be timezone-aware")
        day = created_at.astimezone(JAKARTA).date()
        memo_key = (unit_code, category, priority)
        timeline = self._memo.get(memo_key)
        if timeline is None:
            timeline = self._timeline(unit_code, category, priority)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[memo_key] = timeline
        dates, targets = timeline
        # Before the first effective date the first version applies (see module docstring).
        return targets[max(bisect.bisect_right(dates, day) - 1, 0)]

    def all_target_specs(self) -> frozenset[TargetSpec]:
        """Every configured response and resolution target (e.g. for histogram buckets)."""
        return self._specs

    def _candidate_keys(self, unit: str, category: str | None, priority: str) -> list[TargetKey]:
        units = (unit, WILDCARD)
        tier = self.tier_key(category)
        categories = (
            (WILDCARD,) if category is None else (category, *([tier] if tier else []), WILDCARD)
        )
        priorities = (priority, WILDCARD)
        keys = [(u, c, p) for u in units for c in categories for p in priorities]
        # dict.fromkeys drops repeats (e.g. category "*") and keeps precedence order.
        return [k for k in dict.fromkeys(keys) if k in self._index]

    def _timeline(self, unit: str, category: str | None, priority: str) -> TargetTimeline:
        """Merge the candidate keys into one (dates, targets) timeline for bisect."""
        keys = self._candidate_keys(unit, category, priority)
        change_points = sorted({d for k in keys for d in self._index[k][0]})
        dates: list[date] = []
        winners: list[Targets] = []
        for day in change_points:
            for key in keys:  # precedence order: the first key in force wins
                key_dates, key_targets = self._index[key]
                i = bisect.bisect_right(key_dates, day)
                if i:
                    winner = key_targets[i - 1]
                    break
            else:  # pragma: no cover - the catch-all is in force at every change point
                raise AssertionError("catch-all target missing")
            if not winners or winners[-1] != winner:
                dates.append(day)
                winners.append(winner)
        return dates, winners
