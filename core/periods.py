"""Calendar periods in Asia/Jakarta time, the time zone the city's scores are kept in."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def jakarta_day(moment: datetime) -> date:
    """The Asia/Jakarta calendar day holding an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(JAKARTA).date()


def jakarta_day_of_epoch(epoch_seconds: float) -> date:
    return datetime.fromtimestamp(epoch_seconds, JAKARTA).date()
