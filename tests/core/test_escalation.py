"""The escalation ladder: the registry section (core.escalation), the `escalated` event
charged to the unit holding the complaint (core.timeline rule 13) and counted once per
escalation by the unit stage (core.unit_kpis)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from metrics.names import RESOLUTION_BUCKETS
from schemas.events import ComplaintEvent, EventRejected
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.escalation import DEFAULT_ESCALATION, parse_escalation_settings
from sigap.core.registry import RegistryError
from sigap.core.registry_file import load_registry, parse_registry
from sigap.core.unit_kpis import UnitKpis
from sigap.core.unit_view import UnitView

REGISTRY_PATH = Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml"
REGISTRY = load_registry(REGISTRY_PATH)
MONDAY_9 = datetime.fromisoformat("2026-11-02T09:00:00+07:00")


def event(n: int, kind: str, at: datetime, **extra: Any) -> ComplaintEvent:
    return ComplaintEvent.model_validate(
        {"event_id": f"e{n}", "type": kind, "complaint_id": "c1", "occurred_at": at, **extra}
    )


def test_the_shipped_ladder_goes_to_the_mayor_after_one_day() -> None:
    ladder = REGISTRY.escalation
    assert ladder.codes == ("kecamatan", "dinas", "walikota")
    assert ladder.levels[-1].after_hours == 24
    assert [(r.threshold, r.receiver) for r in ladder.notify] == [
        (0.5, "duty"),
        (0.75, "unit_head"),
        (1.0, "department_head"),
    ]


def test_an_escalation_is_charged_to_the_unit_holding_the_complaint() -> None:
    state = ComplaintState()
    sent: list[UnitView] = []
    history = [
        event(1, "created", MONDAY_9, unit="dlh"),
        event(2, "escalated", MONDAY_9 + timedelta(hours=25), level="walikota"),
        event(3, "assigned", MONDAY_9 + timedelta(hours=26), unit="dsda"),
        event(4, "escalated", MONDAY_9 + timedelta(hours=30), level="kecamatan"),
        event(5, "escalated", MONDAY_9 + timedelta(hours=31), level="walikota"),
    ]
    for item in history:
        sent += accept_event(state, item, REGISTRY).views
    latest = {view.unit: view for view in sent}
    at_25 = (MONDAY_9 + timedelta(hours=25)).timestamp()
    assert latest["dlh"].escalations == ((at_25, "walikota"),)
    assert [level for _, level in latest["dsda"].escalations] == ["kecamatan", "walikota"]
    # Counted once, whatever the number of times a view is (re)applied.
    kpis = UnitKpis((), (), resolution_bounds=RESOLUTION_BUCKETS)
    stored: dict[tuple[str, str], Any] = {}
    for view in [*sent, *sent]:
        key = (view.unit, view.complaint_id)
        stored[key] = kpis.apply(view, stored.get(key), -math.inf)
    assert kpis.counters["dlh"].escalated == {"walikota": 1}
    assert kpis.counters["dsda"].escalated == {"kecamatan": 1, "walikota": 1}
    # ... and rebuilt the same from the stored views after a restart.
    rebuilt = UnitKpis((), (), resolution_bounds=RESOLUTION_BUCKETS)
    rebuilt.restore_all(stored.values())
    assert rebuilt.counters["dsda"].escalated == {"kecamatan": 1, "walikota": 1}


def test_an_escalation_changes_no_clock() -> None:
    def views(with_escalation: bool) -> list[UnitView]:
        state = ComplaintState()
        out: list[UnitView] = []
        items = [event(1, "created", MONDAY_9, unit="dlh")]
        if with_escalation:
            items.append(event(2, "escalated", MONDAY_9 + timedelta(hours=1), level="dinas"))
        items.append(event(3, "responded", MONDAY_9 + timedelta(hours=2)))
        for item in items:
            out += accept_event(state, item, REGISTRY).views
        return out

    plain, escalated = views(False)[-1], views(True)[-1]
    assert plain.timers == escalated.timers
    assert escalated.escalations and not plain.escalations


def test_a_level_outside_the_ladder_is_rejected_and_level_is_required() -> None:
    state = ComplaintState()
    accept_event(state, event(1, "created", MONDAY_9, unit="dlh"), REGISTRY)
    with pytest.raises(EventRejected) as rejected:
        accept_event(state, event(2, "escalated", MONDAY_9, level="presiden"), REGISTRY)
    assert rejected.value.reason == "unknown_level"
    with pytest.raises(ValueError, match="level is required"):
        event(3, "escalated", MONDAY_9)


def test_the_section_is_validated_with_messages_naming_the_entry() -> None:
    settings, problems = parse_escalation_settings(None, "r.yaml")
    assert settings == DEFAULT_ESCALATION and problems == []
    _, problems = parse_escalation_settings(
        {
            "levels": [{"code": "Mayor!", "name": "x"}, {"code": "dinas", "name": ""}],
            "notify": [{"threshold": 0.6, "receiver": "duty"}, {"threshold": 1, "receiver": "x"}],
            "other": 1,
        },
        "r.yaml",
    )
    assert any("escalation: field 'other': unknown field" in p for p in problems)
    assert any("escalation.levels[0]: field 'code'" in p for p in problems)
    assert any("escalation.levels[1]: field 'name'" in p for p in problems)
    assert any("escalation.notify[0]: field 'threshold'" in p for p in problems)
    assert any("escalation.notify[1]: field 'receiver'" in p for p in problems)
    data = yaml.safe_load(REGISTRY_PATH.read_text())
    data["escalation"]["levels"].append({"code": "dinas", "name": "again"})
    with pytest.raises(RegistryError, match=r"escalation.levels\[3\]: field 'code': duplicate"):
        parse_registry(data, "r.yaml", frozenset())
