"""A small score database with officer codes, and its figures worked out by hand from the
event times (see EVENTS): shared by the officer API and report tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from schemas.events import ComplaintEvent
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.unit_view import UnitView
from sigap.storage.database import make_engine
from sigap.storage.scores import finalize_due, upsert_views
from tests.officers.test_storage import REGISTRY

CODES = ("dlh-a7k", "dlh-b3m", "dsda-c9p")
# k4's resolution deadline falls on a later day (missed there): the hand-computed day only.
MONDAY = [("period", "day"), ("from", "2026-11-02"), ("to", "2026-11-02")]
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
CODES = ("dlh-a7k", "dlh-b3m", "dsda-c9p")
# k4's resolution deadline falls on a later day (missed there): the hand-computed day only.
MONDAY = [("period", "day"), ("from", "2026-11-02"), ("to", "2026-11-02")]


def _event(
    n: int, type_: str, cid: str, clock: str, day: str = "2026-11-02", **extra: Any
) -> ComplaintEvent:
    return ComplaintEvent.model_validate(
        {
            "event_id": f"{cid}-{n}",
            "type": type_,
            "complaint_id": cid,
            "occurred_at": datetime.fromisoformat(f"{day}T{clock}:00+07:00"),
            **extra,
        }
    )


# Monday 2 November 2026 (a working day). By hand:
# - k1 (dlh): received, answered and resolved by dlh-a7k;
# - k2 (dlh): received by dlh-a7k, handed over to dlh-b3m, who answers and resolves it;
# - k3 (dlh): no officer code at all: the unit's `unassigned` officer's;
# - k4 (dsda): received and answered by dsda-c9p, never resolved.
EVENTS = [
    _event(0, "created", "k1", "09:00", unit="dlh", officer=CODES[0]),
    _event(1, "responded", "k1", "09:30", officer=CODES[0]),
    _event(2, "resolved", "k1", "11:00", officer=CODES[0]),
    _event(0, "created", "k2", "09:10", unit="dlh", officer=CODES[0]),
    _event(1, "handed_over", "k2", "09:20", officer=CODES[1]),
    _event(2, "responded", "k2", "10:00"),
    _event(3, "resolved", "k2", "12:00"),
    _event(0, "created", "k3", "10:00", unit="dlh"),
    _event(1, "resolved", "k3", "10:30"),
    _event(0, "created", "k4", "10:00", unit="dsda", officer=CODES[2]),
    _event(1, "responded", "k4", "10:15", officer=CODES[2]),
]
# (unit, officer) -> (received, resolved), day 2026-11-02, all categories.
BY_HAND = {
    ("dlh", CODES[0]): (2, 1),
    ("dlh", CODES[1]): (0, 1),
    ("dlh", "unassigned"): (1, 1),
    ("dsda", CODES[2]): (1, 0),
}


# Earlier quarters, for the officer trend (tests/reports/test_officer_section.py):
# - k5 (dlh, Q3): received and answered by dlh-a7k, handed over to dlh-b3m who resolves it;
# - k6 (dlh, Q3): received by dlh-b3m, transferred to dsda two hours later, sent back to
#   dlh-a7k, who answers and resolves it (dlh-b3m's two hours: waiting for transfer);
# - k7 (dlh, Q2): received by dlh-a7k, answered and resolved eight days later (missed).
Q3, Q3_NEXT, Q2, Q2_LATE = "2026-08-03", "2026-08-04", "2026-05-04", "2026-05-12"
EARLIER_EVENTS = [
    _event(0, "created", "k5", "09:00", Q3, unit="dlh", officer=CODES[0]),
    _event(1, "responded", "k5", "09:20", Q3, officer=CODES[0]),
    _event(2, "handed_over", "k5", "10:00", Q3, officer=CODES[1]),
    _event(3, "resolved", "k5", "15:00", Q3, officer=CODES[1]),
    _event(0, "created", "k6", "09:00", Q3_NEXT, unit="dlh", officer=CODES[1]),
    _event(1, "assigned", "k6", "11:00", Q3_NEXT, unit="dsda", officer=CODES[2]),
    _event(2, "assigned", "k6", "13:00", Q3_NEXT, unit="dlh", officer=CODES[0]),
    _event(3, "responded", "k6", "13:30", Q3_NEXT, officer=CODES[0]),
    _event(4, "resolved", "k6", "16:00", Q3_NEXT, officer=CODES[0]),
    _event(0, "created", "k7", "09:00", Q2, unit="dlh", officer=CODES[0]),
    _event(1, "responded", "k7", "09:00", Q2_LATE, officer=CODES[0]),
    _event(2, "resolved", "k7", "10:00", Q2_LATE, officer=CODES[0]),
]


def build_database(url: str, events: list[ComplaintEvent] = EVENTS) -> None:
    states: dict[str, ComplaintState] = {}
    views: list[UnitView] = []
    for item in events:
        state = states.setdefault(item.complaint_id, ComplaintState())
        views += accept_event(state, item, REGISTRY).views
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        upsert_views(session, views, -math.inf, 0.0, registry=REGISTRY)
    with Session(engine) as session, session.begin():
        finalize_due(session, FAR_FUTURE, 0.0, registry=REGISTRY)
    engine.dispose()
