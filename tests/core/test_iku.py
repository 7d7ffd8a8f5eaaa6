"""IKU achievement (core.iku) and the registry's `iku:` section."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sigap.core.iku import (
    INDICATORS,
    Indicator,
    achievement_percent,
    indicator_score,
    indicator_scores,
    target_achieved,
)
from sigap.core.registry import DEFAULT_MAX_ACHIEVEMENT_PERCENT, IKU_INDICATORS, RegistryError
from sigap.core.registry_file import load_registry, parse_registry

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "registry.yaml"
SRC = "test/registry.yaml"

BASE: dict[str, Any] = {
    "version": "t",
    "default_objective": 0.9,
    "calendars": {"office": {"kind": "office_hours"}},
    "units": [
        {"code": "dlh", "name": "DLH", "calendar": "office"},
        {"code": "damkar", "name": "Damkar", "calendar": "office", "objective": 0.8},
    ],
    "targets": [
        {
            "effective_from": "2019-01-01",
            "unit": "*",
            "category": "*",
            "priority": "*",
            "response": {"clock": "wall", "hours": 24},
            "resolution": {"clock": "working", "days": 5},
        }
    ],
}


def registry_with(iku: Any) -> Any:
    document = copy.deepcopy(BASE)
    document["iku"] = iku
    return parse_registry(document, SRC, frozenset())


# -- the formula ---------------------------------------------------------------------------


def test_higher_is_better_is_realisation_over_target() -> None:
    assert achievement_percent(90.0, 95.0, "higher") == pytest.approx(90 / 95 * 100)
    assert target_achieved(90.0, 95.0, "higher") is False
    assert achievement_percent(95.0, 95.0, "higher") == 100.0
    assert target_achieved(95.0, 95.0, "higher") is True
    assert achievement_percent(0.0, 95.0, "higher") == 0.0
    assert target_achieved(0.0, 95.0, "higher") is False


def test_lower_is_better_is_target_over_realisation() -> None:
    assert achievement_percent(16.0, 8.0, "lower") == 50.0
    assert target_achieved(16.0, 8.0, "lower") is False
    assert achievement_percent(8.0, 8.0, "lower") == 100.0
    assert target_achieved(8.0, 8.0, "lower") is True
    assert achievement_percent(7.0, 8.0, "lower") == pytest.approx(8 / 7 * 100)


def test_achievement_is_capped() -> None:
    assert DEFAULT_MAX_ACHIEVEMENT_PERCENT == 120.0
    assert achievement_percent(100.0, 50.0, "higher") == 120.0  # 200% before the cap
    assert achievement_percent(2.0, 8.0, "lower") == 120.0  # 400% before the cap
    assert achievement_percent(100.0, 50.0, "higher", max_percent=150.0) == 150.0
    assert achievement_percent(60.0, 50.0, "higher", max_percent=150.0) == 120.0  # under it


def test_zero_realisation_when_lower_is_better_reaches_the_cap() -> None:
    # Nothing is better than no waiting time at all (and t/0 has no value).
    assert achievement_percent(0.0, 8.0, "lower") == 120.0
    assert achievement_percent(0.0, 8.0, "lower", max_percent=130.0) == 130.0
    assert target_achieved(0.0, 8.0, "lower") is True


def test_no_realisation_is_neither_achieved_nor_missed() -> None:
    for direction in ("higher", "lower"):
        assert achievement_percent(None, 8.0, direction) is None  # type: ignore[arg-type]
        assert target_achieved(None, 8.0, direction) is None  # type: ignore[arg-type]
    score = indicator_score(Indicator("x", "lower", "h", ""), None, 8.0)
    assert (score.achievement_percent, score.achieved, score.target) == (None, None, 8.0)


def test_bad_targets_and_realisations_are_refused() -> None:
    with pytest.raises(ValueError, match="target must be > 0"):
        achievement_percent(1.0, 0.0, "higher")
    with pytest.raises(ValueError, match="cannot be negative"):
        achievement_percent(-1.0, 8.0, "lower")


def test_indicators_and_their_directions() -> None:
    assert tuple(i.name for i in INDICATORS) == IKU_INDICATORS
    directions = {i.name: i.direction for i in INDICATORS}
    assert directions == {
        "response_within_target": "higher",
        "resolution_within_target": "higher",
        "response_p90_working_hours": "lower",  # times: lower is better
        "resolution_p90_working_hours": "lower",
        "rating_mean": "higher",
    }


VALUES = {
    "response_within_target_share": 0.9,
    "resolution_within_target_share": None,
    "response_p90_working_seconds": 4 * 3600.0,
    "resolution_p90_working_seconds": 80 * 3600.0,
    "rating_mean": 4.5,
}


def test_indicator_scores_of_a_period_score() -> None:
    registry = load_registry(SHIPPED)
    scores = {s.name: s for s in indicator_scores("dlh", "*", VALUES, registry)}
    response = scores["response_within_target"]
    # 90% met against the objective 95%: 94.7%, missed.
    assert (response.realisation, response.target) == (pytest.approx(90.0), 95.0)
    assert response.achievement_percent == pytest.approx(90 / 95 * 100)
    assert response.achieved is False
    assert scores["resolution_within_target"].achievement_percent is None
    hours = scores["response_p90_working_hours"]
    assert (hours.realisation, hours.target, hours.achieved) == (4.0, 8.0, True)
    assert hours.achievement_percent == 120.0  # 200%, capped
    slow = scores["resolution_p90_working_hours"]
    assert (slow.realisation, slow.target, slow.achievement_percent) == (80.0, 40.0, 50.0)
    assert (scores["rating_mean"].achievement_percent, scores["rating_mean"].achieved) == (
        pytest.approx(112.5),
        True,
    )
    # Emergency units have tighter time targets (registry `iku.targets`).
    damkar = {s.name: s for s in indicator_scores("damkar", "*", VALUES, registry)}
    assert damkar["response_p90_working_hours"].target == 1.0
    assert damkar["response_p90_working_hours"].achievement_percent == 25.0


def test_without_a_registry_the_defaults_apply() -> None:
    scores = {s.name: s for s in indicator_scores("dlh", "*", VALUES, None)}
    assert scores["response_within_target"].target == 95.0
    assert scores["response_p90_working_hours"].target == 8.0
    assert scores["rating_mean"].target == 4.0


# -- the registry section ------------------------------------------------------------------


def test_iku_targets_most_specific_entry_wins() -> None:
    registry = registry_with(
        {
            "max_achievement_percent": 150,
            "targets": [
                {
                    "unit": "*",
                    "category": "*",
                    "response_p90_working_hours": 10,
                    "rating_mean": 3.5,
                },
                {"unit": "*", "category": "complex", "response_p90_working_hours": 20},
                {"unit": "damkar", "category": "*", "response_p90_working_hours": 2},
                {"unit": "damkar", "category": "complex", "resolution_within_target": 70},
            ],
        }
    )
    assert registry.iku.max_achievement_percent == 150.0
    target = registry.iku_target
    assert target("dlh", "*", "response_p90_working_hours") == 10.0
    assert target("dlh", "complex", "response_p90_working_hours") == 20.0
    assert target("damkar", "complex", "response_p90_working_hours") == 2.0  # unit beats category
    assert target("damkar", "complex", "resolution_within_target") == 70.0
    # Not set anywhere: the objective (x 100) for the shares, the built-in default otherwise.
    assert target("damkar", "*", "resolution_within_target") == 80.0
    assert target("dlh", "*", "resolution_within_target") == 90.0
    assert target("unregistered", "*", "response_within_target") == 90.0
    assert target("dlh", "*", "resolution_p90_working_hours") == 40.0
    assert target("dlh", "other", "rating_mean") == 3.5
    with pytest.raises(ValueError, match="unknown IKU indicator"):
        target("dlh", "*", "speed")
    capped = indicator_scores("dlh", "*", VALUES, registry)
    assert {s.name: s.achievement_percent for s in capped}["response_p90_working_hours"] == 150.0


def test_a_registry_without_iku_section_uses_the_defaults() -> None:
    registry = parse_registry(copy.deepcopy(BASE), SRC, frozenset())
    assert registry.iku.max_achievement_percent == 120.0
    assert registry.iku_target("dlh", "*", "response_p90_working_hours") == 8.0


def test_the_shipped_registry_has_an_iku_section() -> None:
    registry = load_registry(SHIPPED)
    raw = yaml.safe_load(SHIPPED.read_text())
    assert raw["iku"]["max_achievement_percent"] == registry.iku.max_achievement_percent == 120
    assert registry.iku_target("bpbd", "complex", "resolution_p90_working_hours") == 24.0
    assert registry.iku_target("dlh", "complex", "resolution_p90_working_hours") == 112.0


@pytest.mark.parametrize(
    ("iku", "expected"),
    [
        (
            {"max_achievement_percent": 90},
            f"{SRC}: iku: field 'max_achievement_percent': must be >= 100 (got 90.0)",
        ),
        (
            {"targets": [{"unit": "*", "category": "*", "rating_mean": 6}]},
            f"{SRC}: iku.targets[0] (unit '*', category '*'): field 'rating_mean': "
            "must be <= 5 (got 6.0)",
        ),
        (
            {"targets": [{"unit": "dlh", "response_p90_working_hours": -1}]},
            f"{SRC}: iku.targets[0] (unit 'dlh'): field 'response_p90_working_hours': "
            "must be > 0 (got -1.0)",
        ),
        (
            {"targets": [{"unit": "dlh", "speed": 3}]},
            f"{SRC}: iku.targets[0] (unit 'dlh'): field 'speed': "
            "unknown field (check the spelling)",
        ),
        (
            {"targets": [{"unit": "dhl", "rating_mean": 4}]},
            f"{SRC}: iku.targets[0] (unit 'dhl'): field 'unit': unknown unit code 'dhl' "
            "(not in units, and not '*')",
        ),
        (
            {"targets": [{"unit": "dlh"}]},
            f"{SRC}: iku.targets[0] (unit 'dlh'): sets no indicator target (set one of "
            + ", ".join(IKU_INDICATORS)
            + ")",
        ),
        (
            {
                "targets": [
                    {"unit": "dlh", "category": "x", "rating_mean": 4},
                    {"unit": "dlh", "category": "x", "rating_mean": 3},
                ]
            },
            f"{SRC}: iku.targets[1] (unit 'dlh', category 'x'): field 'unit': duplicate of "
            "iku.targets[0] (same unit and category)",
        ),
        (
            {"targets": [{"unit": "dlh", "resolution_within_target": 101}]},
            f"{SRC}: iku.targets[0] (unit 'dlh'): field 'resolution_within_target': "
            "must be <= 100 (got 101.0)",
        ),
        ({"cap": 3}, f"{SRC}: iku: field 'cap': unknown field (check the spelling)"),
    ],
)
def test_iku_errors_name_the_file_entry_and_field(iku: Any, expected: str) -> None:
    with pytest.raises(RegistryError) as info:
        registry_with(iku)
    assert list(info.value.problems) == [expected]
