"""One entry point for `sigap report`: gather the data, render it in the asked format."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Literal

from sigap.core.periods import PeriodKind
from sigap.core.registry import Registry
from sigap.reports import render_csv, render_html, render_md
from sigap.reports.data import (
    DEFAULT_TREND_PERIODS,
    LeagueReport,
    UnitReport,
    league_report,
    unit_report,
)
from sigap.storage.database import make_engine

Format = Literal["html", "md", "csv"]
FORMATS: tuple[Format, ...] = ("html", "md", "csv")


def render_report(
    database_url: str,
    registry: Registry,
    *,
    unit: str | None,
    kind: PeriodKind,
    start: date,
    output_format: str,
    trend_periods: int = DEFAULT_TREND_PERIODS,
    officers: bool = False,
) -> str:
    """The report of `unit` (with its officer section when `officers`), or the league table
    of every unit when `unit` is None."""
    renderers: dict[str, tuple[Callable[[UnitReport], str], Callable[[LeagueReport], str]]] = {
        "html": (render_html.render_unit, render_html.render_league),
        "md": (render_md.render_unit, render_md.render_league),
        "csv": (render_csv.render_unit, render_csv.render_league),
    }
    if output_format not in renderers:
        raise ValueError(f"unknown report format {output_format!r}: use one of {FORMATS}")
    render_unit, render_league = renderers[output_format]
    engine = make_engine(database_url)
    try:
        if unit is None:
            return render_league(league_report(engine, registry, kind, start))
        return render_unit(
            unit_report(
                engine,
                registry,
                unit,
                kind,
                start,
                trend_periods=trend_periods,
                officers=officers,
            )
        )
    finally:
        engine.dispose()
