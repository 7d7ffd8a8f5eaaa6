"""The registry's `causes:` and `exclusions:` sections: the vocabulary of causes, the limits
on deadline extensions, and the city-declared exclusion periods (docs/causes.md).

Pure: `parse_cause_settings` validates already-loaded YAML data (the two sections) and
returns a `CauseSettings` or the list of problems, each naming the file, the entry and the
field like the rest of the registry's messages.

    causes:
      vocabulary: [citizen_unreachable, awaiting_other_agency, procurement,
                   joint_site_survey, force_majeure, other]
      extension_limits:
        - {effective_from: 2019-01-01, unit: "*", max_extensions: 1, max_working_days: 7}
    exclusions:
      - {unit: "*", start: "2026-02-10T08:00:00+07:00", end: "2026-02-11T16:00:00+07:00",
         reason: force_majeure, declared_on: 2026-02-10}

Versioning follows the targets': extension limits are keyed by (unit or "*") and
`effective_from`, and the one in force on the complaint's creation date (Asia/Jakarta)
applies, the exact unit before "*". Vocabulary codes are only ever added (a code used by
past events must stay). Exclusions are dated by nature; `declared_on` records when the city
declared one (a declaration after a period's official close restates that period).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from sigap.core.calendar import JAKARTA

__all__ = [
    "DEFAULT_CAUSES",
    "OTHER_CAUSE",
    "UNEXPLAINED",
    "CauseSettings",
    "Exclusion",
    "ExtensionLimit",
    "parse_cause_settings",
]

# Surabaya's own reported causes of delay come first: citizens who cannot be reached and
# joint site surveys.
DEFAULT_CAUSES: Final = (
    "citizen_unreachable",
    "awaiting_other_agency",
    "procurement",
    "joint_site_survey",
    "force_majeure",
    "other",
)
OTHER_CAUSE: Final = "other"
# The cause of a miss no `miss_explained` event explained (never a vocabulary code).
UNEXPLAINED: Final = "unexplained"
DEFAULT_MAX_EXTENSIONS: Final = 1
DEFAULT_MAX_WORKING_DAYS: Final = 7
_CODE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
_WILDCARD: Final = "*"
# Bounded: the exclusions are walked for every complaint evaluated.
MAX_EXCLUSIONS: Final = 500


@dataclass(frozen=True, slots=True)
class ExtensionLimit:
    effective_from: date
    unit: str  # a unit code or "*"
    max_extensions: int  # per complaint and unit
    max_working_days: int  # per extension


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A city-declared period (flood, system outage) during which `unit` (or every unit,
    "*") is not charged: its deadlines move by the excluded working time, like a pause."""

    unit: str
    start: datetime
    end: datetime
    reason: str
    declared_on: date | None = None

    def covers(self, unit: str) -> bool:
        return self.unit in (_WILDCARD, unit)


_DEFAULT_LIMIT: Final = ExtensionLimit(
    date(2000, 1, 1), _WILDCARD, DEFAULT_MAX_EXTENSIONS, DEFAULT_MAX_WORKING_DAYS
)


@dataclass(frozen=True, slots=True)
class CauseSettings:
    vocabulary: tuple[str, ...] = DEFAULT_CAUSES
    extension_limits: tuple[ExtensionLimit, ...] = (_DEFAULT_LIMIT,)
    exclusions: tuple[Exclusion, ...] = ()
    _vocabulary_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_vocabulary_set", frozenset(self.vocabulary))

    def known(self, code: str | None) -> bool:
        return code is not None and code in self._vocabulary_set

    def cause_code(self, code: str | None) -> str:
        """A vocabulary code, or "other" for anything else (bounded label values)."""
        return code if code is not None and code in self._vocabulary_set else OTHER_CAUSE

    def extension_limit(self, unit: str, on: date) -> ExtensionLimit:
        """The limit in force on `on` for `unit` (exact unit before "*"; latest
        effective_from; the earliest entry extends backwards)."""
        for key in (unit, _WILDCARD):
            entries = [e for e in self.extension_limits if e.unit == key]
            if not entries:
                continue
            current = [e for e in entries if e.effective_from <= on]
            chosen = current or [min(entries, key=lambda e: e.effective_from)]
            return max(chosen, key=lambda e: e.effective_from)
        return _DEFAULT_LIMIT

    def exclusions_for(self, unit: str) -> tuple[Exclusion, ...]:
        return tuple(e for e in self.exclusions if e.covers(unit))


def _where(source: str, entry: str, field_name: str | None, message: str) -> str:
    if field_name is None:
        return f"{source}: {entry}: {message}"
    return f"{source}: {entry}: field {field_name!r}: {message}"


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _as_instant(value: object) -> datetime | None:
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        return None
    return moment.astimezone(JAKARTA)


def parse_cause_settings(
    causes: object, exclusions: object, source: str, units: Iterable[str]
) -> tuple[CauseSettings, list[str]]:
    """The two sections (None when absent) as CauseSettings, and the problems found."""
    problems: list[str] = []
    unit_codes = set(units)
    vocabulary: tuple[str, ...] = DEFAULT_CAUSES
    limits: list[ExtensionLimit] = []
    if causes is not None and not isinstance(causes, Mapping):
        problems.append(_where(source, "causes", None, "must be a mapping"))
        causes = {}
    raw: Mapping[str, Any] = causes if isinstance(causes, Mapping) else {}
    for key in raw:
        if key not in ("vocabulary", "extension_limits"):
            problems.append(
                _where(source, "causes", str(key), "unknown field (check the spelling)")
            )
    if "vocabulary" in raw:
        codes = raw["vocabulary"]
        if not isinstance(codes, list) or not codes:
            problems.append(_where(source, "causes", "vocabulary", "must be a non-empty list"))
        else:
            for i, code in enumerate(codes):
                if not isinstance(code, str) or not _CODE_RE.match(code):
                    problems.append(
                        _where(
                            source,
                            f"causes.vocabulary[{i}]",
                            None,
                            f"{code!r} must match {_CODE_RE.pattern}",
                        )
                    )
            if len(set(map(str, codes))) != len(codes):
                problems.append(_where(source, "causes", "vocabulary", "lists a code twice"))
            if OTHER_CAUSE not in codes:
                problems.append(
                    _where(source, "causes", "vocabulary", f"must include {OTHER_CAUSE!r}")
                )
            if UNEXPLAINED in codes:
                problems.append(
                    _where(source, "causes", "vocabulary", f"{UNEXPLAINED!r} is reserved")
                )
            vocabulary = tuple(str(code) for code in codes)
    raw_limits = raw.get("extension_limits")
    if raw_limits is not None:
        if not isinstance(raw_limits, list):
            problems.append(_where(source, "causes", "extension_limits", "must be a list"))
            raw_limits = []
        seen: set[tuple[date, str]] = set()
        for i, item in enumerate(raw_limits):
            entry = f"causes.extension_limits[{i}]"
            if not isinstance(item, Mapping):
                problems.append(_where(source, entry, None, "must be a mapping"))
                continue
            extra = set(item) - {"effective_from", "unit", "max_extensions", "max_working_days"}
            for key in sorted(map(str, extra)):
                problems.append(_where(source, entry, key, "unknown field (check the spelling)"))
            effective = _as_date(item.get("effective_from"))
            if effective is None:
                problems.append(_where(source, entry, "effective_from", "must be a date"))
            unit = item.get("unit", _WILDCARD)
            if unit != _WILDCARD and unit not in unit_codes:
                problems.append(_where(source, entry, "unit", f"unknown unit code {unit!r}"))
            count = item.get("max_extensions", DEFAULT_MAX_EXTENSIONS)
            days = item.get("max_working_days", DEFAULT_MAX_WORKING_DAYS)
            if not (isinstance(count, int) and not isinstance(count, bool) and count >= 0):
                problems.append(_where(source, entry, "max_extensions", "must be an integer >= 0"))
            if not _positive_int(days):
                problems.append(_where(source, entry, "max_working_days", "must be an integer > 0"))
            if effective is not None and isinstance(unit, str):
                if (effective, unit) in seen:
                    problems.append(
                        _where(source, entry, "effective_from", "duplicate (same unit and date)")
                    )
                seen.add((effective, unit))
                if isinstance(count, int) and isinstance(days, int):
                    limits.append(ExtensionLimit(effective, unit, count, days))
    parsed_exclusions: list[Exclusion] = []
    if exclusions is not None:
        if not isinstance(exclusions, list):
            problems.append(_where(source, "exclusions", None, "must be a list"))
            exclusions = []
        assert isinstance(exclusions, list)
        if len(exclusions) > MAX_EXCLUSIONS:
            problems.append(_where(source, "exclusions", None, f"at most {MAX_EXCLUSIONS}"))
        for i, item in enumerate(exclusions):
            entry = f"exclusions[{i}]"
            if not isinstance(item, Mapping):
                problems.append(_where(source, entry, None, "must be a mapping"))
                continue
            extra = set(item) - {"unit", "start", "end", "reason", "declared_on"}
            for key in sorted(map(str, extra)):
                problems.append(_where(source, entry, key, "unknown field (check the spelling)"))
            unit = item.get("unit", _WILDCARD)
            if unit != _WILDCARD and unit not in unit_codes:
                problems.append(_where(source, entry, "unit", f"unknown unit code {unit!r}"))
            start = _as_instant(item.get("start"))
            end = _as_instant(item.get("end"))
            for name, value in (("start", start), ("end", end)):
                if value is None:
                    problems.append(
                        _where(source, entry, name, "must be an RFC 3339 timestamp with offset")
                    )
            if start is not None and end is not None and end <= start:
                problems.append(_where(source, entry, "end", "must be after start"))
            reason = item.get("reason")
            if not isinstance(reason, str) or reason not in vocabulary:
                problems.append(
                    _where(source, entry, "reason", f"{reason!r} is not in causes.vocabulary")
                )
            declared = item.get("declared_on")
            declared_on = None if declared is None else _as_date(declared)
            if declared is not None and declared_on is None:
                problems.append(_where(source, entry, "declared_on", "must be a date"))
            if start is not None and end is not None and isinstance(reason, str):
                parsed_exclusions.append(Exclusion(str(unit), start, end, reason, declared_on))
    settings = CauseSettings(
        vocabulary=vocabulary,
        extension_limits=tuple(limits) if limits else (_DEFAULT_LIMIT,),
        exclusions=tuple(sorted(parsed_exclusions, key=lambda e: (e.start, e.end, e.unit))),
    )
    return settings, problems
