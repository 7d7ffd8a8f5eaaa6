"""Extensions, miss explanations, objections, pause reasons and exclusions (core.timeline
rules 9-12), through the complaint stage's validation (core.complaint_state.record_event).

Hand-computed on the shipped registry: dlh works Monday-Friday 08:00-16:00 WIB, 5 working
days to resolve, 24 wall hours to respond. 5-16 January 2026 has no holiday on a weekday
before Friday 16 January (Isra Mi'raj), which none of these cases reach.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.events import ComplaintEvent, EventRejected
from sigap.core.calendar import JAKARTA
from sigap.core.charging import shift_working_days
from sigap.core.complaint_state import ComplaintState, record_event
from sigap.core.registry import Registry
from sigap.core.registry_file import load_registry, parse_registry
from sigap.core.scoring import all_period_scores
from sigap.core.timeline import charges_for, evaluate_complaint
from sigap.core.unit_view import UnitView, unit_views

REPO = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(REPO / "deploy" / "registry.yaml")
_ids = itertools.count()


def wib(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=JAKARTA)


def ev(type_: str, at: datetime, unit: str | None = None, **fields: Any) -> ComplaintEvent:
    return ComplaintEvent(
        event_id=f"f{next(_ids)}",
        type=type_,  # type: ignore[arg-type]
        complaint_id="c-1",
        occurred_at=at,
        unit=unit,
        **fields,
    )


def registry_with(**sections: Any) -> Registry:
    data = yaml.safe_load((REPO / "deploy" / "registry.yaml").read_text())
    data.update(sections)
    holidays = REGISTRY.calendar_for("dlh").holidays
    return parse_registry(data, "test-registry.yaml", holidays)


def resolution(events: list[ComplaintEvent], registry: Registry = REGISTRY) -> Any:
    outcome = evaluate_complaint(events, registry)
    (charge,) = charges_for(outcome, "dlh", "resolution")
    return outcome, charge


def record_all(events: list[ComplaintEvent], registry: Registry = REGISTRY) -> ComplaintState:
    state = ComplaintState()
    for event in events:
        record_event(state, event, registry)
    return state


# -- The worked example ------------------------------------------------------------


def test_received_monday_resolved_wednesday_of_next_week_misses_five_working_days() -> None:
    events = [ev("created", wib(1, 5, 9), "dlh"), ev("resolved", wib(1, 14, 12))]
    _, charge = resolution(events)
    # Received after opening: day 1 is Tuesday 6 January; day 5 closes Monday 12 January.
    assert charge.deadline == wib(1, 12, 16)
    assert charge.outcome == "missed"


def test_a_three_day_extension_sent_on_the_8th_makes_the_same_complaint_met() -> None:
    extension = ev(
        "extension_granted", wib(1, 8, 10), timer="resolution", working_days=3, reason="procurement"
    )
    events = [ev("created", wib(1, 5, 9), "dlh"), extension, ev("resolved", wib(1, 14, 12))]
    record_all(events)  # the complaint stage accepts every one of them
    _, charge = resolution(events)
    assert charge.deadline == wib(1, 15, 16)  # Monday 16:00 + 3 working days
    assert charge.outcome == "met"
    assert charge.extension_days == 3
    # Monday 09:00-16:00 and five office days of 8 hours, plus three more office days.
    assert charge.allowed_seconds == pytest.approx((7 + 5 * 8 + 3 * 8) * 3600)


# -- Extension limits and dead-lettering ---------------------------------------------------


def test_a_second_extension_for_the_same_unit_is_over_the_default_limit() -> None:
    created = ev("created", wib(1, 5, 9), "dlh")
    first = ev(
        "extension_granted", wib(1, 6, 9), timer="resolution", working_days=2, reason="other"
    )
    second = ev("extension_granted", wib(1, 7, 9), timer="response", working_days=1, reason="other")
    state = record_all([created, first])
    with pytest.raises(EventRejected) as rejected:
        record_event(state, second, REGISTRY)
    assert rejected.value.reason == "extension_over_limit"


def test_an_extension_longer_than_seven_working_days_is_over_the_limit() -> None:
    state = record_all([ev("created", wib(1, 5, 9), "dlh")])
    long = ev("extension_granted", wib(1, 6, 9), timer="resolution", working_days=8, reason="other")
    with pytest.raises(EventRejected) as rejected:
        record_event(state, long, REGISTRY)
    assert rejected.value.reason == "extension_over_limit"


def test_an_extension_after_the_deadline_passed_is_dead_lettered() -> None:
    state = record_all([ev("created", wib(1, 5, 9), "dlh")])
    late = ev(
        "extension_granted", wib(1, 13, 9), timer="resolution", working_days=3, reason="other"
    )
    with pytest.raises(EventRejected) as rejected:
        record_event(state, late, REGISTRY)
    assert rejected.value.reason == "extension_after_deadline"


def test_an_extension_of_a_stopped_timer_is_dead_lettered() -> None:
    state = record_all([ev("created", wib(1, 5, 9), "dlh"), ev("responded", wib(1, 5, 10))])
    extension = ev(
        "extension_granted", wib(1, 6, 9), timer="response", working_days=1, reason="other"
    )
    with pytest.raises(EventRejected) as rejected:
        record_event(state, extension, REGISTRY)
    assert rejected.value.reason == "extension_timer_stopped"


def test_an_extension_reason_outside_the_vocabulary_is_dead_lettered() -> None:
    state = record_all([ev("created", wib(1, 5, 9), "dlh")])
    odd = ev("extension_granted", wib(1, 6, 9), timer="resolution", working_days=1, reason="lazy")
    with pytest.raises(EventRejected) as rejected:
        record_event(state, odd, REGISTRY)
    assert rejected.value.reason == "unknown_reason"


def test_the_registry_limit_is_per_unit_and_versioned_by_effective_date() -> None:
    registry = registry_with(
        causes={
            "extension_limits": [
                {
                    "effective_from": "2019-01-01",
                    "unit": "*",
                    "max_extensions": 1,
                    "max_working_days": 7,
                },
                {
                    "effective_from": "2026-01-01",
                    "unit": "dlh",
                    "max_extensions": 2,
                    "max_working_days": 3,
                },
            ]
        }
    )
    events = [
        ev("created", wib(1, 5, 9), "dlh"),
        ev("extension_granted", wib(1, 6, 9), timer="resolution", working_days=2, reason="other"),
        ev("extension_granted", wib(1, 7, 9), timer="resolution", working_days=3, reason="other"),
    ]
    record_all(events, registry)
    _, charge = resolution(events, registry)
    assert charge.extension_days == 5
    assert charge.deadline == wib(1, 20, 16)  # 12 Jan + 5 working days, skipping 16 Jan
    assert registry.causes.extension_limit("dlh", wib(1, 5).date()).max_working_days == 3
    assert registry.causes.extension_limit("dsda", wib(1, 5).date()).max_working_days == 7


def test_an_extension_moves_the_deadline_of_the_unit_holding_the_complaint_only() -> None:
    events = [
        ev("created", wib(1, 5, 9), "dlh"),
        ev("assigned", wib(1, 6, 9), "dsda", reason="not_our_authority"),
        ev("extension_granted", wib(1, 6, 10), timer="resolution", working_days=2, reason="other"),
    ]
    outcome = evaluate_complaint(events, REGISTRY)
    (dsda,) = charges_for(outcome, "dsda", "resolution")
    (dlh,) = charges_for(outcome, "dlh", "resolution")
    assert dsda.extension_days == 2 and dlh.extension_days == 0


def test_shift_working_days_skips_weekends_and_holidays() -> None:
    calendar = REGISTRY.calendar_for("dlh")
    assert shift_working_days(calendar, wib(1, 15, 16), 1) == wib(1, 19, 16)  # 16 Jan holiday
    always = REGISTRY.calendar_for("damkar")
    assert shift_working_days(always, wib(1, 15, 16), 2) == wib(1, 17, 16)


# -- Explanations and objections -----------------------------------------------------------


def _missed() -> list[ComplaintEvent]:
    return [ev("created", wib(1, 5, 9), "dlh"), ev("resolved", wib(1, 14, 12))]


def test_a_miss_explained_by_the_unit_carries_its_cause_into_the_view() -> None:
    events = [
        *_missed(),
        ev("miss_explained", wib(1, 14, 13), "dlh", timer="resolution", cause="joint_site_survey"),
    ]
    record_all(events)
    view = unit_views(evaluate_complaint(events, REGISTRY), REGISTRY)["dlh"]
    assert view.timers["resolution"].cause == "joint_site_survey"
    assert UnitView.from_json(view.to_json()) == view


def test_explaining_a_timer_that_was_not_missed_is_dead_lettered() -> None:
    state = record_all([ev("created", wib(1, 5, 9), "dlh"), ev("resolved", wib(1, 6, 12))])
    explain = ev("miss_explained", wib(1, 7, 9), "dlh", timer="resolution", cause="other")
    with pytest.raises(EventRejected) as rejected:
        record_event(state, explain, REGISTRY)
    assert rejected.value.reason == "miss_explained_without_miss"


def test_an_upheld_objection_removes_the_miss_from_the_score_and_keeps_the_trail() -> None:
    filed = ev("objection_filed", wib(1, 14, 13), "dlh", timer="resolution")
    decided = ev("objection_decided", wib(1, 20, 9), "dlh", timer="resolution", decision="upheld")
    before = unit_views(evaluate_complaint(_missed(), REGISTRY), REGISTRY)["dlh"]
    events = [*_missed(), filed, decided]
    record_all(events)
    after = unit_views(evaluate_complaint(events, REGISTRY), REGISTRY)["dlh"]
    assert after.timers["resolution"].outcome == "missed"  # the trail
    assert after.timers["resolution"].objection == "upheld"

    def month(view: UnitView) -> dict[str, Any]:
        (score,) = [
            s
            for s in all_period_scores([view], wib(3, 1).timestamp(), ["month"])
            if s.category == "*"
        ]
        return score.values()

    assert month(before)["resolution_missed"] == 1
    assert month(after)["resolution_missed"] == 0
    assert month(after)["resolution_within_target_share"] is None


def test_a_rejected_objection_leaves_the_miss_counted() -> None:
    events = [
        *_missed(),
        ev("objection_filed", wib(1, 14, 13), "dlh", timer="resolution"),
        ev("objection_decided", wib(1, 20, 9), "dlh", timer="resolution", decision="rejected"),
    ]
    view = unit_views(evaluate_complaint(events, REGISTRY), REGISTRY)["dlh"]
    (score,) = [
        s for s in all_period_scores([view], wib(3, 1).timestamp(), ["month"]) if s.category == "*"
    ]
    assert score.resolution_missed == 1


def test_a_decision_without_an_objection_and_an_objection_without_a_miss_are_dead_lettered() -> (
    None
):
    state = record_all([*_missed()[:1], ev("responded", wib(1, 5, 10)), *_missed()[1:]])
    decided = ev("objection_decided", wib(1, 20, 9), "dlh", timer="resolution", decision="upheld")
    with pytest.raises(EventRejected) as rejected:
        record_event(state, decided, REGISTRY)
    assert rejected.value.reason == "decision_without_objection"
    objection = ev("objection_filed", wib(1, 14, 13), "dlh", timer="response")
    with pytest.raises(EventRejected) as rejected:
        record_event(state, objection, REGISTRY)
    assert rejected.value.reason == "objection_without_miss"


# -- Pause reasons and exclusions ----------------------------------------------------------


def test_paused_time_is_reported_per_unit_and_reason() -> None:
    events = [
        ev("created", wib(1, 5, 9), "dlh"),
        ev("paused", wib(1, 5, 10), reason="citizen_unreachable"),
        ev("resumed", wib(1, 5, 13)),
        ev("paused", wib(1, 6, 10)),
        ev("resumed", wib(1, 6, 11)),
        ev("paused", wib(1, 6, 12), reason="no_such_code"),
        ev("resumed", wib(1, 6, 12, 30)),
        ev("resolved", wib(1, 7, 9)),
    ]
    view = unit_views(evaluate_complaint(events, REGISTRY), REGISTRY)["dlh"]
    assert dict(view.paused_by_reason) == {
        "citizen_unreachable": 3 * 3600.0,
        "unspecified": 3600.0,
        "other": 1800.0,
    }


def test_an_exclusion_moves_the_deadline_by_the_excluded_working_time_like_a_pause() -> None:
    flood = {
        "unit": "dlh",
        "start": "2026-01-07T08:00:00+07:00",
        "end": "2026-01-08T16:00:00+07:00",
        "reason": "force_majeure",
    }
    registry = registry_with(exclusions=[flood])
    events = _missed()
    _, charge = resolution(events, registry)
    # Two whole office days excluded: Monday 12 January 16:00 becomes Wednesday 14 16:00.
    assert charge.deadline == wib(1, 14, 16)
    assert charge.outcome == "met"
    view = unit_views(evaluate_complaint(events, registry), registry)["dlh"]
    assert dict(view.excluded_by_reason) == {"force_majeure": 32 * 3600.0}
    # Another unit is not covered by dlh's exclusion.
    other = [ev("created", wib(1, 5, 9), "dsda"), ev("resolved", wib(1, 14, 12))]
    outcome = evaluate_complaint(other, registry)
    (dsda,) = charges_for(outcome, "dsda", "resolution")
    assert dsda.outcome == "missed"


def test_a_registry_exclusion_with_an_unknown_reason_names_the_entry() -> None:
    with pytest.raises(ValueError, match=r"exclusions\[0\]: field 'reason'"):
        registry_with(
            exclusions=[
                {
                    "unit": "*",
                    "start": "2026-01-07T08:00:00+07:00",
                    "end": "2026-01-08T08:00:00+07:00",
                    "reason": "flood",
                }
            ]
        )


def test_the_exclusion_counts_only_while_the_unit_held_the_complaint() -> None:
    registry = registry_with(
        exclusions=[
            {
                "unit": "*",
                "start": "2026-01-07T00:00:00+07:00",
                "end": "2026-01-08T00:00:00+07:00",
                "reason": "force_majeure",
            }
        ]
    )
    events = [
        ev("created", wib(1, 5, 9), "dlh"),
        ev("assigned", wib(1, 7, 12), "dsda"),
        ev("resolved", wib(1, 9, 12)),
    ]
    views = unit_views(evaluate_complaint(events, registry), registry)
    assert dict(views["dlh"].excluded_by_reason) == {"force_majeure": 12 * 3600.0}
    assert dict(views["dsda"].excluded_by_reason) == {"force_majeure": 12 * 3600.0}
