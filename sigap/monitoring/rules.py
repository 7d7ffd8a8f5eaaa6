"""Prometheus recording and alerting rules, generated from the unit registry (slok/sloth style).

`sigap rules` writes the result to deploy/prometheus/sigap-rules.yml.

SLI: for each unit and timer (first response, resolution) the share of complaints that
missed their target, from ``sigap_complaint_sla_total{outcome}``; each complaint is counted once
per timer, when it is stopped or when its deadline passes, whichever comes first, so a miss
is counted the moment it happens. ``sigap:complaint_sla_error_ratio:rate<window>`` records
that share over each window for every unit at once; ``sigap:complaint_sla_objective:ratio``
records each unit's objective from the registry so dashboards can compare against it.

Alerts (Google SRE workbook, "Alerting on SLOs"): burn rate = error ratio / (1 - objective).
One rule per unit and timer, with the unit's own objective written into the threshold:

- ``Sigap<Timer>FastBurn`` (severity page): 14.4x over 1h and 5m, or 6x over 6h and 30m;
- ``Sigap<Timer>SlowBurn`` (severity ticket): 3x over 1d and 2h, or 1x over 3d and 6h.

At low volume the short windows are usually empty (0/0 is NaN, which never fires), so
``SigapComplaintsPastTarget`` / ``SigapComplaintsNearTarget`` alert on the open-complaint
gauges directly. Pipeline alerts say when the numbers themselves cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from metrics.names import (
    COMPLAINTS_CREATED,
    CONSUMER_LAG,
    DEADLINES_AFTER_BREAK,
    ESCALATED,
    EVENTS_PROCESSED,
    EVENTS_REJECTED,
    OPEN_PAST_TARGET,
    OUTCOMES,
    SCORE_WRITER_LAG,
    SLA,
    THRESHOLDS,
    TIMERS,
    VIEWS_FAILED,
)
from sigap.core.complaint_state import DUPLICATE_EVENT_ID
from sigap.core.registry import UNKNOWN_UNIT, Registry, Unit
from sigap.monitoring import (
    DEFAULT_API_URL,
    DEFAULT_DOCS_URL,
    dump_yaml,
    generated_header,
    runbook_url,
    worklist_url,
)

__all__ = [
    "ALERT_CONSUMER_LAG",
    "ALERT_DEAD_LETTERS",
    "ALERT_DUPLICATE_EVENTS",
    "ALERT_EVENTS_STALLED",
    "ALERT_HALF_TARGET",
    "ALERT_HOLIDAY_CLIFF",
    "ALERT_NEAR_TARGET",
    "ALERT_PAST_TARGET",
    "ALERT_SCORES_BEHIND",
    "ALERT_SCORE_WRITER_DOWN",
    "ALERT_UNKNOWN_UNIT",
    "ALERT_VIEWS_FAILED",
    "ALERT_WORKER_DOWN",
    "BUDGET_REMAINING_RECORD",
    "BURN_POLICIES",
    "COMPONENT_PIPELINE",
    "COMPONENT_SLO",
    "ESCALATION_SHARE_RECORD",
    "OBJECTIVE_RECORD",
    "SCORE_WRITER_JOB",
    "SLI_WINDOWS",
    "SLO_PERIOD",
    "SLO_PERIOD_DAYS",
    "STALE_PIPELINE_ALERTS",
    "WORKER_JOB",
    "AlertSpec",
    "BurnCondition",
    "BurnPolicy",
    "PipelineSettings",
    "alert_catalogue",
    "build_rules",
    "burn_alert_name",
    "error_ratio_record",
    "render_rules",
]

WORKER_JOB: Final = "sigap-worker"
SCORE_WRITER_JOB: Final = "sigap-score-writer"
SLO_PERIOD_DAYS: Final = 30
SLO_PERIOD: Final = f"{SLO_PERIOD_DAYS}d"
# Every window a burn-rate condition uses, plus the SLO period for the remaining budget.
SLI_WINDOWS: Final = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", SLO_PERIOD)
OBJECTIVE_RECORD: Final = "sigap:complaint_sla_objective:ratio"
BUDGET_REMAINING_RECORD: Final = f"sigap:complaint_sla_error_budget_remaining:ratio{SLO_PERIOD}"
# The escalation share the mayor judges units by: escalations / complaints received, 30 days.
ESCALATION_SHARE_RECORD: Final = f"sigap:complaint_escalation_share:ratio{SLO_PERIOD}"

COMPONENT_SLO: Final = "slo"
COMPONENT_PIPELINE: Final = "pipeline"
SEVERITY_PAGE: Final = "page"
SEVERITY_TICKET: Final = "ticket"
SEVERITY_WARNING: Final = "warning"

ALERT_PAST_TARGET: Final = "SigapComplaintsPastTarget"
ALERT_NEAR_TARGET: Final = "SigapComplaintsNearTarget"
ALERT_HALF_TARGET: Final = "SigapComplaintsHalfTarget"
ALERT_HOLIDAY_CLIFF: Final = "SigapHolidayCliff"
ALERT_WORKER_DOWN: Final = "SigapWorkerDown"
ALERT_EVENTS_STALLED: Final = "SigapEventsStalled"
ALERT_CONSUMER_LAG: Final = "SigapConsumerLagGrowing"
ALERT_DEAD_LETTERS: Final = "SigapEventsDeadLettered"
ALERT_DUPLICATE_EVENTS: Final = "SigapDuplicateEventsSustained"
ALERT_UNKNOWN_UNIT: Final = "SigapUnknownUnit"
ALERT_VIEWS_FAILED: Final = "SigapUnitViewsFailed"
ALERT_SCORE_WRITER_DOWN: Final = "SigapScoreWriterDown"
ALERT_SCORES_BEHIND: Final = "SigapScoresBehind"
# While one of these fires the SLO numbers are not trustworthy (Alertmanager inhibits them).
STALE_PIPELINE_ALERTS: Final = (ALERT_WORKER_DOWN, ALERT_EVENTS_STALLED)

_MISSED: Final = "missed"
assert _MISSED in OUTCOMES
_PAST: Final = "1"
_NEAR: Final = "0.75"
_HALF: Final = "0.5"
assert _PAST in THRESHOLDS and _NEAR in THRESHOLDS
_TIMER_TITLES: Final = {"response": "first-response", "resolution": "resolution"}
assert set(_TIMER_TITLES) == set(TIMERS)

_SLA_TOTAL: Final = f"{SLA}_total"


def error_ratio_record(window: str) -> str:
    """Name of the recorded share of missed targets over ``window``, by unit and timer."""
    return f"sigap:complaint_sla_error_ratio:rate{window}"


@dataclass(frozen=True, slots=True)
class BurnCondition:
    """Fire when the burn rate exceeds ``factor`` over both windows."""

    factor: float
    long_window: str
    short_window: str


@dataclass(frozen=True, slots=True)
class BurnPolicy:
    """One multiwindow alert: any of its conditions fires it."""

    suffix: str
    severity: str
    conditions: tuple[BurnCondition, ...]


BURN_POLICIES: Final = (
    BurnPolicy(
        "FastBurn",
        SEVERITY_PAGE,
        (BurnCondition(14.4, "1h", "5m"), BurnCondition(6, "6h", "30m")),
    ),
    BurnPolicy(
        "SlowBurn",
        SEVERITY_TICKET,
        (BurnCondition(3, "1d", "2h"), BurnCondition(1, "3d", "6h")),
    ),
)


def burn_alert_name(timer: str, policy: BurnPolicy) -> str:
    """``SigapResponseFastBurn``, ``SigapResolutionSlowBurn``, ..."""
    return f"Sigap{timer.capitalize()}{policy.suffix}"


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """Tunables of the pipeline alerts (PromQL durations)."""

    # No accepted event for this long means the worker is stuck (or nothing is published).
    stall_window: str = "30m"
    stall_for: str = "5m"
    # Lag alerts need both a backlog and a backlog that keeps growing.
    lag_threshold: int = 1000
    lag_window: str = "15m"
    lag_for: str = "10m"
    dead_letter_window: str = "10m"
    # Redelivered duplicates come in a burst after each restart or rebalance: only duplicates
    # in every dead_letter_window for this long (a producer resending, or a crash loop) alert.
    duplicates_for: str = "1h"
    worker_down_for: str = "2m"
    unknown_unit_window: str = "1h"
    # The persisted scores wait for the score writer: not urgent (nothing is lost, its
    # offsets stay uncommitted), but evaluations read them.
    score_writer_down_for: str = "10m"
    # Views waiting at every scrape for this long, and not fewer at the end: the writer is
    # stuck (docs/delivery.md, P13) or slower than the worker.
    scores_behind_window: str = "30m"
    scores_behind_for: str = "5m"


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """An alert the rules can raise (for docs, routing tests and the catalogue)."""

    name: str
    severity: str
    component: str
    per_unit: bool


def alert_catalogue() -> tuple[AlertSpec, ...]:
    """Every alert name the generated rules use, whatever the registry holds."""
    burn = tuple(
        AlertSpec(burn_alert_name(timer, policy), policy.severity, COMPONENT_SLO, True)
        for timer in TIMERS
        for policy in BURN_POLICIES
    )
    return (
        *burn,
        AlertSpec(ALERT_PAST_TARGET, SEVERITY_TICKET, COMPONENT_SLO, True),
        AlertSpec(ALERT_NEAR_TARGET, SEVERITY_WARNING, COMPONENT_SLO, True),
        AlertSpec(ALERT_HALF_TARGET, SEVERITY_WARNING, COMPONENT_SLO, True),
        AlertSpec(ALERT_HOLIDAY_CLIFF, SEVERITY_TICKET, COMPONENT_SLO, True),
        AlertSpec(ALERT_WORKER_DOWN, SEVERITY_PAGE, COMPONENT_PIPELINE, False),
        AlertSpec(ALERT_EVENTS_STALLED, SEVERITY_PAGE, COMPONENT_PIPELINE, False),
        AlertSpec(ALERT_CONSUMER_LAG, SEVERITY_TICKET, COMPONENT_PIPELINE, False),
        AlertSpec(ALERT_DEAD_LETTERS, SEVERITY_TICKET, COMPONENT_PIPELINE, False),
        AlertSpec(ALERT_DUPLICATE_EVENTS, SEVERITY_TICKET, COMPONENT_PIPELINE, False),
        AlertSpec(ALERT_UNKNOWN_UNIT, SEVERITY_TICKET, COMPONENT_PIPELINE, False),
        AlertSpec(ALERT_VIEWS_FAILED, SEVERITY_TICKET, COMPONENT_PIPELINE, False),
        AlertSpec(ALERT_SCORE_WRITER_DOWN, SEVERITY_TICKET, COMPONENT_PIPELINE, False),
        AlertSpec(ALERT_SCORES_BEHIND, SEVERITY_TICKET, COMPONENT_PIPELINE, False),
    )


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.4g}%"


def _matcher(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


# --------------------------------------------------------------------------------------
# Recording rules
# --------------------------------------------------------------------------------------


def _error_ratio_rules() -> Iterator[dict[str, Any]]:
    for window in SLI_WINDOWS:
        # Sum first: each worker exports only the partitions it owns.
        expr = (
            f'sum by (unit, timer) (rate({_SLA_TOTAL}{{outcome="{_MISSED}"}}[{window}]))\n'
            f"/\n"
            f"sum by (unit, timer) (rate({_SLA_TOTAL}[{window}]))\n"
        )
        yield {"record": error_ratio_record(window), "expr": expr}


def _objective_rules(registry: Registry) -> Iterator[dict[str, Any]]:
    for unit in registry.units.values():
        for timer in TIMERS:
            yield {
                "record": OBJECTIVE_RECORD,
                "expr": f"vector({unit.objective!r})",
                "labels": {"unit": unit.code, "timer": timer},
            }


def _budget_rule() -> dict[str, Any]:
    expr = (
        f"1 - (\n"
        f"  {error_ratio_record(SLO_PERIOD)}\n"
        f"  / on (unit, timer)\n"
        f"  (1 - {OBJECTIVE_RECORD})\n"
        f")\n"
    )
    return {"record": BUDGET_REMAINING_RECORD, "expr": expr}


# --------------------------------------------------------------------------------------
# Alerting rules
# --------------------------------------------------------------------------------------


def _burn_expr(unit: Unit, timer: str, policy: BurnPolicy) -> str:
    selector = _matcher({"unit": unit.code, "timer": timer})
    # The objective stays visible in the expression: the threshold is factor x budget.
    budget = f"(1 - {unit.objective!r})"
    clauses = []
    for cond in policy.conditions:
        threshold = f"({cond.factor:g} * {budget})"
        clauses.append(
            "(\n"
            f"  {error_ratio_record(cond.long_window)}{selector} > {threshold}\n"
            "  and\n"
            f"  {error_ratio_record(cond.short_window)}{selector} > {threshold}\n"
            ")"
        )
    return "\nor\n".join(clauses) + "\n"


def _burn_alert(unit: Unit, timer: str, policy: BurnPolicy) -> dict[str, Any]:
    name = burn_alert_name(timer, policy)
    title = _TIMER_TITLES[timer]
    speed = "fast" if policy.severity == SEVERITY_PAGE else "steadily"
    conditions = ", or ".join(
        f"{c.factor:g}x over {c.long_window} and {c.short_window}" for c in policy.conditions
    )
    fastest = max(c.factor for c in policy.conditions)
    return {
        "alert": name,
        "expr": _burn_expr(unit, timer, policy),
        "labels": {
            "severity": policy.severity,
            "component": COMPONENT_SLO,
            "unit": unit.code,
            "timer": timer,
        },
        "annotations": {
            "summary": f"{unit.name} ({unit.code}): {title} error budget burning {speed}",
            "description": (
                f"Complaints of {unit.code} miss the {title} target faster than the "
                f"{_percent(unit.objective)} objective allows: burn rate {conditions}. "
                f"At {fastest:g}x the {SLO_PERIOD} error budget is gone in "
                f"{SLO_PERIOD_DAYS / fastest:.3g} days."
            ),
        },
    }


def _open_past_target_alerts() -> list[dict[str, Any]]:
    past = f'{OPEN_PAST_TARGET}{{threshold="{_PAST}"}}'
    near = f'{OPEN_PAST_TARGET}{{threshold="{_NEAR}"}}'
    return [
        {
            "alert": ALERT_PAST_TARGET,
            # Summed over workers: each exports only the complaints of its partitions.
            "expr": f"sum by (unit, timer) ({past}) > 0\n",
            "for": "5m",
            "labels": {"severity": SEVERITY_TICKET, "component": COMPONENT_SLO},
            "annotations": {
                "summary": (
                    "{{ $labels.unit }}: {{ $value }} open complaint(s) past their "
                    "{{ $labels.timer }} target"
                ),
                "description": (
                    "Open complaints of {{ $labels.unit }} have run past their "
                    "{{ $labels.timer }} target (each one is already a miss). Works at any "
                    "volume, unlike the burn-rate alerts."
                ),
            },
        },
        {
            "alert": ALERT_NEAR_TARGET,
            # The gauge counts complaints past *at least* a threshold, so the ones between
            # 75% and 100% are the difference: those can still be saved.
            "expr": (f"sum by (unit, timer) ({near})\n- sum by (unit, timer) ({past})\n> 0\n"),
            "for": "1m",
            "labels": {"severity": SEVERITY_WARNING, "component": COMPONENT_SLO},
            "annotations": {
                "summary": (
                    "{{ $labels.unit }}: {{ $value }} open complaint(s) past 75% of their "
                    "{{ $labels.timer }} target"
                ),
                "description": (
                    "Open complaints of {{ $labels.unit }} have used more than 75% of their "
                    "{{ $labels.timer }} target and are not past it yet: act now to meet it."
                ),
            },
        },
    ]


def _pipeline_alerts(p: PipelineSettings) -> list[dict[str, Any]]:
    processed = f"{EVENTS_PROCESSED}_total"
    rejected = f"{EVENTS_REJECTED}_total"
    bad = f'{rejected}{{reason!="{DUPLICATE_EVENT_ID}"}}'
    duplicates = f'{rejected}{{reason="{DUPLICATE_EVENT_ID}"}}'
    views_failed = f"{VIEWS_FAILED}_total"
    created = f"{COMPLAINTS_CREATED}_total"
    up = f'up{{job="{WORKER_JOB}"}}'
    writer_up = f'up{{job="{SCORE_WRITER_JOB}"}}'
    writer_lag = SCORE_WRITER_LAG
    labels_page = {"severity": SEVERITY_PAGE, "component": COMPONENT_PIPELINE}
    labels_ticket = {"severity": SEVERITY_TICKET, "component": COMPONENT_PIPELINE}
    return [
        {
            "alert": ALERT_WORKER_DOWN,
            # absent(): a Prometheus that lost the target altogether monitors nothing.
            "expr": f"{up} == 0\nor\nabsent({up})\n",
            "for": p.worker_down_for,
            "labels": labels_page,
            "annotations": {
                "summary": "SIGAP worker is down or not scraped",
                "description": (
                    f"Prometheus cannot scrape job {WORKER_JOB} (or has no such target): no "
                    "complaint metrics are updated and the SLO alerts are held back."
                ),
            },
        },
        {
            "alert": ALERT_EVENTS_STALLED,
            "expr": f"sum(increase({processed}[{p.stall_window}])) == 0\n",
            "for": p.stall_for,
            "labels": labels_page,
            "annotations": {
                "summary": f"SIGAP processed no complaint event in {p.stall_window}",
                "description": (
                    "The worker is up but accepts no events: it is stuck, or nothing is "
                    "published to the events topic. Responses are not being recorded, so "
                    "deadlines pass as misses; the SLO alerts are held back."
                ),
            },
        },
        {
            "alert": ALERT_CONSUMER_LAG,
            "expr": (
                f"sum({CONSUMER_LAG}) > {p.lag_threshold}\n"
                f"and\n"
                f"sum(deriv({CONSUMER_LAG}[{p.lag_window}])) > 0\n"
            ),
            "for": p.lag_for,
            "labels": labels_ticket,
            "annotations": {
                "summary": "SIGAP consumer lag is {{ $value }} messages and growing",
                "description": (
                    f"The worker is more than {p.lag_threshold} messages behind the events "
                    f"topic and the backlog grew over the last {p.lag_window}: the KPIs "
                    "trail reality."
                ),
            },
        },
        {
            "alert": ALERT_DEAD_LETTERS,
            # The second half catches a reason whose counter series is new (increase()
            # needs two samples, so it misses a series that starts at 1). Duplicates are
            # left to ALERT_DUPLICATE_EVENTS: every restart redelivers some.
            "expr": (
                f"sum by (reason) (increase({bad}[{p.dead_letter_window}])) > 0\n"
                f"or\n"
                f"sum by (reason) ({bad} unless {bad} offset "
                f"{p.dead_letter_window}) > 0\n"
            ),
            "labels": labels_ticket,
            "annotations": {
                "summary": "SIGAP dead-lettered events (reason {{ $labels.reason }})",
                "description": (
                    f"Events were rejected in the last {p.dead_letter_window} and sent to "
                    "the dead-letter topic; the complaints they belong to are not measured."
                ),
            },
        },
        {
            "alert": ALERT_DUPLICATE_EVENTS,
            "expr": (
                f"sum(increase({duplicates}[{p.dead_letter_window}])) > 0\n"
                f"or\n"
                f"sum({duplicates} unless {duplicates} offset {p.dead_letter_window}) > 0\n"
            ),
            "for": p.duplicates_for,
            "labels": labels_ticket,
            "annotations": {
                "summary": "SIGAP keeps receiving duplicate events",
                "description": (
                    f"Events with an event_id already seen arrived in every {p.dead_letter_window}"
                    f" for {p.duplicates_for}. A restart or a rebalance redelivers a short burst;"
                    " a steady stream means a producer resending events, or a worker that keeps"
                    " restarting."
                ),
            },
        },
        {
            "alert": ALERT_UNKNOWN_UNIT,
            "expr": (
                f'sum(increase({created}{{unit="{UNKNOWN_UNIT}"}}[{p.unknown_unit_window}])) > 0\n'
            ),
            "labels": labels_ticket,
            "annotations": {
                "summary": "Complaints for a unit missing from the registry",
                "description": (
                    f'Complaints were counted under unit="{UNKNOWN_UNIT}" in the last '
                    f"{p.unknown_unit_window}: their unit code is not in the registry, so "
                    "no unit is alerted about them."
                ),
            },
        },
        {
            "alert": ALERT_VIEWS_FAILED,
            "expr": (
                f"sum(increase({views_failed}[{p.dead_letter_window}])) > 0\n"
                f"or\n"
                f"sum({views_failed} unless {views_failed} offset {p.dead_letter_window}) > 0\n"
            ),
            "labels": labels_ticket,
            "annotations": {
                "summary": "SIGAP skipped unit views it failed on",
                "description": (
                    f"The unit stage failed on unit views in the last {p.dead_letter_window} "
                    "(a bug in the KPI code) and skipped them: the live KPIs of their units may"
                    " be off. The complaints' events are kept; the persisted scores are"
                    " computed separately."
                ),
            },
        },
        {
            "alert": ALERT_SCORE_WRITER_DOWN,
            "expr": f"{writer_up} == 0\nor\nabsent({writer_up})\n",
            "for": p.score_writer_down_for,
            "labels": labels_ticket,
            "annotations": {
                "summary": "SIGAP score writer is down or not scraped",
                "description": (
                    f"Prometheus cannot scrape job {SCORE_WRITER_JOB} (or has no such "
                    "target): the period scores in the database are not being updated. "
                    "Nothing is lost: the views wait on their topic."
                ),
            },
        },
        {
            "alert": ALERT_SCORES_BEHIND,
            "expr": (
                f"min_over_time({writer_lag}[{p.scores_behind_window}]) > 0\n"
                f"and\n"
                f"deriv({writer_lag}[{p.scores_behind_window}]) >= 0\n"
            ),
            "for": p.scores_behind_for,
            "labels": labels_ticket,
            "annotations": {
                "summary": "SIGAP score writer is behind and not catching up",
                "description": (
                    "Views records (at least {{ $value }}) have waited for the score writer at "
                    f"every scrape for {p.scores_behind_window} and are not fewer: the period "
                    "scores in the database trail the live KPIs. The writer is stuck or "
                    "slower than the worker."
                ),
            },
        },
    ]


# --------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------


# The worklist level each unit alert links to: the complaints it is about.
_WORKLIST_LEVELS: Final = {
    ALERT_PAST_TARGET: _PAST,
    ALERT_NEAR_TARGET: _NEAR,
    ALERT_HALF_TARGET: _HALF,
}
# The share of the allowed time each open-target alert is about (its `threshold` label):
# Alertmanager routes on it to the people the registry's `escalation.notify` names.
THRESHOLD_OF_ALERT: Final = {
    ALERT_HALF_TARGET: _HALF,
    ALERT_NEAR_TARGET: _NEAR,
    ALERT_PAST_TARGET: _PAST,
}


def _half_target_alert() -> dict[str, Any]:
    half = f'{OPEN_PAST_TARGET}{{threshold="{_HALF}"}}'
    near = f'{OPEN_PAST_TARGET}{{threshold="{_NEAR}"}}'
    return {
        "alert": ALERT_HALF_TARGET,
        "expr": f"sum by (unit, timer) ({half})\n- sum by (unit, timer) ({near})\n> 0\n",
        "for": "5m",
        "labels": {"severity": SEVERITY_WARNING, "component": COMPONENT_SLO},
        "annotations": {
            "summary": (
                "{{ $labels.unit }}: {{ $value }} open complaint(s) past half of their "
                "{{ $labels.timer }} target"
            ),
            "description": (
                "Open complaints of {{ $labels.unit }} have used half of their "
                "{{ $labels.timer }} target: the duty officer plans them into today's work."
            ),
        },
    }


def _holiday_cliff_alert() -> dict[str, Any]:
    """A ticket per unit and timer while deadlines pile up behind a coming long break."""
    return {
        "alert": ALERT_HOLIDAY_CLIFF,
        "expr": f"sum by (unit, timer) ({DEADLINES_AFTER_BREAK}) > 0\n",
        "for": "15m",
        "labels": {"severity": SEVERITY_TICKET, "component": COMPONENT_SLO},
        "annotations": {
            "summary": (
                "{{ $labels.unit }}: {{ $value }} open {{ $labels.timer }} deadline(s) fall due "
                "right after the coming long break"
            ),
            "description": (
                "A long break (holidays, cuti bersama) starts within 5 working days and "
                "{{ $value }} open complaint(s) of {{ $labels.unit }} are due from its first "
                "day to the 3rd working day after it: clear them before the break."
            ),
        },
    }


def _escalation_share_rule() -> dict[str, Any]:
    escalated = f"{ESCALATED}_total"
    created = f"{COMPLAINTS_CREATED}_total"
    return {
        "record": ESCALATION_SHARE_RECORD,
        "expr": (
            f"sum by (unit) (increase({escalated}[{SLO_PERIOD}]))\n"
            f"/\n"
            f"sum by (unit) (increase({created}[{SLO_PERIOD}]))\n"
        ),
    }


def _label_thresholds(groups: list[dict[str, Any]]) -> None:
    for group in groups:
        for rule in group["rules"]:
            threshold = THRESHOLD_OF_ALERT.get(rule.get("alert", ""))
            if threshold is not None:
                rule["labels"]["threshold"] = threshold


def _link_worklists(groups: list[dict[str, Any]], api_url: str) -> None:
    """Every alert about a unit links to that unit's overdue worklist (``worklist_url``)."""
    for group in groups:
        for rule in group["rules"]:
            if "alert" not in rule or rule["labels"].get("component") != COMPONENT_SLO:
                continue
            unit = rule["labels"].get("unit", "{{ $labels.unit }}")
            level = _WORKLIST_LEVELS.get(rule["alert"])
            rule["annotations"]["worklist_url"] = worklist_url(api_url, unit, level)


def _link_runbooks(groups: list[dict[str, Any]], docs_url: str) -> None:
    """Every alert links to its runbook (``runbook_url``, absolute: docs/runbooks.md)."""
    for group in groups:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["annotations"]["runbook_url"] = runbook_url(rule["alert"], docs_url)


def build_rules(
    registry: Registry,
    pipeline: PipelineSettings | None = None,
    api_url: str = DEFAULT_API_URL,
    docs_url: str = DEFAULT_DOCS_URL,
) -> dict[str, Any]:
    """The rule file as data: ``{"groups": [...]}``, one SLO alert group per unit."""
    pipeline = pipeline or PipelineSettings()
    groups: list[dict[str, Any]] = [
        {
            "name": "sigap-sli",
            "rules": [*_error_ratio_rules(), *_objective_rules(registry), _budget_rule()],
        }
    ]
    for unit in registry.units.values():
        groups.append(
            {
                "name": f"sigap-slo-{unit.code}",
                "rules": [
                    _burn_alert(unit, timer, policy) for timer in TIMERS for policy in BURN_POLICIES
                ],
            }
        )
    groups.append(
        {
            "name": "sigap-complaints",
            "rules": [*_open_past_target_alerts(), _half_target_alert(), _holiday_cliff_alert()],
        }
    )
    groups.append({"name": "sigap-escalation", "rules": [_escalation_share_rule()]})
    groups.append({"name": "sigap-pipeline", "rules": _pipeline_alerts(pipeline)})
    _link_runbooks(groups, docs_url)
    _label_thresholds(groups)
    _link_worklists(groups, api_url)
    return {"groups": groups}


def render_rules(
    registry: Registry,
    pipeline: PipelineSettings | None = None,
    api_url: str = DEFAULT_API_URL,
    docs_url: str = DEFAULT_DOCS_URL,
) -> str:
    """The text of deploy/prometheus/sigap-rules.yml."""
    rules = build_rules(registry, pipeline, api_url, docs_url)
    return generated_header("sigap rules") + dump_yaml(rules)
