"""core.periods: the Jakarta day and period of an instant, checked against the time zone
database (zoneinfo), which the module consults only before 1964."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from sigap.core.periods import jakarta_day_of_epoch, period_start

JAKARTA = ZoneInfo("Asia/Jakarta")
_SECONDS = st.floats(min_value=-4e9, max_value=8e9, allow_nan=False, allow_infinity=False)


@given(_SECONDS)
def test_jakarta_day_of_an_instant_is_the_time_zone_databases(epoch: float) -> None:
    assert jakarta_day_of_epoch(epoch) == datetime.fromtimestamp(epoch, JAKARTA).date()


def test_jakarta_day_changes_at_local_midnight_either_side_of_1964() -> None:
    for day in (date(1950, 6, 1), date(1963, 12, 31), date(1964, 1, 1), date(2026, 12, 7)):
        midnight = datetime(day.year, day.month, day.day, tzinfo=JAKARTA).timestamp()
        assert jakarta_day_of_epoch(midnight) == day
        assert jakarta_day_of_epoch(midnight - 1e-3) == day - timedelta(days=1)


@given(_SECONDS)
def test_period_start_holds_the_instants_jakarta_day(epoch: float) -> None:
    day = datetime.fromtimestamp(epoch, JAKARTA).date()
    assert period_start("day", epoch) == day
    assert period_start("week", epoch) == day - timedelta(days=day.weekday())
    assert period_start("month", epoch) == day.replace(day=1)
    assert period_start("quarter", epoch) == date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
