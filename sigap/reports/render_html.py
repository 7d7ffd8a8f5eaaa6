"""The report as one self-contained HTML file: jinja2 templates (autoescaped) from
sigap/reports/templates, charts as inline SVG (reports.charts); no script, stylesheet, font or
image is loaded from anywhere, so the file opens offline and can be mailed as it is."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sigap.core.feedback import BUCKETS
from sigap.reports import charts, render_causes, text
from sigap.reports.data import (
    COUNT_KEYS,
    LIST_LIMIT,
    OFFICER_ABOUT,
    OFFICER_COUNT_KEYS,
    OFFICER_PHASES,
    LeagueReport,
    Score,
    UnitReport,
    charted_trend,
    trend_spans,
)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("sigap.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _unit_charts(report: UnitReport) -> dict[str, Markup]:
    trend = charted_trend(report.trend)
    labels = [point.period for point in trend]
    achievement = {
        text.indicator_label(name): [
            None
            if point.score is None or point.score.indicator(name) is None
            else point.score.indicator(name).achievement_percent  # type: ignore[union-attr]
            for point in trend
        ]
        for name in report.indicator_names
    }
    found = {
        "trend": charts.line_chart(
            "Achievement per indicator (%)",
            labels,
            achievement,
            y_label="% of target",
            reference=100.0,
        ),
        "volume": charts.bar_chart(
            "Complaints per period",
            labels,
            {
                text.COUNT_LABELS[key]: [
                    None if p.score is None else p.score.value(key) for p in trend
                ]
                for key in ("received", "resolved", "response_missed", "resolution_missed")
            },
        ),
    }
    if report.feedback is not None:
        rows = {
            label: {text.BUCKET_LABELS[b]: lost.seconds[b] / 3600 for b in BUCKETS}
            for label, lost in (
                ("with a missed target", report.feedback.time_lost_missed),
                ("all decided", report.feedback.time_lost_all),
            )
        }
        found["time_lost"] = charts.stacked_bar_chart("Where the time went (hours)", rows)
    return found


def _breakdown_status(scores: tuple[Score, ...]) -> str:
    if scores and all(score.revision is None for score in scores):
        return "Computed from the stored complaint views for this report (not persisted)."
    return text.table_status((score.subject, score) for score in scores)


def render_unit(report: UnitReport) -> str:
    template = _environment().get_template("unit.html.j2")
    return template.render(
        r=report,
        s=report.score,
        t=text,
        trend_spans=trend_spans(report.trend),
        trend_status=text.table_status((p.period, p.score) for p in report.trend),
        statuses={
            "categories": _breakdown_status(report.categories),
            "channels": _breakdown_status(report.channels),
        },
        limit=LIST_LIMIT,
        charts=SimpleNamespace(**{"time_lost": Markup(""), **_unit_charts(report)}),
        count_keys=COUNT_KEYS,
        officer_count_keys=OFFICER_COUNT_KEYS,
        officer_about=OFFICER_ABOUT,
        officer_phases=OFFICER_PHASES,
        buckets=BUCKETS,
        causes=render_causes,
    )


def render_league(report: LeagueReport) -> str:
    labels = [row.unit if row.rank is None else f"{row.rank}. {row.unit}" for row in report.rows]
    standings = [row.standing for row in report.rows]
    values = [
        None if s is None or s.within_target_share is None else 100 * s.within_target_share
        for s in standings
    ]
    bands = [
        None if s is None or s.band is None else (100 * s.band[0], 100 * s.band[1])
        for s in standings
    ]
    league = charts.hbar_chart(
        f"Decided timers within target (%), with the {100 * report.confidence:g}% band",
        labels,
        values,
        unit="%",
        bands=bands,
    )
    template = _environment().get_template("league.html.j2")
    status = text.table_status((row.unit, row.score) for row in report.rows)
    return template.render(r=report, t=text, status=status, charts=SimpleNamespace(league=league))
