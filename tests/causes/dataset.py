"""January 2026 complaints exercising docs/causes.md, with figures worked out by hand.

dlh, dsda and dishub work Monday-Friday 08:00-16:00 WIB, 24 wall hours to respond, 5
working days to resolve (day 1 is the next working day when received after 08:00).
A complaint received Monday 5 January 09:00 has its resolution deadline on Monday 12
January 16:00 (days 6, 7, 8, 9, 12).

- ext-met: the issue's example. Resolved Wed 14 Jan 12:00, with a 3-working-day extension
  sent on 8 Jan: deadline Thu 15 Jan 16:00, met. A second extension on 9 Jan is over the
  limit (dead-lettered).
- late-survey: resolved 14 Jan, missed; dlh explains it by a joint site survey.
- late-unexpl: resolved 14 Jan, missed, not explained; an extension sent on 13 Jan, after
  the deadline, is dead-lettered, and so is an explanation with a cause outside the
  vocabulary.
- late-upheld: resolved 14 Jan, missed; dlh's objection is upheld on 20 Jan: excused.
- paused: received Tue 6 Jan 09:00, paused 10:00-13:00 (citizen unreachable), resolved
  Wed 7 Jan 10:00: met, 3 hours paused.
- pingpong: dlh (6 Jan 09:00) -> dsda (10:00, not_our_authority) -> dlh (13:00,
  wrong_category), resolved by dlh 7 Jan 09:00: a ping-pong for dlh, dsda's 3 hours charged
  to dlh as misrouting time.
- wrongdoor: dishub (6 Jan 09:00) -> dsda (11:00) -> dlh (15:00), resolved 7 Jan 09:00:
  dishub's 2 hours and dsda's 4 hours charged to dishub.
Every response comes within the hour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

H = 3600.0
DEPLOY_REGISTRY = Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml"
# A city-declared outage of dsda on Tuesday 6 January, 12:00-14:00: it held pingpong
# 10:00-13:00 (1 hour excluded) and wrongdoor 11:00-15:00 (2 hours).
EXCLUSIONS = [
    {
        "unit": "dsda",
        "start": "2026-01-06T12:00:00+07:00",
        "end": "2026-01-06T14:00:00+07:00",
        "reason": "force_majeure",
        "declared_on": "2026-01-06",
    }
]


def write_registry(path: Path) -> Path:
    """The shipped registry plus EXCLUSIONS, written to `path`."""
    data = yaml.safe_load(DEPLOY_REGISTRY.read_text(encoding="utf-8"))
    data["holiday_overrides"] = str(DEPLOY_REGISTRY.parent / "holidays-override.yaml")
    data["exclusions"] = EXCLUSIONS
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def ev(event_id: str, type_: str, complaint_id: str, local: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "complaint_id": complaint_id,
        "occurred_at": f"2026-01-{local}:00+07:00",
        **extra,
    }


def _late(prefix: str, cid: str) -> list[dict[str, Any]]:
    return [
        ev(f"{prefix}1", "created", cid, "05T09:00", unit="dlh", reporter_phone="0812000000"),
        ev(f"{prefix}2", "responded", cid, "05T10:00"),
        ev(f"{prefix}3", "resolved", cid, "14T12:00"),
    ]


EVENTS: list[dict[str, Any]] = [
    *_late("a", "ext-met"),
    ev(
        "a4",
        "extension_granted",
        "ext-met",
        "08T10:00",
        timer="resolution",
        working_days=3,
        reason="procurement",
        officer="dlh-k01",
    ),
    ev(
        "a5",
        "extension_granted",
        "ext-met",
        "09T10:00",
        timer="resolution",
        working_days=1,
        reason="procurement",
    ),  # a second one: extension_over_limit
    *_late("b", "late-survey"),
    ev(
        "b4",
        "miss_explained",
        "late-survey",
        "14T13:00",
        unit="dlh",
        timer="resolution",
        cause="joint_site_survey",
    ),
    *_late("c", "late-unexpl"),
    ev(
        "c4",
        "extension_granted",
        "late-unexpl",
        "13T09:00",
        timer="resolution",
        working_days=2,
        reason="procurement",
    ),  # after the deadline: extension_after_deadline
    ev(
        "c5",
        "miss_explained",
        "late-unexpl",
        "14T13:00",
        unit="dlh",
        timer="resolution",
        cause="lazy staff",
    ),  # outside the vocabulary: unknown_cause
    *_late("d", "late-upheld"),
    ev("d4", "objection_filed", "late-upheld", "14T13:00", unit="dlh", timer="resolution"),
    ev(
        "d5",
        "objection_decided",
        "late-upheld",
        "20T09:00",
        unit="dlh",
        timer="resolution",
        decision="upheld",
    ),
    ev("e1", "created", "paused", "06T09:00", unit="dlh"),
    ev("e2", "paused", "paused", "06T10:00", reason="citizen_unreachable"),
    ev("e3", "resumed", "paused", "06T13:00"),
    ev("e4", "responded", "paused", "06T13:30"),
    ev("e5", "resolved", "paused", "07T10:00"),
    ev("f1", "created", "pingpong", "06T09:00", unit="dlh"),
    ev("f2", "assigned", "pingpong", "06T10:00", unit="dsda", reason="not_our_authority"),
    ev("f3", "assigned", "pingpong", "06T13:00", unit="dlh", reason="wrong_category"),
    ev("f4", "responded", "pingpong", "06T13:30"),
    ev("f5", "resolved", "pingpong", "07T09:00"),
    ev("g1", "created", "wrongdoor", "06T09:00", unit="dishub"),
    ev("g2", "assigned", "wrongdoor", "06T11:00", unit="dsda", reason="not_our_authority"),
    ev("g3", "assigned", "wrongdoor", "06T15:00", unit="dlh", reason="not_our_authority"),
    ev("g4", "responded", "wrongdoor", "06T15:30"),
    ev("g5", "resolved", "wrongdoor", "07T09:00"),
]

REJECTED = {"extension_over_limit": 1, "extension_after_deadline": 1, "unknown_cause": 1}
PERIOD = "2026-01"

# The figures of January 2026 (core.causes.figure_columns), by hand from the list above.
EXPECTED: dict[str, dict[str, Any]] = {
    "dlh": {
        "missed.joint_site_survey.resolution": 1,
        "missed.unexplained.resolution": 1,
        "excused": 1,
        "extensions": 1,
        "extension_days": 3,
        "paused.citizen_unreachable.seconds": 3 * H,
        "paused.citizen_unreachable.complaints": 1,
        "transfers.dsda.not_our_authority": 1,
        "ping_pongs": 1,
        "first_touch_resolved": 5,  # of the six created at dlh, all but pingpong
        "first_touch_total": 6,
        "misrouting_seconds": 3 * H,
        "misrouted_complaints": 1,
    },
    "dsda": {
        "transfers.dlh.not_our_authority": 1,
        "transfers.dlh.wrong_category": 1,
        "excluded.force_majeure.seconds": 3 * H,
        "excluded.force_majeure.complaints": 2,
    },
    "dishub": {
        "transfers.dsda.not_our_authority": 1,
        "first_touch_total": 1,
        "misrouting_seconds": 6 * H,
        "misrouted_complaints": 1,
    },
}
# The persisted month score of dlh: the upheld objection's miss is not counted.
DLH_MONTH = {"resolution_missed": 2, "resolution_met": 4, "response_missed": 0}
