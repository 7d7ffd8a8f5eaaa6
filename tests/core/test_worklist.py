"""The overdue worklist (core.worklist) and the overdue gauges' state (core.unit_kpis).
Expectations are worked out by hand on the registry's calendars (office: Monday to Friday
08:00-16:00 Asia/Jakarta; dlh and dsda answer within 24 wall hours)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from metrics.names import RESOLUTION_BUCKETS
from schemas.events import ComplaintEvent
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.core.unit_kpis import UnitKpis
from sigap.core.unit_view import UnitView
from sigap.core.worklist import worklist

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")
MONDAY_9 = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
HOUR = 3600.0
DAY = 86400.0


def views_of(complaint: str, *events: tuple[str, datetime, dict[str, Any]]) -> list[UnitView]:
    state = ComplaintState()
    sent: list[UnitView] = []
    for n, (kind, at, extra) in enumerate(events):
        event = ComplaintEvent.model_validate(
            {
                "event_id": f"{complaint}-{n}",
                "type": kind,
                "complaint_id": complaint,
                "occurred_at": at,
                **extra,
            }
        )
        sent += accept_event(state, event, REGISTRY).views
    return sent


def kpis_of(*histories: list[UnitView]) -> UnitKpis:
    kpis = UnitKpis((), (), grace_seconds=0, resolution_bounds=RESOLUTION_BUCKETS)
    stored: dict[tuple[str, str], Any] = {}
    for sent in histories:
        for view in sent:
            key = (view.unit, view.complaint_id)
            stored[key] = kpis.apply(view, stored.get(key), -math.inf)
    return kpis


def listed(kpis: UnitKpis, unit: str, watermark: datetime, **options: Any) -> Any:
    return worklist(
        kpis.open_items(unit), watermark.timestamp(), REGISTRY.calendar_for(unit), **options
    )


def test_a_complaint_unanswered_for_26_hours_is_two_hours_past_its_response_deadline() -> None:
    kpis = kpis_of(views_of("c1", ("created", MONDAY_9, {"unit": "dlh", "category": "complex"})))
    page = listed(kpis, "dlh", MONDAY_9 + timedelta(hours=26))  # Tuesday 11:00
    assert [(e.complaint_id, e.timer, e.level) for e in page.entries] == [("c1", "response", 1.0)]
    item = page.entries[0]
    assert item.deadline == (MONDAY_9 + timedelta(hours=24)).timestamp()  # Tuesday 09:00
    assert item.past_deadline_wall_seconds == 2 * HOUR
    assert item.past_deadline_working_seconds == 2 * HOUR  # 09:00-11:00 on a working Tuesday
    assert item.held_since == MONDAY_9.timestamp()
    assert (item.category, item.clock, item.paused) == ("complex", "wall", False)
    assert page.by_level == {"0.5": 0, "0.75": 0, "1": 1}


def test_working_time_past_the_deadline_skips_the_night() -> None:
    kpis = kpis_of(views_of("c1", ("created", MONDAY_9, {"unit": "dlh"})))
    # Deadline Tuesday 09:00; watermark Wednesday 10:00: 25 wall hours, but working time only
    # Tuesday 09:00-16:00 (7 h) and Wednesday 08:00-10:00 (2 h).
    item = listed(kpis, "dlh", MONDAY_9 + timedelta(hours=49)).entries[0]
    assert item.past_deadline_wall_seconds == 25 * HOUR
    assert item.past_deadline_working_seconds == 9 * HOUR


def test_nearing_levels_and_the_level_filter() -> None:
    kpis = kpis_of(views_of("c1", ("created", MONDAY_9, {"unit": "dlh"})))
    at_13h = listed(kpis, "dlh", MONDAY_9 + timedelta(hours=13))
    assert [(e.timer, e.level, e.past_deadline_wall_seconds) for e in at_13h.entries] == [
        ("response", 0.5, 0.0)
    ]
    at_19h = listed(kpis, "dlh", MONDAY_9 + timedelta(hours=19))
    assert [e.level for e in at_19h.entries] == [0.75]
    assert listed(kpis, "dlh", MONDAY_9 + timedelta(hours=19), min_level=1.0).entries == ()
    assert listed(kpis, "dlh", MONDAY_9 + timedelta(hours=11)).total == 0  # below 50%


def test_a_paused_complaint_stays_at_its_level_and_cannot_go_past_its_deadline() -> None:
    kpis = kpis_of(
        views_of(
            "c1",
            ("created", MONDAY_9, {"unit": "dlh"}),
            ("paused", MONDAY_9 + timedelta(hours=19), {}),
        )
    )
    page = listed(kpis, "dlh", MONDAY_9 + timedelta(days=5))
    assert [(e.timer, e.level, e.paused) for e in page.entries] == [("response", 0.75, True)]
    assert page.entries[0].past_deadline_wall_seconds == 0.0


def test_a_transferred_complaint_is_on_the_new_holders_list_from_its_receipt() -> None:
    assigned_at = MONDAY_9 + timedelta(hours=3)
    kpis = kpis_of(
        views_of(
            "c1",
            ("created", MONDAY_9, {"unit": "dlh"}),
            ("assigned", assigned_at, {"unit": "dsda", "reason": "not_our_authority"}),
        )
    )
    watermark = assigned_at + timedelta(hours=30)
    assert listed(kpis, "dlh", watermark).total == 0
    page = listed(kpis, "dsda", watermark)
    response = next(e for e in page.entries if e.timer == "response")
    assert response.held_since == assigned_at.timestamp()
    # dsda's own 24-hour clock starts at its receipt: 6 hours past at the watermark.
    assert response.past_deadline_wall_seconds == 6 * HOUR


def test_oldest_deadline_first_and_stable_pages() -> None:
    histories = [
        views_of(f"c{n}", ("created", MONDAY_9 + timedelta(hours=n), {"unit": "dlh"}))
        for n in (5, 1, 3, 2, 4)
    ]
    kpis = kpis_of(*histories)
    watermark = MONDAY_9 + timedelta(hours=40)
    whole = listed(kpis, "dlh", watermark, timer="response")
    assert [e.complaint_id for e in whole.entries] == ["c1", "c2", "c3", "c4", "c5"]
    assert [e.past_deadline_wall_seconds for e in whole.entries] == [
        15 * HOUR,
        14 * HOUR,
        13 * HOUR,
        12 * HOUR,
        11 * HOUR,
    ]
    first = listed(kpis, "dlh", watermark, timer="response", limit=2)
    second = listed(kpis, "dlh", watermark, timer="response", limit=2, offset=2)
    assert first.total == second.total == 5
    assert [e.complaint_id for e in (*first.entries, *second.entries)] == ["c1", "c2", "c3", "c4"]


def test_the_worklist_counts_are_the_open_past_target_gauges() -> None:
    histories = [
        views_of(f"c{n}", ("created", MONDAY_9 + timedelta(hours=7 * n), {"unit": "dlh"}))
        for n in range(12)
    ]
    kpis = kpis_of(*histories)
    for hours in (0, 12, 20, 30, 60, 100, 200):
        watermark = MONDAY_9 + timedelta(hours=hours)
        snapshot = kpis.unit_snapshot("dlh", watermark.timestamp())
        for timer in ("response", "resolution"):
            page = listed(kpis, "dlh", watermark, timer=timer, limit=500)
            by_level = page.by_level
            past = snapshot.open_past
            assert by_level["1"] == past[(timer, 1.0)]
            assert by_level["1"] + by_level["0.75"] == past[(timer, 0.75)]
            assert sum(by_level.values()) == past[(timer, 0.5)] == page.total


def test_overdue_gauges_count_by_lateness_band_and_age_the_oldest() -> None:
    # Response deadlines 24 h after creation; at the watermark the three complaints are
    # 2 hours, 2 days and 10 days past theirs.
    watermark = MONDAY_9 + timedelta(days=20)
    late = {"a": 2 * HOUR, "b": 2 * DAY, "c": 10 * DAY}
    histories = [
        views_of(cid, ("created", watermark - timedelta(seconds=past + DAY), {"unit": "dlh"}))
        for cid, past in late.items()
    ]
    overdue = kpis_of(*histories).unit_snapshot("dlh", watermark.timestamp()).overdue["response"]
    assert overdue.by_band == {"under_1d": 1, "1d_to_3d": 1, "3d_to_7d": 0, "over_7d": 1}
    assert overdue.oldest_past_seconds == 10 * DAY
    nothing = kpis_of().unit_snapshot("dlh", watermark.timestamp()).overdue["response"]
    assert nothing.oldest_past_seconds == 0.0 and sum(nothing.by_band.values()) == 0


def test_bad_pages_are_refused() -> None:
    kpis = kpis_of()
    with pytest.raises(ValueError):
        listed(kpis, "dlh", MONDAY_9, min_level=0.6)
    with pytest.raises(ValueError):
        listed(kpis, "dlh", MONDAY_9, offset=-1)


def test_the_after_break_gauge_from_sorted_deadlines_counts_what_the_worklist_items_do() -> None:
    # Wednesday 23 December 2026, 15:00: the Christmas break (24-27 December) starts
    # tomorrow, so the cliff window [24 Dec 00:00, 31 Dec 00:00) WIB is open. Complaints
    # created every 5 hours over the month before, of three categories (response and
    # resolution targets of several lengths), some paused, answered, resolved or
    # transferred: their deadlines fall before, inside and after the window. The gauge
    # counts from the unit's sorted running deadlines (UnitKpis.running_deadlines_in); the
    # reference counts over every open worklist item (deadlines_after_break), a different
    # structure of the same views.
    from sigap.core.holiday_cliff import cliff_window, deadlines_after_break

    watermark = datetime.fromisoformat("2026-12-23T15:00:00+07:00")
    categories = ("waste", "pollution", "parks_trees")
    histories = []
    for n in range(150):
        created = watermark - timedelta(hours=5 * n + 1)
        events: list[tuple[str, datetime, dict[str, Any]]] = [
            ("created", created, {"unit": "dlh", "category": categories[n % 3]})
        ]
        step = created + timedelta(hours=2)
        if step > watermark:
            pass
        elif n % 7 == 1:
            events.append(("paused", step, {}))
        elif n % 7 == 2:
            events.append(("responded", step, {}))
        elif n % 7 == 3:
            events.append(("resolved", step, {}))
        elif n % 7 == 4:
            events.append(("assigned", step, {"unit": "dsda", "reason": "not_our_authority"}))
        histories.append(views_of(f"c{n}", *events))
    kpis = kpis_of(*histories)
    now = watermark.timestamp()
    for unit in ("dlh", "dsda"):
        calendar = REGISTRY.calendar_for(unit)
        window = cliff_window(calendar, now)
        assert window is not None
        reference = deadlines_after_break(kpis.open_items(unit), calendar, now)
        assert reference is not None
        assert kpis.running_deadlines_in(unit, window.start, window.end) == reference.by_timer
    counted = kpis.running_deadlines_in("dlh", window.start, window.end)
    open_running = [item for item in kpis.open_items("dlh") if item.running]
    # Not a trivial agreement: both timers have deadlines in the window, and some open
    # running timers are outside it.
    assert set(counted) == {"response", "resolution"}
    assert 0 < sum(counted.values()) < len(open_running)
