"""Performance grades: the threshold mapping, the distribution rules tied to the
organisation's grade, "not enough data" below the minimum, and the registry section."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from sigap.core.predikat import (
    DEFAULT_PREDIKAT,
    NOT_ENOUGH_DATA,
    evaluate,
    grade_for,
    parse_predikat,
    version_on,
)
from sigap.core.registry import RegistryError
from sigap.core.registry_file import load_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("achievement", "individual", "organisation"),
    [
        (120.0, "Sangat Baik", "Istimewa"),
        (101.0, "Sangat Baik", "Istimewa"),
        (100.5, "Baik", "Baik"),
        (100.0, "Baik", "Baik"),
        (99.99, "Butuh Perbaikan", "Butuh Perbaikan"),
        (80.0, "Butuh Perbaikan", "Butuh Perbaikan"),
        (79.9, "Kurang", "Kurang"),
        (60.0, "Kurang", "Kurang"),
        (59.9, "Sangat Kurang", "Sangat Kurang"),
        (0.0, "Sangat Kurang", "Sangat Kurang"),
    ],
)
def test_default_thresholds_map_achievement_to_the_five_grades(
    achievement: float, individual: str, organisation: str
) -> None:
    assert grade_for(achievement, DEFAULT_PREDIKAT.individual) == individual
    assert grade_for(achievement, DEFAULT_PREDIKAT.organisation) == organisation


def row(officer: str, achievements: list[float | None], decided: int = 20) -> dict[str, Any]:
    return {
        "officer": officer,
        "response_met": decided,
        "response_missed": 0,
        "resolution_met": 0,
        "resolution_missed": 0,
        "indicators": [{"achievement_percent": value} for value in achievements],
    }


def test_an_officer_below_the_minimum_of_decided_timers_gets_no_grade() -> None:
    result = evaluate(
        row("unit", [100.0]),
        [row("o1", [120.0], decided=9), row("o2", [120.0], decided=10)],
        DEFAULT_PREDIKAT,
    )
    grades = {item["officer"]: item["grade"] for item in result["officers"]}
    assert grades == {"o1": NOT_ENOUGH_DATA, "o2": "Sangat Baik"}
    assert result["unit_grade"]["grade"] == "Baik"


def test_achievement_is_the_mean_of_the_indicators_that_have_one() -> None:
    result = evaluate(None, [row("o1", [120.0, 70.0, None])], DEFAULT_PREDIKAT)
    (officer,) = result["officers"]
    assert officer["achievement_percent"] == 95.0 and officer["grade"] == "Butuh Perbaikan"
    assert result["unit_grade"]["grade"] == NOT_ENOUGH_DATA


def test_a_baik_unit_needs_someone_below_baik_and_at_most_70_percent_baik() -> None:
    officers = [row(f"o{i}", [100.0]) for i in range(8)] + [row("o8", [110.0])]
    result = evaluate(row("unit", [100.0]), officers, DEFAULT_PREDIKAT)
    assert result["unit_grade"]["grade"] == "Baik"
    assert [v["rule"] for v in result["violations"]] == [
        "at most 70% Baik",
        "at least 1 Butuh Perbaikan or Kurang",
    ]
    assert result["violations"][0]["found"] == "8 of 9 (89%)"


def test_a_distribution_within_the_rules_has_no_violation() -> None:
    officers = [row("a", [100.0]), row("b", [100.0]), row("c", [90.0]), row("d", [110.0])]
    result = evaluate(row("unit", [100.0]), officers, DEFAULT_PREDIKAT)
    assert result["violations"] == []
    assert result["distribution"]["Baik"] == 2


def test_sangat_kurang_unit_allows_no_sangat_baik_officer() -> None:
    officers = [row(f"o{i}", [10.0]) for i in range(6)] + [row("k", [70.0]), row("s", [120.0])]
    result = evaluate(row("unit", [20.0]), officers, DEFAULT_PREDIKAT)
    assert result["unit_grade"]["grade"] == "Sangat Kurang"
    assert [v["rule"] for v in result["violations"]] == ["at most 0% Sangat Baik"]


def test_unassigned_is_never_graded_nor_counted_in_the_distribution() -> None:
    result = evaluate(
        row("unit", [120.0]), [row("unassigned", [120.0]), row("o1", [100.0])], DEFAULT_PREDIKAT
    )
    grades = {item["officer"]: item["grade"] for item in result["officers"]}
    assert grades == {"unassigned": None, "o1": "Baik"}
    assert sum(result["distribution"].values()) == 1


def test_the_shipped_registry_holds_the_documented_defaults() -> None:
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    version = version_on(registry.predikat, date(2026, 10, 1))
    assert version.individual == DEFAULT_PREDIKAT.individual
    assert version.organisation == DEFAULT_PREDIKAT.organisation
    assert version.distribution == DEFAULT_PREDIKAT.distribution
    assert "PermenPANRB 6/2022" in version.source


def test_versions_apply_from_their_effective_date_and_errors_name_the_field() -> None:
    section = yaml.safe_load(
        """
        - effective_from: 2022-01-01
          source: defaults
          individual: &bands
            - {grade: Sangat Baik, min_achievement: 101}
            - {grade: Baik, min_achievement: 100}
            - {grade: Butuh Perbaikan, min_achievement: 80}
            - {grade: Kurang, min_achievement: 60}
            - {grade: Sangat Kurang, min_achievement: 0}
          organisation:
            - {grade: Istimewa, min_achievement: 101}
            - {grade: Baik, min_achievement: 100}
            - {grade: Butuh Perbaikan, min_achievement: 80}
            - {grade: Kurang, min_achievement: 60}
            - {grade: Sangat Kurang, min_achievement: 0}
        - effective_from: 2027-01-01
          source: city decree
          min_decided_timers: 20
          individual: *bands
          organisation:
            - {grade: Istimewa, min_achievement: 105}
            - {grade: Baik, min_achievement: 95}
            - {grade: Butuh Perbaikan, min_achievement: 80}
            - {grade: Kurang, min_achievement: 60}
            - {grade: Sangat Kurang, min_achievement: 0}
        """
    )
    versions, problems = parse_predikat(section, "r.yaml")
    assert problems == []
    assert version_on(versions, date(2026, 12, 31)).min_decided_timers == 10
    assert version_on(versions, date(2027, 1, 1)).organisation[1].min_achievement == 95
    section[1]["organisation"][1] = {"grade": "Baik", "min_achievement": 110}
    section[0]["distribution"] = {"Baik": [{"grades": ["Excellent"], "max_share": 0.7}]}
    _, problems = parse_predikat(section, "r.yaml")
    assert problems == [
        "r.yaml: predikat[0].distribution.Baik[0]: field 'grades': not individual grades: "
        "['Excellent']",
        "r.yaml: predikat[1].organisation: min_achievement must not increase from one grade "
        "to the next",
    ]


def test_a_bad_predikat_section_stops_the_registry(tmp_path: Path) -> None:
    text = (ROOT / "deploy" / "registry.yaml").read_text()
    broken = tmp_path / "registry.yaml"
    broken.write_text(text.split("\npredikat:")[0] + "\npredikat: []\n")
    for name in ("holidays-override.yaml",):
        source = ROOT / "deploy" / name
        if source.exists():
            (tmp_path / name).write_text(source.read_text())
    with pytest.raises(RegistryError, match="predikat"):
        load_registry(broken)
