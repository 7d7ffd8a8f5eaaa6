"""sigap.core.timeline: per-unit response/resolution clocks of one complaint, from all its events.

Hand-computed cases use the shipped deploy/registry.yaml: office units (dlh, dsda, ...) work
Monday-Friday 08:00-16:00 WIB with a 24h wall response target and a 5-working-day resolution
target; damkar is always open with 1h wall / 24 working hours. A working-days deadline is
the close (16:00) of the Nth working day, day 1 being the receipt day only when received by
08:00. 2-6 November 2026 (Mon-Fri) and 9-13 November 2026 have no holidays.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ComplaintEvent
from sigap.core.calendar import JAKARTA
from sigap.core.registry import UNKNOWN_UNIT
from sigap.core.registry_file import load_registry, parse_registry
from sigap.core.timeline import (
    ComplaintOutcome,
    TimerCharge,
    Transfer,
    UnitRework,
    charges_for,
    evaluate_complaint,
)
from tests.properties import examples

REPO = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(REPO / "deploy" / "registry.yaml")
HOUR = 3600.0
PROPERTY = settings(database=None, deadline=None, max_examples=examples(250))

_ids = itertools.count()


def wib(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


def ev(
    type_: str,
    at: datetime,
    unit: str | None = None,
    *,
    event_id: str | None = None,
    complaint_id: str = "c-1",
    **fields: Any,
) -> ComplaintEvent:
    return ComplaintEvent(
        event_id=event_id or f"e{next(_ids)}",
        type=type_,  # type: ignore[arg-type]
        complaint_id=complaint_id,
        occurred_at=at,
        unit=unit,
        **fields,
    )


def only(outcome: ComplaintOutcome, unit: str, timer: str) -> TimerCharge:
    found = [charge for charge in charges_for(outcome, unit) if charge.timer == timer]
    assert len(found) == 1, found
    return found[0]


def evaluate(events: Sequence[ComplaintEvent], as_of: datetime | None = None) -> ComplaintOutcome:
    return evaluate_complaint(events, REGISTRY, as_of=as_of)


# Monday 2 November 2026, 09:00: after opening, so the working-day count starts on Tuesday.
MON_0900 = wib(11, 2, 9)
# 5 working days from Mon 2 Nov 09:00: Tue 3 .. Mon 9 Nov, closing 16:00.
DLH_RESOLUTION_DEADLINE = wib(11, 9, 16)
# Working seconds Mon 2 Nov 09:00 -> Mon 9 Nov 16:00: 7h (Mon) + 5 days x 8h = 47h.
DLH_RESOLUTION_ALLOWED = 47 * HOUR


# --- created + resolved only -----------------------------------------------------------------


def test_resolution_alone_stops_the_response_timer_and_both_are_met() -> None:
    outcome = evaluate([ev("created", MON_0900, "dlh"), ev("resolved", wib(11, 2, 15))])
    assert outcome.known and outcome.units == ("dlh",) and outcome.holder == "dlh"
    response = only(outcome, "dlh", "response")
    # 24h wall from Mon 09:00: Tue 09:00; stopped by the resolution at Mon 15:00 (6h).
    assert response.deadline == wib(11, 3, 9)
    assert response.target_label == "24h wall" and response.clock == "wall"
    assert (response.outcome, response.decided_at) == ("met", wib(11, 2, 15))
    assert response.elapsed_seconds == 6 * HOUR
    assert response.fraction_of_allowed == pytest.approx(0.25)  # 6h of 24h
    resolution = only(outcome, "dlh", "resolution")
    assert resolution.deadline == DLH_RESOLUTION_DEADLINE
    assert resolution.target_label == "5 working days" and resolution.clock == "working"
    assert resolution.allowed_seconds == DLH_RESOLUTION_ALLOWED
    assert resolution.elapsed_seconds == 6 * HOUR  # 09:00-15:00, all inside office hours
    assert (resolution.outcome, resolution.stopped_at) == ("met", wib(11, 2, 15))
    assert outcome.first_response_at == outcome.first_resolved_at == wib(11, 2, 15)
    assert outcome.response_seconds == outcome.resolution_seconds == 6 * HOUR
    assert outcome.resolution_working_seconds == 6 * HOUR
    assert not outcome.is_open and outcome.anomalies == () and outcome.transfers == ()


def test_late_resolution_misses_both_timers_at_their_deadlines() -> None:
    outcome = evaluate([ev("created", MON_0900, "dlh"), ev("resolved", wib(11, 10, 9))])
    response = only(outcome, "dlh", "response")
    assert (response.outcome, response.decided_at) == ("missed", wib(11, 3, 9))
    assert response.stopped_at == wib(11, 10, 9)
    resolution = only(outcome, "dlh", "resolution")
    assert (resolution.outcome, resolution.decided_at) == ("missed", DLH_RESOLUTION_DEADLINE)
    # Working time Mon 2 09:00 -> Tue 10 09:00: 47h up to Mon 9 16:00, then Tue 08-09 (1h).
    assert resolution.elapsed_seconds == 48 * HOUR
    assert resolution.fraction_of_allowed == pytest.approx(48 / 47)
    # Wall: 8 days = 192h.
    assert outcome.resolution_seconds == 192 * HOUR


def test_resolution_exactly_at_the_deadline_is_met() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("responded", wib(11, 3, 9)),  # exactly 24h
            ev("resolved", DLH_RESOLUTION_DEADLINE),
        ]
    )
    assert only(outcome, "dlh", "response").outcome == "met"
    resolution = only(outcome, "dlh", "resolution")
    assert resolution.outcome == "met"
    assert resolution.fraction_of_allowed == 1.0


# --- responded then resolved -----------------------------------------------------------------


def test_response_and_resolution_both_met() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh", category="sampah", channel="wargaku"),
            ev("responded", wib(11, 2, 11)),
            ev("resolved", wib(11, 4, 14)),
        ]
    )
    assert (outcome.category, outcome.channel, outcome.priority) == ("sampah", "wargaku", "normal")
    response = only(outcome, "dlh", "response")
    assert (response.outcome, response.decided_at) == ("met", wib(11, 2, 11))
    assert outcome.first_response_at == wib(11, 2, 11)
    assert outcome.response_seconds == 2 * HOUR
    resolution = only(outcome, "dlh", "resolution")
    assert (resolution.outcome, resolution.decided_at) == ("met", wib(11, 4, 14))
    # Mon 09-16 (7h) + Tue (8h) + Wed 08-14 (6h) = 21h.
    assert resolution.elapsed_seconds == outcome.resolution_working_seconds == 21 * HOUR
    assert outcome.resolution_seconds == 53 * HOUR  # Mon 09:00 -> Wed 14:00


def test_response_missed_but_resolution_met() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("responded", wib(11, 3, 10)),  # 25h: one hour late
            ev("resolved", wib(11, 5, 12)),
        ]
    )
    response = only(outcome, "dlh", "response")
    assert (response.outcome, response.decided_at) == ("missed", wib(11, 3, 9))
    assert response.elapsed_seconds == 25 * HOUR
    assert only(outcome, "dlh", "resolution").outcome == "met"


def test_a_response_after_the_resolution_changes_nothing() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("resolved", wib(11, 2, 10)),
            ev("responded", wib(11, 2, 11)),
        ]
    )
    assert outcome.first_response_at == wib(11, 2, 10)
    assert only(outcome, "dlh", "response").stopped_at == wib(11, 2, 10)


def test_emergency_unit_on_the_always_open_calendar() -> None:
    # Saturday 7 Nov 22:00: damkar works round the clock (1h wall, 24 working hours).
    outcome = evaluate(
        [
            ev("created", wib(11, 7, 22), "damkar"),
            ev("responded", wib(11, 7, 22, 45)),
            ev("resolved", wib(11, 8, 20)),
        ]
    )
    response = only(outcome, "damkar", "response")
    assert (response.target_label, response.deadline, response.outcome) == (
        "1h wall",
        wib(11, 7, 23),
        "met",
    )
    resolution = only(outcome, "damkar", "resolution")
    assert (resolution.target_label, resolution.deadline) == ("24h working", wib(11, 8, 22))
    assert resolution.outcome == "met"
    assert resolution.elapsed_seconds == 22 * HOUR  # Sunday counts on this calendar


# --- transfers -------------------------------------------------------------------------------


def test_transfer_before_the_deadline_charges_each_unit_for_its_own_time() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("assigned", wib(11, 2, 12), "dsda", reason="not_our_authority"),
            ev("responded", wib(11, 2, 13)),
            ev("resolved", wib(11, 4, 15)),
        ]
    )
    assert outcome.units == ("dlh", "dsda") and outcome.holder == "dsda"
    assert outcome.transfers == (Transfer("dlh", "dsda", wib(11, 2, 12), "not_our_authority"),)
    for timer in ("response", "resolution"):
        dlh = only(outcome, "dlh", timer)
        assert dlh.outcome is None and dlh.decided_at is None
        assert dlh.transferred_away and dlh.transfer_reason == "not_our_authority"
        assert dlh.stopped_at == wib(11, 2, 12)
        assert dlh.elapsed_seconds == 3 * HOUR  # 09:00-12:00 on either clock
    dsda_response = only(outcome, "dsda", "response")
    # dsda's clock starts at the assignment: 24h wall -> Tue 12:00; responded after 1h.
    assert dsda_response.received_at == wib(11, 2, 12)
    assert dsda_response.deadline == wib(11, 3, 12)
    assert (dsda_response.outcome, dsda_response.elapsed_seconds) == ("met", 1 * HOUR)
    dsda_resolution = only(outcome, "dsda", "resolution")
    # Received Mon 12:00: day 1 = Tue 3, day 5 = Mon 9, 16:00. Resolved Wed 15:00.
    assert dsda_resolution.deadline == wib(11, 9, 16)
    assert dsda_resolution.outcome == "met" and not dsda_resolution.transferred_away
    # Mon 12-16 (4h) + Tue (8h) + Wed 08-15 (7h) = 19h.
    assert dsda_resolution.elapsed_seconds == 19 * HOUR
    # Whole complaint: response 4h wall; resolution Mon 09:00 -> Wed 15:00 = 54h wall, and
    # 3h (dlh) + 19h (dsda) working.
    assert outcome.response_seconds == 4 * HOUR
    assert outcome.resolution_seconds == 54 * HOUR
    assert outcome.resolution_working_seconds == 22 * HOUR


def test_transfer_after_the_response_deadline_is_still_a_miss_for_the_first_unit() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("assigned", wib(11, 3, 10), "dsda"),  # 25h after receipt
            ev("responded", wib(11, 3, 15)),
            ev("resolved", wib(11, 10, 16)),
        ]
    )
    dlh_response = only(outcome, "dlh", "response")
    assert (dlh_response.outcome, dlh_response.decided_at) == ("missed", wib(11, 3, 9))
    assert dlh_response.transferred_away and dlh_response.transfer_reason == "unspecified"
    dlh_resolution = only(outcome, "dlh", "resolution")
    assert dlh_resolution.outcome is None and dlh_resolution.transferred_away
    dsda_response = only(outcome, "dsda", "response")
    assert dsda_response.received_at == wib(11, 3, 10)
    assert dsda_response.deadline == wib(11, 4, 10)
    assert (dsda_response.outcome, dsda_response.elapsed_seconds) == ("met", 5 * HOUR)
    # Received Tue 3 10:00: day 1 = Wed 4, day 5 = Tue 10, 16:00; resolved exactly then.
    dsda_resolution = only(outcome, "dsda", "resolution")
    assert dsda_resolution.deadline == wib(11, 10, 16)
    assert (dsda_resolution.outcome, dsda_resolution.decided_at) == ("met", wib(11, 10, 16))
    assert outcome.transfers[0].reason == "unspecified"


def test_assignment_to_the_holding_unit_is_not_a_transfer() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("assigned", wib(11, 2, 10), "dlh"),
            ev("resolved", wib(11, 2, 11)),
        ]
    )
    assert outcome.transfers == () and len(outcome.charges) == 2
    assert only(outcome, "dlh", "resolution").stints == 1


def test_a_unit_that_gets_the_complaint_back_continues_its_own_clock() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("assigned", wib(11, 2, 10), "dsda", reason="not_our_authority"),
            ev("assigned", wib(11, 2, 14), "dlh", reason="returned"),
            ev("responded", wib(11, 2, 15)),
        ],
        as_of=wib(11, 2, 16),
    )
    assert outcome.units == ("dlh", "dsda") and len(outcome.transfers) == 2
    dlh_response = only(outcome, "dlh", "response")
    # The 4h away count like a pause for dlh: Tue 09:00 -> Tue 13:00; held 1h + 1h.
    assert dlh_response.stints == 2 and not dlh_response.transferred_away
    assert dlh_response.deadline == wib(11, 3, 13)
    assert (dlh_response.outcome, dlh_response.elapsed_seconds) == ("met", 2 * HOUR)
    dlh_resolution = only(outcome, "dlh", "resolution")
    # Mon 9 Nov 16:00 + 4 working hours = Tue 10 Nov 12:00; allowed stays 47h.
    assert dlh_resolution.deadline == wib(11, 10, 12)
    assert dlh_resolution.allowed_seconds == DLH_RESOLUTION_ALLOWED
    assert dlh_resolution.stopped_at is None and dlh_resolution.outcome is None
    assert dlh_resolution.elapsed_seconds == 3 * HOUR  # 09-10 and 14-16
    dsda_response = only(outcome, "dsda", "response")
    assert dsda_response.transfer_reason == "returned" and dsda_response.outcome is None


def test_created_and_assigned_at_the_same_instant_start_with_the_assignee() -> None:
    outcome = evaluate(
        [ev("assigned", MON_0900, "dsda"), ev("created", MON_0900, "dlh")],
        as_of=wib(11, 2, 10),
    )
    dlh = only(outcome, "dlh", "response")
    assert dlh.elapsed_seconds == 0 and dlh.transferred_away and dlh.outcome is None
    assert only(outcome, "dsda", "response").elapsed_seconds == HOUR
    assert outcome.anomalies == ()


def test_targets_follow_the_creation_date_for_every_holding_unit() -> None:
    data = {
        "version": "t",
        "calendars": {"office": {"kind": "office_hours", "start": "08:00", "end": "16:00"}},
        "units": [
            {"code": "dlh", "name": "DLH", "calendar": "office"},
            {"code": "dsda", "name": "DSDA", "calendar": "office"},
        ],
        "targets": [
            {
                "effective_from": date(2019, 1, 1),
                "unit": "*",
                "category": "*",
                "priority": "*",
                "response": {"clock": "wall", "hours": 24},
                "resolution": {"clock": "working", "days": 5},
            },
            {
                "effective_from": date(2026, 11, 3),
                "unit": "*",
                "category": "*",
                "priority": "*",
                "response": {"clock": "wall", "hours": 2},
                "resolution": {"clock": "working", "hours": 8},
            },
        ],
    }
    registry = parse_registry(data, "inline", frozenset())
    events = [
        ev("created", MON_0900, "dlh"),  # created the day before the new version
        ev("assigned", wib(11, 4, 9), "dsda"),  # received after it
    ]
    outcome = evaluate_complaint(events, registry, as_of=wib(11, 4, 10))
    assert only(outcome, "dsda", "response").target_label == "24h wall"
    assert only(outcome, "dsda", "resolution").target_label == "5 working days"


# --- pauses ----------------------------------------------------------------------------------


def test_pause_pushes_both_deadlines_back_by_the_paused_clock_time() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("paused", wib(11, 2, 10)),
            ev("resumed", wib(11, 2, 13)),  # 3h paused, all of it office hours
            ev("responded", wib(11, 3, 11, 30)),  # 26.5h after receipt, 23.5h unpaused
            ev("resolved", wib(11, 10, 10, 30)),
        ]
    )
    response = only(outcome, "dlh", "response")
    # Tue 09:00 + 3h = Tue 12:00: met (it would have been missed without the pause).
    assert response.deadline == wib(11, 3, 12)
    assert (response.outcome, response.elapsed_seconds) == ("met", 23.5 * HOUR)
    assert response.allowed_seconds == 24 * HOUR
    resolution = only(outcome, "dlh", "resolution")
    # Mon 9 Nov 16:00 + 3 working hours = Tue 10 Nov 11:00.
    assert resolution.deadline == wib(11, 10, 11)
    assert resolution.allowed_seconds == DLH_RESOLUTION_ALLOWED
    # Mon 09-10 + 13-16 (4h), Tue-Fri (32h), Mon 9 (8h), Tue 10 08:00-10:30 (2.5h) = 46.5h.
    assert (resolution.outcome, resolution.elapsed_seconds) == ("met", 46.5 * HOUR)
    assert outcome.paused_wall_seconds == 3 * HOUR
    # Mon 2 09:00 -> Tue 10 10:30 = 193.5h wall, minus the 3h pause.
    assert outcome.resolution_seconds == 190.5 * HOUR
    assert outcome.response_seconds == 23.5 * HOUR


def test_weekend_pause_moves_the_wall_deadline_but_barely_the_working_one() -> None:
    outcome = evaluate(
        [
            ev("created", wib(11, 6, 15), "dlh"),  # Friday 15:00
            ev("paused", wib(11, 6, 15, 30)),
            ev("resumed", wib(11, 9, 9)),  # Monday 09:00: 65.5h wall, 1.5 working hours
        ]
    )
    response = only(outcome, "dlh", "response")
    # Sat 15:00 + 65.5h = Tue 10 Nov 08:30.
    assert response.deadline == wib(11, 10, 8, 30)
    resolution = only(outcome, "dlh", "resolution")
    # Received Fri 15:00: day 1 = Mon 9, day 5 = Fri 13, 16:00; + 1.5h = Mon 16, 09:30.
    assert resolution.deadline == wib(11, 16, 9, 30)
    assert response.elapsed_seconds == 0.5 * HOUR and resolution.elapsed_seconds == 0.5 * HOUR
    assert response.stopped_at is None and outcome.is_open


def test_open_pause_counts_until_as_of() -> None:
    outcome = evaluate(
        [ev("created", MON_0900, "dlh"), ev("paused", wib(11, 2, 10))],
        as_of=wib(11, 4, 10),  # Wednesday 10:00, still paused
    )
    response = only(outcome, "dlh", "response")
    # 1h run, then 48h paused: Tue 09:00 + 48h = Thu 09:00, so not missed at as_of.
    assert response.deadline == wib(11, 5, 9)
    assert (response.outcome, response.elapsed_seconds) == (None, 1 * HOUR)
    assert response.fraction_of_allowed == pytest.approx(1 / 24)
    resolution = only(outcome, "dlh", "resolution")
    # Paused working time Mon 10-16, Tue, Wed 08-10 = 16h: Mon 9 16:00 -> Wed 11 16:00.
    assert resolution.deadline == wib(11, 11, 16)
    assert resolution.fraction_of_allowed == pytest.approx(1 / 47)
    assert outcome.paused_wall_seconds == 48 * HOUR


def test_pause_after_the_deadline_does_not_undo_the_miss() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("paused", wib(11, 3, 10)),  # an hour after the 24h response deadline
            ev("resumed", wib(11, 3, 12)),
            ev("responded", wib(11, 3, 13)),
        ]
    )
    response = only(outcome, "dlh", "response")
    assert (response.outcome, response.decided_at) == ("missed", wib(11, 3, 9))
    assert response.deadline == wib(11, 3, 9)
    assert response.elapsed_seconds == 26 * HOUR  # 28h minus the 2h pause


def test_timer_stopping_during_a_pause_is_met_if_paused_in_time() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("paused", wib(11, 3, 8)),  # 23h in
            ev("responded", wib(11, 3, 18)),  # still paused
        ],
        as_of=wib(11, 3, 18),
    )
    response = only(outcome, "dlh", "response")
    # Deadline Tue 09:00 + 10h paused up to the stop = Tue 19:00.
    assert (response.outcome, response.deadline) == ("met", wib(11, 3, 19))
    assert response.elapsed_seconds == 23 * HOUR


def test_transfer_during_a_pause_starts_the_new_unit_paused() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("paused", wib(11, 2, 10)),
            ev("assigned", wib(11, 2, 11), "dsda"),
            ev("resumed", wib(11, 2, 12)),
        ],
        as_of=wib(11, 2, 14),
    )
    dlh = only(outcome, "dlh", "response")
    # dlh ran 1h; its deadline includes the pause up to the transfer (1h).
    assert (dlh.elapsed_seconds, dlh.deadline, dlh.outcome) == (HOUR, wib(11, 3, 10), None)
    dsda = only(outcome, "dsda", "response")
    # Received 11:00 (paused), deadline Tue 11:00 + 1h paused = Tue 12:00; ran 12-14.
    assert (dsda.elapsed_seconds, dsda.deadline) == (2 * HOUR, wib(11, 3, 12))


def test_unmatched_resume_and_double_pause_are_ignored() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("resumed", wib(11, 2, 9, 30)),
            ev("paused", wib(11, 2, 10)),
            ev("paused", wib(11, 2, 11)),
            ev("resumed", wib(11, 2, 12)),
            ev("resolved", wib(11, 2, 13)),
        ]
    )
    assert outcome.paused_wall_seconds == 2 * HOUR  # 10:00-12:00
    assert outcome.resolution_seconds == 2 * HOUR
    assert outcome.anomalies == ("resumed_without_pause", "paused_while_paused")


# --- reopen, close, rating -------------------------------------------------------------------


def test_reopen_counts_rework_and_keeps_the_first_outcome() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("resolved", wib(11, 2, 15)),
            ev("reopened", wib(11, 3, 9)),
            ev("resolved", wib(11, 3, 11)),
            ev("rated", wib(11, 3, 12), rating=2),
            ev("rated", wib(11, 3, 12, 10), rating=4),  # the last rating wins
            ev("closed", wib(11, 3, 12, 30)),
        ]
    )
    resolution = only(outcome, "dlh", "resolution")
    assert (resolution.outcome, resolution.decided_at) == ("met", wib(11, 2, 15))
    assert outcome.first_resolved_at == wib(11, 2, 15)
    assert outcome.resolution_seconds == 6 * HOUR
    assert outcome.reopen_count == 1
    assert outcome.rework_seconds == 2 * HOUR
    assert outcome.rework == (UnitRework("dlh", 1, 2 * HOUR),)
    assert (outcome.rating, outcome.rated_unit) == (4, "dlh")
    assert outcome.closed_at == wib(11, 3, 12, 30)
    assert not outcome.is_open and outcome.anomalies == ()


def test_rework_is_split_by_transfers_and_excludes_pauses() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("resolved", wib(11, 2, 15)),
            ev("reopened", wib(11, 3, 9)),
            ev("paused", wib(11, 3, 9, 30)),
            ev("resumed", wib(11, 3, 10)),
            ev("assigned", wib(11, 3, 10, 30), "dsda"),
        ],
        as_of=wib(11, 3, 12),
    )
    assert outcome.is_open and outcome.reopen_count == 1
    # dlh: 09:00-09:30 and 10:00-10:30 (1h); dsda: 10:30-12:00 at as_of (1.5h).
    assert outcome.rework == (UnitRework("dlh", 1, HOUR), UnitRework("dsda", 0, 1.5 * HOUR))
    assert outcome.rework_seconds == 2.5 * HOUR
    # The timers stopped at the first resolution: no charges for dsda.
    assert charges_for(outcome, "dsda") == ()
    assert outcome.paused_wall_seconds == 0  # the pause came after the first resolution


def test_reopen_while_open_and_second_resolution_are_anomalies() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "dlh"),
            ev("reopened", wib(11, 2, 10)),
            ev("closed", wib(11, 2, 10, 30)),
            ev("resolved", wib(11, 2, 11)),
            ev("resolved", wib(11, 2, 12)),
            ev("reopened", wib(11, 2, 13)),
        ]
    )
    assert outcome.first_resolved_at == wib(11, 2, 11)
    assert outcome.reopen_count == 1 and outcome.is_open
    assert outcome.anomalies == (
        "reopened_while_open",
        "closed_while_open",
        "already_resolved",
        "reopened_after_closed",
    )


# --- open at as_of ---------------------------------------------------------------------------


def test_open_past_the_deadline_is_missed_at_the_deadline() -> None:
    outcome = evaluate([ev("created", MON_0900, "dlh")], as_of=wib(11, 3, 10))
    response = only(outcome, "dlh", "response")
    assert (response.outcome, response.decided_at) == ("missed", wib(11, 3, 9))
    assert response.stopped_at is None
    assert response.elapsed_seconds == 25 * HOUR
    assert response.fraction_of_allowed == pytest.approx(25 / 24)
    resolution = only(outcome, "dlh", "resolution")
    # Mon 09-16 (7h) + Tue 08-10 (2h) = 9h of 47h.
    assert (resolution.outcome, resolution.elapsed_seconds) == (None, 9 * HOUR)
    assert resolution.fraction_of_allowed == pytest.approx(9 / 47)
    assert outcome.is_open and outcome.response_seconds is None
    assert outcome.resolution_seconds is None and outcome.resolution_working_seconds is None


def test_open_before_the_deadline_reports_the_fraction_used() -> None:
    outcome = evaluate([ev("created", MON_0900, "dlh")], as_of=wib(11, 2, 21))
    response = only(outcome, "dlh", "response")
    assert (response.outcome, response.decided_at) == (None, None)
    assert response.fraction_of_allowed == 0.5  # 12h of 24h
    resolution = only(outcome, "dlh", "resolution")
    assert resolution.elapsed_seconds == 7 * HOUR  # office closed after 16:00
    assert resolution.elapsed_wall_seconds == 12 * HOUR


def test_default_as_of_is_the_latest_event_and_later_events_are_pending() -> None:
    events = [ev("created", MON_0900, "dlh"), ev("resolved", wib(11, 2, 12))]
    assert evaluate(events).as_of == wib(11, 2, 12)
    early = evaluate(events, as_of=wib(11, 2, 11))
    assert early.pending_events == 1 and early.first_resolved_at is None
    assert evaluate(events, as_of=wib(11, 2, 8)).known is False


# --- holidays --------------------------------------------------------------------------------


def test_lebaran_2026_pushes_the_working_days_deadline() -> None:
    calendar = REGISTRY.calendar_for("dlh")
    # The dates this test relies on: Idul Fitri and cuti bersama, 18-24 March 2026.
    assert not any(calendar.is_working_day(date(2026, 3, day)) for day in range(18, 25))
    assert calendar.is_working_day(date(2026, 3, 17))
    assert calendar.is_working_day(date(2026, 3, 25))
    # Received Mon 16 March 10:00: day 1 = Tue 17, then Wed 25, Thu 26, Fri 27, Mon 30.
    created = ev("created", wib(3, 16, 10), "dlh")
    met = evaluate([created, ev("resolved", wib(3, 30, 15))])
    resolution = only(met, "dlh", "resolution")
    assert resolution.deadline == wib(3, 30, 16)
    assert resolution.outcome == "met"
    # Mon 16 10-16 (6h) + Tue 17 (8h) + 25, 26, 27, 30 (32h) = 46h allowed.
    assert resolution.allowed_seconds == 46 * HOUR
    missed = evaluate([created, ev("resolved", wib(3, 31, 9))])
    assert only(missed, "dlh", "resolution").decided_at == wib(3, 30, 16)
    # The 24h wall response target ignores holidays: Tue 17 10:00.
    assert only(missed, "dlh", "response").deadline == wib(3, 17, 10)


# --- unknown units, inconsistent input, duplicates, missing created ---------------------------


def test_unknown_units_are_charged_as_unknown() -> None:
    outcome = evaluate(
        [
            ev("created", MON_0900, "kelurahan-x"),
            ev("assigned", wib(11, 2, 10), "kecamatan-y"),  # also unknown: not a transfer
            ev("assigned", wib(11, 2, 11), "dlh"),
        ],
        as_of=wib(11, 2, 12),
    )
    assert outcome.unknown_unit and outcome.units == (UNKNOWN_UNIT, "dlh")
    assert outcome.transfers == (Transfer(UNKNOWN_UNIT, "dlh", wib(11, 2, 11), "unspecified"),)
    unknown = only(outcome, UNKNOWN_UNIT, "resolution")
    # Default calendar (office) and the catch-all target.
    assert unknown.target_label == "5 working days" and unknown.elapsed_seconds == 2 * HOUR


def test_resolution_before_creation_is_clamped_and_reported() -> None:
    outcome = evaluate([ev("resolved", wib(11, 2, 8)), ev("created", MON_0900, "dlh")])
    assert outcome.anomalies == ("resolved_before_created",)
    assert outcome.first_resolved_at == MON_0900
    assert outcome.resolution_seconds == 0 and outcome.response_seconds == 0
    resolution = only(outcome, "dlh", "resolution")
    assert (resolution.outcome, resolution.elapsed_seconds) == ("met", 0)


def test_response_before_creation_is_clamped_and_reported() -> None:
    outcome = evaluate(
        [ev("responded", wib(11, 1, 9)), ev("created", MON_0900, "dlh")],
        as_of=wib(11, 2, 10),
    )
    assert outcome.anomalies == ("responded_before_created",)
    assert only(outcome, "dlh", "response").elapsed_seconds == 0
    assert outcome.first_response_at == MON_0900


def test_repeated_event_ids_are_ignored() -> None:
    created = ev("created", MON_0900, "dlh", event_id="a")
    resolved = ev("resolved", wib(11, 2, 15), event_id="b")
    reopened = ev("reopened", wib(11, 2, 16), event_id="c")
    once = evaluate([created, resolved, reopened])
    assert evaluate([created, resolved, reopened, reopened, resolved, created]) == once
    assert once.reopen_count == 1 and once.anomalies == ()


def test_conflicting_copies_of_an_event_id_keep_the_earliest_whatever_the_order() -> None:
    created = ev("created", MON_0900, "dlh", event_id="a")
    first = ev("resolved", wib(11, 2, 15), event_id="b")
    second = ev("resolved", wib(11, 2, 16), event_id="b")
    outcome = evaluate([created, second, first])
    assert outcome == evaluate([first, created, second])
    assert outcome.first_resolved_at == wib(11, 2, 15)
    assert outcome.anomalies == ("conflicting_duplicate",)


def test_second_created_is_ignored() -> None:
    outcome = evaluate(
        [ev("created", wib(11, 2, 10), "dsda"), ev("created", MON_0900, "dlh")],
        as_of=wib(11, 2, 11),
    )
    assert outcome.created_at == MON_0900 and outcome.units == ("dlh",)
    assert outcome.anomalies == ("duplicate_created",)


def test_events_without_created_are_not_measured() -> None:
    outcome = evaluate(
        [ev("resolved", wib(11, 2, 15)), ev("rated", wib(11, 2, 16), rating=5)],
        as_of=wib(11, 3, 0),
    )
    assert not outcome.known and outcome.charges == () and outcome.units == ()
    assert outcome.created_at is None and outcome.first_resolved_at is None


def test_invalid_calls_raise() -> None:
    with pytest.raises(ValueError):
        evaluate([])
    with pytest.raises(ValueError):
        evaluate([ev("created", MON_0900, "dlh"), ev("resolved", MON_0900, complaint_id="c-2")])
    with pytest.raises(ValueError):
        evaluate([ev("created", MON_0900, "dlh")], as_of=datetime(2026, 11, 3))


def test_results_are_in_jakarta_time() -> None:
    outcome = evaluate(
        [ev("created", MON_0900.astimezone(UTC), "dlh")], as_of=wib(11, 2, 10).astimezone(UTC)
    )
    assert outcome.created_at is not None and outcome.created_at.tzinfo == JAKARTA
    assert outcome.as_of.tzinfo == JAKARTA


# --- properties ------------------------------------------------------------------------------

LIFECYCLE = ("assigned", "responded", "paused", "resumed", "resolved", "reopened", "rated")
PROPERTY_UNITS = ("dlh", "dsda", "damkar", "bpbd", "not-registered")
# Rule 0's order for events at the same instant.
TIE_ORDER = (
    "created",
    "assigned",
    "resumed",
    "paused",
    "responded",
    "resolved",
    "reopened",
    "rated",
    "closed",
)


@st.composite
def complaint_events(draw: st.DrawFn) -> tuple[list[ComplaintEvent], datetime]:
    """A valid history: created first, then lifecycle events at non-decreasing times."""
    # Any start from early March to mid April 2026: crosses weekends and Lebaran.
    at = wib(3, 2) + timedelta(minutes=draw(st.integers(0, 45 * 24 * 60)))
    unit = draw(st.sampled_from(PROPERTY_UNITS))
    events = [ev("created", at, unit, event_id="e-created", priority="high")]
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(LIFECYCLE),
                st.integers(0, 40 * 60),  # minutes after the previous event (ties allowed)
                st.sampled_from(PROPERTY_UNITS),
                st.sampled_from((None, "not_our_authority")),
            ),
            max_size=12,
        )
    )
    for index, (type_, minutes, step_unit, reason) in enumerate(steps):
        at += timedelta(minutes=minutes)
        # Some publishers write UTC: the instant is what counts.
        occurred_at = at.astimezone(UTC) if index % 3 == 0 else at
        fields: dict[str, Any] = {}
        if type_ == "assigned":
            fields = {"unit": step_unit, "reason": reason}
        elif type_ == "rated":
            fields = {"rating": 1 + minutes % 5}
        events.append(ev(type_, occurred_at, event_id=f"e-{index:02d}", **fields))
    as_of = at + timedelta(minutes=draw(st.integers(0, 10 * 24 * 60)))
    return events, as_of


def _expected_unpaused_wall(events: list[ComplaintEvent], as_of: datetime) -> dict[str, float]:
    """Oracle: each timer's wall time from receipt to its stop (or as_of), pauses excluded."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, TIE_ORDER.index(e.type), e.event_id))
    created_at = ordered[0].occurred_at
    stops: dict[str, datetime] = {}
    pauses: list[tuple[datetime, datetime]] = []
    paused_since: datetime | None = None
    for event in ordered[1:]:
        if event.type == "paused" and paused_since is None:
            paused_since = event.occurred_at
        elif event.type == "resumed" and paused_since is not None:
            pauses.append((paused_since, event.occurred_at))
            paused_since = None
        elif event.type in ("responded", "resolved"):
            stops.setdefault("response", event.occurred_at)
            if event.type == "resolved":
                stops.setdefault("resolution", event.occurred_at)
    if paused_since is not None:
        pauses.append((paused_since, as_of))
    expected = {}
    for timer in ("response", "resolution"):
        end = stops.get(timer, as_of)
        paused = sum(
            (max(min(e, end) - max(s, created_at), timedelta(0)) for s, e in pauses),
            timedelta(0),
        )
        expected[timer] = (end - created_at - paused).total_seconds()
    return expected


@PROPERTY
@given(history=complaint_events(), data=st.data())
def test_any_arrival_order_gives_the_same_outcome(
    history: tuple[list[ComplaintEvent], datetime], data: st.DataObject
) -> None:
    events, as_of = history
    outcome = evaluate(events, as_of=as_of)
    shuffled = data.draw(st.permutations(events))
    redelivered = data.draw(st.lists(st.sampled_from(events), max_size=4))
    assert evaluate([*shuffled, *redelivered], as_of=as_of) == outcome
    assert evaluate(list(reversed(events)), as_of=as_of) == outcome


@PROPERTY
@given(history=complaint_events())
def test_outcome_invariants(history: tuple[list[ComplaintEvent], datetime]) -> None:
    events, as_of = history
    outcome = evaluate(events, as_of=as_of)
    assert outcome.known and outcome.pending_events == 0
    # Valid histories can still pause twice or resolve twice, but never precede `created`.
    assert not any(a.endswith("_before_created") for a in outcome.anomalies)
    keys = [(charge.unit, charge.timer) for charge in outcome.charges]
    assert len(keys) == len(set(keys))  # so each (unit, timer) has at most one outcome
    if outcome.first_resolved_at is not None:
        assert outcome.first_response_at is not None
        assert outcome.first_response_at <= outcome.first_resolved_at
    expected = _expected_unpaused_wall(events, as_of)
    for timer in ("response", "resolution"):
        charged = sum(c.elapsed_wall_seconds for c in outcome.charges if c.timer == timer)
        assert charged == pytest.approx(expected[timer], abs=1e-6)
    if outcome.resolution_seconds is not None:
        assert outcome.resolution_seconds == pytest.approx(expected["resolution"], abs=1e-6)
    assert all(t.from_unit != t.to_unit for t in outcome.transfers)
    for charge in outcome.charges:
        assert charge.elapsed_seconds >= 0 and charge.elapsed_wall_seconds >= 0
        assert charge.allowed_seconds > 0 and charge.fraction_of_allowed >= 0
        end = charge.stopped_at or as_of
        if charge.outcome == "met":
            assert charge.stopped_at is not None and not charge.transferred_away
            assert charge.decided_at == charge.stopped_at <= charge.deadline
            assert charge.elapsed_seconds <= charge.allowed_seconds + 1e-6
        elif charge.outcome == "missed":
            assert charge.decided_at == charge.deadline < end
            assert charge.elapsed_seconds >= charge.allowed_seconds - 1e-6
        else:
            assert charge.decided_at is None and end <= charge.deadline
            assert charge.elapsed_seconds <= charge.allowed_seconds + 1e-6
        if charge.transferred_away:
            assert charge.transfer_reason in ("unspecified", "not_our_authority")


def test_a_deadline_never_falls_inside_a_pause() -> None:
    # Paused exactly at the resolution deadline (Mon 9 Nov 16:00), resumed at 20:00: no
    # working time passed, so add_working_seconds leaves 16:00; the deadline becomes the
    # resume instant instead, since the unit cannot miss while paused.
    events = [
        ev("created", MON_0900, "dlh"),
        ev("responded", wib(11, 2, 10)),
        ev("paused", DLH_RESOLUTION_DEADLINE),
        ev("resumed", wib(11, 9, 20)),
    ]
    on_resume = evaluate([*events, ev("resolved", wib(11, 9, 20))])
    resolution = only(on_resume, "dlh", "resolution")
    assert (resolution.deadline, resolution.outcome) == (wib(11, 9, 20), "met")
    assert resolution.allowed_seconds == DLH_RESOLUTION_ALLOWED
    later = evaluate([*events, ev("resolved", wib(11, 9, 20, 30))])
    assert only(later, "dlh", "resolution").decided_at == wib(11, 9, 20)
