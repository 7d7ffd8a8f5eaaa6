"""The registry file: its YAML schema, error prose, and loading into a core.registry.Registry.

`load_registry(path)` reads the YAML file (``deploy/registry.yaml`` by default; its header
documents the format) and the holiday override file it points to; `parse_registry` does the
rest from already-loaded data, so tests and tools can build a registry without touching the
disk. Every problem is reported at once in a RegistryError, one line per problem naming the
file, the entry and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
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

from sigap.core.calendar import (
    END_OF_DAY,
    WorkingCalendar,
    holiday_dates,
    load_holiday_overrides,
)
from sigap.core.cause_settings import parse_cause_settings
from sigap.core.close_rules import CloseRule, CloseRules
from sigap.core.escalation import parse_escalation_settings
from sigap.core.predikat import parse_predikat
from sigap.core.ranking import DEFAULT_CONFIDENCE, DEFAULT_MIN_DECIDED_TIMERS
from sigap.core.registry import (
    CODE_RE,
    DEFAULT_CALENDAR,
    DEFAULT_MAX_ACHIEVEMENT_PERCENT,
    DEFAULT_OBJECTIVE,
    IKU_INDICATORS,
    OTHER_CATEGORY,
    TIER_KEYS,
    UNKNOWN_UNIT,
    WILDCARD,
    CategorySpec,
    IkuSettings,
    IkuTargetEntry,
    RankingSettings,
    Registry,
    RegistryError,
    TargetKey,
    Targets,
    TargetSpec,
    TargetTimeline,
    Unit,
)

__all__ = ["DEFAULT_HOLIDAY_OVERRIDES", "load_registry", "parse_registry"]

# Sibling of the registry file, used when `holiday_overrides` is not set and the file exists.
DEFAULT_HOLIDAY_OVERRIDES: Final = "holidays-override.yaml"
_WEEKDAYS: Final = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_HHMM_RE: Final = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_ISO_DATE_RE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


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
    # Validated by core.escalation.
    escalation: Any = None
    # When periods close (core.period_close), versioned by the period's first day.
    close: list[_CloseRuleModel] | None = None
    categories: list[_CategoryModel] = Field(default_factory=list)
    ranking: _RankingModel = Field(default_factory=_RankingModel)
    # Validated by core.predikat (its own section messages).
    predikat: Any = None

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
    escalation, escalation_problems = parse_escalation_settings(model.escalation, source)
    problems += escalation_problems
    problems += cause_problems
    predikat, predikat_problems = parse_predikat(model.predikat, source)
    problems += predikat_problems
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

    grouped: dict[TargetKey, list[tuple[date, Targets]]] = {}
    for t in model.targets:
        targets = Targets(response=t.response.spec(), resolution=t.resolution.spec())
        grouped.setdefault((t.unit, t.category, t.priority), []).append((t.effective_from, targets))
    index: dict[TargetKey, TargetTimeline] = {}
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
        escalation=escalation,
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
        predikat=predikat,
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
