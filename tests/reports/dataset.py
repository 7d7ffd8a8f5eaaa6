"""A score database with known numbers: hand-written complaints of three units over May to
November 2026, run through the real path (core.complaint_state -> unit views ->
storage.scores.upsert_views). The expected figures below are worked out by hand from the
event times (see each comment), not by the code under test.

Every month, on a Tuesday D (a working day, as is D+1) each unit receives four complaints,
i = 0..3, at D 09:0i:
- the first `missed` of them are answered after 30 h (D+1 15:0i: a missed 24 h response,
  14 working hours on the office calendar) and resolved 30 min later (14.5 working hours);
- the others are answered after 1 h and resolved after 2 h (1 and 2 working hours);
- i = 0 is `complex`, the others have no registry category ("other"); channels wargaku,
  whatsapp, wargaku, none; ratings on i = 0 and 1 (RATINGS).
And dishub receives one more at D 13:00 (channel web), transfers it to dlh at 15:00
("x-..."): dlh answers D+1 09:00 (18 h after receiving it, in time) and resolves 10:00.
In November dlh also holds "dlh-open" (received Tue 3 Nov 10:00, never answered) and dsda
gets "dsda-last" on Fri 27 Nov (09:00, answered 10:00, resolved 11:00): the latest event, so
the watermark is 27 Nov 11:00 and November is still provisional.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sigap.core.registry_file import load_registry
from sigap.core.unit_view import UnitView
from sigap.storage.database import make_engine
from sigap.storage.scores import upsert_views
from tests.histories import views_after

REGISTRY_PATH = Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml"
REGISTRY = load_registry(REGISTRY_PATH)
GRACE_SECONDS = 600.0
TUESDAYS = {
    5: date(2026, 5, 5),
    6: date(2026, 6, 2),
    7: date(2026, 7, 7),
    8: date(2026, 8, 4),
    9: date(2026, 9, 1),
    10: date(2026, 10, 6),
    11: date(2026, 11, 3),
}
# How many of the four complaints each unit answers late, per month.
MISSED = {
    "dlh": {5: 0, 6: 1, 7: 2, 8: 1, 9: 0, 10: 1, 11: 1},
    "dsda": dict.fromkeys(TUESDAYS, 0),
    "dishub": dict.fromkeys(TUESDAYS, 2),
}
RATINGS = {"dlh": (5, 3), "dsda": (5, 5), "dishub": (3, 3)}
CHANNELS = ("wargaku", "whatsapp", "wargaku", None)


def at(day: date, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day.isoformat()}T{clock}+07:00")


WATERMARK = at(date(2026, 11, 27), "11:00").timestamp()


def views_of(
    complaint_id: str, events: list[tuple[str, datetime, dict[str, Any]]]
) -> list[UnitView]:
    return views_after(complaint_id, events, REGISTRY)


def all_views() -> list[UnitView]:
    views: list[UnitView] = []
    for month, tuesday in TUESDAYS.items():
        for unit, missed in MISSED.items():
            for i in range(4):
                created = at(tuesday, f"09:0{i}")
                late = i < missed[month]
                answered = created + timedelta(hours=30 if late else 1)
                resolved = answered + timedelta(minutes=30 if late else 60)
                extra: dict[str, Any] = {"unit": unit}
                if CHANNELS[i] is not None:
                    extra["channel"] = CHANNELS[i]
                if i == 0:
                    extra["category"] = "complex"
                events = [
                    ("created", created, extra),
                    ("responded", answered, {}),
                    ("resolved", resolved, {}),
                ]
                if i < 2:
                    rating = RATINGS[unit][i]
                    events.append(("rated", resolved + timedelta(minutes=5), {"rating": rating}))
                views += views_of(f"{unit}-{month:02d}-{i}", events)
        views += views_of(
            f"x-{month:02d}",
            [
                ("created", at(tuesday, "13:00"), {"unit": "dishub", "channel": "web"}),
                ("assigned", at(tuesday, "15:00"), {"unit": "dlh", "reason": "not_our_authority"}),
                ("responded", at(tuesday + timedelta(days=1), "09:00"), {}),
                ("resolved", at(tuesday + timedelta(days=1), "10:00"), {}),
            ],
        )
    views += views_of(
        "dlh-open", [("created", at(TUESDAYS[11], "10:00"), {"unit": "dlh", "channel": "wargaku"})]
    )
    friday = date(2026, 11, 27)
    views += views_of(
        "dsda-last",
        [
            ("created", at(friday, "09:00"), {"unit": "dsda"}),
            ("responded", at(friday, "10:00"), {}),
            ("resolved", at(friday, "11:00"), {}),
        ],
    )
    assert max(view.as_of for view in views) == WATERMARK
    return views


def build_database(database_url: str) -> None:
    for tuesday in TUESDAYS.values():  # the hand computations need both days to be working days
        calendar = REGISTRY.calendar_for("dlh")
        assert calendar.is_working_day(tuesday)
        assert calendar.is_working_day(tuesday + timedelta(days=1))
    engine = make_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            upsert_views(session, all_views(), WATERMARK, GRACE_SECONDS, registry=REGISTRY)
    finally:
        engine.dispose()


# ---- Expected figures, by hand -------------------------------------------------------------

H = 3600.0


def achievement(realisation: float, target: float, higher: bool = True) -> float:
    ratio = realisation / target if higher else target / realisation
    return min(ratio * 100.0, 120.0)


def dlh_response_share(month: int) -> float:
    """dlh's response timers: its four + x (in time); November adds dlh-open (missed)."""
    missed = MISSED["dlh"][month] + (1 if month == 11 else 0)
    total = 5 + (1 if month == 11 else 0)
    return (total - missed) / total * 100.0


# November, dlh, over all categories.
DLH_NOVEMBER = {
    "received": 5,  # its four and dlh-open (x was received by dishub)
    "responded": 5,  # its four and x
    "resolved": 5,
    "response_met": 4,  # i = 1, 2, 3 and x
    "response_missed": 2,  # i = 0 (late) and dlh-open
    "resolution_met": 5,
    "resolution_missed": 1,  # dlh-open: deadline Tue 10 Nov 16:00 (5 working days)
    "rating_count": 2,
    "transfers_away": 0,
}
DLH_NOVEMBER_INDICATORS = {
    # (realisation, target, achievement %, achieved)
    "response_within_target": (400 / 6, 95.0, achievement(400 / 6, 95.0), False),
    "resolution_within_target": (500 / 6, 95.0, achievement(500 / 6, 95.0), False),
    # Working hours to respond: 14 (late), 1, 1, 1, and x: 2 at dishub + 1 + 1 at dlh = 4.
    # p90 (nearest rank of 5) = the 5th = 14.
    "response_p90_working_hours": (14.0, 8.0, achievement(14.0, 8.0, False), False),
    # To resolve: 14.5, 2, 2, 2, x: 2 + 1 + 2 = 5; p90 = 14.5.
    "resolution_p90_working_hours": (14.5, 40.0, 120.0, True),
    "rating_mean": (4.0, 4.0, 100.0, True),
}
# 2 of 5 achieved; the worst is the response p90 (8 / 14 = 57.1%).
DLH_NOVEMBER_SUMMARY = (
    "2 of 5 indicators achieved; worst: First response p90 (working hours) at 57.1%"
)
# Overdue at the watermark (27 Nov 11:00): response deadline 4 Nov 10:00, resolution deadline
# 10 Nov 16:00.
DLH_OVERDUE = [("dlh-open", "response", 553 * H), ("dlh-open", "resolution", 403 * H)]
# Time lost, November: the complaints with a miss are dlh-11-0 (30 h before the answer, 0.5 h
# after) and dlh-open (3 Nov 10:00 to the watermark: 24 days 1 h, unanswered).
DLH_TIME_LOST_MISSED = {
    "before_arrival": 0.0,
    "before_first_response": 30 * H + 577 * H,
    "after_first_response": 0.5 * H,
    "paused": 0.0,
}
# All decided: also i = 1..3 (1 h + 1 h each) and x (2 h at dishub, 18 h to the answer, 1 h).
DLH_TIME_LOST_ALL = {
    "before_arrival": 2 * H,
    "before_first_response": 607 * H + 3 * H + 18 * H,
    "after_first_response": 0.5 * H + 3 * H + 1 * H,
    "paused": 0.0,
}
# Channels, November, dlh: (response met, response missed, resolution met, resolution missed).
DLH_NOVEMBER_CHANNELS = {
    "wargaku": (1, 2, 2, 1),  # i = 0 (late), i = 2, dlh-open
    "whatsapp": (1, 0, 1, 0),
    "web": (1, 0, 1, 0),  # x
    "(none)": (1, 0, 1, 0),  # i = 3
}


# League, 2026-Q4 (October and November; provisional: November is still open).
# Each unit: (indicators achieved, worst achievement %, geometric mean %, decided timers,
# timers met).
def geometric_mean(values: list[float]) -> float:
    return math.prod(values) ** (1 / len(values))


LEAGUE_Q4 = {
    # Everything in time: 9 + 9 timers met (its 4 a month and dsda-last); 1 h and 2 h;
    # ratings 5, 5, 5, 5.
    "dsda": (
        5,
        achievement(100.0, 95.0),
        geometric_mean([achievement(100, 95)] * 2 + [120.0] * 3),
        18,
        18,
    ),
    # Response: October 4 of 5 (i = 0 late), November 4 of 6 (i = 0 late, dlh-open): 8/11.
    # Resolution: 5/5 and 5/6 (dlh-open): 10/11. Response p90 of 1,1,1,4,14 twice = 14 h;
    # resolution p90 14.5 h; ratings 5, 3, 5, 3. Achieved: resolution p90 and rating.
    "dlh": (
        2,
        achievement(14.0, 8.0, False),
        geometric_mean(
            [
                achievement(800 / 11, 95.0),
                achievement(1000 / 11, 95.0),
                achievement(14.0, 8.0, False),
                120.0,
                100.0,
            ]
        ),
        22,
        18,
    ),
    # Response 2 of 4 a month (x went away before its deadline: neither); resolution 4 of 4;
    # p90 14 h and 14.5 h; ratings 3. Achieved: resolution share and resolution p90.
    "dishub": (
        2,
        achievement(50.0, 95.0),
        geometric_mean(
            [
                achievement(50.0, 95.0),
                achievement(100.0, 95.0),
                achievement(14.0, 8.0, False),
                120.0,
                achievement(3.0, 4.0),
            ]
        ),
        16,
        12,
    ),
}
# October alone: dlh 10 decided timers (its four and x, twice); dsda and dishub only 8, under
# the registry's minimum of 10: listed, not ranked.
OCTOBER_DECIDED = {"dlh": 10, "dsda": 8, "dishub": 8}
