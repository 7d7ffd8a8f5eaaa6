"""The Open311 tests' complaints, and what GeoReport v2 must say of them, by hand.

Fixed instants in November 2026 (Asia/Jakarta, UTC+7; no public holiday in Indonesia from
2 November to 11 December 2026). Targets (deploy/registry.yaml): resolution within 5
working days for an ordinary category, 14 for a complex one; the office calendar is
Monday-Friday 08:00-16:00 WIB; a working day is day 1 only if the complaint arrived by
its 08:00 opening (docs/clocks.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays

WIB = ZoneInfo("Asia/Jakarta")


def ev(event_id: str, kind: str, complaint: str, at: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": kind,
        "complaint_id": complaint,
        "occurred_at": at,
        **extra,
    }


EVENTS: list[dict[str, Any]] = [
    # Monday 07:30 WIB, before opening: Monday is day 1 of 5 -> Friday 6 Nov 16:00 WIB.
    ev("o1-1", "created", "o311-1", "2026-11-02T00:30:00Z", unit="dlh", category="waste"),
    ev("o1-2", "responded", "o311-1", "2026-11-02T03:00:00Z"),
    # Wednesday 10:00 WIB: Thursday is day 1 of 14 -> Tuesday 24 Nov 16:00 WIB; resolved.
    ev("o2-1", "created", "o311-2", "2026-11-04T03:00:00Z", unit="dsda", category="roads_bridges"),
    ev("o2-2", "resolved", "o311-2", "2026-11-10T05:00:00Z"),
    # dlh Friday 15:00 WIB, then dishub from Monday 23 Nov 09:00 WIB: Tuesday is day 1 of 14
    # -> Friday 11 Dec 16:00 WIB, dishub's deadline (the unit holding it).
    ev("o3-1", "created", "o311-3", "2026-11-20T08:00:00Z", unit="dlh", category="pollution"),
    ev(
        "o3-2", "assigned", "o311-3", "2026-11-23T02:00:00Z", unit="dishub", reason="wrong_category"
    ),
    # No category ("other"): Thursday 08:00 WIB, exactly at opening: Thursday is day 1 of 5
    # -> Wednesday 2 Dec 16:00 WIB.
    ev("o4-1", "created", "o311-4", "2026-11-26T01:00:00Z", unit="dlh"),
]

# service_request_id -> the GeoReport v2 fields, by hand.
EXPECTED: dict[str, dict[str, Any]] = {
    "o311-1": {
        "status": "open",
        "service_code": "waste",
        "service_name": "Sampah dan kebersihan",
        "agency_responsible": "dlh",
        "requested_datetime": "2026-11-02T00:30:00Z",
        "updated_datetime": "2026-11-02T03:00:00Z",
        "expected_datetime": "2026-11-06T09:00:00Z",
    },
    "o311-2": {
        "status": "closed",
        "service_code": "roads_bridges",
        "service_name": "Jalan dan jembatan",
        "agency_responsible": "dsda",
        "requested_datetime": "2026-11-04T03:00:00Z",
        "updated_datetime": "2026-11-10T05:00:00Z",
        "expected_datetime": "2026-11-24T09:00:00Z",
    },
    "o311-3": {
        "status": "open",
        "service_code": "pollution",
        "service_name": "Pencemaran lingkungan (air, udara, bau, kebisingan)",
        "agency_responsible": "dishub",
        "requested_datetime": "2026-11-20T08:00:00Z",
        "updated_datetime": "2026-11-23T02:00:00Z",
        "expected_datetime": "2026-12-11T09:00:00Z",
    },
    "o311-4": {
        "status": "open",
        "service_code": "other",
        "agency_responsible": "dlh",
        "requested_datetime": "2026-11-26T01:00:00Z",
        "updated_datetime": "2026-11-26T01:00:00Z",
        "expected_datetime": "2026-12-02T09:00:00Z",
    },
}
# (received by the holding unit, working days) behind each expected_datetime.
RECEIPTS: dict[str, tuple[str, int]] = {
    "o311-1": ("2026-11-02T00:30:00Z", 5),
    "o311-2": ("2026-11-04T03:00:00Z", 14),
    "o311-3": ("2026-11-23T02:00:00Z", 14),
    "o311-4": ("2026-11-26T01:00:00Z", 5),
}
# Personal or free-text fields GeoReport defines: never filled in.
PERSONAL = ("description", "address", "address_id", "zipcode", "lat", "long", "media_url")


def close_of_working_day(received: str, days: int) -> str:
    """An independent working-day count (not core.calendar): Monday-Friday 08:00-16:00
    WIB without Indonesia's public holidays (python-holidays); the receipt day counts when
    the complaint arrived by 08:00."""
    local = datetime.fromisoformat(received.replace("Z", "+00:00")).astimezone(WIB)
    off = holidays.country_holidays("ID", years=range(local.year, local.year + 2))

    def working(day: date) -> bool:
        return day.weekday() < 5 and day not in off

    day = local.date()
    if not (working(day) and local.time() <= time(8)):
        day += timedelta(days=1)
    counted = 0
    while True:
        if working(day):
            counted += 1
            if counted == days:
                break
        day += timedelta(days=1)
    closing = datetime.combine(day, time(16), WIB).astimezone(UTC)
    return closing.isoformat().replace("+00:00", "Z")
