"""An objection upheld after a period's official close: the miss leaves the unit's score as a
restatement, and the official revision stays as it was (issue #17 with the close of #15)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from consumers.closing import Closer
from schemas.events import ComplaintEvent
from sigap.core.period_close import registry_close_instant
from sigap.core.periods import JAKARTA
from sigap.core.registry_file import load_registry
from sigap.storage.database import make_engine
from sigap.storage.official import official_rows

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")
WEEK = date(2026, 11, 2)
CLOSE = registry_close_instant(REGISTRY, "week", WEEK)
assert CLOSE is not None


def event(number: int, type_: str, at: str, **extra: Any) -> ComplaintEvent:
    return ComplaintEvent.model_validate(
        {
            "event_id": f"o-{number}",
            "type": type_,
            "complaint_id": "o",
            "occurred_at": datetime.fromisoformat(at).replace(tzinfo=JAKARTA),
            **extra,
        }
    )


# Received Monday 2 November 09:00, answered 27 hours later: the 24-hour response target is
# missed on Tuesday 3 November 09:00, inside the week.
HISTORY = [
    event(0, "created", "2026-11-02T09:00", unit="dlh"),
    event(1, "responded", "2026-11-03T12:00"),
    event(2, "resolved", "2026-11-03T15:00"),
    event(3, "objection_filed", "2026-11-04T09:00", unit="dlh", timer="response"),
]


def week_rows(engine: Any) -> list[dict[str, Any]]:
    return [r for r in official_rows(engine, "week", start=WEEK) if r["category"] == "*"]


def test_an_objection_upheld_after_the_close_is_a_restatement_and_the_official_stays(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    closer = Closer(engine, REGISTRY, "topic:test")
    for item in HISTORY:
        closer.fold.add(item, item.occurred_at.timestamp() + 5)
    closer.run(CLOSE + 3600)
    (official,) = week_rows(engine)
    assert official["status"] == "official"
    assert (official["response_met"], official["response_missed"]) == (0, 1)
    # Upheld two weeks later, after the official close.
    upheld = event(
        4, "objection_decided", "2026-11-20T10:00", unit="dlh", timer="response", decision="upheld"
    )
    closer.fold.add(upheld, CLOSE + 7200)
    closer.run(CLOSE + 8000)
    before, after = week_rows(engine)
    assert before == official  # the official revision is intact
    assert after["status"] == "restatement" and after["revision"] == official["revision"] + 1
    assert (after["response_met"], after["response_missed"]) == (0, 0)
    assert after["response_within_target_share"] is None
    assert "response_missed" in after["changed"]
    assert after["reason"]["appended_after_close"] == {"objection_decided": 1}
    engine.dispose()
