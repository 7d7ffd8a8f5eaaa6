"""The unit stage's state (core.unit_kpis): counting once, misses at the deadline, open-timer
thresholds, windows and current periods. Expectations are worked out by hand."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from metrics.names import RESOLUTION_BUCKETS
from schemas.events import ComplaintEvent
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.core.unit_kpis import ALL_CATEGORIES, StoredView, UnitKpis
from sigap.core.unit_view import UnitView

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")
MONDAY_9 = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
HOUR = 3600.0


def views(*events: tuple[str, str, datetime, dict[str, Any]]) -> list[UnitView]:
    """Every view the complaint stage would send, event by event."""
    state = ComplaintState()
    sent: list[UnitView] = []
    for event_id, kind, at, extra in events:
        event = ComplaintEvent.model_validate(
            {"event_id": event_id, "type": kind, "complaint_id": "c1", "occurred_at": at, **extra}
        )
        sent += accept_event(state, event, REGISTRY).views
    return sent


def feed(kpis: UnitKpis, sent: list[UnitView], watermark: float) -> dict[tuple[str, str], Any]:
    stored: dict[tuple[str, str], StoredView] = {}
    for view in sent:
        key = (view.unit, view.complaint_id)
        stored[key] = kpis.apply(view, stored.get(key), watermark)
    return stored


def sla(kpis: UnitKpis, unit: str, watermark: float) -> dict[str, tuple[int, int]]:
    snap = kpis.unit_snapshot(unit, watermark)
    return {
        timer: (
            snap.counters.sla.get(f"{timer}:met", 0),
            snap.counters.sla.get(f"{timer}:missed", 0) + snap.sla_missed_open[timer],
        )
        for timer in ("response", "resolution")
    }


def test_an_open_complaint_misses_its_response_at_the_deadline_plus_grace() -> None:
    kpis = UnitKpis((), (), grace_seconds=600, resolution_bounds=RESOLUTION_BUCKETS)
    feed(kpis, views(("e1", "created", MONDAY_9, {"unit": "dlh"})), -math.inf)
    deadline = (MONDAY_9 + timedelta(hours=24)).timestamp()  # 24 h wall
    assert sla(kpis, "dlh", deadline)["response"] == (0, 0)  # within the grace
    assert sla(kpis, "dlh", deadline + 600)["response"] == (0, 1)  # a miss, while open
    past = kpis.unit_snapshot("dlh", deadline + 600).open_past
    assert past[("response", 0.5)] == past[("response", 0.75)] == past[("response", 1.0)] == 1
    # 12 h in: half the response time used, not yet 75%.
    half = kpis.unit_snapshot("dlh", MONDAY_9.timestamp() + 12 * HOUR).open_past
    assert (half[("response", 0.5)], half[("response", 0.75)]) == (1, 0)


def test_an_exported_miss_stays_a_miss_when_a_late_answer_arrives() -> None:
    kpis = UnitKpis((), (), grace_seconds=600, resolution_bounds=RESOLUTION_BUCKETS)
    created = views(("e1", "created", MONDAY_9, {"unit": "dlh"}))
    stored = feed(kpis, created, -math.inf)
    watermark = (MONDAY_9 + timedelta(hours=30)).timestamp()
    assert sla(kpis, "dlh", watermark)["response"] == (0, 1)
    # An answer stamped 2 h after creation arrives after the miss was exported.
    answered = views(
        ("e1", "created", MONDAY_9, {"unit": "dlh"}),
        ("e2", "responded", MONDAY_9 + timedelta(hours=2), {}),
    )[-1]
    kpis.apply(answered, stored[("dlh", "c1")], watermark)
    assert sla(kpis, "dlh", watermark)["response"] == (0, 1)  # counters never go down


def test_an_answer_within_the_grace_counts_as_met_and_counts_once() -> None:
    kpis = UnitKpis((), (), grace_seconds=600, resolution_bounds=RESOLUTION_BUCKETS)
    sent = views(
        ("e1", "created", MONDAY_9, {"unit": "dlh"}),
        ("e2", "responded", MONDAY_9 + timedelta(hours=2), {}),
        ("e3", "resolved", MONDAY_9 + timedelta(hours=5), {}),
    )
    stored = feed(kpis, sent, MONDAY_9.timestamp() + 5 * HOUR)
    for view in sent:  # redelivered views count nothing again
        key = (view.unit, view.complaint_id)
        stored[key] = kpis.apply(view, stored[key], MONDAY_9.timestamp() + 5 * HOUR)
    watermark = MONDAY_9.timestamp() + 6 * HOUR
    assert sla(kpis, "dlh", watermark) == {"response": (1, 0), "resolution": (1, 0)}
    counters = kpis.counters["dlh"]
    assert (counters.created, counters.resolved) == (1, 1)
    assert counters.first_response.count == 1 and counters.first_response.total == 2 * HOUR
    # 09:00-14:00 on a Monday: 5 working hours.
    assert counters.resolution_working.total == 5 * HOUR
    snap = kpis.unit_snapshot("dlh", watermark)
    window = snap.windows[("response", ALL_CATEGORIES)]["24h"]
    assert (window.count, window.by_clock["wall"].p50, window.within_target_ratio) == (
        1,
        2 * HOUR,
        1.0,
    )
    assert window.by_clock["working"].count == 0  # the response target is on the wall clock
    day = snap.periods[("response", "day")]
    assert (day.count, day.by_clock["wall"].p50, day.within_target_ratio) == (1, 2 * HOUR, 1.0)
    # The next day the 24 h window still holds it, the day period no longer does.
    next_day = kpis.unit_snapshot("dlh", watermark + 19 * HOUR)  # Tue 10:00
    assert next_day.windows[("response", ALL_CATEGORIES)]["24h"].count == 1
    assert next_day.periods[("response", "day")].count == 0
    assert next_day.periods[("response", "week")].count == 1


def test_a_transfer_charges_the_receiving_unit_and_counts_a_transfer_away() -> None:
    kpis = UnitKpis((), (), grace_seconds=600, resolution_bounds=RESOLUTION_BUCKETS)
    sent = views(
        ("e1", "created", MONDAY_9, {"unit": "dlh"}),
        (
            "e2",
            "assigned",
            MONDAY_9 + timedelta(hours=1),
            {"unit": "dsda", "reason": "not_our_authority"},
        ),
    )
    feed(kpis, sent, -math.inf)
    assert kpis.counters["dlh"].transfers == {"not_our_authority": 1}
    watermark = (MONDAY_9 + timedelta(hours=26)).timestamp()
    # dlh handed it over in time: nothing; dsda received it at 10:00, missed at 10:00 + 24 h.
    assert sla(kpis, "dlh", watermark)["response"] == (0, 0)
    assert sla(kpis, "dsda", watermark)["response"] == (0, 1)
    assert kpis.unit_snapshot("dsda", watermark).open_complaints == 1
    assert kpis.unit_snapshot("dlh", watermark).open_complaints == 0


def test_a_paused_complaint_cannot_miss_while_paused() -> None:
    kpis = UnitKpis((), (), grace_seconds=0, resolution_bounds=RESOLUTION_BUCKETS)
    sent = views(
        ("e1", "created", MONDAY_9, {"unit": "dlh"}),
        ("e2", "paused", MONDAY_9 + timedelta(hours=1), {}),
    )
    feed(kpis, sent, -math.inf)
    far = (MONDAY_9 + timedelta(days=10)).timestamp()
    assert sla(kpis, "dlh", far) == {"response": (0, 0), "resolution": (0, 0)}
    assert kpis.unit_snapshot("dlh", far).open_past[("response", 1.0)] == 0


def test_restore_all_gives_the_state_of_restoring_one_by_one() -> None:
    """The bulk restore after a restart sorts each index once at the end; a late view
    restored first must end up in the same place as with sorted inserts."""
    sent = []
    for number in range(40):
        # Creation times out of order, some resolved (windows), some open (thresholds).
        created = MONDAY_9 + timedelta(hours=(number * 7) % 40)
        events: list[tuple[str, str, datetime, dict[str, Any]]] = [
            (f"c{number}", "created", created, {"unit": ("dlh", "dsda")[number % 2]})
        ]
        if number % 3:
            events.append((f"r{number}", "resolved", created + timedelta(hours=number), {}))
        for view in views(*events):
            sent.append(UnitView.from_json({**view.to_json(), "id": f"k{number}"}))
    one_by_one = UnitKpis(
        (3600.0,), (3600.0,), grace_seconds=600, resolution_bounds=RESOLUTION_BUCKETS
    )
    stored = feed(one_by_one, sent, -math.inf)
    bulk = UnitKpis((3600.0,), (3600.0,), grace_seconds=600, resolution_bounds=RESOLUTION_BUCKETS)
    bulk.restore_all(reversed(list(stored.values())))
    single = UnitKpis((3600.0,), (3600.0,), grace_seconds=600, resolution_bounds=RESOLUTION_BUCKETS)
    for item in reversed(list(stored.values())):
        single.restore(item)
    watermark = (MONDAY_9 + timedelta(days=3)).timestamp()
    for unit in ("dlh", "dsda"):
        for moment in (MONDAY_9.timestamp() + 20 * HOUR, watermark):
            mine, theirs = bulk.unit_snapshot(unit, moment), single.unit_snapshot(unit, moment)
            assert mine.counters.to_json() == theirs.counters.to_json()
            for name in ("open_complaints", "sla_missed_open", "open_past", "windows", "periods"):
                assert getattr(mine, name) == getattr(theirs, name), name
    assert bulk.unit_snapshot("dlh", watermark).open_complaints > 0


def test_a_snapshot_can_reuse_window_statistics_but_counts_stay_current() -> None:
    kpis = UnitKpis((), (), grace_seconds=0, resolution_bounds=RESOLUTION_BUCKETS)
    resolved = views(
        ("e1", "created", MONDAY_9, {"unit": "dlh"}),
        ("e2", "resolved", MONDAY_9 + timedelta(hours=1), {}),
    )
    feed(kpis, resolved, -math.inf)
    watermark = (MONDAY_9 + timedelta(hours=2)).timestamp()
    first = kpis.unit_snapshot("dlh", watermark)
    assert first.windows[("resolution", ALL_CATEGORIES)]["1h"].count == 0
    assert first.windows[("resolution", ALL_CATEGORIES)]["24h"].count == 1
    feed(kpis, views(("e9", "created", MONDAY_9, {"unit": "dlh"})), -math.inf)
    # A new complaint: the counters move at once, the reused window statistics do not.
    reused = kpis.unit_snapshot("dlh", watermark, reuse=first)
    assert reused.counters.created == 2 and reused.open_complaints == 1
    assert reused.windows is first.windows and reused.periods is first.periods
    assert kpis.unit_snapshot("dlh", watermark).windows == first.windows
