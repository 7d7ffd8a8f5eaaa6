"""The report as Markdown: plain tables, readable in a terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sigap.core.feedback import BUCKETS, TimeLost
from sigap.reports import render_causes
from sigap.reports.data import (
    COUNT_KEYS,
    LIST_LIMIT,
    OFFICER_ABOUT,
    OFFICER_COUNT_KEYS,
    OFFICER_PHASES,
    LeagueReport,
    Restatement,
    Score,
    UnitReport,
    trend_spans,
)
from sigap.reports.text import (
    BUCKET_LABELS,
    COUNT_LABELS,
    MISSING,
    OFFICER_TIME_NOTE,
    OFFICER_TREND_NOTE,
    PHASE_LABELS,
    TIMER_LABELS,
    achieved,
    achievement_summary,
    band,
    hours,
    indicator_cell,
    indicator_label,
    listed_of,
    measure,
    moment,
    officer_status,
    officer_time_excluded,
    officer_trend_cells,
    percent,
    ranking_rule,
    restatement_reason,
    revision_text,
    share_achieved,
    standing_note,
    table_status,
    time_cell,
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, rows), ""]


def _cut_note(shown: int, total: int) -> list[str]:
    note = listed_of(shown, total)
    return [f"*{note}.*", ""] if note else []


def _kpi_rows(score: Score) -> list[list[str]]:
    return [
        [
            indicator_label(i.name),
            measure(i.realisation, i.unit_of_measure),
            measure(i.target, i.unit_of_measure),
            percent(i.achievement_percent),
            achieved(i.achieved),
        ]
        for i in score.indicators
    ]


def _score_table(
    title: str,
    scores: Sequence[Score],
    names: Sequence[str],
    subject_names: Mapping[str, str] | None = None,
) -> list[str]:
    if not scores:
        return [f"### {title}", "", "Nothing in this period.", ""]
    header = ["", "received", "resolved", *(indicator_label(n) for n in names)]
    rows = []
    for score in scores:
        subject = score.subject
        if subject_names and subject in subject_names:
            subject = f"{subject}: {subject_names[subject]}"
        cells = [subject, str(score.value("received")), str(score.value("resolved"))]
        for name in names:
            indicator = score.indicator(name)
            cells.append(indicator_cell(indicator))
        rows.append(cells)
    status = table_status((score.subject, score) for score in scores)
    if all(score.revision is None for score in scores):
        status = "Computed from the stored complaint views for this report (not persisted)."
    return [f"### {title}", "", status, "", *_table(header, rows)]


def _percent_of(share: float | None) -> float | None:
    return None if share is None else 100 * share


def _time_lost(title: str, lost: TimeLost) -> list[str]:
    lines = [f"**{title}** ({lost.complaints} complaint(s))", ""]
    if not lost.complaints:
        return [*lines, "None.", ""]
    rows = [
        [
            BUCKET_LABELS[b],
            hours(lost.seconds[b]),
            hours(lost.mean_seconds(b)),
            percent(_percent_of(lost.share(b))),
        ]
        for b in BUCKETS
    ]
    return [*lines, *_table(["where", "total", "mean per complaint", "share"], rows)]


def render_unit(report: UnitReport) -> str:
    score = report.score
    lines = [
        f"# SIGAP report: {report.unit_name} ({report.unit}), {report.period}",
        "",
        f"Period {report.period} ({report.kind}, from {moment(report.begin_epoch)} to "
        f"{moment(report.end_epoch)}). Score: {revision_text(score)}. Data up to "
        f"{moment(report.watermark)}.",
        "",
        "## KPIs against targets (IKU)",
        "",
    ]
    if score is None:
        lines += ["No score is persisted for this unit and period.", ""]
    else:
        lines += [
            f"{achievement_summary(score)}.",
            "",
            *_table(
                ["indicator", "realisation", "target", "achievement", "achieved"],
                _kpi_rows(score),
            ),
            *_table(
                ["count", "value"],
                [[COUNT_LABELS[k], str(score.value(k))] for k in COUNT_KEYS if k in score.values],
            ),
        ]
    lines += ["## Trend", ""]
    trend_header = ["period", "revision", "received", "resolved"]
    trend_header += [indicator_label(n) for n in report.indicator_names]
    trend_rows = []
    for span in trend_spans(report.trend):
        s = span.score
        if s is None:
            trend_rows.append([span.label, "nothing persisted", *[""] * (len(trend_header) - 2)])
            continue
        cells = [
            span.label,
            MISSING if s.revision is None else str(s.revision),
            str(s.value("received")),
            str(s.value("resolved")),
        ]
        for name in report.indicator_names:
            indicator = s.indicator(name)
            cells.append(MISSING if indicator is None else percent(indicator.achievement_percent))
        trend_rows.append(cells)
    lines += [
        "Achievement % of each indicator, previous periods first. "
        + table_status((p.period, p.score) for p in report.trend),
        "",
        *_table(trend_header, trend_rows),
    ]
    lines += [
        "## Breakdown",
        "",
        *_score_table(
            "By category", report.categories, report.indicator_names, report.category_names
        ),
        *_score_table("By channel", report.channels, report.indicator_names),
        *_officers(report),
    ]
    lines += ["## Missed targets and where the time went", ""]
    if score is not None and score.missed_indicators:
        names = ", ".join(indicator_label(i.name) for i in score.missed_indicators)
        lines += [f"Indicators not achieved: {names}.", ""]
    elif score is not None:
        lines += ["Every indicator with a realisation was achieved.", ""]
    feedback = report.feedback
    if feedback is None:
        lines += ["No complaint views are stored for this unit and period.", ""]
        return "\n".join(
            [*lines, *_restatements(report.restatements), *render_causes.markdown(report)]
        )
    lines += [
        f"{len(feedback.missed)} timer(s) missed in the period; "
        f"{feedback.transfers_away} transfer(s) away.",
        "",
        *_time_lost("Complaints with a missed target", feedback.time_lost_missed),
        *_time_lost("All complaints decided in the period", feedback.time_lost_all),
    ]
    if feedback.missed:
        shown = feedback.missed[:LIST_LIMIT]
        lines += [
            "### Missed targets, most overdue first",
            "",
            *_cut_note(len(shown), len(feedback.missed)),
            *_table(
                ["complaint id", "timer", "deadline", "overdue"],
                [
                    [
                        d.complaint_id,
                        TIMER_LABELS[d.timer],
                        moment(d.deadline),
                        hours(d.overdue_seconds),
                    ]
                    for d in shown
                ],
            ),
        ]
    lines += ["### Longest-overdue open complaints", ""]
    if feedback.overdue:
        overdue = feedback.overdue[:LIST_LIMIT]
        lines += _cut_note(len(overdue), len(feedback.overdue))
        lines += _table(
            ["complaint id", "timer", "deadline", "overdue"],
            [
                [
                    o.complaint_id,
                    TIMER_LABELS[o.timer],
                    moment(o.deadline),
                    hours(o.overdue_seconds),
                ]
                for o in overdue
            ],
        )
    else:
        lines += ["None: no open complaint past its target.", ""]
    return "\n".join([*lines, *_restatements(report.restatements), *render_causes.markdown(report)])


def _officers(report: UnitReport) -> list[str]:
    """`sigap report --officers`: each officer's score of the period (codes only)."""
    if report.officers is None:
        return []
    lines = ["## Officers", "", OFFICER_ABOUT, "", officer_status(report.officers), ""]
    if not report.officers:
        return [*lines, *_officer_trend(report), *_officer_time(report)]
    header = [
        "officer",
        *(COUNT_LABELS[key] for key in OFFICER_COUNT_KEYS),
        *(indicator_label(n) for n in report.indicator_names),
    ]
    rows = [
        [
            score.subject,
            *(str(score.value(key)) for key in OFFICER_COUNT_KEYS),
            *(indicator_cell(score.indicator(n)) for n in report.indicator_names),
        ]
        for score in report.officers
    ]
    note = "Each indicator: realisation (achievement % of the unit's target)."
    return [
        *lines,
        note,
        "",
        *_table(header, rows),
        *_officer_trend(report),
        *_officer_time(report),
    ]


def _officer_trend(report: UnitReport) -> list[str]:
    if not report.officer_trend:
        return []
    lines = ["### Officer trend, last quarters", "", OFFICER_TREND_NOTE, ""]
    header = [
        "officer",
        "quarter",
        "received",
        "resolved",
        "missed",
        *(indicator_label(n) for n in report.indicator_names),
        "overall",
    ]
    rows = []
    for trend in report.officer_trend:
        for point in trend.points:
            s = point.score
            if s is None:
                rows.append([trend.officer, point.period, "nothing stored"])
                rows[-1] += [""] * (len(header) - 3)
                continue
            rows.append(
                [trend.officer, point.period, *officer_trend_cells(s, report.indicator_names)]
            )
    return [*lines, *_table(header, rows)]


def _officer_time(report: UnitReport) -> list[str]:
    time = report.officer_time
    if time is None:
        return []
    lines = [
        f"### Where the officers' time went ({time.complaints} complaint(s))",
        "",
        OFFICER_TIME_NOTE,
        "",
    ]
    excluded = officer_time_excluded(time.without_officer_data)
    if excluded:
        lines += [excluded, ""]
    if not time.seconds:
        return [*lines, "None.", ""]
    header = ["officer", *(PHASE_LABELS[p] for p in OFFICER_PHASES), "held"]
    rows = [
        [
            officer,
            *(time_cell(phases.get(p, 0.0), time.share(officer, p)) for p in OFFICER_PHASES),
            hours(time.held(officer)),
        ]
        for officer, phases in time.seconds.items()
    ]
    held = time.unit_held
    rows.append(
        [
            "all officers (the unit)",
            *(
                time_cell(time.unit_seconds(p), time.unit_seconds(p) / held if held > 0 else None)
                for p in OFFICER_PHASES
            ),
            hours(held),
        ]
    )
    return [*lines, *_table(header, rows)]


def _restatements(restatements: Sequence[Restatement]) -> list[str]:
    """Changes after the official close, beside the official figures (never instead)."""
    if not restatements:
        return []
    lines = [
        "",
        "## Restatements after the official close",
        "",
        "The figures above are the official ones (what the log held at the period's close). "
        "Changes since then, shown here beside them:",
        "",
    ]
    rows = [
        [
            r.score.unit,
            r.score.subject,
            str(r.score.revision),
            ", ".join(r.changed),
            restatement_reason(r.appended_after_close, r.registry_version),
        ]
        for r in restatements
    ]
    return lines + _table(["unit", "category", "revision", "changed", "why"], rows)


def render_league(report: LeagueReport) -> str:
    lines = [
        f"# SIGAP league table, {report.period}",
        "",
        f"{report.period} ({report.kind}). {ranking_rule(report)}",
        "",
        table_status((row.unit, row.score) for row in report.rows),
        "",
    ]
    header = [
        "rank",
        "unit",
        "name",
        "achieved",
        "worst",
        "geometric mean",
        "decided timers",
        "within target (band)",
        "note",
        "revision",
    ]
    header += [indicator_label(n) for n in report.indicator_names]
    rows = []
    for row in report.rows:
        s, standing = row.score, row.standing
        cells = [
            MISSING if row.rank is None else str(row.rank),
            row.unit,
            row.unit_name,
            share_achieved(standing),
            percent(None if standing is None else standing.worst_achievement),
            percent(None if standing is None else standing.balanced_achievement),
            MISSING if standing is None else str(standing.decided),
            band(standing),
            standing_note(standing, report) or MISSING,
            MISSING if s is None or s.revision is None else str(s.revision),
        ]
        for name in report.indicator_names:
            indicator = None if s is None else s.indicator(name)
            cells.append(indicator_cell(indicator))
        rows.append(cells)
    return "\n".join([*lines, *_table(header, rows), *_restatements(report.restatements)])
