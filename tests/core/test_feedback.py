"""sigap.core.feedback against hand-computed cases: complaints run through the real timeline
(core.complaint_state), the expected seconds worked out by hand from the event times."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from sigap.core.feedback import (
    BUCKETS,
    decisions_in,
    overdue_at,
    time_breakdown,
    transfers_in,
    unit_feedback,
)
from sigap.core.registry_file import load_registry
from sigap.core.scoring import ScoreInput, period_score
from sigap.core.unit_view import UnitView
from tests.histories import views_after

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")
H = 3600.0


def at(text: str) -> float:
    return datetime.fromisoformat(f"{text}+07:00").timestamp()


def views(complaint_id: str, *events: tuple[str, str, dict[str, Any]]) -> dict[str, UnitView]:
    """The complaint's current view per unit after all its events (Asia/Jakarta times)."""
    timed = [(kind, datetime.fromisoformat(f"{when}+07:00"), extra) for kind, when, extra in events]
    return {view.unit: view for view in views_after(complaint_id, timed, REGISTRY)}


# A: received by dishub Mon 09:00, transferred to dlh 11:00, paused 12:00-13:00, answered
# 14:00, resolved Tue 10:00.
A = views(
    "A",
    ("created", "2026-11-02T09:00:00", {"unit": "dishub"}),
    ("assigned", "2026-11-02T11:00:00", {"unit": "dlh", "reason": "not_our_authority"}),
    ("paused", "2026-11-02T12:00:00", {}),
    ("resumed", "2026-11-02T13:00:00", {}),
    ("responded", "2026-11-02T14:00:00", {}),
    ("resolved", "2026-11-03T10:00:00", {}),
)
# B: received by dlh Tue 08:00, no answer; paused Wed 10:00-12:00 (after the 24 h deadline).
B = views(
    "B",
    ("created", "2026-11-03T08:00:00", {"unit": "dlh"}),
    ("paused", "2026-11-04T10:00:00", {}),
    ("resumed", "2026-11-04T12:00:00", {}),
)
# C: answered and resolved the same day, in time.
C = views(
    "C",
    ("created", "2026-11-02T10:00:00", {"unit": "dlh"}),
    ("responded", "2026-11-02T10:30:00", {}),
    ("resolved", "2026-11-02T15:00:00", {}),
)
# D: answered after 27 h (response missed Tue 09:00, 3 h late), resolved Tue 13:00.
D = views(
    "D",
    ("created", "2026-11-02T09:00:00", {"unit": "dlh"}),
    ("responded", "2026-11-03T12:00:00", {}),
    ("resolved", "2026-11-03T13:00:00", {}),
)
# E: received Tue 09:00 and nothing since: the stored view predates its deadline.
E = views("E", ("created", "2026-11-03T09:00:00", {"unit": "dlh"}))
DLH = [A["dlh"], B["dlh"], C["dlh"], D["dlh"], E["dlh"]]
ALL = [*DLH, A["dishub"]]
FAR = at("2026-12-31T00:00:00")


def as_tuple(view: UnitView) -> tuple[float, float, float, float]:
    return as_tuple_at(view, None)


def as_tuple_at(view: UnitView, now: float | None) -> tuple[float, float, float, float]:
    breakdown = time_breakdown(view, now)
    assert breakdown is not None
    return (
        breakdown.before_arrival,
        breakdown.before_first_response,
        breakdown.after_first_response,
        breakdown.paused,
    )


def test_breakdown_of_a_transferred_paused_complaint() -> None:
    # 2 h at dishub; then at dlh 11:00-14:00 less the 1 h pause = 2 h before the answer;
    # 14:00 to Tue 10:00 = 20 h after it; total 25 h.
    assert as_tuple(A["dlh"]) == (2 * H, 2 * H, 20 * H, 1 * H)
    breakdown = time_breakdown(A["dlh"])
    assert breakdown is not None and breakdown.resolved
    assert breakdown.total == at("2026-11-03T10:00:00") - at("2026-11-02T09:00:00")
    # dishub transferred it away for good: its part is its transfer, not a breakdown.
    assert time_breakdown(A["dishub"]) is None


def test_breakdown_of_open_and_in_time_complaints() -> None:
    # Open at its view's time (Wed 12:00): 28 h, of which 2 h paused, never answered.
    assert as_tuple(B["dlh"]) == (0.0, 26 * H, 0.0, 2 * H)
    breakdown = time_breakdown(B["dlh"])
    assert breakdown is not None and not breakdown.resolved
    assert as_tuple(C["dlh"]) == (0.0, 0.5 * H, 4.5 * H, 0.0)
    assert as_tuple(D["dlh"]) == (0.0, 27 * H, 1 * H, 0.0)


def test_an_open_complaint_is_followed_to_now() -> None:
    # E: nothing since Tue 09:00, clocks running: all of it is time before the answer.
    assert as_tuple(E["dlh"]) == (0.0, 0.0, 0.0, 0.0)
    assert time_breakdown(E["dlh"], at("2026-11-04T12:00:00")) is not None
    assert as_tuple_at(E["dlh"], at("2026-11-04T12:00:00")) == (0.0, 27 * H, 0.0, 0.0)
    # F: paused at 10:00 and still paused: the time since is paused.
    paused = views(
        "F",
        ("created", "2026-11-03T09:00:00", {"unit": "dlh"}),
        ("paused", "2026-11-03T10:00:00", {}),
    )["dlh"]
    assert as_tuple_at(paused, at("2026-11-03T14:00:00")) == (0.0, 1 * H, 0.0, 4 * H)
    # A resolved complaint ends at its resolution whatever `now` is.
    assert as_tuple_at(A["dlh"], FAR) == as_tuple(A["dlh"])


def test_decisions_of_a_day_and_their_lateness() -> None:
    tuesday = (at("2026-11-03T00:00:00"), at("2026-11-04T00:00:00"))
    found = [
        (d.complaint_id, d.timer, d.outcome, d.decided_at, d.overdue_seconds)
        for d in decisions_in(ALL, "dlh", *tuesday, FAR)
    ]
    assert found == [
        ("A", "resolution", "met", at("2026-11-03T10:00:00"), 0.0),
        ("D", "response", "missed", at("2026-11-03T09:00:00"), 3 * H),
        ("D", "resolution", "met", at("2026-11-03T13:00:00"), 0.0),
    ]
    # Wednesday: B's response deadline (Wed 08:00) and E's (Wed 09:00), both still open;
    # E's view was made at its creation, so only the watermark tells it is missed.
    wednesday = (at("2026-11-04T00:00:00"), at("2026-11-05T00:00:00"))
    watermark = at("2026-11-04T12:00:00")
    found = [
        (d.complaint_id, d.timer, d.outcome, d.decided_at, d.overdue_seconds)
        for d in decisions_in(ALL, "dlh", *wednesday, watermark)
    ]
    assert found == [
        ("B", "response", "missed", at("2026-11-04T08:00:00"), 4 * H),
        ("E", "response", "missed", at("2026-11-04T09:00:00"), 3 * H),
    ]
    # Before E's deadline passes under the watermark, it is not decided.
    early = at("2026-11-04T08:30:00")
    assert [d.complaint_id for d in decisions_in(ALL, "dlh", *wednesday, early)] == ["B"]


@pytest.mark.parametrize(
    ("day", "watermark"),
    [
        (date(2026, 11, 2), FAR),
        (date(2026, 11, 3), FAR),
        (date(2026, 11, 4), at("2026-11-04T12:00:00")),
        (date(2026, 11, 4), at("2026-11-04T08:30:00")),
    ],
)
def test_decisions_agree_with_the_period_scores(day: date, watermark: float) -> None:
    begin = at(f"{day.isoformat()}T00:00:00")
    decided = decisions_in(ALL, "dlh", begin, begin + 24 * H, watermark)
    score = period_score("dlh", "day", day, [ScoreInput.from_view(v) for v in ALL], watermark)
    counts = {
        (timer, outcome): sum(1 for d in decided if (d.timer, d.outcome) == (timer, outcome))
        for timer in ("response", "resolution")
        for outcome in ("met", "missed")
    }
    assert counts == {
        ("response", "met"): score.response_met,
        ("response", "missed"): score.response_missed,
        ("resolution", "met"): score.resolution_met,
        ("resolution", "missed"): score.resolution_missed,
    }


def test_overdue_at_an_instant() -> None:
    # Wed 12:00: B 4 h past its 08:00 deadline, E 3 h past 09:00; D was answered Tue 12:00.
    found = [
        (o.complaint_id, o.timer, o.overdue_seconds)
        for o in overdue_at(ALL, "dlh", at("2026-11-04T12:00:00"))
    ]
    assert found == [("B", "response", 4 * H), ("E", "response", 3 * H)]
    # Tue 11:00: D was 2 h past its response deadline and not yet answered.
    found = [
        (o.complaint_id, o.overdue_seconds)
        for o in overdue_at(ALL, "dlh", at("2026-11-03T11:00:00"))
    ]
    assert found == [("D", 2 * H)]
    assert overdue_at(ALL, "dishub", at("2026-11-04T12:00:00")) == []


def test_unit_feedback_sums_the_time_lost() -> None:
    begin, end = at("2026-11-02T00:00:00"), at("2026-11-09T00:00:00")  # the ISO week
    watermark = at("2026-11-04T12:00:00")
    feedback = unit_feedback(ALL, "dlh", begin, end, watermark)
    assert [(d.complaint_id, d.timer, d.overdue_seconds) for d in feedback.missed] == [
        ("B", "response", 4 * H),
        ("D", "response", 3 * H),
        ("E", "response", 3 * H),
    ]
    # Missed: B (0, 26, 0, 2), D (0, 27, 1, 0), E (0, 27, 0, 0: followed to the watermark).
    assert feedback.time_lost_missed.complaints == 3
    assert feedback.time_lost_missed.seconds == dict(
        zip(BUCKETS, (0.0, 80 * H, 1 * H, 2 * H), strict=True)
    )
    assert feedback.time_lost_missed.share("before_first_response") == pytest.approx(80 / 83)
    assert feedback.time_lost_missed.mean_seconds("paused") == pytest.approx(2 * H / 3)
    # All decided: A (2, 2, 20, 1), B, C (0, 0.5, 4.5, 0), D, E.
    assert feedback.time_lost_all.complaints == 5
    assert feedback.time_lost_all.seconds == dict(
        zip(BUCKETS, (2 * H, 82.5 * H, 25.5 * H, 3 * H), strict=True)
    )
    assert [(o.complaint_id, o.overdue_seconds) for o in feedback.overdue] == [
        ("B", 4 * H),
        ("E", 3 * H),
    ]
    assert feedback.transfers_away == 0
    assert unit_feedback(ALL, "dishub", begin, end, watermark).transfers_away == 1
    assert transfers_in(ALL, "dishub", begin, at("2026-11-02T11:00:00")) == 0
