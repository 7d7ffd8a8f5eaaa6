"""Performance grades (predikat): versioned thresholds and distribution rules (registry
section `predikat:`), and the quarterly evaluation of a unit and its officers.

Achievement of a score = the mean of its IKU indicators' achievement percentages
(core.iku, each capped by `iku.max_achievement_percent`); None without any.

    predikat:
      - effective_from: 2022-01-01
        source: "PermenPANRB 6/2022; PermenPANRB 8/2021 annex (IKI achievement bands)"
        min_decided_timers: 10
        individual:   [{grade: Sangat Baik, min_achievement: 101}, ...]   # highest first
        organisation: [{grade: Istimewa, min_achievement: 101}, ...]
        distribution:
          Baik:
            - {grades: [Baik], max_share: 0.70}
            - {grades: [Butuh Perbaikan, Kurang], min_count: 1}

The version in force on the period's first day applies (change a threshold by adding an
entry with a later `effective_from`, as for targets). Without the section the defaults
below apply (DEFAULT_PREDIKAT). The thresholds are the city's decision; the shipped defaults:

- Grade bands from the IKI achievement categories of the PermenPANRB 8/2021 annex (Sangat
  Baik above 100% up to the cap, Baik 100%, Cukup 80-99%, Kurang 60-79%, Sangat Kurang
  below 60%), "Cukup" read as "Butuh Perbaikan", the five grades of PermenPANRB 6/2022.
- Distribution rules: the "pola distribusi predikat kinerja pegawai" of PermenPANRB 6/2022
  as summarised in public guidance (naikpangkat.com, "SE terbaru MenPAN-RB ... 3 tahap
  evaluasi kinerja ASN"): Istimewa: at most 70% Sangat Baik; Baik: at most 70% Baik and at
  least one Butuh Perbaikan or Kurang; Butuh Perbaikan: at least 60% Butuh Perbaikan, at
  most 10% Sangat Baik; Kurang: at least 60% Kurang, at least 10% Butuh Perbaikan, at most
  10% Sangat Baik; Sangat Kurang: at least 60% Sangat Kurang, at least 10% Kurang or Butuh
  Perbaikan, no Sangat Baik. Check them against the regulation's annex before relying on
  them: they are settings.

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

__all__ = [
    "DEFAULT_PREDIKAT",
    "INDIVIDUAL_GRADES",
    "NOT_ENOUGH_DATA",
    "ORGANISATION_GRADES",
    "DistributionRule",
    "GradeBand",
    "PredikatVersion",
    "Violation",
    "achievement",
    "check_distribution",
    "evaluate",
    "grade_for",
    "parse_predikat",
    "version_on",
]

INDIVIDUAL_GRADES: Final = ("Sangat Baik", "Baik", "Butuh Perbaikan", "Kurang", "Sangat Kurang")
ORGANISATION_GRADES: Final = ("Istimewa", "Baik", "Butuh Perbaikan", "Kurang", "Sangat Kurang")
NOT_ENOUGH_DATA: Final = "not enough data"
DEFAULT_SOURCE: Final = (
    "PermenPANRB 6/2022 (grades, distribution pattern as summarised by naikpangkat.com); "
    "PermenPANRB 8/2021 annex (IKI achievement bands)"
)


@dataclass(frozen=True, slots=True)
class GradeBand:
    grade: str
    min_achievement: float  # inclusive lower bound, percent


@dataclass(frozen=True, slots=True)
class DistributionRule:
    """Among the graded officers, the share (or count) with one of `grades`."""

    grades: tuple[str, ...]
    min_share: float | None = None
    max_share: float | None = None
    min_count: int | None = None

    def describe(self) -> str:
        who = " or ".join(self.grades)
        parts = []
        if self.min_share is not None:
            parts.append(f"at least {self.min_share:.0%} {who}")
        if self.max_share is not None:
            parts.append(f"at most {self.max_share:.0%} {who}")
        if self.min_count is not None:
            parts.append(f"at least {self.min_count} {who}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class PredikatVersion:
    effective_from: date
    source: str
    min_decided_timers: int
    individual: tuple[GradeBand, ...]
    organisation: tuple[GradeBand, ...]
    distribution: Mapping[str, tuple[DistributionRule, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"predikat {self.effective_from.isoformat()}"


def _bands(grades: Sequence[str]) -> tuple[GradeBand, ...]:
    return tuple(
        GradeBand(grade, bound)
        for grade, bound in zip(grades, (101.0, 100.0, 80.0, 60.0, 0.0), strict=True)
    )


DEFAULT_PREDIKAT: Final = PredikatVersion(
    effective_from=date(2022, 1, 1),
    source=DEFAULT_SOURCE,
    min_decided_timers=10,
    individual=_bands(INDIVIDUAL_GRADES),
    organisation=_bands(ORGANISATION_GRADES),
    distribution={
        "Istimewa": (DistributionRule(("Sangat Baik",), max_share=0.70),),
        "Baik": (
            DistributionRule(("Baik",), max_share=0.70),
            DistributionRule(("Butuh Perbaikan", "Kurang"), min_count=1),
        ),
        "Butuh Perbaikan": (
            DistributionRule(("Butuh Perbaikan",), min_share=0.60),
            DistributionRule(("Sangat Baik",), max_share=0.10),
        ),
        "Kurang": (
            DistributionRule(("Kurang",), min_share=0.60),
            DistributionRule(("Butuh Perbaikan",), min_share=0.10),
            DistributionRule(("Sangat Baik",), max_share=0.10),
        ),
        "Sangat Kurang": (
            DistributionRule(("Sangat Kurang",), min_share=0.60),
            DistributionRule(("Kurang", "Butuh Perbaikan"), min_share=0.10),
            DistributionRule(("Sangat Baik",), max_share=0.0),
        ),
    },
)


def achievement(indicators: Iterable[Mapping[str, Any]]) -> float | None:
    """Mean achievement percent of the indicators that have one (IndicatorScore JSON)."""
    values = [
        float(item["achievement_percent"])
        for item in indicators
        if item.get("achievement_percent") is not None
    ]
    return math.fsum(values) / len(values) if values else None


def grade_for(value: float | None, bands: Sequence[GradeBand]) -> str | None:
    if value is None:
        return None
    for band in bands:
        if value >= band.min_achievement:
            return band.grade
    return bands[-1].grade


@dataclass(frozen=True, slots=True)
class Violation:
    organisation_grade: str
    rule: str
    found: str


def check_distribution(
    organisation_grade: str, grades: Sequence[str], version: PredikatVersion
) -> list[Violation]:
    """Every rule of the organisation's grade that the officers' grades break."""
    violations = []
    total = len(grades)
    for rule in version.distribution.get(organisation_grade, ()):
        count = sum(1 for grade in grades if grade in rule.grades)
        share = count / total if total else 0.0
        broken = (
            (rule.min_share is not None and share < rule.min_share)
            or (rule.max_share is not None and share > rule.max_share)
            or (rule.min_count is not None and count < rule.min_count)
        )
        if broken:
            violations.append(
                Violation(organisation_grade, rule.describe(), f"{count} of {total} ({share:.0%})")
            )
    return violations


# -- the registry section ---------------------------------------------------------------


def _parse_bands(
    raw: Any, grades: Sequence[str], where: str, problems: list[str]
) -> tuple[GradeBand, ...]:
    if not isinstance(raw, list) or len(raw) != len(grades):
        problems.append(f"{where}: must list the {len(grades)} grades {', '.join(grades)}")
        return ()
    bands = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("grade") != grades[index]:
            problems.append(f"{where}[{index}]: field 'grade': must be {grades[index]!r}")
            continue
        bound = item.get("min_achievement")
        if isinstance(bound, bool) or not isinstance(bound, int | float) or bound < 0:
            problems.append(f"{where}[{index}]: field 'min_achievement': a number >= 0")
            continue
        bands.append(GradeBand(grades[index], float(bound)))
    bounds = [band.min_achievement for band in bands]
    if len(bands) == len(grades) and bounds != sorted(bounds, reverse=True):
        problems.append(f"{where}: min_achievement must not increase from one grade to the next")
    return tuple(bands)


def _is_share(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _parse_rules(
    raw: Any, where: str, problems: list[str]
) -> dict[str, tuple[DistributionRule, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: must map organisation grades to rule lists")
        return {}
    found: dict[str, tuple[DistributionRule, ...]] = {}
    for org, rules in raw.items():
        if org not in ORGANISATION_GRADES:
            problems.append(f"{where}: {org!r} is not an organisation grade")
            continue
        parsed = []
        for index, rule in enumerate(rules if isinstance(rules, list) else [None]):
            at = f"{where}.{org}[{index}]"
            if not isinstance(rule, dict) or not isinstance(rule.get("grades"), list):
                problems.append(f"{at}: field 'grades': a list of individual grades")
                continue
            unknown = [g for g in rule["grades"] if g not in INDIVIDUAL_GRADES]
            if unknown or not rule["grades"]:
                problems.append(f"{at}: field 'grades': not individual grades: {unknown}")
                continue
            limits = {k: rule.get(k) for k in ("min_share", "max_share", "min_count")}
            if all(value is None for value in limits.values()):
                problems.append(f"{at}: set one of min_share, max_share, min_count")
                continue
            bad = [
                k
                for k in ("min_share", "max_share")
                if limits[k] is not None and not _is_share(limits[k])
            ]
            count = limits["min_count"]
            if count is not None and (not isinstance(count, int) or count < 0):
                bad.append("min_count")
            if bad:
                problems.append(f"{at}: field '{bad[0]}': a share 0..1 (a count >= 0)")
                continue
            parsed.append(
                DistributionRule(
                    tuple(rule["grades"]),
                    None if limits["min_share"] is None else float(limits["min_share"]),
                    None if limits["max_share"] is None else float(limits["max_share"]),
                    count,
                )
            )
        found[org] = tuple(parsed)
    return found


def parse_predikat(raw: Any, source: str) -> tuple[tuple[PredikatVersion, ...], list[str]]:
    """The `predikat:` section: versions sorted by effective_from, or the problems."""
    if raw is None:
        return (DEFAULT_PREDIKAT,), []
    problems: list[str] = []
    if not isinstance(raw, list) or not raw:
        return (), [f"{source}: predikat: must be a non-empty list of versions"]
    versions = []
    for index, entry in enumerate(raw):
        where = f"{source}: predikat[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        effective = entry.get("effective_from")
        if not isinstance(effective, date):
            problems.append(f"{where}: field 'effective_from': a date (YYYY-MM-DD)")
            continue
        minimum = entry.get("min_decided_timers", DEFAULT_PREDIKAT.min_decided_timers)
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
            problems.append(f"{where}: field 'min_decided_timers': an integer >= 1")
            continue
        text = entry.get("source")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: field 'source': where the thresholds come from")
            continue
        versions.append(
            PredikatVersion(
                effective_from=effective,
                source=text,
                min_decided_timers=minimum,
                individual=_parse_bands(
                    entry.get("individual"), INDIVIDUAL_GRADES, f"{where}.individual", problems
                ),
                organisation=_parse_bands(
                    entry.get("organisation"),
                    ORGANISATION_GRADES,
                    f"{where}.organisation",
                    problems,
                ),
                distribution=_parse_rules(
                    entry.get("distribution"), f"{where}.distribution", problems
                ),
            )
        )
    dates = [version.effective_from for version in versions]
    if len(set(dates)) != len(dates):
        problems.append(f"{source}: predikat: two versions with the same effective_from")
    return tuple(sorted(versions, key=lambda v: v.effective_from)), problems


def version_on(versions: Sequence[PredikatVersion], day: date) -> PredikatVersion:
    """The version in force on `day` (the earliest one before any)."""
    chosen = versions[0]
    for version in versions:
        if version.effective_from <= day:
            chosen = version
    return chosen


# -- the quarterly evaluation -----------------------------------------------------------

UNGRADED_OFFICERS: Final = frozenset({"unassigned"})  # not a person: never graded


def decided_timers(row: Mapping[str, Any]) -> int:
    return int(
        sum(
            row.get(column) or 0
            for column in ("response_met", "response_missed", "resolution_met", "resolution_missed")
        )
    )


def _proposal(row: Mapping[str, Any], bands: Sequence[GradeBand], minimum: int) -> dict[str, Any]:
    decided = decided_timers(row)
    value = achievement(row.get("indicators", ()))
    grade = grade_for(value, bands) if decided >= minimum else None
    return {
        "decided_timers": decided,
        "achievement_percent": value,
        "grade": grade if grade is not None else NOT_ENOUGH_DATA,
    }


def evaluate(
    unit_row: Mapping[str, Any] | None,
    officer_rows: Iterable[Mapping[str, Any]],
    version: PredikatVersion,
) -> dict[str, Any]:
    """Propose the unit's grade (organisation scale) and each officer's (individual scale)
    from their quarter scores (the `sigap scores --format json` objects, category "*"), and
    check the distribution rules of the unit's grade. Below `min_decided_timers` decided
    timers a grade is "not enough data", never a grade; `unassigned` is not a person and is
    never graded. The unit head's result rating follows the unit's grade."""
    minimum = version.min_decided_timers
    unit: dict[str, Any] = (
        _proposal(unit_row, version.organisation, minimum)
        if unit_row is not None
        else {"decided_timers": 0, "achievement_percent": None, "grade": NOT_ENOUGH_DATA}
    )
    officers = []
    for row in sorted(officer_rows, key=lambda item: str(item["officer"])):
        if row["officer"] in UNGRADED_OFFICERS:
            proposal = {
                "decided_timers": decided_timers(row),
                "achievement_percent": achievement(row.get("indicators", ())),
                "grade": None,
                "note": "complaints without an officer code: not a person, not graded",
            }
        else:
            proposal = _proposal(row, version.individual, minimum)
        officers.append({"officer": row["officer"], **proposal})
    graded = [item["grade"] for item in officers if item["grade"] in INDIVIDUAL_GRADES]
    violations = (
        check_distribution(unit["grade"], graded, version)
        if unit["grade"] in ORGANISATION_GRADES and graded
        else []
    )
    return {
        "predikat_version": version.effective_from.isoformat(),
        "predikat_source": version.source,
        "min_decided_timers": minimum,
        "unit_grade": unit,
        "officers": officers,
        "distribution": {grade: graded.count(grade) for grade in INDIVIDUAL_GRADES},
        "rules": [rule.describe() for rule in version.distribution.get(unit["grade"], ())],
        "violations": [
            {"organisation_grade": v.organisation_grade, "rule": v.rule, "found": v.found}
            for v in violations
        ],
    }
