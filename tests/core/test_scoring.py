"""Period scores (core.scoring): every column checked against a straightforward computation
from the views' fields written here independently (own calendar arithmetic, own quantiles,
no ScoreInput), on random complaint histories and on hand-made cases."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ComplaintEvent, EventRejected
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.periods import (
    PERIOD_KINDS,
    SCORE_PERIOD_KINDS,
    format_period,
    last_day,
    parse_period,
    period_end,
    period_start,
    period_start_epoch,
    previous_periods,
)
from sigap.core.registry_file import load_registry
from sigap.core.scoring import (
    ACTIVITY_COLUMNS,
    ALL,
    VALUE_COLUMNS,
    all_period_scores,
    period_score,
)
from sigap.core.unit_view import UnitView
from tests.histories import complaint_events as history_of
from tests.properties import examples

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")
WIB = ZoneInfo("Asia/Jakarta")
START = datetime(2026, 3, 25, 8, 0, tzinfo=WIB)  # crosses a month and a quarter end
UNITS = ["dlh", "dsda", "damkar"]


# -- an independent reference --------------------------------------------------------------


def bounds(kind: str, start: date) -> tuple[float, float]:
    """[begin, end) of a period, by plain date arithmetic in Jakarta time."""
    if kind == "day":
        after = start + timedelta(days=1)
    elif kind == "week":
        after = start + timedelta(weeks=1)
    else:
        months = {"month": 1, "quarter": 3}[kind]
        month = start.month - 1 + months
        after = date(start.year + month // 12, month % 12 + 1, 1)

    def midnight(day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=WIB).timestamp()

    return midnight(start), midnight(after)


def starts_of(instant: float) -> dict[str, date]:
    day = datetime.fromtimestamp(instant, WIB).date()
    return {
        "day": day,
        "week": day - timedelta(days=day.weekday()),
        "month": day.replace(day=1),
        "quarter": day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1),
    }


def rank(values: list[float], q: float) -> float | None:
    """The smallest value with at least a fraction q of the sample at or below it."""
    if not values:
        return None
    return min(v for v in values if sum(x <= v for x in values) >= q * len(values))


def activity_instants(view: UnitView) -> list[float]:
    found = [view.created_at, *(at for at, _ in view.transfers_away)]
    if view.resolved_at is not None:
        found.append(view.resolved_at)
    response = view.timers.get("response")
    if view.response_seconds is not None and response and response.stopped_at is not None:
        found.append(response.stopped_at)
    for timer in view.timers.values():
        if timer.outcome is not None and timer.decided_at is not None:
            found.append(timer.decided_at)
        elif timer.outcome is None and timer.running and timer.is_open:
            found.append(timer.deadline)
    return found


def held_open_at(view: UnitView, end: float) -> bool:
    """open_at_end as the core.scoring docstring states it."""
    resolution = view.timers.get("resolution")
    received = resolution.received_at if resolution else view.created_at
    if not (view.created_at < end and received < end):
        return False
    if view.holder:
        if view.open:
            return True
        closed = view.resolved_at
        if closed is None and resolution is not None:
            closed = resolution.stopped_at
        if closed is None:
            closed = view.as_of
        return closed >= end
    if not any(at >= end for at, _ in view.transfers_away):
        return False
    return view.resolved_at is None or view.resolved_at >= end


def reference(views: list[UnitView], watermark: float, unit: str, category: str, kind: str,
              start: date) -> dict[str, Any]:  # fmt: skip
    begin, end = bounds(kind, start)

    def inside(instant: float | None) -> bool:
        return instant is not None and begin <= instant < end

    mine = [v for v in views if v.unit == unit and not v.deleted and category in (ALL, v.category)]
    values: dict[str, Any] = {
        "received": sum(1 for v in mine if v.created_here and inside(v.created_at))
    }
    responses = []
    for v in mine:
        response = v.timers.get("response")
        if v.response_seconds is not None and response and inside(response.stopped_at):
            responses.append(v)
    resolutions = [v for v in mine if inside(v.resolved_at) and v.resolution_seconds is not None]
    values["responded"] = len(responses)
    values["resolved"] = len(resolutions)
    values["open_at_end"] = sum(1 for v in mine if held_open_at(v, end))
    for name, sample in (
        ("response_{}_wall_seconds", [v.response_seconds for v in responses]),
        ("response_{}_working_seconds", [v.response_working_seconds for v in responses]),
        ("resolution_{}_wall_seconds", [v.resolution_seconds for v in resolutions]),
        ("resolution_{}_working_seconds", [v.resolution_working_seconds for v in resolutions]),
    ):
        known = [float(x) for x in sample if x is not None]
        values[name.format("p50")] = rank(known, 0.5)
        values[name.format("p90")] = rank(known, 0.9)
    for timer in ("response", "resolution"):
        met = missed = 0
        for v in mine:
            t = v.timers.get(timer)
            if t is None:
                continue
            if t.outcome is not None and inside(t.decided_at):
                met += t.outcome == "met"
                missed += t.outcome == "missed"
            elif t.outcome is None and t.running and t.is_open:
                missed += t.deadline <= watermark and inside(t.deadline)
        values[f"{timer}_met"] = met
        values[f"{timer}_missed"] = missed
        values[f"{timer}_within_target_share"] = met / (met + missed) if met + missed else None
    values["transfers_away"] = sum(1 for v in mine for at, _ in v.transfers_away if inside(at))
    values["reopened"] = sum(1 for v in resolutions if v.reopens > 0)
    values["reopen_rate"] = values["reopened"] / len(resolutions) if resolutions else None
    ratings = [
        v.rating
        for v in mine
        if v.rating is not None
        and inside(v.resolved_at if v.resolved_at is not None else v.created_at)
    ]
    values["rating_count"] = len(ratings)
    values["rating_mean"] = sum(ratings) / len(ratings) if ratings else None
    return {column: values[column] for column in VALUE_COLUMNS}


def reference_scores(
    views: list[UnitView], watermark: float
) -> dict[tuple[str, str, str, date], dict[str, Any]]:
    keys = set()
    for view in views:
        if view.deleted:
            continue
        for instant in activity_instants(view):
            for kind, start in starts_of(instant).items():
                for category in (ALL, view.category):
                    keys.add((view.unit, category, kind, start))
    found = {}
    for key in keys:
        values = reference(views, watermark, *key)
        if any(values[column] for column in ACTIVITY_COLUMNS):
            found[key] = values
    return found


# -- random histories ----------------------------------------------------------------------


def complaint_events(number: int) -> st.SearchStrategy[list[ComplaintEvent]]:
    return history_of(
        number,
        start=START,
        units=UNITS,
        created_within_days=12,
        max_later_events=8,
        days_between_events=3,
        channels=[None, "wa", "web"],
    )


histories = st.integers(1, 12).flatmap(
    lambda n: st.tuples(*[complaint_events(i) for i in range(n)])
)


@settings(max_examples=examples(80), deadline=None)
@given(histories, st.integers(0, 60 * 24 * 20))
def test_every_score_matches_the_reference(
    history: tuple[list[ComplaintEvent], ...], watermark_minutes: int
) -> None:
    views = latest_views_registry(event for events in history for event in events)
    watermark = (START + timedelta(minutes=watermark_minutes)).timestamp()
    scores = all_period_scores(views, watermark, registry=REGISTRY)
    got = {(s.unit, s.category, s.period, s.period_start): s.values() for s in scores}
    assert got == reference_scores(views, watermark)
    # The fast path equals the plain one, indicators included.
    for score in scores:
        plain = period_score(
            score.unit,
            score.period,  # type: ignore[arg-type]
            score.period_start,
            views,
            watermark,
            category=score.category,
            registry=REGISTRY,
        )
        assert plain == score


def latest_views_registry(events: Iterable[ComplaintEvent]) -> list[UnitView]:
    states: dict[str, ComplaintState] = {}
    latest: dict[tuple[str, str], UnitView] = {}
    for event in events:
        try:
            accepted = accept_event(
                states.setdefault(event.complaint_id, ComplaintState()), event, REGISTRY
            )
        except EventRejected:
            continue
        for view in accepted.views:
            latest[(view.unit, view.complaint_id)] = view
    return list(latest.values())


# -- hand-made cases -----------------------------------------------------------------------


def event(complaint: str, n: int, kind: str, at: datetime, **fields: Any) -> ComplaintEvent:
    return ComplaintEvent.model_validate(
        {
            "event_id": f"{complaint}-{n}",
            "type": kind,
            "complaint_id": complaint,
            "occurred_at": at,
            **fields,
        }
    )


def wib(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=WIB)


def scores_by_key(
    views: list[UnitView], watermark: datetime
) -> dict[tuple[str, str, str, date], Any]:
    return {
        (s.unit, s.category, s.period, s.period_start): s
        for s in all_period_scores(views, watermark.timestamp(), registry=REGISTRY)
    }


def test_a_transferred_complaint_day_by_day() -> None:
    # Created at dlh on Mon 2 Nov 09:00, answered there at 10:00, transferred to dsda on
    # Wed 4 Nov 10:00, resolved by dsda on Fri 6 Nov 11:00, rated 4, reopened.
    events = [
        event("a", 0, "created", wib(2, 9), unit="dlh", category="complex", channel="wa"),
        event("a", 1, "responded", wib(2, 10)),
        event("a", 2, "assigned", wib(4, 10), unit="dsda", reason="not_our_authority"),
        event("a", 3, "resolved", wib(6, 11)),
        event("a", 4, "rated", wib(6, 12), rating=4),
        event("a", 5, "reopened", wib(7, 9)),
    ]
    views = latest_views_registry(events)
    scores = scores_by_key(views, wib(30, 0))
    day = {
        (unit, start.day): s for (unit, cat, kind, start), s in scores.items()
        if kind == "day" and cat == ALL
    }  # fmt: skip
    assert sorted(day) == [("dlh", 2), ("dlh", 4), ("dsda", 6)]
    assert (day[("dlh", 2)].received, day[("dlh", 2)].responded) == (1, 1)
    assert day[("dlh", 2)].response_p50_wall_seconds == 3600.0
    assert day[("dlh", 2)].open_at_end == 1  # held open by dlh at midnight
    assert (day[("dlh", 4)].transfers_away, day[("dlh", 4)].open_at_end) == (1, 0)
    dsda = day[("dsda", 6)]
    assert (dsda.received, dsda.resolved, dsda.reopened, dsda.reopen_rate) == (0, 1, 1, 1.0)
    assert (dsda.rating_count, dsda.rating_mean) == (1, 4.0)
    # Reopened on the 7th and still open: dsda holds it open at the end of the 6th? No: it
    # was resolved at 11:00 that day; the view says open now, so it counts (the documented
    # approximation: a reopened complaint counts as open since its receipt).
    assert dsda.open_at_end == 1
    # The week holds all of it; the category row equals the "*" row (one complaint).
    week = scores[("dlh", ALL, "week", date(2026, 11, 2))]
    assert (week.received, week.responded, week.transfers_away, week.open_at_end) == (1, 1, 1, 0)
    assert scores[("dlh", "complex", "week", date(2026, 11, 2))].values() == week.values()
    quarter = scores[("dsda", ALL, "quarter", date(2026, 10, 1))]
    assert (quarter.resolved, quarter.open_at_end) == (1, 1)
    # Channel breakdown: only this channel's complaints.
    wa = period_score("dlh", "week", date(2026, 11, 2), views, wib(30, 0).timestamp(), channel="wa")
    web = period_score(
        "dlh", "week", date(2026, 11, 2), views, wib(30, 0).timestamp(), channel="web"
    )
    assert (wa.received, web.received, web.empty) == (1, 0, True)


def test_open_at_end_of_a_closed_complaint_stops_at_its_resolution() -> None:
    events = [
        event("b", 0, "created", wib(2, 9), unit="dlh"),
        event("b", 1, "resolved", wib(4, 9)),
    ]
    views = latest_views_registry(events)
    watermark = wib(30, 0).timestamp()
    opened = [
        period_score("dlh", "day", date(2026, 11, d), views, watermark).open_at_end
        for d in range(1, 6)
    ]
    assert opened == [0, 1, 1, 0, 0]


def test_a_quarter_is_three_months_of_jakarta_time() -> None:
    # 31 March 23:30 in Jakarta is 16:30 UTC: still Q1; 1 April 00:30 is Q2.
    assert period_start("quarter", datetime(2026, 3, 31, 23, 30, tzinfo=WIB).timestamp()) == date(
        2026, 1, 1
    )
    assert period_start("quarter", datetime(2026, 4, 1, 0, 30, tzinfo=WIB).timestamp()) == date(
        2026, 4, 1
    )
    assert period_end("quarter", date(2026, 10, 1)) == datetime(2027, 1, 1, tzinfo=WIB).timestamp()
    assert period_start_epoch("quarter", date(2026, 4, 1)) == bounds("quarter", date(2026, 4, 1))[0]
    with pytest.raises(ValueError, match="quarter starts"):
        period_end("quarter", date(2026, 2, 1))
    assert SCORE_PERIOD_KINDS == ("day", "week", "month", "quarter")
    assert PERIOD_KINDS == ("day", "week", "month")  # the live gauges keep their kinds


@given(st.integers(0, 3650 * 86400))
def test_period_bounds_match_the_reference(offset: int) -> None:
    moment = datetime(2020, 1, 1, tzinfo=WIB).timestamp() + offset
    for kind, start in starts_of(moment).items():
        assert period_start(kind, moment) == start  # type: ignore[arg-type]
        begin, end = bounds(kind, start)
        assert (period_start_epoch(kind, start), period_end(kind, start)) == (begin, end)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kind", "start"),
    [
        ("2026-11-27", "day", date(2026, 11, 27)),
        ("2026-W48", "week", date(2026, 11, 23)),
        ("2026-W01", "week", date(2025, 12, 29)),
        ("2026-11", "month", date(2026, 11, 1)),
        ("2026-Q4", "quarter", date(2026, 10, 1)),
        ("2026-Q1", "quarter", date(2026, 1, 1)),
    ],
)
def test_period_names(text: str, kind: str, start: date) -> None:
    assert parse_period(text) == (kind, start)
    assert format_period(kind, start) == text  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["2026-13", "2026-W54", "2026-Q5", "2026-02-30", "nov", ""])
def test_bad_period_names_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_period(text)
    assert repr(text) in str(info.value)
    assert "YYYY-Qn (quarter)" in str(info.value)


def test_previous_periods_and_last_day() -> None:
    assert previous_periods("quarter", date(2026, 1, 1), 2) == [date(2025, 7, 1), date(2025, 10, 1)]
    assert previous_periods("month", date(2026, 1, 1), 1) == [date(2025, 12, 1)]
    assert previous_periods("week", date(2026, 11, 23), 2) == [
        date(2026, 11, 9),
        date(2026, 11, 16),
    ]
    assert previous_periods("day", date(2026, 3, 1), 1) == [date(2026, 2, 28)]
    assert previous_periods("day", date(2026, 3, 1), 0) == []
    assert last_day("quarter", date(2026, 10, 1)) == date(2026, 12, 31)
    assert last_day("month", date(2026, 2, 1)) == date(2026, 2, 28)
    with pytest.raises(ValueError):
        previous_periods("week", date(2026, 11, 24), 1)  # not a Monday


def test_scores_hold_no_nan_and_json_names_every_column() -> None:
    events = [event("c", 0, "created", wib(2, 9), unit="dlh")]
    (score,) = [
        s
        for s in all_period_scores(latest_views_registry(events), wib(2, 10).timestamp())
        if s.period == "day" and s.category == ALL
    ]
    data = score.as_json()
    assert list(data)[:4] == ["unit", "category", "period", "period_start"]
    assert list(data)[4:-1] == list(VALUE_COLUMNS)
    assert [i["name"] for i in data["indicators"]] == [
        "response_within_target",
        "resolution_within_target",
        "response_p90_working_hours",
        "resolution_p90_working_hours",
        "rating_mean",
    ]
    assert not any(isinstance(v, float) and math.isnan(v) for v in score.values().values())


def test_counts_by_category_add_up_to_the_total() -> None:
    events = []
    for i, category in enumerate(["complex", "sampah", None, "complex"]):
        extra = {"category": category} if category else {}
        events += [
            event(f"k{i}", 0, "created", wib(2, 9 + i), unit="dlh", **extra),
            event(f"k{i}", 1, "resolved", wib(3, 9 + i)),
        ]
    scores = all_period_scores(latest_views_registry(events), wib(30, 0).timestamp())
    per: dict[tuple[str, date], dict[str, int]] = defaultdict(dict)
    for s in scores:
        per[(s.period, s.period_start)][s.category] = s.resolved
    for found in per.values():
        assert found[ALL] == sum(v for c, v in found.items() if c != ALL)
    # "sampah" is no registry category: it counts as "other", like no category at all.
    assert per[("day", date(2026, 11, 3))] == {ALL: 4, "complex": 2, "other": 2}
