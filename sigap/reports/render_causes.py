"""The report sections of docs/causes.md (why targets were missed, routing, corrective
actions, findings) in Markdown and as CSV rows; the HTML is templates/causes.html.j2."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sigap.reports.data import UnitReport
from sigap.reports.text import number, percent

CAUSE_LABELS = {"unexplained": "not explained"}


def cause_label(code: str) -> str:
    return CAUSE_LABELS.get(code, code.replace("_", " "))


def hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:,.1f} h"


def share_percent(share: float | None) -> str:
    return percent(None if share is None else 100 * share)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return [line(header), line(["---"] * len(header)), *map(line, rows), ""]


def markdown(report: UnitReport) -> list[str]:
    lines: list[str] = []
    causes, routing = report.causes, report.routing
    if causes is not None:
        lines += ["## Why targets were missed", ""]
        if causes.misses:
            lines += _table(
                ["cause", "first response", "resolution", "total", "complaints"],
                [
                    [
                        cause_label(c.cause),
                        str(c.response),
                        str(c.resolution),
                        str(c.total),
                        ", ".join(c.complaint_ids),
                    ]
                    for c in causes.misses
                ],
            )
        else:
            lines += ["No miss in the period.", ""]
        lines += [
            f"Explained: {causes.explained}; not explained: {causes.unexplained}; excused by "
            f"an upheld objection: {causes.excused}; objections pending: "
            f"{causes.objections_pending}; extensions: {causes.extensions} "
            f"({causes.extension_days} working days).",
            "",
        ]
        if causes.paused:
            lines += ["### Paused time by reason", ""]
            lines += _table(
                ["reason", "paused", "complaints"],
                [
                    [cause_label(p.reason), hours(p.seconds), str(p.complaints)]
                    for p in causes.paused
                ],
            )
        if causes.excluded:
            lines += ["### City-declared exclusions", ""]
            lines += [
                "Deadlines moved by the excluded time: "
                + "; ".join(
                    f"{hours(e.seconds)} ({cause_label(e.reason)}, {e.complaints} complaint(s))"
                    for e in causes.excluded
                )
                + ".",
                "",
            ]
    if routing is not None:
        lines += ["## Routing (no wrong door)", ""]
        lines += [
            f"First-touch resolution: {share_percent(routing.first_touch_share)} "
            f"({routing.first_touch_resolved} of {routing.first_touch_total}). Ping-pong "
            f"(sent away and straight back): {routing.ping_pongs}. Time lost at wrong units "
            f"charged to this unit: {hours(routing.misrouting_seconds)} "
            f"({routing.misrouted_complaints} complaint(s)).",
            "",
        ]
        if routing.transfers:
            lines += _table(
                ["to", "reason", "transfers"],
                [[t.to_unit, cause_label(t.reason), str(t.count)] for t in routing.transfers],
            )
    if report.actions:
        lines += ["## Corrective actions", ""]
        lines += _table(
            ["#", "cause", "owner", "due", "status", "misses before", "misses after"],
            [
                [
                    str(a.action_id),
                    cause_label(a.cause),
                    a.owner,
                    a.due,
                    a.status,
                    number(a.misses_before, 0),
                    number(a.misses_after, 0),
                ]
                for a in report.actions
            ],
        )
    if report.findings:
        lines += ["## Findings", ""]
        lines += [f"{i}. {f.text} (see {f.anchor})" for i, f in enumerate(report.findings, 1)]
        lines.append("")
    return lines


def csv_rows(report: UnitReport) -> Iterator[dict[str, Any]]:
    """Sections `cause`, `paused`, `excluded`, `transfer`, `routing`, `action`, `finding`."""
    period = report.period
    base = {"report_period": period, "unit": report.unit, "period": period}
    causes, routing = report.causes, report.routing
    if causes is not None:
        for c in causes.misses:
            for timer in ("response", "resolution"):
                yield {
                    **base,
                    "section": "cause",
                    "subject": c.cause,
                    "metric": f"{timer}_missed",
                    "value": getattr(c, timer),
                }
        for metric in ("excused", "objections_pending", "extensions", "extension_days"):
            yield {
                **base,
                "section": "cause",
                "subject": "*",
                "metric": metric,
                "value": getattr(causes, metric),
            }
        for section, items in (("paused", causes.paused), ("excluded", causes.excluded)):
            for item in items:
                yield {
                    **base,
                    "section": section,
                    "subject": item.reason,
                    "metric": "seconds",
                    "value": item.seconds,
                }
    if routing is not None:
        for t in routing.transfers:
            yield {
                **base,
                "section": "transfer",
                "subject": f"{t.from_unit}->{t.to_unit}",
                "metric": t.reason,
                "value": t.count,
            }
        for metric, value in (
            ("first_touch_resolved", routing.first_touch_resolved),
            ("first_touch_total", routing.first_touch_total),
            ("first_touch_share", routing.first_touch_share),
            ("ping_pongs", routing.ping_pongs),
            ("misrouting_seconds", routing.misrouting_seconds),
            ("misrouted_complaints", routing.misrouted_complaints),
        ):
            yield {**base, "section": "routing", "subject": "*", "metric": metric, "value": value}
    for a in report.actions:
        for metric, value in (("misses_before", a.misses_before), ("misses_after", a.misses_after)):
            yield {
                **base,
                "section": "action",
                "subject": str(a.action_id),
                "metric": f"{a.cause}:{metric}",
                "value": value,
            }
    for index, finding in enumerate(report.findings, 1):
        yield {
            **base,
            "section": "finding",
            "subject": str(index),
            "metric": finding.key,
            "value": finding.text,
        }
