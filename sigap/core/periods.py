"""Calendar periods in Asia/Jakarta time, the time zone the city's scores are kept in.

Period names (`parse_period` / `format_period`):

    day      2026-11-27   the Jakarta calendar day
    week     2026-W48     the ISO week (Monday to Sunday)
    month    2026-11
    quarter  2026-Q4      Q1 = January to March, ... Q4 = October to December

Each period is identified by its kind and its first day (`start`); its instants are from the
start's Jakarta midnight (inclusive) to the next period's (exclusive): `period_start_epoch`
and `period_end`. `period_start` finds the period holding an instant. Rolling windows are
core.windows.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")

PeriodKind = Literal["day", "week", "month", "quarter"]
# Every calendar period kind: the persisted scores (core.scoring) use them all.
SCORE_PERIOD_KINDS: tuple[PeriodKind, ...] = get_args(PeriodKind)
# The current periods of the live gauges (core.unit_kpis): a quarter is too long for them.
PERIOD_KINDS: tuple[PeriodKind, ...] = ("day", "week", "month")


def period_kind(text: str) -> PeriodKind:
    """A period kind from text (a database column, a parameter); ValueError otherwise."""
    for kind in SCORE_PERIOD_KINDS:
        if text == kind:
            return kind
    raise ValueError(f"unknown period kind {text!r}; known: {', '.join(SCORE_PERIOD_KINDS)}")


PERIOD_FORMS = "YYYY-MM-DD (day), YYYY-Www (ISO week), YYYY-MM (month) or YYYY-Qn (quarter)"
_DAY_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_WEEK_RE = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
_MONTH_RE = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_QUARTER_RE = re.compile(r"^([0-9]{4})-Q([1-4])$")


def jakarta_day(moment: datetime) -> date:
    """The Asia/Jakarta calendar day holding an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(JAKARTA).date()


# Asia/Jakarta has been UTC+07:00, without daylight saving, since 1964-01-01 00:00 local
# time (tzdata; earlier offsets were +07:07:12 to +09:00). From then on the Jakarta day of an
# instant is integer arithmetic (the scores ask for it hundreds of thousands of times per
# replay); before, the time zone database is asked.
_WIB_SINCE_EPOCH: Final = -189_388_800  # 1964-01-01T00:00:00Z, a few hours after the change
_WIB_OFFSET_SECONDS: Final = 7 * 3600
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def jakarta_day_of_epoch(epoch_seconds: float) -> date:
    if epoch_seconds >= _WIB_SINCE_EPOCH:
        return _day_of_ordinal(
            _EPOCH_ORDINAL + int((epoch_seconds + _WIB_OFFSET_SECONDS) // 86_400)
        )
    return datetime.fromtimestamp(epoch_seconds, JAKARTA).date()


@lru_cache(maxsize=4096)
def _day_of_ordinal(ordinal: int) -> date:
    return date.fromordinal(ordinal)


def parse_period(text: str) -> tuple[PeriodKind, date]:
    """The kind and first day of a period name such as "2026-11" (see the module docstring).

    Raises ValueError naming the text and the accepted forms.
    """
    value = text.strip()
    try:
        if m := _DAY_RE.match(value):
            return "day", date(int(m[1]), int(m[2]), int(m[3]))
        if m := _WEEK_RE.match(value):
            return "week", date.fromisocalendar(int(m[1]), int(m[2]), 1)
        if m := _MONTH_RE.match(value):
            return "month", date(int(m[1]), int(m[2]), 1)
        if m := _QUARTER_RE.match(value):
            return "quarter", date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1)
    except ValueError as error:  # e.g. 2026-13, 2026-02-30, 2026-W54
        raise ValueError(f"invalid period {text!r}: {error}; use {PERIOD_FORMS}") from None
    raise ValueError(f"invalid period {text!r}: use {PERIOD_FORMS}")


def format_period(kind: PeriodKind, start: date) -> str:
    """The name of the period of `kind` beginning on `start` (the inverse of parse_period)."""
    _check_start(kind, start)
    if kind == "day":
        return start.isoformat()
    if kind == "week":
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if kind == "month":
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"


def previous_periods(kind: PeriodKind, start: date, count: int) -> list[date]:
    """The starts of the `count` periods of `kind` just before the one at `start`, oldest
    first (the period at `start` itself is not included)."""
    _check_start(kind, start)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    starts: list[date] = []
    current = start
    for _ in range(count):
        current = _previous_start(kind, current)
        starts.append(current)
    starts.reverse()
    return starts


def next_start(kind: PeriodKind, start: date) -> date:
    """The first day of the period after the one of `kind` beginning on `start`."""
    _check_start(kind, start)
    if kind == "day":
        return start + timedelta(days=1)
    if kind == "week":
        return start + timedelta(days=7)
    months = 1 if kind == "month" else 3
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def last_day(kind: PeriodKind, start: date) -> date:
    """The last Jakarta day of the period of `kind` beginning on `start`."""
    return next_start(kind, start) - timedelta(days=1)


def _previous_start(kind: PeriodKind, start: date) -> date:
    if kind == "day":
        return start - timedelta(days=1)
    if kind == "week":
        return start - timedelta(days=7)
    months = 1 if kind == "month" else 3
    index = start.year * 12 + start.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _check_start(kind: str, start: date) -> None:
    if kind == "day":
        return
    if kind == "week":
        if start.weekday() != 0:
            raise ValueError(f"a week starts on a Monday, {start} is not one")
        return
    if kind == "month":
        if start.day != 1:
            raise ValueError(f"a month starts on its 1st, {start} does not")
        return
    if kind == "quarter":
        if start.day != 1 or start.month % 3 != 1:
            raise ValueError(f"a quarter starts on 1 January, April, July or October, not {start}")
        return
    raise ValueError(f"unknown period kind {kind!r}")


def period_start(kind: PeriodKind, moment_epoch: float) -> date:
    """The first Jakarta day of the period of `kind` holding the instant."""
    if not math.isfinite(moment_epoch):  # inf has no calendar period; NaN no order
        raise ValueError(f"moment_epoch must be finite, got {moment_epoch!r}")
    return _period_start_of_day(kind, jakarta_day_of_epoch(float(moment_epoch)))


def period_start_of_day(kind: PeriodKind, day: date) -> date:
    """The first day of the period of `kind` holding the Jakarta day `day`."""
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())  # ISO week: Monday first
    if kind == "month":
        return day.replace(day=1)
    if kind == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    raise ValueError(f"unknown period kind {kind!r}")


# The scores ask for the period of the same few hundred days again and again: remembered.
_period_start_of_day = lru_cache(maxsize=8192)(period_start_of_day)


def _jakarta_midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=JAKARTA).timestamp()


def period_end(kind: PeriodKind, start: date) -> float:
    """Epoch seconds of the period's end (exclusive): the next period's Jakarta midnight."""
    return _jakarta_midnight(next_start(kind, start))


def period_start_epoch(kind: PeriodKind, start: date) -> float:
    """Epoch seconds of the period's first instant (inclusive)."""
    next_start(kind, start)  # validates that `start` begins a period of `kind`
    return _jakarta_midnight(start)


def periods_of(moment_epoch: float) -> dict[PeriodKind, date]:
    """The start of each live period kind (PERIOD_KINDS) holding the instant."""
    day = period_start("day", moment_epoch)
    return {
        "day": day,
        "week": day - timedelta(days=day.weekday()),
        "month": day.replace(day=1),
    }
