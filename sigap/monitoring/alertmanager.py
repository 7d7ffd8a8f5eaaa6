"""Alertmanager routes, receivers and inhibitions, generated from the unit registry.

`sigap alertmanager-config` writes deploy/alertmanager/alertmanager.yml.

Routing (first match wins, in this order):

1. ``component="pipeline"`` -> ``sigap-ops`` (worker, lag, dead letters, unknown units);
2. ``unit="<code>"`` for each registered unit: an open-target alert (label ``threshold``:
   ``0.5``, ``0.75``, ``1`` of the allowed time used) -> the receiver the registry's
   ``escalation.notify`` names for that threshold (``sigap-<code>-duty``,
   ``sigap-<code>-unit-head``, ``sigap-<code>-department-head``; by default 50% to the duty
   channel, 75% to the unit head, 100% to the department head); otherwise
   ``sigap-<code>-page`` when ``severity="page"``, else ``sigap-<code>-ticket``;
3. anything else (e.g. ``unit="unknown"``) -> ``sigap-default``.

Quiet hours: non-urgent notifications (the open-target thresholds below 1, i.e. the 50% and
75% routes) carry ``mute_time_intervals`` naming ``sigap-<calendar>-closed``, a top-level
``time_intervals`` entry generated from the unit's working calendar (sigap/core/calendar.py, the
same one the deadlines are computed on): the hours outside each weekday's working hours, and
every holiday and *cuti bersama* of ``CALENDAR_YEARS`` as whole days, all with ``location:
Asia/Jakarta``. Round-the-clock calendars are never closed, so their units are never muted.
Pages and the 100% route are never muted.

Inhibitions: a paging SLO alert holds back the tickets and warnings of the same unit and
timer; while the worker is down or processes no events, every SLO alert is held back (the
numbers are stale, and unanswered complaints turn into misses that are not real).

Webhook URLs are placeholders (``<base>/<unit>/page``, ``<base>/ops`` ...), to be replaced
by the real receivers (docs/monitoring.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, time
from itertools import groupby
from typing import Any, Final

from sigap.core.calendar import MICROS_PER_DAY, WorkingCalendar
from sigap.core.registry import Registry
from sigap.monitoring import dump_yaml, generated_header
from sigap.monitoring.rules import (
    COMPONENT_PIPELINE,
    COMPONENT_SLO,
    SEVERITY_PAGE,
    SEVERITY_TICKET,
    SEVERITY_WARNING,
    STALE_PIPELINE_ALERTS,
)

__all__ = [
    "CALENDAR_YEARS",
    "DEFAULT_RECEIVER",
    "DEFAULT_WEBHOOK_BASE",
    "OPS_RECEIVER",
    "build_alertmanager_config",
    "closed_interval_name",
    "closed_time_interval",
    "expected_receiver",
    "render_alertmanager_config",
    "role_receiver",
    "unit_receiver",
]

DEFAULT_WEBHOOK_BASE: Final = "http://127.0.0.1:9099/hooks"
OPS_RECEIVER: Final = "sigap-ops"
DEFAULT_RECEIVER: Final = "sigap-default"
# Years whose holidays go into the generated time intervals (the file is regenerated and
# reviewed each year when the SKB for the next year is out; keep the end ahead of it).
CALENDAR_YEARS: Final = range(2026, 2031)
_WEEKDAY_NAMES: Final = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_MONTH_NAMES: Final = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_PAGE_KIND: Final = "page"
_TICKET_KIND: Final = "ticket"


def unit_receiver(unit_code: str, kind: str) -> str:
    """``sigap-<unit>-page`` or ``sigap-<unit>-ticket``."""
    return f"sigap-{unit_code}-{kind}"


def role_receiver(unit_code: str, role: str) -> str:
    """``sigap-<unit>-duty``, ``sigap-<unit>-unit-head``, ``sigap-<unit>-department-head``."""
    return f"sigap-{unit_code}-{role.replace('_', '-')}"


def _threshold_text(threshold: float) -> str:
    return {0.5: "0.5", 0.75: "0.75", 1.0: "1"}[threshold]


def closed_interval_name(calendar_name: str) -> str:
    """``sigap-<calendar>-closed``: the time interval when the calendar's units are not at work."""
    return f"sigap-{calendar_name}-closed"


def _hhmm(micros_of_day: int) -> str:
    minutes = micros_of_day // 60_000_000
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _micros(moment: time) -> int:
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000


def _closed_ranges(intervals: tuple[tuple[time, time], ...]) -> tuple[tuple[int, int], ...]:
    """The complement of one weekday's working intervals within [00:00, 24:00)."""
    closed: list[tuple[int, int]] = []
    cursor = 0
    for start, end in sorted(intervals):
        begin = _micros(start)
        finish = MICROS_PER_DAY if end == time(0) else _micros(end)
        if begin > cursor:
            closed.append((cursor, begin))
        cursor = max(cursor, finish)
    if cursor < MICROS_PER_DAY:
        closed.append((cursor, MICROS_PER_DAY))
    return tuple(closed)


def closed_time_interval(
    calendar: WorkingCalendar, years: Iterable[int] = CALENDAR_YEARS
) -> list[dict[str, Any]] | None:
    """Alertmanager time-interval specs covering the time ``calendar`` is not at work, or
    None for a round-the-clock calendar (nothing to mute).

    Alertmanager mutes when any one spec matches: one spec per group of weekdays with the
    same off hours (``times``; a weekday without hours is a whole-day spec), and one spec
    per (year, month) listing that month's holidays as ``days_of_month``. Alertmanager's
    minute resolution: working hours must start and end on whole minutes (they do).
    """
    if calendar.is_always_open:
        return None
    location = calendar.tz.key
    by_weekday = {
        weekday: _closed_ranges(tuple(calendar.weekly_hours.get(weekday, ())))
        for weekday in range(7)
    }
    specs: list[dict[str, Any]] = []
    for ranges in sorted(set(by_weekday.values())):
        if not ranges:
            continue
        weekdays = [_WEEKDAY_NAMES[d] for d in range(7) if by_weekday[d] == ranges]
        spec: dict[str, Any] = {"weekdays": weekdays, "location": location}
        if ranges != ((0, MICROS_PER_DAY),):
            spec["times"] = [
                {"start_time": _hhmm(begin), "end_time": _hhmm(end)} for begin, end in ranges
            ]
        specs.append(spec)
    wanted = frozenset(years)
    holidays = sorted(day for day in calendar.holidays if day.year in wanted)

    def year_month(day: date) -> tuple[int, int]:
        return day.year, day.month

    for (year, month), days in groupby(holidays, key=year_month):
        specs.append(
            {
                "years": [str(year)],
                "months": [_MONTH_NAMES[month - 1]],
                "days_of_month": [str(day.day) for day in days],
                "location": location,
            }
        )
    return specs


def expected_receiver(registry: Registry, labels: Mapping[str, str]) -> str:
    """Where the generated routing tree sends an alert with ``labels`` (the tests check
    Alertmanager's own answer against this)."""
    if labels.get("component") == COMPONENT_PIPELINE:
        return OPS_RECEIVER
    unit = labels.get("unit")
    if unit is not None and unit in registry.units:
        for rule in registry.escalation.notify:
            if labels.get("threshold") == _threshold_text(rule.threshold):
                return role_receiver(unit, rule.receiver)
        kind = _PAGE_KIND if labels.get("severity") == SEVERITY_PAGE else _TICKET_KIND
        return unit_receiver(unit, kind)
    return DEFAULT_RECEIVER


def _webhook(url: str) -> dict[str, Any]:
    return {"name": "", "webhook_configs": [{"url": url, "send_resolved": True}]}


def _receiver(name: str, url: str) -> dict[str, Any]:
    receiver = _webhook(url)
    receiver["name"] = name
    return receiver


def build_alertmanager_config(
    registry: Registry, webhook_base: str = DEFAULT_WEBHOOK_BASE
) -> dict[str, Any]:
    """The Alertmanager configuration as data."""
    base = webhook_base.rstrip("/")
    unit_routes: list[dict[str, Any]] = []
    receivers: list[dict[str, Any]] = [
        _receiver(DEFAULT_RECEIVER, f"{base}/default"),
        _receiver(OPS_RECEIVER, f"{base}/ops"),
    ]
    time_intervals: dict[str, list[dict[str, Any]]] = {}
    for unit in registry.units.values():
        page = unit_receiver(unit.code, _PAGE_KIND)
        ticket = unit_receiver(unit.code, _TICKET_KIND)
        calendar = registry.calendar_for(unit.code)
        closed_name = closed_interval_name(calendar.name)
        if closed_name not in time_intervals:
            specs = closed_time_interval(calendar)
            if specs is not None:
                time_intervals[closed_name] = specs
        threshold_routes: list[dict[str, Any]] = []
        for rule in registry.escalation.notify:
            route: dict[str, Any] = {
                "receiver": role_receiver(unit.code, rule.receiver),
                "matchers": [f'threshold="{_threshold_text(rule.threshold)}"'],
            }
            # Below 100% nothing is late yet: it waits for the next working hour.
            if rule.threshold < 1 and closed_name in time_intervals:
                route["mute_time_intervals"] = [closed_name]
            threshold_routes.append(route)
        unit_routes.append(
            {
                "receiver": ticket,
                "matchers": [f'unit="{unit.code}"'],
                "routes": [
                    *threshold_routes,
                    {
                        "receiver": page,
                        "matchers": [f'severity="{SEVERITY_PAGE}"'],
                        # Pages are re-sent sooner: someone has to act on them today.
                        "group_wait": "10s",
                        "repeat_interval": "1h",
                    },
                ],
            }
        )
        receivers.append(_receiver(page, f"{base}/{unit.code}/page"))
        receivers.append(_receiver(ticket, f"{base}/{unit.code}/ticket"))
        for role in sorted({rule.receiver for rule in registry.escalation.notify}):
            receivers.append(
                _receiver(role_receiver(unit.code, role), f"{base}/{unit.code}/{role}")
            )
    stale = "|".join(STALE_PIPELINE_ALERTS)
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", "unit", "timer"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": OPS_RECEIVER,
                    "matchers": [f'component="{COMPONENT_PIPELINE}"'],
                    "group_by": ["alertname"],
                },
                *unit_routes,
            ],
        },
        "inhibit_rules": [
            {
                # Same unit and timer: the page already says it all.
                "source_matchers": [
                    f'component="{COMPONENT_SLO}"',
                    f'severity="{SEVERITY_PAGE}"',
                ],
                "target_matchers": [
                    f'component="{COMPONENT_SLO}"',
                    f'severity=~"{SEVERITY_TICKET}|{SEVERITY_WARNING}"',
                ],
                "equal": ["unit", "timer"],
            },
            {
                # Stale pipeline: SLO numbers are wrong until it recovers, for every unit.
                "source_matchers": [
                    f'component="{COMPONENT_PIPELINE}"',
                    f'alertname=~"{stale}"',
                ],
                "target_matchers": [f'component="{COMPONENT_SLO}"'],
            },
        ],
        "receivers": receivers,
        "time_intervals": [
            {"name": name, "time_intervals": specs} for name, specs in time_intervals.items()
        ],
    }


def render_alertmanager_config(registry: Registry, webhook_base: str = DEFAULT_WEBHOOK_BASE) -> str:
    """The text of deploy/alertmanager/alertmanager.yml."""
    return generated_header("sigap alertmanager-config") + dump_yaml(
        build_alertmanager_config(registry, webhook_base)
    )
