"""Labels and number formats shared by the HTML, Markdown and CSV renderers."""

from __future__ import annotations

from datetime import UTC, datetime

from core.periods import JAKARTA
from reports.data import Indicator, Score

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
    if score.revision == 0 or not score.final:
        return f"revision {score.revision}, provisional (the period is not final yet)"
    return f"revision {score.revision}, final"


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
