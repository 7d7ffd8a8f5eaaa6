"""Working time for Surabaya city work units: how much of a span counts, and SLA deadlines.

Pure: no clock reads, no network. The only I/O is `load_holiday_overrides`, which reads
one YAML file; everything else works on the values it is given.

Conventions:
- Every public function takes and returns timezone-aware datetimes (naive ones raise
  ValueError). Results are expressed in the calendar's time zone (Asia/Jakarta by default).
- Working hours are wall-clock intervals per weekday. The zone must keep one UTC offset all
  year (Asia/Jakarta: UTC+7, no daylight saving), so wall-clock time and elapsed time agree.
- Internally every amount is a whole number of microseconds (datetime's resolution), so
  `working_seconds_between(start, add_working_seconds(start, s)) == s` holds exactly for any
  `s` that is a whole number of microseconds.
- Speed: a calendar precomputes weekly prefix sums plus a sorted list of its holidays, so
  every query costs O(log H) (H = number of holidays) whatever the span, years included.
- Epoch path: `*_epoch` twins of the public functions take and return Unix epoch seconds
  (floats, rounded to the microsecond exactly as `datetime.fromtimestamp` rounds) and work on
  integers throughout: local time is epoch + the zone's one fixed UTC offset, so no datetime
  is built. Their results are identical to the datetime functions' (property-tested); an
  instant before the zone took its present offset (Asia/Jakarta: 1964) takes the datetime path.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import holidays as holidays_package
import yaml
from holidays.constants import GOVERNMENT, PUBLIC
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError

JAKARTA = ZoneInfo("Asia/Jakarta")

MICROS_PER_SECOND = 1_000_000
MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND

# An interval end of time(0) stands for 24:00, the end of the day; `time` cannot hold 24:00.
END_OF_DAY = time(0)

# Entries a calendar remembers before it forgets them all (about 200 bytes each).
_MEMO_LIMIT = 200_000

WeeklyHours = Mapping[int, tuple[tuple[time, time], ...]]

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_MICROSECOND = timedelta(microseconds=1)


def epoch_micros(seconds: float) -> int:
    """Unix epoch seconds as whole microseconds, rounded as `datetime.fromtimestamp` rounds
    (half to even on the fraction), so `_UNIX_EPOCH + timedelta(microseconds=result)` is
    `datetime.fromtimestamp(seconds, timezone.utc)`."""
    whole_seconds = int(seconds)
    if whole_seconds == seconds:  # the usual case: events carry whole seconds
        return whole_seconds * MICROS_PER_SECOND
    fraction, whole = math.modf(seconds)
    micros = round(fraction * 1e6)
    if micros >= MICROS_PER_SECOND:
        whole += 1
        micros -= MICROS_PER_SECOND
    elif micros < 0:
        whole -= 1
        micros += MICROS_PER_SECOND
    return int(whole) * MICROS_PER_SECOND + micros


def _micros_since_epoch(moment: datetime) -> int:
    return (moment - _UNIX_EPOCH) // _ONE_MICROSECOND


def _fixed_offset_since(tz: ZoneInfo) -> tuple[int, int]:
    """(the zone's present UTC offset in microseconds, the first epoch microsecond from which
    it has held without a break). Found once per calendar by stepping back 30 days at a time
    from 2025 and bisecting the last step to the second (transitions are on whole seconds)."""
    present = datetime(2025, 1, 15, tzinfo=tz).utcoffset()
    assert present is not None

    def same(epoch_s: int) -> bool:
        return datetime.fromtimestamp(epoch_s, tz).utcoffset() == present

    step = 30 * 86_400
    good = int(datetime(2025, 1, 15, tzinfo=UTC).timestamp())
    floor = int(datetime(1900, 1, 1, tzinfo=UTC).timestamp())
    while good - step > floor and same(good - step):
        good -= step
    bad = good - step
    if same(bad):  # constant since 1900: take it as always
        return present // _ONE_MICROSECOND, -(2**62)
    while good - bad > 1:
        middle = (good + bad) // 2
        if same(middle):
            good = middle
        else:
            bad = middle
    return present // _ONE_MICROSECOND, good * MICROS_PER_SECOND


def _require_aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(moment).__name__}")
    tzinfo = moment.tzinfo
    # utcoffset() is only asked of unusual tzinfo classes: it is the slow part of the check.
    if tzinfo is None or (
        type(tzinfo) is not ZoneInfo and type(tzinfo) is not timezone and moment.utcoffset() is None
    ):
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")


def _micros_of_day(moment: time | datetime) -> int:
    return (
        (moment.hour * 60 + moment.minute) * 60 + moment.second
    ) * MICROS_PER_SECOND + moment.microsecond


def _weekday_of_ordinal(ordinal: int) -> int:
    # Ordinal 1 (0001-01-01) is a Monday, so Monday == 0 like date.weekday().
    return (ordinal - 1) % 7


class _DayPrefixSums:
    """Cumulative sum of a per-day amount that repeats every week, except on holidays (0).

    `cumulative(d)` is the sum over the days with ordinals [1, d). It is the weekly closed
    form minus what the holidays before `d` took away, found by bisecting the sorted
    holidays, so it costs O(log H) for any `d` and needs no table that grows with the span.
    """

    __slots__ = (
        "_cumulative_at_holiday",
        "_holiday_ordinals",
        "_removed_before",
        "_week_prefix",
        "_week_total",
    )

    def __init__(self, amount_per_weekday: Sequence[int], holiday_ordinals: Iterable[int]) -> None:
        week_prefix = [0]
        for amount in amount_per_weekday:
            week_prefix.append(week_prefix[-1] + amount)
        self._week_prefix: tuple[int, ...] = tuple(week_prefix)
        self._week_total = week_prefix[7]
        # A holiday on a day that has nothing to lose changes no sum: leave it out.
        ordinals = sorted(
            ordinal
            for ordinal in set(holiday_ordinals)
            if amount_per_weekday[_weekday_of_ordinal(ordinal)] > 0
        )
        removed_before = [0]
        for ordinal in ordinals:
            removed_before.append(
                removed_before[-1] + amount_per_weekday[_weekday_of_ordinal(ordinal)]
            )
        self._holiday_ordinals: list[int] = ordinals
        # _removed_before[j]: amount the first j holidays took away.
        self._removed_before: list[int] = removed_before
        self._cumulative_at_holiday: list[int] = [
            self._weekly_cumulative(ordinal) - removed_before[index]
            for index, ordinal in enumerate(ordinals)
        ]

    def _weekly_cumulative(self, ordinal: int) -> int:
        weeks, day_in_week = divmod(ordinal - 1, 7)
        return weeks * self._week_total + self._week_prefix[day_in_week]

    def cumulative(self, ordinal: int) -> int:
        """Sum over the days before `ordinal`."""
        holidays_before = bisect_left(self._holiday_ordinals, ordinal)
        return self._weekly_cumulative(ordinal) - self._removed_before[holidays_before]

    def day_reaching(self, target: int) -> int:
        """The day `d` with cumulative(d) < target <= cumulative(d + 1); target >= 1.

        The holidays with cumulative < target are exactly the ones before `d`, so removing
        their amount turns the question into one about the plain weekly pattern. That day
        is never a holiday, since a holiday adds nothing.
        """
        if self._week_total <= 0:
            raise ValueError("the calendar has no working time in its week")
        holidays_before = bisect_left(self._cumulative_at_holiday, target)
        weekly_target = target + self._removed_before[holidays_before]
        weeks, remainder = divmod(weekly_target - 1, self._week_total)
        # week_prefix[k] < remainder + 1 <= week_prefix[k + 1]
        day_in_week = bisect_left(self._week_prefix, remainder + 1) - 1
        return 1 + 7 * weeks + day_in_week


class _WeekIndex:
    """What a calendar precomputes once: intervals in microseconds and its prefix sums."""

    __slots__ = (
        "always_open",
        "closing",
        "days",
        "holiday_ordinals",
        "intervals",
        "intraday_prefix",
        "micros",
        "opening",
    )

    def __init__(self, weekly_hours: WeeklyHours, holidays: frozenset[date]) -> None:
        # intervals[weekday]: ((start_us, end_us), ...), sorted, not overlapping.
        self.intervals: tuple[tuple[tuple[int, int], ...], ...] = tuple(
            tuple(
                (_micros_of_day(start), _interval_end_micros(end))
                for start, end in weekly_hours.get(weekday, ())
            )
            for weekday in range(7)
        )
        # intraday_prefix[weekday][k]: working time of that day before its k-th interval.
        intraday_prefix: list[tuple[int, ...]] = []
        for day_intervals in self.intervals:
            prefix = [0]
            for start_us, end_us in day_intervals:
                prefix.append(prefix[-1] + end_us - start_us)
            intraday_prefix.append(tuple(prefix))
        self.intraday_prefix: tuple[tuple[int, ...], ...] = tuple(intraday_prefix)
        self.opening: tuple[int | None, ...] = tuple(
            day[0][0] if day else None for day in self.intervals
        )
        self.closing: tuple[int | None, ...] = tuple(
            day[-1][1] if day else None for day in self.intervals
        )
        self.holiday_ordinals: frozenset[int] = frozenset(day.toordinal() for day in holidays)
        day_totals = [prefix[-1] for prefix in self.intraday_prefix]
        self.micros = _DayPrefixSums(day_totals, self.holiday_ordinals)
        self.days = _DayPrefixSums(
            [1 if total > 0 else 0 for total in day_totals], self.holiday_ordinals
        )
        self.always_open = not holidays and all(total == MICROS_PER_DAY for total in day_totals)

    def is_working_ordinal(self, ordinal: int) -> bool:
        return (
            self.opening[_weekday_of_ordinal(ordinal)] is not None
            and ordinal not in self.holiday_ordinals
        )

    def worked_before(self, ordinal: int, micros_of_day: int) -> int:
        """Working time of day `ordinal` before the given time of day."""
        if ordinal in self.holiday_ordinals:
            return 0
        worked = 0
        for start_us, end_us in self.intervals[_weekday_of_ordinal(ordinal)]:
            if micros_of_day <= start_us:
                break
            worked += min(micros_of_day, end_us) - start_us
        return worked

    def time_reaching(self, ordinal: int, remaining: int) -> int:
        """Time of day at which `remaining` (0 < remaining <= day total) has been worked."""
        weekday = _weekday_of_ordinal(ordinal)
        prefix = self.intraday_prefix[weekday]
        index = bisect_left(prefix, remaining) - 1
        return self.intervals[weekday][index][0] + remaining - prefix[index]


def _interval_end_micros(end: time) -> int:
    return MICROS_PER_DAY if end == END_OF_DAY else _micros_of_day(end)


def _normalized_weekly_hours(
    weekly_hours: WeeklyHours,
) -> Mapping[int, tuple[tuple[time, time], ...]]:
    normalized: dict[int, tuple[tuple[time, time], ...]] = {}
    for weekday, day_intervals in weekly_hours.items():
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(
                f"weekly_hours: weekday must be 0 (Monday) .. 6 (Sunday), got {weekday!r}"
            )
        if any(moment.tzinfo is not None for interval in day_intervals for moment in interval):
            raise ValueError(f"weekly_hours[{weekday}]: times must be naive wall-clock times")
        intervals = sorted((start, end) for start, end in day_intervals)
        previous_end_us = 0
        for start, end in intervals:
            start_us, end_us = _micros_of_day(start), _interval_end_micros(end)
            if start_us >= end_us:
                raise ValueError(
                    f"weekly_hours[{weekday}]: interval {start}-{end} is empty or crosses midnight"
                    " (use time(0) as the end for 24:00, and split overnight shifts by day)"
                )
            if start_us < previous_end_us:
                raise ValueError(f"weekly_hours[{weekday}]: intervals overlap at {start}")
            previous_end_us = end_us
        normalized[weekday] = tuple(intervals)
    # Every weekday present, so two calendars with the same hours compare equal.
    return MappingProxyType({weekday: normalized.get(weekday, ()) for weekday in range(7)})


@dataclass(frozen=True)
class WorkingCalendar:
    """When a work unit is at work: weekly hours minus whole-day holidays.

    `weekly_hours` maps weekday (0 = Monday .. 6 = Sunday) to that day's working intervals,
    as naive wall-clock times in `tz`. An interval end of `time(0)` means 24:00 (the end of
    the day); an interval never crosses midnight. Missing weekdays have no working hours.

    The instance is immutable and precomputes its prefix sums on construction, so build a
    calendar once per work unit and reuse it for every event.
    """

    name: str
    weekly_hours: WeeklyHours
    holidays: frozenset[date]
    tz: ZoneInfo = JAKARTA
    _index: _WeekIndex = field(init=False, repr=False, compare=False)
    # Results by argument: a complaint is re-evaluated at each of its events, with the same
    # receipt, deadlines and event instants every time. Bounded: cleared when it grows large.
    _memo: dict[Any, Any] = field(init=False, repr=False, compare=False)
    # The epoch path: the zone's fixed UTC offset and since when it holds (microseconds).
    _offset_us: int = field(init=False, repr=False, compare=False)
    _fixed_since_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tz, ZoneInfo):
            raise TypeError(f"tz must be a ZoneInfo, got {type(self.tz).__name__}")
        january, july = datetime(2025, 1, 15, tzinfo=self.tz), datetime(2025, 7, 15, tzinfo=self.tz)
        if january.utcoffset() != july.utcoffset():
            raise ValueError(f"tz {self.tz.key} has daylight saving; wall-clock hours would drift")
        holidays = frozenset(self.holidays)
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"holidays must hold dates, got {day!r}")
        weekly_hours = _normalized_weekly_hours(self.weekly_hours)
        # Frozen dataclass: normalized fields and the private index are set once, here.
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "weekly_hours", weekly_hours)
        object.__setattr__(self, "_index", _WeekIndex(weekly_hours, holidays))
        object.__setattr__(self, "_memo", {})
        offset_us, fixed_since_us = _fixed_offset_since(self.tz)
        object.__setattr__(self, "_offset_us", offset_us)
        object.__setattr__(self, "_fixed_since_us", fixed_since_us)

    def _remember(self, key: Any, value: Any) -> Any:
        memo = self._memo
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[key] = value
        return value

    def __hash__(self) -> int:
        # The generated hash would fail on the Mapping field; hash its normalized items.
        return hash((self.name, tuple(self.weekly_hours.items()), self.holidays, self.tz))

    @classmethod
    def office_hours(
        cls,
        name: str,
        holidays: Iterable[date],
        start: time = time(8),
        end: time = time(16),
        weekdays: Iterable[int] = range(5),
    ) -> WorkingCalendar:
        """One interval `start`-`end` on each of `weekdays` (default Monday to Friday)."""
        return cls(
            name=name,
            weekly_hours={weekday: ((start, end),) for weekday in weekdays},
            holidays=frozenset(holidays),
        )

    @classmethod
    def always_open(cls, name: str) -> WorkingCalendar:
        """24/7 with no holidays, for emergency units (every second is working time)."""
        return cls(
            name=name,
            weekly_hours={weekday: ((time(0), END_OF_DAY),) for weekday in range(7)},
            holidays=frozenset(),
        )

    @property
    def is_always_open(self) -> bool:
        return self._index.always_open

    def is_working_day(self, day: date) -> bool:
        """True when `day` has working hours and is not a holiday."""
        if isinstance(day, datetime):
            # A datetime is a date, but never equal to one: it would miss every holiday.
            raise TypeError("is_working_day takes a date; use moment.astimezone(tz).date()")
        return self._index.is_working_ordinal(day.toordinal())

    def _position(self, moment: datetime) -> tuple[int, int, int]:
        """(working microseconds since 0001-01-01, local date ordinal, local time of day)."""
        # Aware datetimes hash and compare by instant, which is all the result depends on.
        known: tuple[int, int, int] | None = self._memo.get(moment)
        if known is not None:
            return known
        local = moment.astimezone(self.tz)
        ordinal = local.toordinal()
        micros_of_day = _micros_of_day(local)
        index = self._index
        position = (
            index.micros.cumulative(ordinal) + index.worked_before(ordinal, micros_of_day),
            ordinal,
            micros_of_day,
        )
        self._remember(moment, position)
        return position

    def _local_instant(self, ordinal: int, micros_of_day: int) -> datetime:
        midnight = datetime.fromordinal(ordinal).replace(tzinfo=self.tz)
        return midnight + timedelta(microseconds=micros_of_day)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end); 0.0 when end <= start."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if end <= start:
            return 0.0
        start_position = self._position(start)[0]
        end_position = self._position(end)[0]
        return (end_position - start_position) / MICROS_PER_SECOND

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant by which `seconds` of working time have elapsed since `start`.

        The deadline for "N working hours" is `add_working_seconds(start, N * 3600)`.
        Outside working hours the clock starts at the next opening. A budget that runs out
        exactly at a closing time gives that closing time, not the next opening.
        `seconds == 0` gives `start` itself (the same instant, in the calendar's zone), even
        outside working hours: it is the earliest instant with nothing left to work.
        Resolution is one microsecond; negative `seconds` raise ValueError.
        """
        _require_aware(start, "start")
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        budget = round(seconds * MICROS_PER_SECOND)
        if budget == 0:
            return start.astimezone(self.tz)
        memo_key = ("add", start, budget)
        known: datetime | None = self._memo.get(memo_key)
        if known is not None:
            return known
        start_position = self._position(start)[0]
        index = self._index
        target = start_position + budget
        day = index.micros.day_reaching(target)
        micros_of_day = index.time_reaching(day, target - index.micros.cumulative(day))
        result: datetime = self._remember(memo_key, self._local_instant(day, micros_of_day))
        return result

    def working_days_deadline(self, start: datetime, days: int) -> datetime:
        """Close of the `days`-th working day for a complaint received at `start`.

        Which working day is day 1: a working day counts only if the complaint arrived no
        later than that day's opening (its first working interval's start), i.e. the unit
        had the whole day to work on it. Received Monday 07:00 (or exactly 08:00): Monday is
        day 1. Received Monday 10:00: Tuesday is day 1. Received on a Saturday, a holiday or
        after closing: the next working day is day 1. The deadline is the end of the last
        working interval of day `days` (e.g. 16:00 local).

        For an always-open calendar a working day is 24 hours: `start + days * 24h`.
        `days` must be at least 1.
        """
        _require_aware(start, "start")
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        index = self._index
        if index.always_open:
            return start.astimezone(self.tz) + timedelta(days=days)
        memo_key = ("days", start, days)
        known: datetime | None = self._memo.get(memo_key)
        if known is not None:
            return known
        _, ordinal, micros_of_day = self._position(start)
        opening = index.opening[_weekday_of_ordinal(ordinal)]
        received_before_opening = (
            index.is_working_ordinal(ordinal) and opening is not None and micros_of_day <= opening
        )
        first_candidate = ordinal if received_before_opening else ordinal + 1
        last_day = index.days.day_reaching(index.days.cumulative(first_candidate) + days)
        closing = index.closing[_weekday_of_ordinal(last_day)]
        assert closing is not None  # day_reaching only lands on working days
        result: datetime = self._remember(memo_key, self._local_instant(last_day, closing))
        return result

    # -- the epoch path: integers only, no datetime built -----------------------------------

    def _local_of(self, epoch_us: int) -> tuple[int, int]:
        """(local date ordinal, local microseconds of day) of an epoch microsecond."""
        days, micros_of_day = divmod(epoch_us + self._offset_us, MICROS_PER_DAY)
        return days + _UNIX_EPOCH_ORDINAL, micros_of_day

    def _epoch_of(self, ordinal: int, micros_of_day: int) -> int:
        return (ordinal - _UNIX_EPOCH_ORDINAL) * MICROS_PER_DAY + micros_of_day - self._offset_us

    def _working_position_us(self, epoch_us: int) -> int:
        days, micros_of_day = divmod(epoch_us + self._offset_us, MICROS_PER_DAY)
        ordinal = days + _UNIX_EPOCH_ORDINAL
        index = self._index
        return index.micros.cumulative(ordinal) + index.worked_before(ordinal, micros_of_day)

    def working_seconds_between_epoch(self, start: float, end: float) -> float:
        """`working_seconds_between` on Unix epoch seconds (identical results)."""
        start_us, end_us = epoch_micros(start), epoch_micros(end)
        if end_us <= start_us:
            return 0.0
        if start_us < self._fixed_since_us:
            return self.working_seconds_between(
                datetime.fromtimestamp(start, self.tz), datetime.fromtimestamp(end, self.tz)
            )
        worked = self._working_position_us(end_us) - self._working_position_us(start_us)
        return worked / MICROS_PER_SECOND

    def add_working_seconds_epoch(self, start: float, seconds: float) -> float:
        """`add_working_seconds(...).timestamp()` on Unix epoch seconds (identical results)."""
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        start_us = epoch_micros(start)
        budget = round(seconds * MICROS_PER_SECOND)
        if budget == 0:
            return start_us / MICROS_PER_SECOND
        if start_us < self._fixed_since_us:
            return self.add_working_seconds(
                datetime.fromtimestamp(start, self.tz), seconds
            ).timestamp()
        index = self._index
        target = self._working_position_us(start_us) + budget
        day = index.micros.day_reaching(target)
        micros_of_day = index.time_reaching(day, target - index.micros.cumulative(day))
        return self._epoch_of(day, micros_of_day) / MICROS_PER_SECOND

    def working_days_deadline_epoch(self, start: float, days: int) -> float:
        """`working_days_deadline(...).timestamp()` on Unix epoch seconds (identical results)."""
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        start_us = epoch_micros(start)
        if start_us < self._fixed_since_us:
            return self.working_days_deadline(
                datetime.fromtimestamp(start, self.tz), days
            ).timestamp()
        index = self._index
        if index.always_open:
            return (start_us + days * MICROS_PER_DAY) / MICROS_PER_SECOND
        ordinal, micros_of_day = self._local_of(start_us)
        opening = index.opening[_weekday_of_ordinal(ordinal)]
        received_before_opening = (
            index.is_working_ordinal(ordinal) and opening is not None and micros_of_day <= opening
        )
        first_candidate = ordinal if received_before_opening else ordinal + 1
        last_day = index.days.day_reaching(index.days.cumulative(first_candidate) + days)
        closing = index.closing[_weekday_of_ordinal(last_day)]
        assert closing is not None  # day_reaching only lands on working days
        return self._epoch_of(last_day, closing) / MICROS_PER_SECOND


# --- Holidays -------------------------------------------------------------------------------


def indonesian_holidays(years: Iterable[int]) -> dict[date, str]:
    """Indonesian non-working days from the `holidays` package, with Indonesian names.

    Categories PUBLIC (libur nasional) and GOVERNMENT (cuti bersama, the joint leave days
    set by decree). A date in both gets both names joined with "; ". Islamic dates of years
    the package has no decree for are estimates, marked "(perkiraan)".
    """
    wanted_years = sorted(set(years))
    if not wanted_years:
        return {}
    calendar = holidays_package.country_holidays(
        "ID", years=wanted_years, categories=(PUBLIC, GOVERNMENT), language="id"
    )
    return {day: str(name) for day, name in sorted(calendar.items())}


@dataclass(frozen=True)
class HolidayOverrides:
    """Local corrections to the package's list, from a versioned file (see deploy/)."""

    version: str
    added: Mapping[date, str]
    removed: frozenset[date]


def _iso_date(value: object) -> date:
    # YAML gives date objects for unquoted dates; also take quoted ISO strings, but not the
    # numbers (read as Unix timestamps) or datetimes pydantic would otherwise accept.
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), got a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a date (YYYY-MM-DD), got {value!r}") from None
    raise ValueError(f"expected a date (YYYY-MM-DD), got {type(value).__name__}")


def _empty_if_none(value: object) -> object:
    # `removed:` with every entry commented out is YAML null: read it as an empty list.
    return [] if value is None else value


_IsoDate = Annotated[date, BeforeValidator(_iso_date)]
_Text = Annotated[StrictStr, Field(min_length=1)]


class _AddedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    day: _IsoDate = Field(alias="date")
    name: _Text


class _RemovedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    day: _IsoDate = Field(alias="date")
    reason: _Text


class _OverridesDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    version: _Text
    added: Annotated[list[_AddedEntry], BeforeValidator(_empty_if_none)] = []
    removed: Annotated[list[_RemovedEntry], BeforeValidator(_empty_if_none)] = []


def _describe_location(location: tuple[int | str, ...]) -> str:
    """('added', 3, 'date') -> "added[3]: field 'date'"."""
    entry = ""
    rest = list(location)
    if rest and isinstance(rest[0], str):
        entry = str(rest.pop(0))
        if rest and isinstance(rest[0], int):
            entry += f"[{rest.pop(0)}]"
    if not rest:
        return entry or "top level"
    field_name = ".".join(str(part) for part in rest)
    return f"{entry}: field '{field_name}'" if entry else f"field '{field_name}'"


def parse_holiday_overrides(data: object, source: str) -> HolidayOverrides:
    """Validate loaded override data; errors are ValueError naming `source`, entry and field.

    Besides the shape, a date may appear once in `added`, once in `removed`, and not in both.
    """
    if not isinstance(data, Mapping):
        raise ValueError(
            f"{source}: top level: expected a mapping with 'version', 'added' and 'removed',"
            f" got {type(data).__name__}"
        )
    try:
        document = _OverridesDocument.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{source}: {_describe_location(tuple(problem['loc']))}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        ]
        raise ValueError("\n".join(problems)) from None

    added: dict[date, str] = {}
    first_added_at: dict[date, int] = {}
    for position, added_entry in enumerate(document.added):
        if added_entry.day in added:
            raise ValueError(
                f"{source}: added[{position}]: field 'date': {added_entry.day} is already"
                f" in added[{first_added_at[added_entry.day]}]"
            )
        added[added_entry.day] = added_entry.name
        first_added_at[added_entry.day] = position
    removed: set[date] = set()
    for position, removed_entry in enumerate(document.removed):
        if removed_entry.day in removed:
            raise ValueError(
                f"{source}: removed[{position}]: field 'date': {removed_entry.day} is listed twice"
            )
        if removed_entry.day in added:
            raise ValueError(
                f"{source}: removed[{position}]: field 'date': {removed_entry.day} is also"
                f" in added[{first_added_at[removed_entry.day]}]"
            )
        removed.add(removed_entry.day)
    return HolidayOverrides(
        version=document.version,
        added=MappingProxyType(dict(sorted(added.items()))),
        removed=frozenset(removed),
    )


def load_holiday_overrides(path: Path) -> HolidayOverrides:
    """Read an override YAML file (see deploy/holidays-override.yaml) and validate it."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    return parse_holiday_overrides(data, str(path))


def holiday_dates(years: Iterable[int], overrides: HolidayOverrides | None) -> frozenset[date]:
    """Non-working dates of `years`: the package's list, plus `added`, minus `removed`.

    Override entries outside `years` are left out, so the result covers exactly `years`.
    """
    wanted_years = frozenset(years)
    dates = set(indonesian_holidays(wanted_years))
    if overrides is not None:
        dates.update(day for day in overrides.added if day.year in wanted_years)
        dates.difference_update(overrides.removed)
    return frozenset(dates)
