"""The close rule and the fold of the log (core.period_close), pure: no database."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ComplaintEvent
from sigap.core.close_rules import CloseRule, CloseRules
from sigap.core.period_close import (
    LogFold,
    close_instant,
    official_revisions,
    registry_close_instant,
    restatements,
    score_columns,
    suspected_periods,
)
from sigap.core.periods import JAKARTA
from sigap.core.registry import RegistryError
from sigap.core.registry_file import load_registry, parse_registry
from sigap.core.scoring import ScoreInput, all_period_scores
from tests.histories import complaint_events
from tests.properties import examples

REGISTRY_PATH = Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml"
REGISTRY = load_registry(REGISTRY_PATH)
OFFICE = REGISTRY.calendars["office"]


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA)


def test_a_day_closes_at_the_end_of_the_fifth_working_day_after_it() -> None:
    instant = registry_close_instant(REGISTRY, "day", date(2026, 11, 27))  # a Friday
    assert instant == wib("2026-12-04T16:00").timestamp()  # the next Friday, 16:00 WIB


def test_holidays_push_the_close_back() -> None:
    # Nyepi and Lebaran 2026 make 18-24 March non-working: the 5 working days after
    # Tuesday 17 March are 25, 26, 27, 30 and 31 March.
    instant = registry_close_instant(REGISTRY, "day", date(2026, 3, 17))
    assert instant == wib("2026-03-31T16:00").timestamp()


def test_week_month_and_quarter_close_after_their_last_day() -> None:
    week = registry_close_instant(REGISTRY, "week", date(2026, 11, 23))
    month = registry_close_instant(REGISTRY, "month", date(2026, 11, 1))
    assert week == wib("2026-12-04T16:00").timestamp()  # ends Sunday 29 November
    assert month == wib("2026-12-07T16:00").timestamp()  # 1-4 and 7 December


def test_the_rule_in_force_at_the_period_start_applies() -> None:
    plain = parse_registry(registry_data(), "r.yaml", frozenset()).calendars["office"]
    rules = CloseRules((CloseRule(date(2020, 1, 1), 5), CloseRule(date(2027, 1, 1), 10)))
    assert close_instant(rules, plain, "day", date(2019, 12, 31)) is None  # never closes
    december = close_instant(rules, plain, "month", date(2026, 12, 1))
    january = close_instant(rules, plain, "day", date(2027, 1, 4))  # a Monday
    assert december is not None and january is not None
    assert datetime.fromtimestamp(december, JAKARTA) == wib("2027-01-07T16:00")  # 5 days
    assert datetime.fromtimestamp(january, JAKARTA) == wib("2027-01-18T16:00")  # 10 days
    zero = CloseRules((CloseRule(date(2020, 1, 1), 0),))
    assert (
        close_instant(zero, plain, "day", date(2026, 1, 5)) == wib("2026-01-06T00:00").timestamp()
    )


def registry_data(**extra: Any) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(REGISTRY_PATH.read_text())
    data.pop("holiday_overrides", None)
    data.update(extra)
    return dict(data)


def test_registry_close_section_is_parsed_and_checked() -> None:
    parsed = parse_registry(
        registry_data(
            close=[
                {"effective_from": date(2027, 1, 1), "working_days": 10},
                {"effective_from": date(2020, 1, 1), "working_days": 5},
            ]
        ),
        "r.yaml",
        frozenset(),
    )
    assert parsed.close_rules.rules == (
        CloseRule(date(2020, 1, 1), 5),
        CloseRule(date(2027, 1, 1), 10),
    )
    twice = [{"effective_from": date(2020, 1, 1), "working_days": d} for d in (5, 6)]
    with pytest.raises(RegistryError, match=r"close\[1\].*duplicate of close\[0\]"):
        parse_registry(registry_data(close=twice), "r.yaml", frozenset())
    with pytest.raises(RegistryError, match="working_days"):
        parse_registry(
            registry_data(close=[{"effective_from": date(2020, 1, 1), "working_days": -1}]),
            "r.yaml",
            frozenset(),
        )


def event(number: int, complaint: str, type_: str, at: datetime, **extra: Any) -> ComplaintEvent:
    return ComplaintEvent.model_validate(
        {
            "event_id": f"{complaint}-{number}",
            "type": type_,
            "complaint_id": complaint,
            "occurred_at": at,
            **extra,
        }
    )


WEEK = date(2026, 11, 2)  # a Monday
CLOSE = registry_close_instant(REGISTRY, "week", WEEK)
assert CLOSE is not None


def closed_fold(events: list[tuple[ComplaintEvent, float]]) -> LogFold:
    fold = LogFold(REGISTRY)
    for item, appended in events:
        fold.add(item, appended)
    fold.advance(CLOSE)  # type: ignore[arg-type]
    return fold


def test_official_counts_what_was_appended_by_the_close_not_what_occurred() -> None:
    created = event(0, "a", "created", wib("2026-11-02T09:00"), unit="dlh")
    responded = event(1, "a", "responded", wib("2026-11-02T10:00"))
    # Appended at once, except the response: a backdated event appended after the close.
    fold = closed_fold([(created, created.occurred_at.timestamp()), (responded, CLOSE + 60)])
    official = {
        (r.score.unit, r.score.category): r for r in official_revisions(fold, "week", WEEK, CLOSE)
    }
    row = official[("dlh", "*")].score
    # By the close no response was in the log: its 24-hour deadline passed, missed.
    assert (row.received, row.responded, row.response_met, row.response_missed) == (1, 0, 0, 1)
    latest = {key: score_columns(rev.score) for key, rev in official.items()}
    changes = fold.take_changes()
    fold.add(responded, CLOSE + 60)
    fold.advance(CLOSE + 120)
    suspects = suspected_periods(fold.take_changes(), {("week", WEEK): CLOSE})
    assert set(suspects) >= {("week", WEEK)}
    restated = {
        (r.score.unit, r.score.category): r
        for r in restatements(fold, "week", WEEK, CLOSE, latest, suspects[("week", WEEK)])
    }
    assert changes  # the created event changed views before the close
    again = restated[("dlh", "*")]
    assert again.restatement and again.cut == CLOSE + 120 and again.watermark == CLOSE
    assert (again.score.responded, again.score.response_met, again.score.response_missed) == (
        1,
        1,
        0,
    )
    assert {"responded", "response_met", "response_missed"} <= set(again.changed)
    assert again.reason["appended_after_close"] == {"responded": 1}
    assert again.reason["registry_version"] == REGISTRY.version


def test_a_deadline_passing_after_the_close_restates_nothing() -> None:
    created = event(0, "a", "created", wib("2026-11-02T15:00"), unit="dlh")
    fold = closed_fold([(created, created.occurred_at.timestamp())])
    latest = {
        (r.score.unit, r.score.category): score_columns(r.score)
        for r in official_revisions(fold, "week", WEEK, CLOSE)
    }
    fold.take_changes()
    fold.advance(CLOSE + 86400 * 30)  # no event: only time passes
    assert suspected_periods(fold.take_changes(), {("week", WEEK): CLOSE}) == {}
    assert restatements(fold, "week", WEEK, CLOSE, latest, []) == []


START = datetime(2026, 10, 26, tzinfo=JAKARTA)


@settings(max_examples=examples(40), deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            *[
                complaint_events(
                    i,
                    start=START,
                    units=("dlh", "dsda"),
                    created_within_days=20,
                    max_later_events=5,
                    days_between_events=4,
                )
                for i in range(n)
            ]
        )
    ),
    st.lists(st.integers(0, 40 * 86400), min_size=60, max_size=60),
)
def test_the_index_gives_every_period_the_scores_of_all_period_scores(
    histories: tuple[list[ComplaintEvent], ...], delays: list[int]
) -> None:
    """Whatever order the events are appended in (random delays after they occur), the
    fold's periods equal core.scoring.all_period_scores over the same events' views."""
    fold = LogFold(REGISTRY)
    flat = [item for history in histories for item in history]
    for item, delay in zip(flat, delays * 3, strict=False):
        fold.add(item, item.occurred_at.timestamp() + delay)
    # In steps, as the closer advances: every intermediate index state is exercised.
    last = max(item.occurred_at.timestamp() for item in flat) + 41 * 86400
    for cut in range(int(START.timestamp()), int(last), 5 * 86400):
        fold.advance(cut)
    fold.advance(math.inf)
    watermark = last
    expected = {
        (s.unit, s.category, s.period, s.period_start): s
        for s in all_period_scores(
            [ScoreInput.from_view(v) for v in fold.views()], watermark, registry=REGISTRY
        )
    }
    periods = {(kind, start) for _, _, kind, start in expected}
    found = {
        (unit, category, kind, start): score
        for kind, start in periods
        for (unit, category), score in fold.index.period_scores(
            kind, start, watermark, REGISTRY
        ).items()
    }
    assert found == expected
