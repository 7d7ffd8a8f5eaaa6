"""The registry's category taxonomy (`categories:`) and ranking settings (`ranking:`): the
shipped categories and their SP4N-LAPOR! tiers, the tier step of the target lookup, and the
file's validation messages."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sigap.core.registry import Registry, RegistryError, TargetSpec
from sigap.core.registry_file import load_registry, parse_registry

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml"
AT = datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Jakarta"))
SRC = "test/registry.yaml"
# SP4N-LAPOR!: 5, 14 and 60 working days to resolve, by complexity.
TIER_DAYS = {"ordinary": 5, "complex": 14, "very_complex": 60}


@pytest.fixture(scope="module")
def shipped() -> Registry:
    return load_registry(SHIPPED)


def test_the_shipped_taxonomy_names_what_city_channels_use(shipped: Registry) -> None:
    codes = set(shipped.category_specs)
    assert 20 <= len(codes) <= 30
    assert {
        "roads_bridges",
        "drainage_flooding",
        "waste",
        "street_lighting",
        "parks_trees",
        "civil_registration",
        "health_services",
        "education",
        "public_order",
        "transport_parking",
        "water_supply",
        "permits",
        "social_assistance",
    } <= codes
    assert "other" not in codes
    for spec in shipped.category_specs.values():
        assert spec.name and spec.tier in TIER_DAYS
        assert set(spec.units) <= set(shipped.units), spec.code
    # Every registry unit has categories of its own (the simulator draws from them).
    assert {u for spec in shipped.category_specs.values() for u in spec.units} == set(shipped.units)
    # The taxonomy's codes are the category labels; the tier names stay for old events.
    assert codes | {"complex", "very_complex"} == set(shipped.categories)


@pytest.mark.parametrize("unit", ["dlh", "dsda", "dishub", "dinkes", "unknown"])
def test_each_category_gets_its_tiers_targets(shipped: Registry, unit: str) -> None:
    for spec in shipped.category_specs.values():
        targets = shipped.targets_for(unit, spec.code, "normal", AT)
        assert targets.resolution == TargetSpec("working", days=TIER_DAYS[spec.tier]), spec.code
        assert targets.response == TargetSpec("wall", hours=24)
    assert shipped.targets_for(unit, "roads_bridges", "urgent", AT).resolution.days == 14
    assert shipped.targets_for(unit, "land_assets", "low", AT).resolution.days == 60
    assert shipped.targets_for(unit, "waste", "normal", AT).resolution.days == 5


def test_each_category_gets_its_tiers_iku_targets(shipped: Registry) -> None:
    hours = {"ordinary": 40.0, "complex": 112.0, "very_complex": 480.0}
    for spec in shipped.category_specs.values():
        found = shipped.iku_target("dlh", spec.code, "resolution_p90_working_hours")
        assert found == hours[spec.tier], spec.code


def test_emergency_units_keep_their_own_targets_in_any_category(shipped: Registry) -> None:
    for code in ("damkar", "bpbd"):
        for category in ("fire_rescue", "drainage_flooding", "land_assets"):
            targets = shipped.targets_for(code, category, "urgent", AT)
            assert targets.resolution == TargetSpec("working", hours=24)
            assert targets.response == TargetSpec("wall", hours=1)


def test_the_shipped_ranking_settings(shipped: Registry) -> None:
    assert (shipped.ranking.min_decided_timers, shipped.ranking.confidence) == (10, 0.95)


# ---- the tier step of the lookup, on a small inline registry --------------------------------


def entry(unit: str, category: str, days: int) -> dict[str, Any]:
    return {
        "effective_from": "2025-01-01",
        "unit": unit,
        "category": category,
        "priority": "*",
        "response": {"clock": "wall", "hours": 24},
        "resolution": {"clock": "working", "days": days},
    }


def base() -> dict[str, Any]:
    return {
        "version": "t1",
        "calendars": {"office": {"kind": "office_hours"}},
        "units": [
            {"code": "dsda", "name": "DSDA", "calendar": "office"},
            {"code": "dlh", "name": "DLH", "calendar": "office"},
        ],
        "targets": [
            entry("*", "*", 5),
            entry("*", "complex", 14),
            entry("*", "bridge_repair", 30),  # an entry for the category itself
            entry("dlh", "*", 7),
        ],
        "categories": [
            {"code": "roads", "name": "Jalan", "tier": "complex", "units": ["dsda"]},
            {"code": "bridge_repair", "name": "Jembatan", "tier": "complex"},
            {"code": "waste", "name": "Sampah", "tier": "ordinary"},
        ],
        "iku": {"targets": [{"unit": "*", "category": "complex", "rating_mean": 3.5}]},
        "ranking": {"min_decided_timers": 4, "confidence": 0.9},
    }


def build(data: object) -> Registry:
    return parse_registry(data, SRC, frozenset())


def days(registry: Registry, unit: str, category: str | None) -> int | None:
    return registry.targets_for(unit, category, "normal", AT).resolution.days


def test_a_category_matches_its_tier_after_its_own_entries_and_before_the_wildcard() -> None:
    registry = build(base())
    assert days(registry, "dsda", "roads") == 14  # its tier's entry
    assert days(registry, "dsda", "bridge_repair") == 30  # its own entry beats its tier's
    assert days(registry, "dsda", "waste") == 5  # ordinary: the "*" entries
    assert days(registry, "dsda", "not-listed") == 5
    assert days(registry, "dsda", None) == 5
    # An exact unit still comes first: dlh's own entry beats the category's tier.
    assert days(registry, "dlh", "roads") == 7
    assert registry.iku_target("dsda", "roads", "rating_mean") == 3.5
    assert registry.iku_target("dsda", "waste", "rating_mean") == 4.0
    assert (registry.ranking.min_decided_timers, registry.ranking.confidence) == (4, 0.9)
    assert registry.tier_key("roads") == "complex" and registry.tier_key("waste") is None


def test_without_sections_the_defaults_apply() -> None:
    data = base()
    del data["categories"], data["ranking"]
    registry = build(data)
    assert dict(registry.category_specs) == {}
    assert (registry.ranking.min_decided_timers, registry.ranking.confidence) == (10, 0.95)
    assert days(registry, "dsda", "roads") == 5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["categories"].append({"code": "roads", "name": "x", "tier": "complex"}),
            "categories[3] (code 'roads'): field 'code': duplicate category code",
        ),
        (
            lambda d: d["categories"].append({"code": "other", "name": "x", "tier": "complex"}),
            "categories[3] (code 'other'): field 'code': 'other' is reserved",
        ),
        (
            lambda d: d["categories"].append({"code": "complex", "name": "x", "tier": "complex"}),
            "field 'code': 'complex' is a tier name",
        ),
        (
            lambda d: d["categories"][0].update(tier="hard"),
            "categories[0] (code 'roads'): field 'tier': Input should be 'ordinary', 'complex' "
            "or 'very_complex'",
        ),
        (
            lambda d: d["categories"][0].update(units=["dpu"]),
            "categories[0] (code 'roads'): field 'units': unknown unit code 'dpu'",
        ),
        (
            lambda d: d["categories"][1].update(colour="red"),
            "categories[1] (code 'bridge_repair'): field 'colour': unknown field",
        ),
        (
            lambda d: d["ranking"].update(confidence=1.0),
            "field 'ranking.confidence': must be < 1",
        ),
        (
            lambda d: d["ranking"].update(min_decided_timers=-1),
            "field 'ranking.min_decided_timers': must be >= 0",
        ),
    ],
)
def test_a_bad_taxonomy_or_ranking_setting_is_named(change: Any, message: str) -> None:
    data = copy.deepcopy(base())
    change(data)
    with pytest.raises(RegistryError) as info:
        build(data)
    assert any(message in problem for problem in info.value.problems), info.value.problems
    assert all(problem.startswith(f"{SRC}: ") for problem in info.value.problems)


def test_dsda_is_judged_on_the_complex_tiers_resolution_p90(shipped: Registry) -> None:
    # Every dsda category is complex or very complex (roads, drainage, sidewalks, projects).
    tiers = {s.tier for s in shipped.category_specs.values() if "dsda" in s.units}
    assert tiers == {"complex", "very_complex"}
    target = shipped.iku_target
    assert target("dsda", "*", "resolution_p90_working_hours") == 112.0
    assert target("dsda", "roads_bridges", "resolution_p90_working_hours") == 112.0
    assert target("dsda", "infrastructure_projects", "resolution_p90_working_hours") == 480.0
    assert target("dlh", "*", "resolution_p90_working_hours") == 40.0
