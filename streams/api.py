"""The read-only JSON API on the worker's web server (next to /metrics).

- `GET /api/units`: the registry's units and any other unit this worker has seen.
- `GET /api/units/{unit}/kpis`: the live counters and windows of a unit this worker owns,
  from the same state and with the same arithmetic as /metrics.
- `GET /api/units/{unit}/overdue`: the unit's worklist (core.worklist): open complaints past,
  or nearing (50%, 75%), a target, oldest deadline first, paginated (`limit` at most
  MAX_WORKLIST_LIMIT).
  This reply and the previous one grow with the state (all of the unit's open timers, 30
  days of its stopped ones): they are computed in turn, within a quarter of the event loop
  (streams.loop_share); too many waiting is a 503 `busy` with Retry-After.
- `GET /api/scores`: persisted period scores (storage.score_queries.score_rows), queried in a
  thread so that a slow database never stalls the event loop; a missing or unreachable
  database is a 503 for this endpoint only, never a reason for the worker not to start.
- `GET /api/officers/scores`: persisted officer scores (storage.officer_scores), only with
  the bearer token `SIGAP_OFFICER_TOKEN` (OfficerAccess); disabled (404) when it is unset.
- `GET /api/openapi.yaml`, `GET /api/openapi.json`: the OpenAPI document (streams/openapi.yaml).

Only GET and HEAD are served; every error is a JSON object (schema `Error` in the document)
that names the offending parameter when there is one. No personal data is ever served:
only unit codes and names, categories and numbers; pseudonymous officer codes only on the
officer endpoints, to a caller holding the token, and never in a log line.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import orjson
import yaml
from faust import web
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from metrics import names
from metrics.collector import transfer_reason_label
from sigap.core.charging import TIMERS
from sigap.core.periods import SCORE_PERIOD_KINDS, PeriodKind, parse_period
from sigap.core.registry import CODE_RE, UNKNOWN_UNIT
from sigap.core.unit_kpis import (
    ALL_CATEGORIES,
    THRESHOLDS,
    ClockWindowStats,
    Histogram,
    TimerWindowStats,
    UnitSnapshot,
    threshold_text,
)
from sigap.core.worklist import LEVELS as WORKLIST_LEVELS
from sigap.core.worklist import WorklistEntry, WorklistPage, worklist
from sigap.core.worklist import level_text as level_text_of
from streams.loop_share import RETRY_AFTER_SECONDS as LOOP_SHARE_RETRY_AFTER_SECONDS
from streams.loop_share import LoopShare, LoopShareExceeded

if TYPE_CHECKING:
    from sigap.settings import Settings
    from streams.app import SigapApp

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
JSON = "application/json"
ALLOWED = "GET, HEAD"
ALL = "*"  # the category of a unit's score over all categories (core.scoring.ALL)
MAX_REVISION = 2**31 - 1  # the revision column is a 32-bit integer
MAX_CATEGORY_LENGTH = 64
ISO_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
REVISION_RE = re.compile(r"^[0-9]+$")
SCORE_PARAMETERS = ("unit", "period", "from", "to", "revision", "category", "limit", "offset")
# The most rows one /api/scores reply holds; `offset` pages through the rest.
MAX_PAGE_ROWS = 1000
MAX_OFFSET = 2**31 - 1
REPEATABLE = frozenset({"unit", "category"})
DATABASE_TIMEOUT_SECONDS = 15.0
WORKLIST_PARAMETERS = ("level", "timer", "limit", "offset")
DEFAULT_WORKLIST_LIMIT = 50
MAX_WORKLIST_LIMIT = 500
MAX_WORKLIST_OFFSET = 10_000_000
COUNT_RE = re.compile(r"^[0-9]{1,9}$")
# Said in every officer reply: who the data is about (docs/officers.md).
OFFICER_DATA_ABOUT = (
    "Officers of the city's work units, identified by pseudonymous codes only: the mapping "
    "to people is held by the city's HR system, not by SIGAP."
)


class ApiError(Exception):
    """An error response: status and the JSON body of schema `Error` (and extra headers)."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        parameter: str | None = None,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.headers = dict(headers or {})
        self.body: dict[str, Any] = {"error": error}
        if parameter is not None:
            self.body["parameter"] = parameter
        if detail is not None:
            self.body["detail"] = detail


def bad_parameter(parameter: str, detail: str) -> ApiError:
    return ApiError(400, "invalid parameter", parameter=parameter, detail=detail)


# -- /api/scores parameters ------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreQuery:
    units: tuple[str, ...] = ()
    period: str = "day"
    date_from: date | None = None
    date_to: date | None = None
    revision: int | None = None  # None: the latest revision of each period
    categories: tuple[str, ...] = (ALL,)
    limit: int = MAX_PAGE_ROWS
    offset: int = 0

    def as_filters(self) -> dict[str, Any]:
        """Keyword arguments of storage.score_queries.score_rows (the score contract)."""
        return {
            "units": self.units,
            "period": self.period,
            # One category: filtered in the database; several: every category, kept below.
            "category": self.categories[0] if len(self.categories) == 1 else None,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "revision": self.revision,
        }

    def keep(self, row: Mapping[str, Any]) -> bool:
        return row.get("category") in self.categories


def _single(values: Sequence[str], name: str) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise bad_parameter(name, f"given {len(values)} times; give it at most once")
    return values[0]


def _iso_date(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    if not ISO_DATE_RE.match(text):
        raise bad_parameter(name, f"{text!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise bad_parameter(name, f"{text!r} is not a calendar date: {error}") from None


def _check_parameters(
    query: Mapping[str, Sequence[str]], accepted: Sequence[str], repeatable: Collection[str]
) -> None:
    """ApiError (400) for the first parameter not `accepted`, or given twice unless
    `repeatable`."""
    for name, values in query.items():
        if name not in accepted:
            raise ApiError(
                400,
                "unknown parameter",
                parameter=name,
                detail=f"accepted parameters: {', '.join(accepted)}",
            )
        if name not in repeatable:
            _single(values, name)


def parse_score_query(query: Mapping[str, Sequence[str]]) -> ScoreQuery:
    """The filters of `GET /api/scores` from its query parameters (name -> every value).

    Raises ApiError (400) naming the first parameter that cannot be used.
    """
    _check_parameters(query, SCORE_PARAMETERS, REPEATABLE)
    units = tuple(query.get("unit", ()))
    for unit in units:
        if not CODE_RE.match(unit):
            raise bad_parameter("unit", f"{unit!r} is not a unit code ({CODE_RE.pattern})")
    period = _single(query.get("period", ()), "period")
    if period is None:
        period = "day"
    if period not in SCORE_PERIOD_KINDS:
        raise bad_parameter("period", f"{period!r} is not one of {', '.join(SCORE_PERIOD_KINDS)}")
    date_from = _iso_date(_single(query.get("from", ()), "from"), "from")
    date_to = _iso_date(_single(query.get("to", ()), "to"), "to")
    if date_from is not None and date_to is not None and date_to < date_from:
        raise bad_parameter("to", f"{date_to.isoformat()} is before from={date_from.isoformat()}")
    revision_text = _single(query.get("revision", ()), "revision")
    revision = None
    if revision_text is not None:
        if not REVISION_RE.match(revision_text) or int(revision_text) > MAX_REVISION:
            raise bad_parameter(
                "revision", f"{revision_text!r} is not a whole number from 0 to {MAX_REVISION}"
            )
        revision = int(revision_text)
    categories = tuple(dict.fromkeys(query.get("category", ()))) or (ALL,)
    for category in categories:
        if not 1 <= len(category) <= MAX_CATEGORY_LENGTH:
            raise bad_parameter(
                "category", f"must be 1 to {MAX_CATEGORY_LENGTH} characters ('*': all categories)"
            )
    limit = _bounded_int(query, "limit", 1, MAX_PAGE_ROWS, MAX_PAGE_ROWS)
    offset = _bounded_int(query, "offset", 0, MAX_OFFSET, 0)
    return ScoreQuery(units, period, date_from, date_to, revision, categories, limit, offset)


def _bounded_int(
    query: Mapping[str, Sequence[str]], name: str, lowest: int, highest: int, default: int
) -> int:
    text = _single(query.get(name, ()), name)
    if text is None:
        return default
    if not REVISION_RE.match(text) or not lowest <= int(text) <= highest:
        raise bad_parameter(name, f"{text!r} is not a whole number from {lowest} to {highest}")
    return int(text)


# -- /api/officers/scores parameters and access ---------------------------------------------

OFFICER_SCORE_PARAMETERS = (
    "unit",
    "officer",
    "period",
    "from",
    "to",
    "category",
    "limit",
    "offset",
)
OFFICER_REPEATABLE = frozenset({"unit", "officer", "category"})
BEARER_REALM = "sigap-officers"


@dataclass(frozen=True)
class OfficerScoreQuery:
    units: tuple[str, ...] = ()
    officers: tuple[str, ...] = ()
    period: str = "day"
    date_from: date | None = None
    date_to: date | None = None
    categories: tuple[str, ...] = (ALL,)
    limit: int = MAX_PAGE_ROWS
    offset: int = 0

    def as_filters(self) -> dict[str, Any]:
        """Keyword arguments of storage.officer_scores.officer_score_rows."""
        return {
            "units": self.units,
            "officers": self.officers,
            "period": self.period,
            "category": self.categories[0] if len(self.categories) == 1 else None,
            "date_from": self.date_from,
            "date_to": self.date_to,
        }

    def keep(self, row: Mapping[str, Any]) -> bool:
        return row.get("category") in self.categories


def parse_officer_score_query(query: Mapping[str, Sequence[str]]) -> OfficerScoreQuery:
    """The filters of `GET /api/officers/scores`: those of /api/scores without `revision`
    (officer scores have none), plus `officer` (repeatable). ApiError (400) names the first
    parameter that cannot be used."""
    _check_parameters(query, OFFICER_SCORE_PARAMETERS, OFFICER_REPEATABLE)
    officers = tuple(dict.fromkeys(query.get("officer", ())))
    for officer in officers:
        if not CODE_RE.match(officer):
            raise bad_parameter("officer", f"not an officer code ({CODE_RE.pattern})")
    common = parse_score_query({k: v for k, v in query.items() if k != "officer"})
    return OfficerScoreQuery(
        units=common.units,
        officers=officers,
        period=common.period,
        date_from=common.date_from,
        date_to=common.date_to,
        categories=common.categories,
        limit=common.limit,
        offset=common.offset,
    )


class OfficerAccess:
    """Who may read officer data: a caller presenting `Authorization: Bearer <token>` with
    the configured token (SIGAP_OFFICER_TOKEN), compared in constant time. No token
    configured: the officer endpoints are disabled (404). The token is never logged."""

    def __init__(self, token: str | None) -> None:
        self._token = None if token is None else token.encode()

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def check(self, authorization: str | None) -> None:
        """Raise ApiError (404 disabled, 401 no or wrong token) unless the header holds it."""
        if self._token is None:
            raise ApiError(
                404,
                "officer data not enabled",
                detail="officer data is not enabled on this worker (SIGAP_OFFICER_TOKEN is unset)",
            )
        scheme, _, given = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(
                401,
                "unauthorized",
                detail="officer data needs a bearer token: Authorization: Bearer <token>",
                headers={"WWW-Authenticate": f'Bearer realm="{BEARER_REALM}"'},
            )
        if not hmac.compare_digest(given.strip().encode(), self._token):
            raise ApiError(
                401,
                "unauthorized",
                detail="the bearer token is not the one configured for officer data",
                headers={
                    "WWW-Authenticate": f'Bearer realm="{BEARER_REALM}", error="invalid_token"'
                },
            )


# -- the score database ----------------------------------------------------------------------


class DatabaseUnavailable(Exception):
    """The score database cannot answer; the message is safe to serve (no URL, no password)."""


def read_only_url(database_url: str) -> str:
    """The URL to read scores with: SQLite files are opened read-only (and never created)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return database_url
    path = Path(str(url.database))
    if not path.is_file():
        raise DatabaseUnavailable("no score database yet: the score writer has not created it")
    return f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"


def _read_only_transactions(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # The API never writes; a bounded statement keeps a slow query from piling up threads.
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql("SET LOCAL statement_timeout = 10000")


def _unavailable_detail(error: SQLAlchemyError) -> str:
    text = str(error).lower()
    if "no such table" in text or "does not exist" in text:
        return "no scores stored yet: the score tables do not exist (has the score writer run?)"
    return f"cannot query the score database ({type(error).__name__})"


def _storage_score_rows(engine: Engine, **filters: Any) -> list[dict[str, Any]]:
    # Imported when first asked: only this endpoint needs storage, never the worker's start.
    from sigap.storage.score_queries import score_rows

    return score_rows(engine, **filters)


def _storage_officer_score_rows(engine: Engine, **filters: Any) -> list[dict[str, Any]]:
    from sigap.storage.officer_scores import officer_score_rows

    return officer_score_rows(engine, **filters)


class ScoreDatabase:
    """Reads scores in worker threads, with one lazily created engine."""

    def __init__(
        self, database_url: str, *, timeout_seconds: float = DATABASE_TIMEOUT_SECONDS
    ) -> None:
        self._database_url = database_url
        self._timeout_seconds = timeout_seconds
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        # Two threads at most: a burst of requests queues here, not in the database.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sigap-api-db")

    def _get_engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                url = read_only_url(self._database_url)
                connect_args: dict[str, Any] = {}
                if make_url(url).get_backend_name() == "postgresql":
                    connect_args["connect_timeout"] = 5
                engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
                _read_only_transactions(engine)
                self._engine = engine
            return self._engine

    def rows_blocking(self, query: ScoreQuery) -> list[dict[str, Any]]:
        try:
            rows = _storage_score_rows(self._get_engine(), **query.as_filters())
        except SQLAlchemyError as error:
            # The first line names the failure (never the password: not in the message).
            first_line = str(error).splitlines()[0][:300] if str(error) else ""
            log.warning("score query failed: %s: %s", type(error).__name__, first_line)
            raise DatabaseUnavailable(_unavailable_detail(error)) from None
        return [row for row in rows if query.keep(row)]

    def officer_rows_blocking(self, query: OfficerScoreQuery) -> list[dict[str, Any]]:
        try:
            rows = _storage_officer_score_rows(self._get_engine(), **query.as_filters())
        except SQLAlchemyError as error:
            # The type only: the statement's parameters may hold officer codes.
            log.warning("officer score query failed: %s", type(error).__name__)
            raise DatabaseUnavailable(_unavailable_detail(error)) from None
        return [row for row in rows if query.keep(row)]

    async def officer_rows(self, query: OfficerScoreQuery) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, partial(self.officer_rows_blocking, query))
        try:
            return await asyncio.wait_for(future, self._timeout_seconds)
        except TimeoutError:
            raise DatabaseUnavailable(
                f"the score database did not answer within {self._timeout_seconds:g} s"
            ) from None

    def causes_blocking(self, unit: str, kind: PeriodKind, start: date) -> dict[str, Any]:
        # Imported when first asked, as score_rows.
        from sigap.storage.cause_figures import cause_figures

        try:
            return cause_figures(self._get_engine(), unit, kind, start).as_json()
        except SQLAlchemyError as error:
            first_line = str(error).splitlines()[0][:300] if str(error) else ""
            log.warning("causes query failed: %s: %s", type(error).__name__, first_line)
            raise DatabaseUnavailable(_unavailable_detail(error)) from None

    async def causes(self, unit: str, kind: PeriodKind, start: date) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._executor, partial(self.causes_blocking, unit, kind, start)
        )
        try:
            return await asyncio.wait_for(future, self._timeout_seconds)
        except TimeoutError:
            raise DatabaseUnavailable(
                f"the score database did not answer within {self._timeout_seconds:g} s"
            ) from None

    async def rows(self, query: ScoreQuery) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, partial(self.rows_blocking, query))
        try:
            return await asyncio.wait_for(future, self._timeout_seconds)
        except TimeoutError:
            raise DatabaseUnavailable(
                f"the score database did not answer within {self._timeout_seconds:g} s"
            ) from None


# -- live unit KPIs --------------------------------------------------------------------------


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def _histogram_json(histogram: Histogram) -> dict[str, Any]:
    buckets = [
        {"le": "+Inf" if bound == float("inf") else float(bound), "count": count}
        for bound, count in histogram.cumulative()
    ]
    return {"buckets": buckets, "count": histogram.count, "sum": float(histogram.total)}


def _clock_window_json(stats: ClockWindowStats) -> dict[str, Any]:
    empty = stats.count == 0
    return {
        "count": stats.count,
        # As /metrics (NaN there): no quantiles for an empty sample.
        "p50_seconds": None if empty else _number(stats.p50),
        "p90_seconds": None if empty else _number(stats.p90),
    }


def _window_json(stats: TimerWindowStats) -> dict[str, Any]:
    return {
        "count": stats.count,
        # Wall and working seconds are never one sample (docs/metrics.md).
        "by_clock": {clock: _clock_window_json(s) for clock, s in sorted(stats.by_clock.items())},
        "within_target_ratio": _number(stats.within_target_ratio),
    }


def _epoch_json(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def unit_kpis_json(unit: str, snapshot: UnitSnapshot, watermark: float | None) -> dict[str, Any]:
    """One unit's live KPIs: the numbers /metrics exports for it (metrics/collector.py)."""
    counters = snapshot.counters
    sla = {
        timer: {
            "met": counters.sla.get(f"{timer}:met", 0),
            "missed": counters.sla.get(f"{timer}:missed", 0) + snapshot.sla_missed_open[timer],
        }
        for timer in TIMERS
    }
    transfers: dict[str, int] = dict.fromkeys(names.TRANSFER_REASONS, 0)
    for reason, count in counters.transfers.items():
        label = transfer_reason_label(reason)
        transfers[label] = transfers.get(label, 0) + count
    windows: dict[str, dict[str, Any]] = {timer: {} for timer in TIMERS}
    category_windows: dict[str, dict[str, Any]] = {}
    for (timer, category), per_window in sorted(snapshot.windows.items()):
        stats = {window: _window_json(value) for window, value in per_window.items()}
        if category == ALL_CATEGORIES:
            windows[timer] = stats
        else:
            category_windows.setdefault(category, {})[timer] = stats
    periods: dict[str, dict[str, Any]] = {timer: {} for timer in TIMERS}
    for (timer, kind), period_stats in sorted(snapshot.periods.items()):
        periods[timer][kind] = _window_json(period_stats)
    return {
        "unit": unit,
        "watermark": _epoch_json(watermark),
        "watermark_epoch": watermark,
        "created": counters.created,
        "resolved": counters.resolved,
        "open": snapshot.open_complaints,
        "reopened": counters.reopened,
        "transfers_away": dict(sorted(transfers.items())),
        "ratings": {rating: counters.ratings.get(rating, 0) for rating in names.RATINGS_VALUES},
        "sla": sla,
        "open_past_target": {
            timer: {
                threshold_text(threshold): snapshot.open_past[(timer, threshold)]
                for threshold in THRESHOLDS
            }
            for timer in TIMERS
        },
        "histograms": {
            "first_response_seconds": _histogram_json(counters.first_response),
            "resolution_seconds": _histogram_json(counters.resolution),
            "resolution_working_seconds": _histogram_json(counters.resolution_working),
        },
        "windows": windows,
        "category_windows": category_windows,
        "periods": periods,
    }


@dataclass(frozen=True)
class WorklistQuery:
    level: float = 0.5
    timer: str | None = None
    limit: int = DEFAULT_WORKLIST_LIMIT
    offset: int = 0


def _count_parameter(values: Sequence[str], name: str, maximum: int) -> int | None:
    text = _single(values, name)
    if text is None:
        return None
    if not COUNT_RE.match(text) or int(text) > maximum:
        raise bad_parameter(name, f"{text!r} is not a whole number from 0 to {maximum}")
    return int(text)


def parse_worklist_query(query: Mapping[str, Sequence[str]]) -> WorklistQuery:
    for name in query:
        if name not in WORKLIST_PARAMETERS:
            raise ApiError(
                400,
                "unknown parameter",
                parameter=name,
                detail=f"known: {', '.join(WORKLIST_PARAMETERS)}",
            )
    level_text = _single(query.get("level", []), "level")
    levels = {level_text_of(level): level for level in WORKLIST_LEVELS}
    if level_text is not None and level_text not in levels:
        raise bad_parameter("level", f"{level_text!r}: one of {', '.join(levels)}")
    timer = _single(query.get("timer", []), "timer")
    if timer is not None and timer not in TIMERS:
        raise bad_parameter("timer", f"{timer!r}: one of {', '.join(TIMERS)}")
    limit = _count_parameter(query.get("limit", []), "limit", MAX_WORKLIST_LIMIT)
    offset = _count_parameter(query.get("offset", []), "offset", MAX_WORKLIST_OFFSET)
    return WorklistQuery(
        level=levels[level_text] if level_text is not None else 0.5,
        timer=timer,
        limit=DEFAULT_WORKLIST_LIMIT if limit is None else limit,
        offset=offset or 0,
    )


def worklist_entry_json(item: WorklistEntry) -> dict[str, Any]:
    return {
        "complaint_id": item.complaint_id,
        "timer": item.timer,
        "level": level_text_of(item.level),
        "deadline": _epoch_json(item.deadline),
        "clock": item.clock,
        "past_deadline_wall_seconds": item.past_deadline_wall_seconds,
        "past_deadline_working_seconds": item.past_deadline_working_seconds,
        "held_since": _epoch_json(item.held_since),
        "category": item.category,
        "paused": item.paused,
        "due_after_break": item.due_after_break,
    }


def after_break_json(page: WorklistPage) -> dict[str, Any] | None:
    cliff = page.cliff
    if cliff is None:
        return None
    return {
        "first_day": cliff.long_break.first_day.isoformat(),
        "last_day": cliff.long_break.last_day.isoformat(),
        "working_days_before": cliff.long_break.working_days_before,
        "window_end": _epoch_json(cliff.window_end),
        "by_timer": dict(sorted(cliff.by_timer.items())),
    }


def worklist_json(
    unit: str, page: WorklistPage, query: WorklistQuery, watermark: float | None
) -> dict[str, Any]:
    """The body of GET /api/units/{unit}/overdue (also what `sigap overdue` prints)."""
    following = query.offset + len(page.entries)
    return {
        "unit": unit,
        "watermark": _epoch_json(watermark),
        "watermark_epoch": watermark,
        "level": level_text_of(query.level),
        "timer": query.timer,
        "total": page.total,
        "by_level": page.by_level,
        "offset": query.offset,
        "limit": query.limit,
        "next_offset": following if following < page.total else None,
        "items": [worklist_entry_json(item) for item in page.entries],
        "after_break": after_break_json(page),
    }


# -- the API ---------------------------------------------------------------------------------


class Api:
    """What the views serve, from the worker's state and the score database."""

    def __init__(
        self,
        sigap: SigapApp,
        database: ScoreDatabase,
        officer_access: OfficerAccess | None = None,
        loop_share: LoopShare | None = None,
    ) -> None:
        self.sigap = sigap
        self.database = database
        self.officer_access = officer_access or OfficerAccess(None)
        self._document: dict[str, Any] | None = None
        # The worklist and the window statistics grow with the state: in turn, and at most a
        # share of the event loop (streams.loop_share).
        self.loop_share = loop_share or LoopShare()

    def _owned_units(self) -> set[str]:
        # As /metrics: nothing between a revocation and the end of the recovery after it.
        stage = self.sigap.unit_stage
        partitions = self.sigap.exported_partitions(self.sigap.settings.views_topic)
        return set(stage.owned_units(partitions))

    def units(self) -> dict[str, Any]:
        stage = self.sigap.unit_stage
        registry = stage.registry
        owned = self._owned_units()
        seen = {unit for unit in stage.kpis.counters if unit not in registry.units}
        listed = []
        for code in sorted({*registry.units, *seen, *(owned & {UNKNOWN_UNIT})}):
            unit = registry.units.get(code)
            listed.append(
                {
                    "unit": code,
                    "name": unit.name if unit else None,
                    "calendar": unit.calendar_name if unit else None,
                    "objective": registry.objective_for(code) if unit else None,
                    "registered": unit is not None,
                    "served_here": code in owned,
                }
            )
        return {"registry_version": registry.version, "units": listed}

    async def unit_kpis(self, unit: str) -> dict[str, Any]:
        self._require_served(unit)
        return await self._in_turn(partial(self._unit_kpis, unit))

    def _unit_kpis(self, unit: str) -> dict[str, Any]:
        stage = self.sigap.unit_stage
        self._require_served(unit)  # again: a rebalance may have come while it waited
        watermark = stage.watermark_of(unit)
        snapshot = stage.kpis.unit_snapshot(unit, watermark)
        return unit_kpis_json(unit, snapshot, watermark if watermark > 0 else None)

    async def overdue(self, unit: str, query: WorklistQuery) -> dict[str, Any]:
        self._require_served(unit)
        return await self._in_turn(partial(self._overdue, unit, query))

    async def _in_turn(self, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return await self.loop_share.run(compute)
        except LoopShareExceeded as exceeded:
            raise ApiError(
                503,
                "busy",
                detail=f"too many requests of this kind wait for their turn ({exceeded}); "
                f"retry in {LOOP_SHARE_RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(LOOP_SHARE_RETRY_AFTER_SECONDS)},
            ) from None

    def _overdue(self, unit: str, query: WorklistQuery) -> dict[str, Any]:
        stage = self.sigap.unit_stage
        self._require_served(unit)  # again: a rebalance may have come while it waited
        watermark = stage.watermark_of(unit)
        page = worklist(
            stage.kpis.open_items(unit),
            watermark,
            stage.registry.calendar_for(unit),
            min_level=query.level,
            timer=query.timer,
            offset=query.offset,
            limit=query.limit,
        )
        return worklist_json(unit, page, query, watermark if watermark > 0 else None)

    def _require_served(self, unit: str) -> None:
        stage = self.sigap.unit_stage
        if not CODE_RE.match(unit):
            raise bad_parameter("unit", f"{unit!r} is not a unit code ({CODE_RE.pattern})")
        known = unit in stage.registry.units or unit == UNKNOWN_UNIT or unit in stage.kpis.counters
        if not known:
            raise ApiError(
                404, "unknown unit", parameter="unit", detail=f"{unit!r} is not in the registry"
            )
        if unit not in self._owned_units():
            raise ApiError(
                503,
                "unit not served by this worker",
                parameter="unit",
                detail="its partition is assigned to another worker, or not assigned yet",
            )

    async def scores(self, query: ScoreQuery) -> dict[str, Any]:
        try:
            rows = await self.database.rows(query)
        except DatabaseUnavailable as error:
            raise ApiError(503, "score database unavailable", detail=str(error)) from None
        page = rows[query.offset : query.offset + query.limit]
        after = query.offset + len(page)
        return {
            "period": query.period,
            "scores": page,
            "offset": query.offset,
            "limit": query.limit,
            "total": len(rows),
            "next_offset": after if after < len(rows) else None,
        }

    async def officer_scores(
        self, authorization: str | None, query: Mapping[str, Sequence[str]]
    ) -> dict[str, Any]:
        """Stored officer scores, to a caller with the officer token only (checked before
        anything else, so that no other reply tells anything to a caller without it)."""
        self.officer_access.check(authorization)
        parsed = parse_officer_score_query(query)
        try:
            rows = await self.database.officer_rows(parsed)
        except DatabaseUnavailable as error:
            raise ApiError(503, "score database unavailable", detail=str(error)) from None
        page = rows[parsed.offset : parsed.offset + parsed.limit]
        after = parsed.offset + len(page)
        return {
            "period": parsed.period,
            "about": OFFICER_DATA_ABOUT,
            "scores": page,
            "offset": parsed.offset,
            "limit": parsed.limit,
            "total": len(rows),
            "next_offset": after if after < len(rows) else None,
        }

    async def unit_causes(self, unit: str, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """Misses by cause, paused/excluded time and the routing ledger (docs/causes.md)."""
        if not CODE_RE.match(unit):
            raise bad_parameter("unit", f"{unit!r} is not a unit code ({CODE_RE.pattern})")
        for name in query:
            if name != "period":
                raise ApiError(400, "unknown parameter", parameter=name, detail="takes period")
        text = _single(query.get("period", []), "period")
        if text is None:
            raise bad_parameter("period", "required: a period name, e.g. 2026-11 or 2026-W45")
        try:
            kind, start = parse_period(text)
        except ValueError as error:
            raise bad_parameter("period", str(error)) from None
        try:
            return await self.database.causes(unit, kind, start)
        except DatabaseUnavailable as error:
            raise ApiError(503, "score database unavailable", detail=str(error)) from None

    def document(self) -> dict[str, Any]:
        if self._document is None:
            loaded = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError(f"{OPENAPI_PATH}: not an OpenAPI document")
            self._document = loaded
        return self._document


@dataclass(frozen=True)
class RawBody:
    """A response body served as it is (not JSON)."""

    content: bytes
    content_type: str


def _json_response(
    view: web.View, body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    sent = {**(headers or {}), **({"Allow": ALLOWED} if status == 405 else {})}
    return view.bytes(orjson.dumps(body), content_type=JSON, status=status, headers=sent or None)


def _query(request: web.Request) -> dict[str, list[str]]:
    # aiohttp's MultiDictProxy (Faust types it as a plain Mapping): every repeated value.
    multi: Any = request.query
    return {str(name): [str(value) for value in multi.getall(name)] for name in multi}


class ApiView(web.View):
    """JSON responses; GET and HEAD only (any other method: 405 with a JSON body)."""

    path: ClassVar[str]
    api: ClassVar[Api]
    NOT_ALLOWED: ClassVar[tuple[str, ...]] = ("post", "put", "patch", "delete", "options")

    def __post_init__(self) -> None:
        # Faust dispatches every method through this mapping (a dict it builds per view).
        methods = cast(dict[str, Callable[..., Awaitable[web.Response]]], self.methods)
        for method in (*self.NOT_ALLOWED, "search"):
            methods[method] = self._not_allowed

    def get_methods(self) -> set[str]:
        return {"GET", "HEAD", *(method.upper() for method in self.NOT_ALLOWED)}

    async def _not_allowed(self, request: web.Request, **_: Any) -> web.Response:
        error = ApiError(
            405, "method not allowed", detail=f"{request.method}: this API serves {ALLOWED}"
        )
        return _json_response(self, error.body, error.status)

    async def get(self, request: web.Request, **match: Any) -> web.Response:
        try:
            body = await self.serve(request, **match)
        except ApiError as error:
            return _json_response(self, error.body, error.status, error.headers)
        except Exception:
            log.exception("API request %s failed", self.path)
            return _json_response(self, {"error": "internal error"}, 500)
        if isinstance(body, RawBody):
            return self.bytes(body.content, content_type=body.content_type)
        return _json_response(self, body)

    async def serve(self, request: web.Request, **match: Any) -> Any:
        raise NotImplementedError


class UnitsView(ApiView):
    path = "/api/units"

    async def serve(self, request: web.Request, **match: Any) -> Any:
        _no_parameters(request)
        return self.api.units()


class UnitKpisView(ApiView):
    path = "/api/units/{unit}/kpis"

    async def serve(self, request: web.Request, **match: Any) -> Any:
        _no_parameters(request)
        return await self.api.unit_kpis(str(match["unit"]))


class UnitCausesView(ApiView):
    path = "/api/units/{unit}/causes"

    async def serve(self, request: web.Request, **match: Any) -> Any:
        return await self.api.unit_causes(str(match["unit"]), _query(request))


class UnitOverdueView(ApiView):
    path = "/api/units/{unit}/overdue"

    async def serve(self, request: web.Request, **match: Any) -> Any:
        query = parse_worklist_query(_query(request))
        return await self.api.overdue(str(match["unit"]), query)


class ScoresView(ApiView):
    path = "/api/scores"

    async def serve(self, request: web.Request, **match: Any) -> Any:
        return await self.api.scores(parse_score_query(_query(request)))


class OfficerScoresView(ApiView):
    path = "/api/officers/scores"

    async def serve(self, request: web.Request, **match: Any) -> Any:
        # aiohttp's request (Faust types it without headers).
        raw: Any = request
        authorization = raw.headers.get("Authorization")
        return await self.api.officer_scores(authorization, _query(request))


class OpenApiJsonView(ApiView):
    path = "/api/openapi.json"

    async def serve(self, request: web.Request, **match: Any) -> Any:
        _no_parameters(request)
        return self.api.document()


class OpenApiYamlView(ApiView):
    path = "/api/openapi.yaml"

    async def serve(self, request: web.Request, **match: Any) -> Any:
        _no_parameters(request)
        return RawBody(OPENAPI_PATH.read_bytes(), "application/yaml")


def _no_parameters(request: web.Request) -> None:
    if request.query:
        name = str(next(iter(request.query)))
        raise ApiError(400, "unknown parameter", parameter=name, detail="takes no parameters")


VIEWS: tuple[type[ApiView], ...] = (
    UnitsView,
    UnitKpisView,
    UnitCausesView,
    UnitOverdueView,
    ScoresView,
    OfficerScoresView,
    OpenApiJsonView,
    OpenApiYamlView,
)


def officer_endpoints_text(settings: Settings) -> str:
    """Whether the officer endpoints are served (said at start-up; never the token)."""
    if settings.officer_token is None:
        return "officer endpoints (/api/officers/...) disabled: SIGAP_OFFICER_TOKEN is unset"
    return "officer endpoints (/api/officers/...) enabled: bearer token required"


def register_api(sigap: SigapApp, loop_share: LoopShare | None = None) -> Api:
    """Add the API's views to the worker's web server."""
    token = sigap.settings.officer_token
    access = OfficerAccess(None if token is None else token.get_secret_value())
    api = Api(sigap, ScoreDatabase(sigap.settings.database_url), access, loop_share)
    for view in VIEWS:
        bound = type(view.__name__, (view,), {"api": api, "__module__": __name__})
        sigap.faust_app.page(view.path, name=f"sigap-api-{view.__name__}")(bound)
    return api
