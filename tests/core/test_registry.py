"""Tests for core.registry: the shipped registry, target lookup, deadlines and errors."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sigap.core.calendar import WorkingCalendar
from sigap.core.registry import Registry, RegistryError, Targets, TargetSpec
from sigap.core.registry_file import load_registry, parse_registry

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "registry.yaml"
WIB = ZoneInfo("Asia/Jakarta")
NEW_YEAR = date(2026, 1, 1)  # a Thursday, used as the known holiday
HOLIDAYS = frozenset({NEW_YEAR})
SRC = "test/registry.yaml"


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


def wall(hours: float) -> TargetSpec:
    return TargetSpec(clock="wall", hours=hours)


def working_days(days: int) -> TargetSpec:
    return TargetSpec(clock="working", days=days)


def working_hours(hours: float) -> TargetSpec:
    return TargetSpec(clock="working", hours=hours)


# ------------------------------------------------------------------------------------------
# The shipped registry
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Registry:
    return load_registry(SHIPPED)


def test_shipped_registry_loads(shipped: Registry) -> None:
    assert shipped.version
    assert shipped.source == str(SHIPPED)
    expected = {"dlh", "dsda", "dishub", "satpol-pp", "dispendukcapil", "dinkes", "damkar", "bpbd"}
    assert expected <= set(shipped.units)
    assert shipped.units["dlh"].name == "Dinas Lingkungan Hidup"
    assert all(u.objective == 0.95 for u in shipped.units.values())


@pytest.mark.parametrize("unit", ["dlh", "dsda", "dishub", "satpol-pp", "dinkes", "unknown"])
def test_shipped_defaults(shipped: Registry, unit: str) -> None:
    t = shipped.targets_for(unit, "jalan_rusak", "normal", wib(2026, 3, 2, 9))
    assert t == Targets(response=wall(24), resolution=working_days(5))
    assert t.response.label == "24h wall"
    assert t.resolution.label == "5 working days"
    assert shipped.targets_for(unit, None, "urgent", wib(2026, 3, 2, 9)) == t


def test_shipped_complexity_tiers(shipped: Registry) -> None:
    at = wib(2026, 3, 2, 9)
    assert shipped.targets_for("dlh", "complex", "normal", at).resolution == working_days(14)
    very = shipped.targets_for("dsda", "very_complex", "high", at)
    assert very == Targets(response=wall(24), resolution=working_days(60))
    assert very.resolution.label == "60 working days"


def test_shipped_emergency_units(shipped: Registry) -> None:
    for code in ("damkar", "bpbd"):
        assert shipped.units[code].calendar_name == "always_open"
        assert shipped.calendar_for(code) is shipped.calendars["always_open"]
        t = shipped.targets_for(code, "kebakaran", "urgent", wib(2026, 3, 2, 3))
        assert t == Targets(response=wall(1), resolution=working_hours(24))
        assert (t.response.label, t.resolution.label) == ("1h wall", "24h working")
    assert shipped.calendar_for("dlh") is shipped.calendars["office"]


def test_shipped_unknown_unit_gets_office_calendar(shipped: Registry) -> None:
    assert shipped.calendar_for("unknown") is shipped.calendars["office"]
    assert shipped.calendar_for("no-such-unit") is shipped.calendars["office"]
    assert shipped.objective_for("no-such-unit") == 0.95


def test_shipped_all_target_specs(shipped: Registry) -> None:
    specs = shipped.all_target_specs()
    assert {wall(24), wall(1), working_hours(24)} <= specs
    assert {working_days(5), working_days(14), working_days(60)} <= specs


# ------------------------------------------------------------------------------------------
# Lookup: precedence and versioning, on a small inline registry
# ------------------------------------------------------------------------------------------


def entry(
    unit: str, category: str, priority: str, hours: float, effective: str = "2025-01-01"
) -> dict[str, Any]:
    # The response target's hours tell the tests which entry matched.
    return {
        "effective_from": effective,
        "unit": unit,
        "category": category,
        "priority": priority,
        "response": {"clock": "wall", "hours": hours},
        "resolution": {"clock": "working", "days": 5},
    }


def base() -> dict[str, Any]:
    return {
        "version": "t1",
        "default_objective": 0.9,
        "calendars": {
            "office": {
                "kind": "office_hours",
                "start": "08:00",
                "end": "16:00",
                "weekdays": ["mon", "tue", "wed", "thu", "fri"],
            },
            "always_open": {"kind": "always_open"},
        },
        "units": [
            {"code": "dlh", "name": "Dinas Lingkungan Hidup", "calendar": "office"},
            {
                "code": "dishub",
                "name": "Dinas Perhubungan",
                "calendar": "office",
                "objective": 0.99,
            },
            {"code": "damkar", "name": "Damkar", "calendar": "always_open"},
        ],
        "targets": [
            entry("*", "*", "*", 100),
            entry("*", "*", "urgent", 90),
            entry("*", "banjir", "*", 80),
            entry("*", "banjir", "urgent", 70),
            entry("dlh", "*", "*", 60),
            entry("dlh", "*", "urgent", 50),
            entry("dlh", "banjir", "*", 40),
            entry("dlh", "banjir", "urgent", 30),
        ],
    }


def build(data: object) -> Registry:
    return parse_registry(data, SRC, HOLIDAYS)


@pytest.fixture()
def reg() -> Registry:
    return build(base())


AT = wib(2026, 3, 2, 10)


@pytest.mark.parametrize(
    ("unit", "category", "priority", "hours"),
    [
        ("dlh", "banjir", "urgent", 30),  # 1. (unit, category, priority)
        ("dlh", "banjir", "low", 40),  # 2. (unit, category, *)
        ("dlh", "sampah", "urgent", 50),  # 3. (unit, *, priority)
        ("dlh", None, "urgent", 50),  # no category: only "*" categories match
        ("dlh", "sampah", "low", 60),  # 4. (unit, *, *)
        ("dishub", "banjir", "urgent", 70),  # 5. (*, category, priority)
        ("dishub", "banjir", "high", 80),  # 6. (*, category, *)
        ("unknown", "banjir", "high", 80),  # unregistered units fall through to "*"
        ("dishub", "sampah", "urgent", 90),  # 7. (*, *, priority)
        ("dishub", "sampah", "normal", 100),  # 8. (*, *, *)
        ("dishub", "Banjir", "normal", 100),  # matching is case-sensitive
        ("dishub", "banjir", "bogus", 80),  # unknown priorities only match "*"
    ],
)
def test_precedence(
    reg: Registry, unit: str, category: str | None, priority: str, hours: float
) -> None:
    assert reg.targets_for(unit, category, priority, AT).response == wall(hours)


def test_unit_beats_category_and_category_beats_priority() -> None:
    data = base()
    data["targets"] = [
        entry("*", "*", "*", 100),
        entry("dlh", "*", "*", 1),
        entry("*", "banjir", "*", 2),
        entry("*", "*", "urgent", 3),
    ]
    r = build(data)
    assert r.targets_for("dlh", "banjir", "urgent", AT).response == wall(1)
    assert r.targets_for("dishub", "banjir", "urgent", AT).response == wall(2)


def versioned() -> Registry:
    data = base()
    data["targets"] = [
        entry("*", "*", "*", 100, "2025-01-01"),
        entry("*", "*", "*", 101, "2026-02-01"),
        entry("dlh", "*", "*", 60, "2025-06-01"),
        entry("dlh", "*", "*", 61, "2026-02-01"),
        entry("dlh", "banjir", "*", 40, "2026-03-01"),
    ]
    return build(data)


def test_effective_date_versioning() -> None:
    r = versioned()
    assert r.targets_for("dishub", None, "low", wib(2026, 1, 31, 12)).response == wall(100)
    assert r.targets_for("dishub", None, "low", wib(2026, 2, 1, 0)).response == wall(101)
    # dlh had no entry of its own before 2025-06-01: the catch-all applied.
    assert r.targets_for("dlh", None, "low", wib(2025, 5, 31, 12)).response == wall(100)
    assert r.targets_for("dlh", None, "low", wib(2025, 6, 1, 8)).response == wall(60)
    assert r.targets_for("dlh", None, "low", wib(2026, 2, 1, 8)).response == wall(61)
    # A more specific key only wins once it is in force.
    assert r.targets_for("dlh", "banjir", "low", wib(2026, 2, 28, 23)).response == wall(61)
    assert r.targets_for("dlh", "banjir", "low", wib(2026, 3, 1, 0)).response == wall(40)


def test_creation_date_is_the_jakarta_day() -> None:
    r = versioned()
    # 23:30 WIB on 31 January is still 31 January: old target.
    assert r.targets_for("dishub", None, "low", wib(2026, 1, 31, 23, 30)).response == wall(100)
    # 17:30 UTC on 31 January is 00:30 WIB on 1 February: new target.
    utc = datetime(2026, 1, 31, 17, 30, tzinfo=UTC)
    assert r.targets_for("dishub", None, "low", utc).response == wall(101)
    early = datetime(2026, 1, 31, 16, 59, tzinfo=UTC)  # 23:59 WIB, 31 January
    assert r.targets_for("dishub", None, "low", early).response == wall(100)
    # Any zone works, only the instant matters.
    ny = datetime(2026, 1, 31, 12, 30, tzinfo=ZoneInfo("America/New_York"))  # 00:30 WIB
    assert r.targets_for("dishub", None, "low", ny).response == wall(101)


def test_before_first_effective_date_uses_first_version() -> None:
    r = versioned()
    assert r.targets_for("dlh", None, "low", wib(2020, 1, 1)).response == wall(100)


def test_naive_created_at_is_rejected(reg: Registry) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        reg.targets_for("dlh", None, "low", datetime(2026, 3, 2, 10))


def test_lookup_memo_stays_correct_across_many_keys(reg: Registry) -> None:
    for i in range(200):
        assert reg.targets_for("dlh", f"cat{i}", "low", AT).response == wall(60)
    assert reg.targets_for("dlh", "banjir", "urgent", AT).response == wall(30)


def test_units_objectives_and_calendars(reg: Registry) -> None:
    assert reg.units["dlh"].objective == 0.9  # the file's default_objective
    assert reg.units["dishub"].objective == 0.99
    assert reg.units["damkar"].calendar_name == "always_open"
    assert reg.calendar_for("damkar") is reg.calendars["always_open"]
    assert reg.calendar_for("unknown") is reg.calendars["office"]
    with pytest.raises(TypeError):
        reg.units["x"] = reg.units["dlh"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        reg.version = "other"


def test_result_objects_are_frozen(reg: Registry) -> None:
    t = reg.targets_for("dlh", None, "low", AT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.response = wall(1)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.response.hours = 1  # type: ignore[misc]
    assert len({wall(24), wall(24.0), working_hours(24)}) == 2


def test_all_target_specs(reg: Registry) -> None:
    specs = reg.all_target_specs()
    assert specs == {wall(h) for h in (100, 90, 80, 70, 60, 50, 40, 30)} | {working_days(5)}


# ------------------------------------------------------------------------------------------
# TargetSpec
# ------------------------------------------------------------------------------------------


@pytest.fixture()
def office() -> WorkingCalendar:
    return WorkingCalendar.office_hours("office", HOLIDAYS, start=time(8), end=time(16))


def test_deadline_wall_ignores_calendar(office: WorkingCalendar) -> None:
    start = wib(2025, 12, 31, 15)
    assert wall(24).deadline(office, start) == wib(2026, 1, 1, 15)  # across the holiday
    assert wall(1.5).deadline(office, start) == wib(2025, 12, 31, 16, 30)
    # Elapsed time even in a zone with DST (US clocks went forward on 2026-03-08).
    ny = ZoneInfo("America/New_York")
    end = wall(24).deadline(office, datetime(2026, 3, 7, 12, tzinfo=ny))
    assert end == datetime(2026, 3, 7, 17, tzinfo=UTC) + timedelta(hours=24)


def test_deadline_working_hours_skip_holiday_and_night(office: WorkingCalendar) -> None:
    # Wed 31 Dec 15:00: one hour left that day, Thu 1 Jan is a holiday, then Fri 08:00-10:00.
    start = wib(2025, 12, 31, 15)
    assert working_hours(3).deadline(office, start) == wib(2026, 1, 2, 10)
    assert working_hours(3).deadline(office, start) == office.add_working_seconds(start, 10800)


def test_deadline_working_days_skip_holiday_and_weekend(office: WorkingCalendar) -> None:
    # Started after closing on Wed 31 Dec: working days are Fri 2 Jan, then Mon 5 Jan.
    start = wib(2025, 12, 31, 17)
    assert working_days(1).deadline(office, start) == wib(2026, 1, 2, 16)
    assert working_days(2).deadline(office, start) == wib(2026, 1, 5, 16)
    assert working_days(5).deadline(office, start) == office.working_days_deadline(start, 5)


def test_deadline_always_open_working_hours_equal_wall() -> None:
    cal = WorkingCalendar.always_open("always_open")
    start = wib(2025, 12, 31, 22)
    assert working_hours(24).deadline(cal, start) == wib(2026, 1, 1, 22)


def test_deadline_needs_aware_start(office: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        wall(1).deadline(office, datetime(2026, 1, 2, 9))


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        (wall(24), "24h wall"),
        (wall(1.5), "1.5h wall"),
        (working_hours(8), "8h working"),
        (working_days(1), "1 working day"),
        (working_days(14), "14 working days"),
    ],
)
def test_labels(spec: TargetSpec, label: str) -> None:
    assert spec.label == label


@pytest.mark.parametrize(
    "kwargs",
    [
        {"clock": "wall"},
        {"clock": "wall", "days": 1},
        {"clock": "working", "hours": 1, "days": 1},
        {"clock": "wall", "hours": 0},
        {"clock": "working", "days": 0},
    ],
)
def test_target_spec_checks_itself(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TargetSpec(**kwargs)


# ------------------------------------------------------------------------------------------
# Errors: each names the file, the entry and the field
# ------------------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


def _append_unit(unit: dict[str, Any]) -> Mutation:
    return lambda data: data["units"].append(unit)


def _drop_catch_all(data: dict[str, Any]) -> None:
    data["targets"] = data["targets"][1:]


def _duplicate_target(data: dict[str, Any]) -> None:
    data["targets"].append(copy.deepcopy(data["targets"][4]))


ERROR_CASES: list[tuple[str, Mutation, list[str]]] = [
    (
        "wrong type",
        _set("units.1.objective", "high"),
        ["units[1] (code 'dishub')", "field 'objective'", "valid number", "str 'high'"],
    ),
    (
        "missing field",
        _delete("units.0.name"),
        ["units[0] (code 'dlh')", "field 'name'", "required field is missing"],
    ),
    (
        "bad unit code",
        _set("units.0.code", "Dinas LH"),
        ["units[0] (code 'Dinas LH')", "field 'code'", "must match"],
    ),
    (
        "reserved unit code",
        _set("units.0.code", "unknown"),
        ["units[0] (code 'unknown')", "field 'code'", "reserved"],
    ),
    (
        "unknown calendar",
        _set("units.2.calendar", "24x7"),
        ["units[2] (code 'damkar')", "field 'calendar'", "unknown calendar '24x7'"],
    ),
    (
        "hours and days both set",
        _set("targets.1.response", {"clock": "working", "hours": 8, "days": 1}),
        [
            "targets[1] (effective_from 2025-01-01, unit '*', category '*', priority 'urgent')",
            "field 'response.days'",
            "exactly one of",
        ],
    ),
    (
        "neither hours nor days",
        _set("targets.2.resolution", {"clock": "working"}),
        ["targets[2] (", "category 'banjir'", "field 'resolution'", "exactly one of"],
    ),
    (
        "days with wall clock",
        _set("targets.3.resolution", {"clock": "wall", "days": 5}),
        ["targets[3] (", "field 'resolution.days'", "needs clock 'working'"],
    ),
    (
        "negative hours",
        _set("targets.4.response", {"clock": "wall", "hours": -1}),
        ["targets[4] (", "unit 'dlh'", "field 'response.hours'", "must be > 0 (got -1)"],
    ),
    (
        "bad clock",
        _set("targets.4.response", {"clock": "office", "hours": 1}),
        ["targets[4] (", "field 'response.clock'", "'wall' or 'working'"],
    ),
    (
        "objective out of range",
        _set("units.1.objective", 1.0),
        ["units[1] (code 'dishub')", "field 'objective'", "must be < 1 (got 1.0)"],
    ),
    (
        "default objective out of range",
        _set("default_objective", 0),
        ["top level", "field 'default_objective'", "must be > 0"],
    ),
    (
        "duplicate unit code",
        _append_unit({"code": "dlh", "name": "Again", "calendar": "office"}),
        ["units[3] (code 'dlh')", "field 'code'", "duplicate of units[0]"],
    ),
    (
        "missing catch-all",
        _drop_catch_all,
        ["targets", "field 'effective_from'", "catch-all", "2025-01-01"],
    ),
    (
        "duplicate target key",
        _duplicate_target,
        [
            "targets[8] (effective_from 2025-01-01, unit 'dlh', category '*', priority '*')",
            "field 'effective_from'",
            "duplicate of targets[4]",
        ],
    ),
    (
        "unknown unit in a target",
        _set("targets.7.unit", "dinas-x"),
        ["targets[7] (", "unit 'dinas-x'", "field 'unit'", "unknown unit code 'dinas-x'"],
    ),
    (
        "bad priority",
        _set("targets.1.priority", "critical"),
        ["targets[1] (", "priority 'critical'", "field 'priority'", "str 'critical'"],
    ),
    (
        "bad effective date",
        _set("targets.0.effective_from", "1 Jan 2025"),
        ["targets[0] (effective_from 1 Jan 2025", "field 'effective_from'", "YYYY-MM-DD"],
    ),
    (
        "misspelt field",
        lambda d: d["targets"][0].update(resolutoin=d["targets"][0].pop("resolution")),
        ["targets[0] (", "field 'resolutoin'", "unknown field"],
    ),
    (
        "unquoted time",
        _set("calendars.office.end", 960),  # what YAML makes of an unquoted 16:00
        ["calendars.office", "field 'end'", "quoted", "unquoted 16:00"],
    ),
    (
        "end before start",
        _set("calendars.office.end", "07:00"),
        ["calendars.office", "field 'end'", "after start"],
    ),
    (
        "calendar kind missing",
        _delete("calendars.always_open.kind"),
        ["calendars.always_open", "field 'kind'", "missing"],
    ),
    (
        "unknown default calendar",
        _set("default_calendar", "kantor"),
        ["top level", "field 'default_calendar'", "unknown calendar 'kantor'"],
    ),
    (
        "units not a list",
        _set("units", {"dlh": "Dinas Lingkungan Hidup"}),
        ["top level", "field 'units'", "valid list"],
    ),
    (
        "entry not a mapping",
        _set("units.1", "dishub"),
        ["units[1]", "must be a mapping", "str 'dishub'"],
    ),
    (
        "version not a string",
        _set("version", 3),
        ["top level", "field 'version'", "valid string"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in ERROR_CASES],
)
def test_error_messages(mutate: Mutation, expected: list[str]) -> None:
    data = base()
    mutate(data)
    with pytest.raises(RegistryError) as info:
        build(data)
    message = str(info.value)
    assert message.startswith(f"{SRC}: ")
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_error_lists_every_problem() -> None:
    data = base()
    data["units"][0]["objective"] = 2
    data["units"][1]["calendar"] = "nope"
    with pytest.raises(RegistryError) as info:
        build(data)
    # Pydantic problems are reported before cross-reference ones are checked.
    assert len(info.value.problems) == 1
    data["units"][0]["objective"] = 0.5
    data["targets"][7]["unit"] = "ghost"
    with pytest.raises(RegistryError) as info:
        build(data)
    assert len(info.value.problems) == 2
    assert all(p.startswith(f"{SRC}: ") for p in info.value.problems)


@pytest.mark.parametrize("data", [None, [], "version: 1", 42])
def test_top_level_not_a_mapping(data: object) -> None:
    with pytest.raises(RegistryError, match=r"^test/registry.yaml: top level: must be a mapping"):
        build(data)


def test_registry_error_is_a_value_error() -> None:
    assert issubclass(RegistryError, ValueError)


# ------------------------------------------------------------------------------------------
# load_registry on files
# ------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "registry.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: '1'\nunits: [\n  - code: dlh\n")
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line ")
    assert "invalid YAML" in message


def test_load_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- just\n- a list\n")
    with pytest.raises(RegistryError, match="top level: must be a mapping") as info:
        load_registry(path)
    assert str(info.value).startswith(str(path))


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "nope.yaml")


MINIMAL = """\
version: "x"
calendars:
  office: {kind: office_hours, start: "08:00", end: "16:00"}
units:
  - {code: dlh, name: Dinas Lingkungan Hidup, calendar: office}
targets:
  - effective_from: 2026-01-01
    unit: "*"
    category: "*"
    priority: "*"
    response: {clock: wall, hours: 24}
    resolution: {clock: working, days: 5}
"""


def test_load_minimal_without_overrides_file(tmp_path: Path) -> None:
    r = load_registry(_write(tmp_path, MINIMAL))
    assert r.units["dlh"].objective == 0.95
    start = wib(2025, 12, 31, 17)  # 1 Jan is a national holiday even without overrides
    assert working_days(1).deadline(r.calendar_for("dlh"), start) == wib(2026, 1, 2, 16)


def test_load_missing_explicit_overrides_file(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "holiday_overrides: nope/holidays.yaml\n")
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert message.startswith(f"{path}: top level: field 'holiday_overrides': ")
    assert "nope/holidays.yaml" in message


def test_load_validation_error_names_the_path(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("hours: 24", "hours: 24, days: 1"))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert str(info.value).startswith(f"{path}: targets[0] (effective_from 2026-01-01, ")
    assert "field 'response.days'" in str(info.value)


OVERRIDES = """\
version: "test-1"
added:
  - {date: 2026-03-03, name: "Hari libur lokal (test)"}
removed: []
"""


def test_load_uses_explicit_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "cal").mkdir()
    _write(tmp_path / "cal", OVERRIDES, "extra.yaml")
    r = load_registry(_write(tmp_path, MINIMAL + "holiday_overrides: cal/extra.yaml\n"))
    # Mon 2 Mar 10:00: day 1 is Wed 4 Mar, since Tue 3 Mar is the added holiday.
    start = wib(2026, 3, 2, 10)
    assert working_days(1).deadline(r.calendar_for("dlh"), start) == wib(2026, 3, 4, 16)


def test_load_uses_sibling_overrides_file_by_default(tmp_path: Path) -> None:
    _write(tmp_path, OVERRIDES, "holidays-override.yaml")
    r = load_registry(_write(tmp_path, MINIMAL))
    start = wib(2026, 3, 2, 10)
    assert working_days(1).deadline(r.calendar_for("dlh"), start) == wib(2026, 3, 4, 16)


def test_load_bad_overrides_file_names_the_field(tmp_path: Path) -> None:
    _write(tmp_path, "version: x\nadded: [{date: someday, name: x}]\n", "holidays-override.yaml")
    path = _write(tmp_path, MINIMAL)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert message.startswith(f"{path}: top level: field 'holiday_overrides': ")
    assert "holidays-override.yaml" in message
    assert "added[0]" in message


def test_load_overrides_field_wrong_type(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "holiday_overrides: [a, b]\n")
    with pytest.raises(RegistryError, match="field 'holiday_overrides': must be a path"):
        load_registry(path)
