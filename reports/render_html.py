"""The report as one self-contained HTML file: jinja2 templates (autoescaped) from
reports/templates, charts as inline SVG (reports.charts); no script, stylesheet, font or
image is loaded from anywhere, so the file opens offline and can be mailed as it is."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from core.feedback import BUCKETS
from reports import charts, render_causes, text
from reports.data import COUNT_KEYS, LeagueReport, UnitReport


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _unit_charts(report: UnitReport) -> dict[str, Markup]:
    labels = [point.period for point in report.trend]
    achievement = {
        text.indicator_label(name): [
            None
            if point.score is None or point.score.indicator(name) is None
            else point.score.indicator(name).achievement_percent  # type: ignore[union-attr]
            for point in report.trend
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
                    None if p.score is None else p.score.value(key) for p in report.trend
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


def render_unit(report: UnitReport) -> str:
    template = _environment().get_template("unit.html.j2")
    return template.render(
        r=report,
        s=report.score,
        t=text,
        charts=SimpleNamespace(**{"time_lost": Markup(""), **_unit_charts(report)}),
        count_keys=COUNT_KEYS,
        buckets=BUCKETS,
        causes=render_causes,
    )


def render_league(report: LeagueReport) -> str:
    labels = [row.unit for row in report.rows]
    values = [None if row.score is None else row.score.overall_achievement for row in report.rows]
    league = charts.hbar_chart(
        "Overall IKU achievement (%)", labels, values, reference=100.0, unit="%"
    )
    template = _environment().get_template("league.html.j2")
    return template.render(r=report, t=text, charts=SimpleNamespace(league=league))
