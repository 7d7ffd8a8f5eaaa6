"""The unit registry: work units (OPD), their working calendars and their IKU targets.

One YAML file (``deploy/registry.yaml`` by default; its header documents the format) says
which units exist, which working calendar each one is on, the share of complaints each must
handle within target (its objective) and the response/resolution targets themselves.

Everything here is pure except `load_registry`, which reads the YAML file and the holiday
override file it points to; `parse_registry` does the rest from already-loaded data, so
tests and tools can build a registry without touching the disk.

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
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.calendar import (
    END_OF_DAY,
    JAKARTA,
    WorkingCalendar,
    holiday_dates,
    load_holiday_overrides,
)
from core.cause_settings import CauseSettings, parse_cause_settings
from core.close_rules import CloseRule, CloseRules
from core.ranking import DEFAULT_CONFIDENCE, DEFAULT_MIN_DECIDED_TIMERS
from schemas.events import OTHER

__all__ = [
    "CATEGORY_TIERS",
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
    "TargetSpec",
    "Targets",
    "Unit",
    "load_registry",
    "parse_registry",
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
# Sibling of the registry file, used when `holiday_overrides` is not set and the file exists.
DEFAULT_HOLIDAY_OVERRIDES: Final = "holidays-override.yaml"
_WEEKDAYS: Final = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
# Lookup timelines are memoised per (unit, category, priority). Categories come from events,
# so that key space is open-ended: the memo is simply cleared when it grows past this.
_MEMO_LIMIT: Final = 65536
_HHMM_RE: Final = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_ISO_DATE_RE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


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


_Key = tuple[str, str, str]
_Timeline = tuple[list[date], list[Targets]]


class Registry:
    """A parsed, validated registry. Read-only; only an internal lookup memo changes."""

    __slots__ = (
        "_calendars",
        "_categories",
        "_default_calendar",
        "_frozen",
        "_index",
        "_memo",
        "_specs",
        "category_specs",
        "causes",
        "close_rules",
        "default_calendar_name",
        "default_objective",
        "iku",
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
        index: Mapping[_Key, _Timeline],
        iku: IkuSettings | None = None,
        causes: CauseSettings | None = None,
        close_rules: CloseRules | None = None,
        category_specs: Mapping[str, CategorySpec] | None = None,
        ranking: RankingSettings | None = None,
    ) -> None:
        self.version: str = version
        self.source: str = source
        self.units: Mapping[str, Unit] = MappingProxyType(dict(units))
        self._calendars: Mapping[str, WorkingCalendar] = MappingProxyType(dict(calendars))
        self.default_calendar_name: str = default_calendar_name
        self._default_calendar = self._calendars[default_calendar_name]
        self.default_objective: float = default_objective
        self._index: dict[_Key, _Timeline] = dict(index)
        self._memo: dict[tuple[str, str | None, str], _Timeline] = {}
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
        self.ranking: RankingSettings = ranking if ranking is not None else RankingSettings()
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

    def _candidate_keys(self, unit: str, category: str | None, priority: str) -> list[_Key]:
        units = (unit, WILDCARD)
        tier = self.tier_key(category)
        categories = (
            (WILDCARD,) if category is None else (category, *([tier] if tier else []), WILDCARD)
        )
        priorities = (priority, WILDCARD)
        keys = [(u, c, p) for u in units for c in categories for p in priorities]
        # dict.fromkeys drops repeats (e.g. category "*") and keeps precedence order.
        return [k for k in dict.fromkeys(keys) if k in self._index]

    def _timeline(self, unit: str, category: str | None, priority: str) -> _Timeline:
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


# --------------------------------------------------------------------------------------
# File models (pydantic): shape and per-field checks; cross-references are checked after.
# --------------------------------------------------------------------------------------


def _parse_date(value: object) -> object:
    # YAML gives a date for an unquoted 2026-01-01; accept a quoted one too, but nothing else
    # (pydantic would otherwise take integers as Unix timestamps).
    if isinstance(value, datetime):
        raise ValueError("must be a date (YYYY-MM-DD) without a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE_RE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD (got {_show(value)})")


def _parse_hhmm(value: object, *, allow_24: bool = False) -> object:
    if isinstance(value, time):
        return value
    if allow_24 and value == "24:00":
        return END_OF_DAY  # core.calendar reads an interval end of time(0) as 24:00
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 16:00 as the base-60 integer 960.
        hhmm = f"{value // 60:02d}:{value % 60:02d}"
        raise ValueError(
            f'must be a quoted "HH:MM" string (YAML reads an unquoted {hhmm} as the number {value})'
        )
    if isinstance(value, str):
        m = _HHMM_RE.match(value)
        if m:
            return time(int(m.group(1)), int(m.group(2)))
    raise ValueError(f'must be a "HH:MM" time (got {_show(value)})')


_Date = Annotated[date, BeforeValidator(_parse_date)]
_HHMM = Annotated[time, BeforeValidator(_parse_hhmm)]
_HHMMEnd = Annotated[time, BeforeValidator(partial(_parse_hhmm, allow_24=True))]
_Objective = Annotated[float, Field(gt=0, lt=1)]


class _Model(BaseModel):
    # strict: YAML already yields typed values, so "24" for a number is a mistake to report,
    # and extra="forbid" turns a misspelt key into an error instead of a silent default.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _TargetModel(_Model):
    clock: Literal["wall", "working"]
    hours: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    days: Annotated[int, Field(gt=0)] | None = None

    @field_validator("days")
    @classmethod
    def _days_rules(cls, value: int | None, info: ValidationInfo) -> int | None:
        # Checked on `days` so the error names that field; clock and hours validate first.
        if value is not None:
            if info.data.get("clock") == "wall":
                raise ValueError("'days' needs clock 'working' (use 'hours' on the wall clock)")
            if info.data.get("hours") is not None:
                raise ValueError("set exactly one of 'hours' or 'days', not both")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> _TargetModel:
        if self.hours is None and self.days is None:
            raise ValueError("set exactly one of 'hours' or 'days'")
        return self

    def spec(self) -> TargetSpec:
        return TargetSpec(clock=self.clock, hours=self.hours, days=self.days)


_Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _mon_to_fri() -> list[_Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class _OfficeHoursModel(_Model):
    kind: Literal["office_hours"]
    start: _HHMM = time(8)
    end: _HHMMEnd = time(16)
    weekdays: list[_Weekday] = Field(default_factory=_mon_to_fri, min_length=1)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if isinstance(start, time) and value != END_OF_DAY and value <= start:
            raise ValueError(f"must be after start ({start:%H:%M})")
        return value

    @field_validator("weekdays")
    @classmethod
    def _unique_days(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a weekday twice")
        return value


class _AlwaysOpenModel(_Model):
    kind: Literal["always_open"]


_CalendarModel = Annotated[_OfficeHoursModel | _AlwaysOpenModel, Field(discriminator="kind")]


class _UnitModel(_Model):
    code: str
    name: Annotated[str, Field(min_length=1)]
    calendar: str
    objective: _Objective | None = None

    @field_validator("code")
    @classmethod
    def _code_rules(cls, value: str) -> str:
        if not CODE_RE.match(value):
            raise ValueError(f"{value!r} must match {CODE_RE.pattern}")
        if value == UNKNOWN_UNIT:
            raise ValueError(f"{value!r} is reserved for events of unregistered units")
        return value


class _TargetEntryModel(_Model):
    effective_from: _Date
    unit: str
    category: Annotated[str, Field(min_length=1)]
    priority: Literal["*", "low", "normal", "high", "urgent"]
    response: _TargetModel
    resolution: _TargetModel


_Percent = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
_Hours = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_Rating = Annotated[float, Field(ge=1, le=5, allow_inf_nan=False)]


def _number(value: object) -> object:
    # YAML gives an int for `8`: accept it for a float field (strict mode would not).
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _IkuTargetModel(_Model):
    unit: str = WILDCARD
    category: Annotated[str, Field(min_length=1)] = WILDCARD
    response_within_target: Annotated[_Percent, BeforeValidator(_number)] | None = None
    resolution_within_target: Annotated[_Percent, BeforeValidator(_number)] | None = None
    response_p90_working_hours: Annotated[_Hours, BeforeValidator(_number)] | None = None
    resolution_p90_working_hours: Annotated[_Hours, BeforeValidator(_number)] | None = None
    rating_mean: Annotated[_Rating, BeforeValidator(_number)] | None = None

    def targets(self) -> dict[str, float]:
        values = {name: getattr(self, name) for name in IKU_INDICATORS}
        return {name: float(value) for name, value in values.items() if value is not None}


class _IkuModel(_Model):
    # Below 100 an achieved target could not show as 100%.
    max_achievement_percent: Annotated[
        float, Field(ge=100, allow_inf_nan=False), BeforeValidator(_number)
    ] = DEFAULT_MAX_ACHIEVEMENT_PERCENT
    targets: list[_IkuTargetModel] = Field(default_factory=list)


class _CloseRuleModel(_Model):
    effective_from: _Date
    working_days: Annotated[int, Field(ge=0, le=60)]


class _CategoryModel(_Model):
    code: str
    name: Annotated[str, Field(min_length=1)]
    tier: Literal["ordinary", "complex", "very_complex"]
    units: list[str] = Field(default_factory=list)

    @field_validator("code")
    @classmethod
    def _code_rules(cls, value: str) -> str:
        if not CODE_RE.match(value):
            raise ValueError(f"{value!r} must match {CODE_RE.pattern}")
        if value == OTHER_CATEGORY:
            raise ValueError(f"{value!r} is reserved for the categories not listed")
        if value in TIER_KEYS:
            raise ValueError(f"{value!r} is a tier name: set it as the category's 'tier'")
        return value


class _RankingModel(_Model):
    min_decided_timers: Annotated[int, Field(ge=0)] = DEFAULT_MIN_DECIDED_TIMERS
    confidence: Annotated[
        float, Field(gt=0.5, lt=1, allow_inf_nan=False), BeforeValidator(_number)
    ] = DEFAULT_CONFIDENCE


class _RegistryModel(_Model):
    version: Annotated[str, Field(min_length=1)]
    holiday_overrides: str | None = None
    default_objective: _Objective = DEFAULT_OBJECTIVE
    default_calendar: str = DEFAULT_CALENDAR
    calendars: Annotated[dict[str, _CalendarModel], Field(min_length=1)]
    units: list[_UnitModel]
    targets: Annotated[list[_TargetEntryModel], Field(min_length=1)]
    iku: _IkuModel = Field(default_factory=_IkuModel)
    # Validated by core.cause_settings (its own section messages).
    causes: Any = None
    exclusions: Any = None
    # When periods close (core.period_close), versioned by the period's first day.
    close: list[_CloseRuleModel] | None = None
    categories: list[_CategoryModel] = Field(default_factory=list)
    ranking: _RankingModel = Field(default_factory=_RankingModel)

    @field_validator("calendars")
    @classmethod
    def _calendar_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not CODE_RE.match(name):
                raise ValueError(f"calendar name {name!r} must match {CODE_RE.pattern}")
        return value


# --------------------------------------------------------------------------------------
# Error messages
# --------------------------------------------------------------------------------------


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


def _describe_entry(data: Mapping[str, Any], section: str, index: int) -> str:
    """``units[2] (code 'dlh')`` / ``targets[4] (2026-01-01 unit '*' ...)``, from raw data."""
    label = f"{section}[{index}]"
    if section == "iku.targets":
        iku = data.get("iku")
        items = iku.get("targets") if isinstance(iku, Mapping) else None
        raw_iku = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
        if not isinstance(raw_iku, Mapping):
            return label
        parts = [f"{f} {raw_iku[f]!r}" for f in ("unit", "category") if f in raw_iku]
        return f"{label} ({', '.join(parts)})" if parts else label
    items = data.get(section)
    if not isinstance(items, list) or not 0 <= index < len(items):
        return label
    raw = items[index]
    if not isinstance(raw, Mapping):
        return label
    if section in ("units", "categories"):
        code = raw.get("code")
        return f"{label} (code {code!r})" if isinstance(code, str) else label
    parts = []
    if "effective_from" in raw:
        parts.append(f"effective_from {raw['effective_from']}")
    parts += [f"{f} {raw[f]!r}" for f in ("unit", "category", "priority") if f in raw]
    return f"{label} ({', '.join(parts)})" if parts else label


def _problem(source: str, entry: str, field: str | None, message: str) -> str:
    if field is None:
        return f"{source}: {entry}: {message}"
    return f"{source}: {entry}: field {field!r}: {message}"


_BOUNDS: Final = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def _pydantic_message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping (got {_show(err.get('input'))})"
    bound = _BOUNDS.get(kind)
    ctx = err.get("ctx") or {}
    if bound is not None and bound[1] in ctx:
        limit = ctx[bound[1]]
        shown = f"{limit:g}" if isinstance(limit, float) else str(limit)
        return f"must be {bound[0]} {shown} (got {err.get('input')!r})"
    msg = str(err["msg"])
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind.endswith(("_type", "_parsing")) or kind in ("literal_error", "union_tag_invalid"):
        msg = f"{msg} (got {_show(err.get('input'))})"
    return msg


def _convert(source: str, data: Mapping[str, Any], exc: ValidationError) -> RegistryError:
    problems = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        message = _pydantic_message(err)
        section = loc[0] if loc else None
        if (
            section in ("units", "targets", "categories")
            and len(loc) >= 2
            and isinstance(loc[1], int)
        ):
            entry = _describe_entry(data, str(section), loc[1])
            rest = loc[2:]
        elif section == "iku" and len(loc) >= 3 and loc[1] == "targets" and isinstance(loc[2], int):
            entry = _describe_entry(data, "iku.targets", loc[2])
            rest = loc[3:]
        elif section == "iku":
            entry = "iku"
            rest = loc[1:]
        elif section == "calendars" and len(loc) >= 2:
            entry = f"calendars.{loc[1]}"
            rest = loc[2:]
            raw = data.get("calendars")
            raw_cal = raw.get(loc[1]) if isinstance(raw, Mapping) else None
            kind = raw_cal.get("kind") if isinstance(raw_cal, Mapping) else None
            if rest and rest[0] == kind:  # drop the discriminator tag pydantic adds
                rest = rest[1:]
            if rest == ["[key]"]:
                rest = []
        else:
            entry = "top level"
            rest = loc
        field = ".".join(str(part) for part in rest) or None
        if field is None and err["type"] == "union_tag_not_found":
            field, message = "kind", "required field is missing"
        problems.append(_problem(source, entry, field, message))
    return RegistryError(problems)


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def _build_calendar(
    name: str, model: _OfficeHoursModel | _AlwaysOpenModel, holidays: frozenset[date]
) -> WorkingCalendar:
    if isinstance(model, _AlwaysOpenModel):
        return WorkingCalendar.always_open(name)
    return WorkingCalendar.office_hours(
        name,
        holidays,
        start=model.start,
        end=model.end,
        weekdays=sorted(_WEEKDAYS[d] for d in model.weekdays),
    )


def parse_registry(data: object, source: str, holidays: frozenset[date]) -> Registry:
    """Validate already-loaded YAML ``data`` and build the registry. Pure.

    ``source`` names the file in error messages; ``holidays`` are the public holidays the
    office-hours calendars skip. Raises RegistryError listing every problem found.
    """
    if not isinstance(data, Mapping):
        raise RegistryError(
            [
                f"{source}: top level: must be a mapping with keys 'version', 'calendars', "
                f"'units' and 'targets' (got {_show(data)})"
            ]
        )
    try:
        model = _RegistryModel.model_validate(data)
    except ValidationError as exc:
        raise _convert(source, data, exc) from None

    problems: list[str] = []

    def report(entry: str, field: str | None, message: str) -> None:
        problems.append(_problem(source, entry, field, message))

    cal_names = ", ".join(sorted(model.calendars))
    if model.default_calendar not in model.calendars:
        report(
            "top level",
            "default_calendar",
            f"unknown calendar {model.default_calendar!r} (defined: {cal_names})",
        )

    units: dict[str, Unit] = {}
    first_index: dict[str, int] = {}
    for i, u in enumerate(model.units):
        entry = _describe_entry(data, "units", i)
        if u.code in first_index:
            report(entry, "code", f"duplicate of units[{first_index[u.code]}]")
            continue
        first_index[u.code] = i
        if u.calendar not in model.calendars:
            report(entry, "calendar", f"unknown calendar {u.calendar!r} (defined: {cal_names})")
        objective = model.default_objective if u.objective is None else u.objective
        units[u.code] = Unit(u.code, u.name, calendar_name=u.calendar, objective=objective)

    seen: dict[tuple[date, str, str, str], int] = {}
    for i, t in enumerate(model.targets):
        entry = _describe_entry(data, "targets", i)
        if t.unit != WILDCARD and t.unit not in units:
            report(entry, "unit", f"unknown unit code {t.unit!r} (not in units, and not '*')")
        version_key = (t.effective_from, t.unit, t.category, t.priority)
        if version_key in seen:
            report(
                entry,
                "effective_from",
                f"duplicate of targets[{seen[version_key]}] (same effective_from, unit, "
                "category and priority); to change a target add an entry with a later "
                "effective_from",
            )
        else:
            seen[version_key] = i

    earliest = min(t.effective_from for t in model.targets)
    catch_all = (earliest, WILDCARD, WILDCARD, WILDCARD)
    if catch_all not in seen:
        first = next(i for i, t in enumerate(model.targets) if t.effective_from == earliest)
        report(
            "targets",
            "effective_from",
            f"no catch-all entry (unit '*', category '*', priority '*') effective from "
            f"{earliest}, the earliest effective_from (used by "
            f"{_describe_entry(data, 'targets', first)}); add one so every lookup has a target",
        )

    iku_seen: dict[tuple[str, str], int] = {}
    for i, entry_model in enumerate(model.iku.targets):
        entry = _describe_entry(data, "iku.targets", i)
        if entry_model.unit != WILDCARD and entry_model.unit not in units:
            report(
                entry, "unit", f"unknown unit code {entry_model.unit!r} (not in units, and not '*')"
            )
        iku_key = (entry_model.unit, entry_model.category)
        if iku_key in iku_seen:
            report(
                entry,
                "unit",
                f"duplicate of iku.targets[{iku_seen[iku_key]}] (same unit and category)",
            )
        else:
            iku_seen[iku_key] = i
        if not entry_model.targets():
            report(
                entry, None, f"sets no indicator target (set one of {', '.join(IKU_INDICATORS)})"
            )

    category_specs: dict[str, CategorySpec] = {}
    for i, c in enumerate(model.categories):
        entry = _describe_entry(data, "categories", i)
        if c.code in category_specs:
            report(entry, "code", "duplicate category code")
            continue
        for code in c.units:
            if code not in units:
                report(entry, "units", f"unknown unit code {code!r} (not in units)")
        category_specs[c.code] = CategorySpec(c.code, c.name, c.tier, tuple(c.units))

    calendars: dict[str, WorkingCalendar] = {}
    for name, cal in model.calendars.items():
        try:
            calendars[name] = _build_calendar(name, cal, holidays)
        except (TypeError, ValueError) as exc:  # the calendar module's own checks
            report(f"calendars.{name}", None, str(exc))

    causes, cause_problems = parse_cause_settings(model.causes, model.exclusions, source, units)
    problems += cause_problems
    close_seen: dict[date, int] = {}
    for i, rule in enumerate(model.close or ()):
        if rule.effective_from in close_seen:
            report(
                f"close[{i}]",
                "effective_from",
                f"duplicate of close[{close_seen[rule.effective_from]}] (same effective_from); "
                "to change the rule add an entry with a later effective_from",
            )
        close_seen.setdefault(rule.effective_from, i)
    if model.close is not None and not model.close:
        report("close", None, "must list at least one rule (or be left out for the default)")

    if problems:
        raise RegistryError(problems)

    grouped: dict[_Key, list[tuple[date, Targets]]] = {}
    for t in model.targets:
        targets = Targets(response=t.response.spec(), resolution=t.resolution.spec())
        grouped.setdefault((t.unit, t.category, t.priority), []).append((t.effective_from, targets))
    index: dict[_Key, _Timeline] = {}
    for key, versions in grouped.items():
        versions.sort(key=lambda v: v[0])
        index[key] = ([d for d, _ in versions], [tg for _, tg in versions])

    return Registry(
        version=model.version,
        source=source,
        units=units,
        calendars=calendars,
        default_calendar_name=model.default_calendar,
        default_objective=model.default_objective,
        index=index,
        iku=IkuSettings(
            max_achievement_percent=model.iku.max_achievement_percent,
            entries=tuple(
                IkuTargetEntry(e.unit, e.category, MappingProxyType(e.targets()))
                for e in model.iku.targets
            ),
        ),
        causes=causes,
        close_rules=CloseRules(
            tuple(
                CloseRule(rule.effective_from, rule.working_days)
                for rule in sorted(model.close, key=lambda r: r.effective_from)
            )
        )
        if model.close
        else None,
        category_specs=category_specs,
        ranking=RankingSettings(
            min_decided_timers=model.ranking.min_decided_timers,
            confidence=model.ranking.confidence,
        ),
    )


def load_registry(path: Path, years: Iterable[int] = range(2019, 2031)) -> Registry:
    """Read the registry YAML at ``path`` and its holiday overrides, and parse it.

    ``holiday_overrides`` in the file is a path relative to the registry file; when unset,
    ``holidays-override.yaml`` next to the registry is used if it exists, otherwise only
    the ``holidays`` package's Indonesian holidays. ``years`` bounds the holiday table the
    office-hours calendars consult.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError([f"{source}: cannot read the registry file: {exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        problem = getattr(exc, "problem", None) or str(exc)
        raise RegistryError([f"{source}: {where}invalid YAML: {problem}"]) from None

    overrides_field: object = None
    if isinstance(data, Mapping):
        overrides_field = data.get("holiday_overrides")
    if overrides_field is None:
        overrides_path = path.parent / DEFAULT_HOLIDAY_OVERRIDES
        explicit = False
    elif isinstance(overrides_field, str) and overrides_field:
        overrides_path = path.parent / overrides_field
        explicit = True
    else:
        raise RegistryError(
            [
                _problem(
                    source,
                    "top level",
                    "holiday_overrides",
                    f"must be a path string (got {_show(overrides_field)})",
                )
            ]
        )

    overrides = None
    if explicit or overrides_path.exists():
        try:
            overrides = load_holiday_overrides(overrides_path)
        except (OSError, ValueError) as exc:
            # core.calendar's messages already name the overrides file; OSError's may not.
            detail = str(exc)
            if str(overrides_path) not in detail:
                detail = f"{overrides_path}: {detail}"
            raise RegistryError(
                [_problem(source, "top level", "holiday_overrides", detail)]
            ) from None
    holidays = holiday_dates(years, overrides)
    return parse_registry(data, source, holidays)
