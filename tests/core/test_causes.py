"""sigap.core.causes: misses by cause, paused time by reason, and the routing ledger, checked
against hand-computed cases and against the persisted score columns they must agree with."""

from __future__ import annotations

import contextlib
import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ComplaintEvent, EventRejected
from sigap.core.calendar import JAKARTA
from sigap.core.causes import cause_analysis, routing_ledger
from sigap.core.complaint_state import ComplaintState, current_views, record_event
from sigap.core.periods import period_end, period_start_epoch
from sigap.core.registry_file import load_registry
from sigap.core.scoring import ALL, all_period_scores
from sigap.core.unit_view import UnitView
from tests.histories import complaint_events
from tests.properties import examples

REPO = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(REPO / "deploy" / "registry.yaml")
_ids = itertools.count()
JANUARY = (
    datetime(2026, 1, 1, tzinfo=JAKARTA).timestamp(),
    datetime(2026, 2, 1, tzinfo=JAKARTA).timestamp(),
)
LATER = datetime(2026, 3, 1, tzinfo=JAKARTA).timestamp()


def wib(day: int, hour: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


def ev(
    cid: str, type_: str, at: datetime, unit: str | None = None, **fields: Any
) -> ComplaintEvent:
    return ComplaintEvent(
        event_id=f"k{next(_ids)}",
        type=type_,  # type: ignore[arg-type]
        complaint_id=cid,
        occurred_at=at,
        unit=unit,
        **fields,
    )


def views_of(*complaints: list[ComplaintEvent]) -> list[UnitView]:
    views: list[UnitView] = []
    for events in complaints:
        state = ComplaintState()
        for event in events:
            record_event(state, event, REGISTRY)
        views += current_views(state, REGISTRY)
    return views


def late(cid: str, unit: str = "dlh", cause: str | None = None) -> list[ComplaintEvent]:
    """Received Monday 5 January 09:00, resolved Wednesday 14 January: both timers missed."""
    events = [ev(cid, "created", wib(5, 9), unit), ev(cid, "resolved", wib(14, 12))]
    if cause is not None:
        events.append(ev(cid, "miss_explained", wib(14, 13), unit, timer="resolution", cause=cause))
    return events


def test_misses_are_grouped_by_cause_largest_first_with_the_unexplained_ones() -> None:
    views = views_of(
        late("a", cause="joint_site_survey"),
        late("b", cause="joint_site_survey"),
        late("c", cause="citizen_unreachable"),
        late("d"),
    )
    analysis = cause_analysis(views, "dlh", *JANUARY, LATER)
    # Each complaint also missed its 24-hour response, which nobody explained.
    assert [(c.cause, c.response, c.resolution) for c in analysis.misses] == [
        ("unexplained", 4, 1),
        ("joint_site_survey", 0, 2),
        ("citizen_unreachable", 0, 1),
    ]
    assert analysis.misses[1].complaint_ids == ("a", "b")
    assert (analysis.missed, analysis.explained, analysis.unexplained) == (8, 3, 5)


def test_an_excused_miss_is_counted_apart_and_a_pending_objection_is_shown() -> None:
    upheld = [
        *late("a"),
        ev("a", "objection_filed", wib(14, 13), "dlh", timer="resolution"),
        ev("a", "objection_decided", wib(20, 9), "dlh", timer="resolution", decision="upheld"),
    ]
    pending = [*late("b"), ev("b", "objection_filed", wib(14, 13), "dlh", timer="resolution")]
    analysis = cause_analysis(views_of(upheld, pending), "dlh", *JANUARY, LATER)
    assert analysis.excused == 1
    assert analysis.objections_pending == 1
    assert analysis.missed == 3  # two responses and b's resolution


def test_paused_time_by_reason_counts_the_complaints_whose_part_ended_in_the_period() -> None:
    complaint = [
        ev("p", "created", wib(5, 9), "dlh"),
        ev("p", "paused", wib(5, 10), reason="citizen_unreachable"),
        ev("p", "resumed", wib(5, 14)),
        ev("p", "paused", wib(6, 10), reason="joint_site_survey"),
        ev("p", "resumed", wib(6, 11)),
        ev("p", "resolved", wib(7, 9)),
    ]
    analysis = cause_analysis(views_of(complaint), "dlh", *JANUARY, LATER)
    assert [(r.reason, r.seconds, r.complaints) for r in analysis.paused] == [
        ("citizen_unreachable", 4 * 3600.0, 1),
        ("joint_site_survey", 3600.0, 1),
    ]
    february = (JANUARY[1], datetime(2026, 3, 1, tzinfo=JAKARTA).timestamp())
    assert cause_analysis(views_of(complaint), "dlh", *february, LATER).paused == ()


def test_the_routing_ledger_of_a_ping_pong_and_a_wrong_first_unit() -> None:
    # x: dlh sends it to dsda, which sends it straight back; dlh resolves. dlh routed
    # wrongly: dsda's 3 hours are charged to dlh.
    x = [
        ev("x", "created", wib(5, 9), "dlh"),
        ev("x", "assigned", wib(5, 10), "dsda", reason="not_our_authority"),
        ev("x", "assigned", wib(5, 13), "dlh", reason="wrong_category"),
        ev("x", "resolved", wib(6, 9)),
    ]
    # y: created at dishub (wrong), sent to dsda (wrong), then to dlh (right).
    y = [
        ev("y", "created", wib(5, 9), "dishub"),
        ev("y", "assigned", wib(5, 11), "dsda", reason="not_our_authority"),
        ev("y", "assigned", wib(5, 15), "dlh", reason="not_our_authority"),
        ev("y", "resolved", wib(6, 9)),
    ]
    # z: created and resolved at dlh: first touch.
    z = [ev("z", "created", wib(5, 9), "dlh"), ev("z", "resolved", wib(5, 12))]
    views = views_of(x, y, z)
    dlh = routing_ledger(views, "dlh", *JANUARY)
    assert [(t.to_unit, t.reason, t.count) for t in dlh.transfers] == [
        ("dsda", "not_our_authority", 1)
    ]
    assert (dlh.ping_pongs, dlh.ping_pong_ids) == (1, ("x",))
    assert (dlh.first_touch_resolved, dlh.first_touch_total) == (1, 2)
    assert dlh.misrouting_seconds == 3 * 3600.0
    dishub = routing_ledger(views, "dishub", *JANUARY)
    # dishub's own 2 hours (it was created there) and dsda's 4 hours, which dishub caused.
    assert dishub.misrouting_seconds == 6 * 3600.0
    assert dishub.misrouted_ids == ("y",)
    dsda = routing_ledger(views, "dsda", *JANUARY)
    assert dsda.misrouting_seconds == 0.0  # it sent y to the right unit
    assert [(t.to_unit, t.reason, t.count) for t in dsda.transfers] == [
        ("dlh", "not_our_authority", 1),
        ("dlh", "wrong_category", 1),
    ]


SETTINGS = settings(database=None, deadline=None, max_examples=examples(60))


@SETTINGS
@given(
    histories=st.lists(
        st.integers(0, 10**6).flatmap(
            lambda n: complaint_events(
                n,
                start=wib(5, 0),
                units=["dlh", "dsda", "damkar"],
                created_within_days=20,
                max_later_events=6,
                days_between_events=4,
            )
        ),
        min_size=1,
        max_size=6,
    ),
    explain=st.lists(st.sampled_from(["procurement", "other", None]), min_size=6, max_size=6),
)
def test_the_misses_by_cause_add_up_to_the_scores_missed_counts(
    histories: list[list[ComplaintEvent]], explain: list[str | None]
) -> None:
    views: list[UnitView] = []
    seen: set[str] = set()
    for events, cause in zip(histories, explain, strict=False):
        if events[0].complaint_id in seen:
            continue
        seen.add(events[0].complaint_id)
        state = ComplaintState()
        for event in events:
            with contextlib.suppress(EventRejected):
                record_event(state, event, REGISTRY)
        if cause is not None:
            for view in current_views(state, REGISTRY):
                for timer_name, timer in view.timers.items():
                    if timer.outcome == "missed":
                        explanation = ev(
                            view.complaint_id,
                            "miss_explained",
                            max(e.occurred_at for e in state.events),
                            view.unit,
                            timer=timer_name,
                            cause=cause,
                        )
                        with contextlib.suppress(EventRejected):
                            record_event(state, explanation, REGISTRY)
        views += current_views(state, REGISTRY)
    watermark = max(v.as_of for v in views) + 86400
    for score in all_period_scores(views, watermark, ["month"]):
        if score.category != ALL:
            continue
        begin = period_start_epoch("month", score.period_start)
        end = period_end("month", score.period_start)
        analysis = cause_analysis(views, score.unit, begin, end, watermark)
        assert analysis.missed == score.response_missed + score.resolution_missed
