"""The findings that end a unit's report: plain sentences stated from its figures, each
linked to the table holding the numbers behind it (an anchor id of the report).

Pure: built from the period's figures (the missed IKU indicators, core.feedback,
core.causes, and the open corrective actions), no I/O. Order: the indicators missed, the
cause that accounts for most misses, the stage where the time went, the transfers that
cost most, the open actions. A finding says only what its figures say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sigap.core.cause_settings import UNEXPLAINED
from sigap.core.causes import CauseAnalysis, RoutingLedger
from sigap.core.feedback import BUCKETS, Feedback

__all__ = ["Finding", "IndicatorMiss", "OpenAction", "unit_findings"]

_STAGES = {
    "before_arrival": "with other units before it reached this unit",
    "before_first_response": "before the first response",
    "after_first_response": "after the first response",
    "paused": "paused (waiting)",
}


@dataclass(frozen=True, slots=True)
class Finding:
    key: str  # indicator | cause | stage | routing | actions
    text: str
    anchor: str  # the id of the report table with the numbers behind it


@dataclass(frozen=True, slots=True)
class IndicatorMiss:
    name: str
    label: str
    realisation: float | None
    target: float
    unit_of_measure: str


@dataclass(frozen=True, slots=True)
class OpenAction:
    action_id: int
    cause: str
    due: str  # ISO date
    overdue: bool


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _number(value: float | None, unit_of_measure: str) -> str:
    if value is None:
        return "none"
    return f"{value:.1f}{'%' if unit_of_measure == '%' else ' ' + unit_of_measure}"


def _label(code: str) -> str:
    return code.replace("_", " ")


def unit_findings(
    *,
    indicators_missed: Sequence[IndicatorMiss],
    indicators_known: int,
    feedback: Feedback | None,
    causes: CauseAnalysis | None,
    routing: RoutingLedger | None,
    open_actions: Sequence[OpenAction] = (),
) -> tuple[Finding, ...]:
    found: list[Finding] = []
    if indicators_missed:
        parts = [
            f"{i.label} was {_number(i.realisation, i.unit_of_measure)} against a target of "
            f"{_number(i.target, i.unit_of_measure)}"
            for i in indicators_missed
        ]
        found.append(Finding("indicator", "Missed: " + "; ".join(parts) + ".", "kpis"))
    elif indicators_known:
        found.append(
            Finding("indicator", "Every indicator with a realisation was achieved.", "kpis")
        )
    if causes is not None and causes.missed:
        top = causes.misses[0]
        share = 100 * top.total / causes.missed
        tied = [c for c in causes.misses if c.total == top.total]
        if len(tied) > 1:
            names = ", ".join(_label(c.cause) for c in tied[:-1]) + f" and {_label(tied[-1].cause)}"
            text = f"{names} account for most misses, {top.total} each of {causes.missed}".replace(
                _label(UNEXPLAINED), "no explanation"
            )
        elif top.cause == UNEXPLAINED:
            text = (
                f"{top.total} of the {causes.missed} missed timers ({share:.0f}%) have no "
                "explanation from the unit"
            )
            explained = [c for c in causes.misses if c.explained]
            if explained:
                text += (
                    f"; among the explained ones, {_label(explained[0].cause)} accounts for "
                    f"most ({explained[0].total})"
                )
        else:
            text = (
                f"{_label(top.cause)} accounts for most misses: {top.total} of "
                f"{causes.missed} ({share:.0f}%)"
            )
        if causes.excused == 1:
            text += "; 1 more was excused by an upheld objection"
        elif causes.excused:
            text += f"; {causes.excused} more were excused by upheld objections"
        found.append(Finding("cause", text + ".", "causes"))
    if feedback is not None and feedback.time_lost_missed.complaints:
        lost = feedback.time_lost_missed
        stage = max(BUCKETS, key=lambda b: (lost.seconds[b], -BUCKETS.index(b)))
        stage_share = lost.share(stage)
        if stage_share is not None and lost.seconds[stage] > 0:
            found.append(
                Finding(
                    "stage",
                    f"In the {lost.complaints} complaint(s) with a missed target, most time "
                    f"({100 * stage_share:.0f}%, {_hours(lost.seconds[stage])}) went "
                    f"{_STAGES[stage]}.",
                    "time-lost-missed",
                )
            )
    if routing is not None and (routing.misrouting_seconds > 0 or routing.transfers):
        parts = []
        if routing.misrouting_seconds > 0:
            parts.append(
                f"complaints this unit sent to the wrong unit lost "
                f"{_hours(routing.misrouting_seconds)} before reaching the right one "
                f"({routing.misrouted_complaints} complaint(s))"
            )
        if routing.transfers:
            top_transfer = routing.transfers[0]
            parts.append(
                f"its most frequent transfer was to {top_transfer.to_unit} "
                f"({_label(top_transfer.reason)}, {top_transfer.count})"
            )
        if routing.ping_pongs:
            parts.append(f"{routing.ping_pongs} complaint(s) came straight back (ping-pong)")
        text = "; ".join(parts)
        found.append(Finding("routing", text[0].upper() + text[1:] + ".", "routing"))
    if open_actions:
        overdue = sum(1 for action in open_actions if action.overdue)
        listed = ", ".join(
            f"#{a.action_id} ({_label(a.cause)}, due {a.due})" for a in open_actions[:5]
        )
        text = f"{len(open_actions)} corrective action(s) open: {listed}"
        if overdue:
            text += f"; {overdue} past due"
        found.append(Finding("actions", text + ".", "actions"))
    return tuple(found)
