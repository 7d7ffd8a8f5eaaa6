"""Labels and number formats shared by the HTML, Markdown and CSV renderers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from sigap.core.periods import JAKARTA
from sigap.core.ranking import Standing
from sigap.reports.data import Indicator, LeagueReport, Score, overall_achievement

MISSING = "-"  # a value that does not exist (no realisation, no score)

INDICATOR_LABELS = {
    "response_within_target": "First response within target",
    "resolution_within_target": "Resolution within target",
    "response_p90_working_hours": "First response p90 (working hours)",
    "resolution_p90_working_hours": "Resolution p90 (working hours)",
    "rating_mean": "Mean citizen rating",
}
BUCKET_LABELS = {
    "before_arrival": "with other units before reaching this one (transfers)",
    "before_first_response": "at this unit, before the first response",
    "after_first_response": "at this unit, after the first response",
    "paused": "paused (waiting for the citizen)",
}
# Where an officer's time went (core.officer_view.PHASES).
PHASE_LABELS = {
    "before_response": "before the first response",
    "after_response": "after the first response",
    "before_transfer": "waiting for transfer (stints ended by a transfer away)",
}
OFFICER_TIME_NOTE = (
    "Wall time each officer held the complaints with a timer of the unit decided in the "
    'period (the complaints of the unit\'s "all complaints decided in the period"), while '
    "the unit's resolution clock ran (paused time and time at other units left out), over "
    "the whole of each complaint's stay at the unit. The officers' times add up to the "
    "unit's row."
)
OFFICER_TREND_NOTE = (
    "Each officer's stored quarter scores over all categories, for the quarter holding the "
    "period and the three before it: missed is response and resolution missed; each "
    "indicator's achievement %; overall, the mean of those achievements (the figure the "
    "grades are given on)."
)
TIMER_LABELS = {"response": "first response", "resolution": "resolution"}
COUNT_LABELS = {
    "received": "received",
    "responded": "responded",
    "resolved": "resolved",
    "open_at_end": "open at end",
    "response_met": "response met",
    "response_missed": "response missed",
    "resolution_met": "resolution met",
    "resolution_missed": "resolution missed",
    "transfers_away": "transferred away",
    "reopened": "reopened",
    "rating_count": "ratings",
}


def indicator_label(name: str) -> str:
    return INDICATOR_LABELS.get(name, name.replace("_", " "))


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return MISSING
    return f"{value:,.{digits}f}"


def measure(value: float | None, unit_of_measure: str) -> str:
    """A realisation or target in its unit: "66.67%", "14.00 h", "4.00 of 5"."""
    if value is None:
        return MISSING
    if unit_of_measure == "%":
        return f"{value:,.2f}%"
    if unit_of_measure == "1-5":
        return f"{value:,.2f} of 5"
    return f"{value:,.2f} {unit_of_measure}".rstrip()


def percent(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}%"


def hours(seconds: float | None) -> str:
    return MISSING if seconds is None else f"{seconds / 3600:,.1f} h"


def achieved(value: bool | None) -> str:
    return MISSING if value is None else ("yes" if value else "no")


def revision_text(score: Score | None) -> str:
    if score is None:
        return "no persisted score"
    if score.revision is None:
        return "computed for this report"
    if score.status == "official":
        return "official (the revision at the period's close)"
    if score.revision == 0 or not score.final:
        return f"revision {score.revision}, provisional (the period is not final yet)"
    if score.status == "provisional":
        return f"revision {score.revision}, final by the watermark, not officially closed yet"
    return f"revision {score.revision}, final"


def restatement_reason(appended: Mapping[str, int], registry_version: str) -> str:
    """Why a closed period was restated, e.g. "events appended after the close: rated 1,
    responded 2; registry 2026.2"."""
    events = ", ".join(f"{kind} {count}" for kind, count in sorted(appended.items()))
    return f"events appended after the close: {events or 'none'}; registry {registry_version}"


def moment(epoch: float | None) -> str:
    """An instant in Jakarta time, e.g. 2026-11-27 14:05 WIB."""
    if epoch is None:
        return MISSING
    return datetime.fromtimestamp(epoch, UTC).astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB")


def indicator_cell(indicator: Indicator | None) -> str:
    """An indicator's realisation with its achievement, e.g. "93.50 (98.4%)"."""
    if indicator is None:
        return MISSING
    return f"{number(indicator.realisation, 2)} ({percent(indicator.achievement_percent)})"


def table_status(scores: Iterable[tuple[str, Score | None]]) -> str:
    """The provisional/final status of a table's persisted scores, said once for the table:
    `scores` are (row label, score) pairs; rows without a persisted score are left out."""
    final: list[str] = []
    provisional: list[str] = []
    official: list[str] = []
    for label, score in scores:
        if score is None or score.revision is None:
            continue
        if score.status == "official":
            official.append(label)
            continue
        (final if score.final and score.revision > 0 else provisional).append(label)
    if official and not final and not provisional:
        return (
            "Every score in this table is official: the revision at its period's close "
            "(later changes are listed under Restatements)."
        )
    if official:
        final += official
    if not final and not provisional:
        return "No persisted score in this table."
    if not provisional:
        return "Every score in this table is final."
    if not final:
        return (
            "Every score in this table is provisional: its period is not final yet, so the "
            "figures may still change."
        )
    return f"Scores final, except provisional (may still change): {', '.join(provisional)}."


def listed_of(shown: int, total: int, where: str = "all in the CSV") -> str:
    """The note under a list cut short, e.g. "20 of 27 shown; all in the CSV"; "" when the
    list is complete."""
    return "" if shown >= total else f"{shown} of {total} shown; {where}"


def standing_note(standing: Standing | None, report: LeagueReport) -> str:
    """Why a listed unit has no rank, or which ranks a ranked one is not distinguishable
    from."""
    if standing is None:
        return "not ranked: no persisted score"
    if standing.status == "too_few_timers":
        return (
            f"not ranked: {standing.decided} decided timer(s), fewer than "
            f"{report.min_decided_timers}"
        )
    if standing.status == "no_indicator":
        return "not ranked: no indicator with a realisation"
    if standing.not_distinguishable_from:
        ranks = ", ".join(str(r) for r in standing.not_distinguishable_from)
        return f"not distinguishable from rank {ranks}"
    return ""


def band(standing: Standing | None) -> str:
    """The within-target share and its Wilson band, e.g. "80.0% (49.0-94.3%)"."""
    if standing is None or standing.within_target_share is None or standing.band is None:
        return MISSING
    low, high = standing.band
    return f"{100 * standing.within_target_share:.1f}% ({100 * low:.1f}-{100 * high:.1f}%)"


def share_achieved(standing: Standing | None) -> str:
    """Indicators achieved of those with a realisation, e.g. "4/5"."""
    if standing is None or not standing.indicators_known:
        return MISSING
    return f"{standing.indicators_achieved}/{standing.indicators_known}"


def ranking_rule(report: LeagueReport) -> str:
    """The ranking rule in one paragraph (core.ranking; docs/scores.md, "Ranking")."""
    return (
        f"Ranked: units with at least {report.min_decided_timers} decided timers in the "
        "period, ordered by the share of their IKU indicators achieved, then by their worst "
        "indicator's achievement, then by the geometric mean of their achievements (each "
        "capped); equal units share a rank. Band: the "
        f"{100 * report.confidence:g}% Wilson interval of the share of decided timers within "
        "target; units whose bands overlap are not distinguishable."
    )


def achievement_summary(score: Score) -> str:
    """E.g. "3 of 5 indicators achieved; worst: First response within target at 70.2%"."""
    text = f"{score.achieved_count} of {score.realised_count} indicators achieved"
    if score.realised_count < len(score.indicators):
        text += f" ({len(score.indicators) - score.realised_count} without a realisation)"
    worst = score.worst_indicator
    if worst is not None:
        text += f"; worst: {indicator_label(worst.name)} at {percent(worst.achievement_percent)}"
    return text


def officer_status(scores: Sequence[Score]) -> str:
    """Whether the officer rows are final (they have no revisions)."""
    if not scores:
        return "No officer score is stored for this unit and period."
    if all(score.final for score in scores):
        return "Every officer score in this table is final."
    return (
        "The officer scores are provisional: the period is not final yet, so the figures "
        "may still change."
    )


def officer_time_excluded(count: int) -> str:
    """How many complaints of the period were not split among officers."""
    if not count:
        return ""
    return (
        f"{count} complaint(s) decided in the period carried no officer code and no "
        "hand-over: their time is not split among officers (see the unit's figures below)."
    )


def time_cell(seconds: float, share: float | None) -> str:
    """E.g. "1.5 h (40.0%)"."""
    return f"{hours(seconds)} ({percent(None if share is None else 100 * share)})"


def officer_trend_cells(score: Score, names: Sequence[str]) -> list[str]:
    """A quarter of the officer trend: received, resolved, missed, each indicator's
    achievement %, overall achievement %."""
    missed = int(score.value("response_missed") or 0) + int(score.value("resolution_missed") or 0)
    cells = [str(score.value("received")), str(score.value("resolved")), str(missed)]
    for name in names:
        indicator = score.indicator(name)
        cells.append(MISSING if indicator is None else percent(indicator.achievement_percent))
    return [*cells, percent(overall_achievement(score))]
