"""The report as CSV: one row per figure ("long" format), for spreadsheets and scripts.

Columns (COLUMNS):
  report_period  the period reported on, e.g. 2026-11
  unit           unit code
  section        kpi | count | trend | category | channel | officer | officer_trend |
                 officer_time | time_lost | missed | overdue | league
  period         the period the row is about (the trend's previous periods; else report_period)
  subject        "*" (all categories), a category, a channel, an officer code (officer,
                 officer_trend, officer_time, with --officers; metric `about` says who the data
                 is about; officer_time `*`: the unit's), "missed"/"all"
                 (time_lost), a complaint id (missed, overdue), or the rank (league)
  metric         an IKU indicator name, a count name (received, resolved, ...), a time bucket
                 (before_arrival, before_first_response, after_first_response, paused), an
                 officer's phase (officer_time: before_response, after_response,
                 before_transfer, held; complaints), overall_achievement_percent, a
                 timer (missed, overdue), or a ranking figure (league: ranking_status,
                 indicators_achieved, indicators_with_realisation,
                 worst_achievement_percent, geometric_mean_achievement_percent,
                 decided_timers, within_target_share, within_target_band_low/high,
                 not_distinguishable_from_ranks: space-separated ranks)
  value          the number: an indicator's realisation, a count, or seconds (time_lost,
                 missed, overdue: wall seconds; overdue means past the deadline)
  target         the indicator's target (indicators only)
  achievement_percent, achieved   the indicator's achievement (indicators only)
  revision, final                 the persisted score's revision and whether it is final
                                  (empty for figures computed for the report)
  status          official (the period is closed: its official revision), provisional (not
                  closed yet), restatement (section restatement: a change after the close,
                  beside the official figures), empty for figures computed for the report
  changed, reason (section restatement) the columns that changed; the events appended after
                  the close by type, and the registry version
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

from sigap.core.feedback import BUCKETS
from sigap.core.scoring import ALL
from sigap.reports import render_causes
from sigap.reports.data import (
    COUNT_KEYS,
    OFFICER_ABOUT,
    OFFICER_PHASES,
    LeagueReport,
    Restatement,
    Score,
    UnitReport,
    overall_achievement,
)
from sigap.reports.text import restatement_reason

COLUMNS = (
    "report_period",
    "unit",
    "section",
    "period",
    "subject",
    "metric",
    "value",
    "target",
    "achievement_percent",
    "achieved",
    "revision",
    "final",
    "status",
    "changed",
    "reason",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _score_rows(
    report_period: str, section: str, score: Score, *, indicators: bool = True, counts: bool
) -> Iterator[dict[str, Any]]:
    base = {
        "report_period": report_period,
        "unit": score.unit,
        "section": section,
        "period": score.period,
        "subject": score.subject,
        "revision": score.revision,
        "final": score.final,
        "status": score.status,
    }
    for indicator in score.indicators if indicators else ():
        yield {
            **base,
            "metric": indicator.name,
            "value": indicator.realisation,
            "target": indicator.target,
            "achievement_percent": indicator.achievement_percent,
            "achieved": indicator.achieved,
        }
    if counts:
        for key in COUNT_KEYS:
            if key in score.values:
                yield {**base, "metric": key, "value": score.values[key]}


def _officer_trend_rows(report: UnitReport) -> Iterator[dict[str, Any]]:
    """Section `officer_trend`: each officer's stored quarter scores (`period` the quarter),
    with `overall_achievement_percent`."""
    for trend in report.officer_trend:
        for point in trend.points:
            if point.score is None:
                continue
            yield from _score_rows(report.period, "officer_trend", point.score, counts=True)
            yield {
                "report_period": report.period,
                "unit": report.unit,
                "section": "officer_trend",
                "period": point.period,
                "subject": trend.officer,
                "metric": "overall_achievement_percent",
                "value": overall_achievement(point.score),
                "final": point.score.final,
            }


def _officer_time_rows(report: UnitReport) -> Iterator[dict[str, Any]]:
    """Section `officer_time`: seconds per officer and phase, `held` their sum; subject `*`
    the unit's (every officer's), with `complaints` and `complaints_without_officer_data`."""
    time = report.officer_time
    if time is None:
        return
    base = {
        "report_period": report.period,
        "unit": report.unit,
        "section": "officer_time",
        "period": report.period,
    }
    for officer, phases in time.seconds.items():
        for phase in OFFICER_PHASES:
            yield {**base, "subject": officer, "metric": phase, "value": phases.get(phase, 0.0)}
        yield {**base, "subject": officer, "metric": "held", "value": time.held(officer)}
    for phase in OFFICER_PHASES:
        yield {**base, "subject": ALL, "metric": phase, "value": time.unit_seconds(phase)}
    yield {**base, "subject": ALL, "metric": "held", "value": time.unit_held}
    yield {**base, "subject": ALL, "metric": "complaints", "value": time.complaints}
    yield {
        **base,
        "subject": ALL,
        "metric": "complaints_without_officer_data",
        "value": time.without_officer_data,
    }


def unit_rows(report: UnitReport) -> Iterator[dict[str, Any]]:
    period = report.period
    if report.score is not None:
        yield from _score_rows(period, "kpi", report.score, counts=False)
        yield from _score_rows(period, "count", report.score, indicators=False, counts=True)
    for point in report.trend[:-1]:
        if point.score is not None:
            yield from _score_rows(period, "trend", point.score, counts=True)
    for score in report.categories:
        yield from _score_rows(period, "category", score, counts=True)
    for score in report.channels:
        yield from _score_rows(period, "channel", score, counts=True)
    if report.officers is not None:
        yield {
            "report_period": period,
            "unit": report.unit,
            "section": "officer",
            "period": period,
            "subject": "",
            "metric": "about",
            "value": OFFICER_ABOUT,
        }
        for score in report.officers:
            yield from _score_rows(period, "officer", score, counts=True)
        yield from _officer_trend_rows(report)
        yield from _officer_time_rows(report)
    yield from render_causes.csv_rows(report)
    feedback = report.feedback
    if feedback is None:
        return
    base = {"report_period": period, "unit": report.unit, "period": period}
    for subject, lost in (("missed", feedback.time_lost_missed), ("all", feedback.time_lost_all)):
        for bucket in BUCKETS:
            yield {
                **base,
                "section": "time_lost",
                "subject": subject,
                "metric": bucket,
                "value": lost.seconds[bucket],
            }
    for decision in feedback.missed:
        yield {
            **base,
            "section": "missed",
            "subject": decision.complaint_id,
            "metric": decision.timer,
            "value": decision.overdue_seconds,
        }
    for overdue in feedback.overdue:
        yield {
            **base,
            "section": "overdue",
            "subject": overdue.complaint_id,
            "metric": overdue.timer,
            "value": overdue.overdue_seconds,
        }


def league_rows(report: LeagueReport) -> Iterator[dict[str, Any]]:
    for row in report.rows:
        score, standing = row.score, row.standing
        base = {
            "report_period": report.period,
            "unit": row.unit,
            "section": "league",
            "period": report.period,
            "subject": "" if row.rank is None else row.rank,
            "revision": None if score is None else score.revision,
            "final": None if score is None else score.final,
            "status": None if score is None else score.status,
        }
        yield {
            **base,
            "metric": "ranking_status",
            "value": "no_score" if standing is None else standing.status,
        }
        if standing is not None:
            band = standing.band
            for metric, value in (
                ("indicators_achieved", standing.indicators_achieved),
                ("indicators_with_realisation", standing.indicators_known),
                ("worst_achievement_percent", standing.worst_achievement),
                ("geometric_mean_achievement_percent", standing.balanced_achievement),
                ("decided_timers", standing.decided),
                ("within_target_share", standing.within_target_share),
                ("within_target_band_low", None if band is None else band[0]),
                ("within_target_band_high", None if band is None else band[1]),
                (
                    "not_distinguishable_from_ranks",
                    " ".join(str(r) for r in standing.not_distinguishable_from),
                ),
            ):
                yield {**base, "metric": metric, "value": value}
        if score is not None:
            for r in _score_rows(report.period, "league", score, counts=False):
                yield {**r, "subject": base["subject"]}


def restatement_rows(
    report_period: str, restatements: Iterable[Restatement]
) -> Iterator[dict[str, Any]]:
    for restatement in restatements:
        for row in _score_rows(report_period, "restatement", restatement.score, counts=True):
            yield {
                **row,
                "status": "restatement",
                "changed": " ".join(restatement.changed),
                "reason": restatement_reason(
                    restatement.appended_after_close, restatement.registry_version
                ),
            }


def _write(rows: Iterator[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: _cell(row.get(column)) for column in COLUMNS})
    return buffer.getvalue()


def render_unit(report: UnitReport) -> str:
    rows = chain(unit_rows(report), restatement_rows(report.period, report.restatements))
    return _write(rows)


def render_league(report: LeagueReport) -> str:
    rows = chain(league_rows(report), restatement_rows(report.period, report.restatements))
    return _write(rows)
