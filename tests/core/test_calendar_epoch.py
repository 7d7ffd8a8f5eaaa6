"""sigap.core.calendar's epoch path: the `*_epoch` functions give the datetime functions' results.

The epoch path works on integer microseconds with the zone's fixed offset (no datetime built);
the datetime path converts with `astimezone`. Random instants from 1960 (before Asia/Jakarta
took UTC+7 in 1964, where the epoch path hands over to the datetime path) to 2030, on an
office calendar with the real Indonesian holidays, a split-shift calendar with Saturday
hours, an always-open one and one whose zone is not Jakarta.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sigap.core.calendar import WorkingCalendar, epoch_micros, holiday_dates
from tests.properties import examples

PROPERTY = settings(database=None, deadline=None, max_examples=examples(400))

HOLIDAYS = holiday_dates(range(2024, 2028), None)
CALENDARS = (
    WorkingCalendar.office_hours("dinas", HOLIDAYS),
    WorkingCalendar(
        name="split-shift",
        weekly_hours={
            **{
                weekday: ((time(7, 30), time(12)), (time(13), time(16, 15))) for weekday in range(5)
            },
            5: ((time(8), time(11, 0, 0, 500)),),
        },
        holidays=HOLIDAYS,
    ),
    WorkingCalendar.always_open("command-center-112"),
    WorkingCalendar(
        name="makassar",
        weekly_hours={weekday: ((time(8), time(16)),) for weekday in range(5)},
        holidays=HOLIDAYS,
        tz=ZoneInfo("Asia/Makassar"),
    ),
)

FIRST = datetime(1960, 1, 1, tzinfo=UTC).timestamp()
LAST = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
# Whole seconds (what events carry) and arbitrary floats (microsecond rounding).
instants = st.one_of(
    st.integers(int(FIRST), int(LAST)).map(float),
    st.floats(FIRST, LAST, allow_nan=False, allow_infinity=False),
)
calendars = st.sampled_from(CALENDARS)


def local(calendar: WorkingCalendar, epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, calendar.tz)


@PROPERTY
@given(st.floats(-6e10, 2.5e11, allow_nan=False, allow_infinity=False))
def test_epoch_micros_rounds_like_datetime_fromtimestamp(seconds: float) -> None:
    moment = datetime.fromtimestamp(seconds, UTC)
    expected = (
        (moment - datetime(1970, 1, 1, tzinfo=UTC)).days * 86_400 * 1_000_000
        + (moment - datetime(1970, 1, 1, tzinfo=UTC)).seconds * 1_000_000
        + moment.microsecond
    )
    assert epoch_micros(seconds) == expected


@PROPERTY
@given(calendars, instants, instants)
def test_working_seconds_between_epoch_equals_the_datetime_path(
    calendar: WorkingCalendar, start: float, end: float
) -> None:
    assert calendar.working_seconds_between_epoch(start, end) == (
        calendar.working_seconds_between(local(calendar, start), local(calendar, end))
    )


@PROPERTY
@given(
    calendars,
    instants,
    st.one_of(
        st.integers(0, 400 * 3600).map(float),
        st.floats(0, 60 * 86_400, allow_nan=False, allow_infinity=False),
    ),
)
def test_add_working_seconds_epoch_equals_the_datetime_path(
    calendar: WorkingCalendar, start: float, seconds: float
) -> None:
    assert calendar.add_working_seconds_epoch(start, seconds) == (
        calendar.add_working_seconds(local(calendar, start), seconds).timestamp()
    )


@PROPERTY
@given(calendars, instants, st.integers(1, 40))
def test_working_days_deadline_epoch_equals_the_datetime_path(
    calendar: WorkingCalendar, start: float, days: int
) -> None:
    assert calendar.working_days_deadline_epoch(start, days) == (
        calendar.working_days_deadline(local(calendar, start), days).timestamp()
    )


def test_jakarta_switched_to_utc_plus_7_on_1964_01_01_and_both_sides_agree() -> None:
    office = CALENDARS[0]
    switch = datetime(1963, 12, 31, 16, 30, tzinfo=UTC).timestamp()  # 1964-01-01 00:00 +07
    assert office._fixed_since_us == switch * 1_000_000
    for start in (switch - 7 * 86_400, switch - 1, switch, switch + 1):
        for end in (switch + 3 * 86_400, switch + 30 * 86_400):
            assert office.working_seconds_between_epoch(start, end) == (
                office.working_seconds_between(local(office, start), local(office, end))
            )
