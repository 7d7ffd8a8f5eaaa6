"""What a report shows, gathered from the score database.

Scores are read as persisted (storage.score_queries.score_rows: the latest revision of each period,
with its revision number and whether it is final): the report shows the city's official
numbers, not a recomputation. Two parts are computed here from the stored unit views, with
the same core functions as the scores: the breakdown by channel (core.scoring.period_score
with `channel=`), which is not persisted, and the feedback (core.feedback: misses, where
the time went, overdue complaints). Reports carry complaint ids only, never text or names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sigap.core.actions import ActionEffect
from sigap.core.causes import CauseAnalysis, RoutingLedger, cause_analysis
from sigap.core.feedback import Feedback, unit_feedback
from sigap.core.findings import Finding, IndicatorMiss, OpenAction, unit_findings
from sigap.core.officer_scores import held_seconds
from sigap.core.officer_view import PHASES
from sigap.core.periods import (
    PeriodKind,
    format_period,
    period_end,
    period_start,
    period_start_epoch,
    previous_periods,
)
from sigap.core.predikat import achievement
from sigap.core.ranking import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_DECIDED_TIMERS,
    Candidate,
    IndicatorOutcome,
    Standing,
    rank_units,
)
from sigap.core.registry import OTHER_CATEGORY, Registry
from sigap.core.scoring import ALL, COUNT_COLUMNS, period_score
from sigap.core.unit_view import UnitView
from sigap.storage.actions import list_actions
from sigap.storage.cause_figures import cause_figures
from sigap.storage.officer_scores import officer_score_rows
from sigap.storage.official import closed_starts, official_rows
from sigap.storage.score_queries import score_rows, stored_views
from sigap.storage.scores import restored_watermark

DEFAULT_TREND_PERIODS = 6
# The Markdown and HTML reports list this many missed timers and overdue complaints, and say
# how many there are; the CSV has them all.
LIST_LIMIT = 20
NO_CHANNEL = "(none)"  # complaints whose `created` event named no channel

# The persisted counts shown in the tables, in this order (core.scoring.PeriodScore).
COUNT_KEYS: tuple[str, ...] = COUNT_COLUMNS
# The counts of the officer table, before the IKU indicators.
OFFICER_COUNT_KEYS: tuple[str, ...] = (
    "received",
    "resolved",
    "response_missed",
    "resolution_missed",
    "open_at_end",
)
UNASSIGNED = "unassigned"  # core.officer_view.UNASSIGNED
# The officer trend: the quarter holding the period's start and this many before it.
OFFICER_TREND_QUARTERS = 3
# Where an officer's time went (core.officer_view.OfficerView.held_seconds), in this order.
OFFICER_PHASES: tuple[str, ...] = PHASES
# Said wherever a report shows officer data (`sigap report --officers`): who it is about.
OFFICER_ABOUT = (
    "This section is about the unit's officers, identified by pseudonymous codes only: the "
    "mapping from codes to people is held by the city's HR system, not by SIGAP. "
    "`unassigned` counts the complaints that carried no officer code (not a person). "
    "Officer rows hold the score writer's latest computation (no revisions): they add up to "
    "the unit's latest figures."
)


@dataclass(frozen=True)
class Indicator:
    """One IKU indicator of a score (core.iku.IndicatorScore, as stored)."""

    name: str
    direction: str
    unit_of_measure: str
    realisation: float | None
    target: float
    achievement_percent: float | None
    achieved: bool | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Indicator:
        return cls(
            name=str(row["name"] if "name" in row else row["indicator"]),
            direction=str(row["direction"]),
            unit_of_measure=str(row["unit_of_measure"]),
            realisation=_float_or_none(row.get("realisation")),
            target=float(row["target"]),
            achievement_percent=_float_or_none(row.get("achievement_percent")),
            achieved=None if row.get("achieved") is None else bool(row["achieved"]),
        )


@dataclass(frozen=True)
class Score:
    """One period's score of a unit (one category, or one channel)."""

    unit: str
    subject: str  # "*" (all), a category, or a channel
    period: str  # the period's name, e.g. "2026-11"
    start: date
    revision: int | None  # None: computed for the report (channels), not persisted
    final: bool | None
    values: Mapping[str, Any]
    indicators: tuple[Indicator, ...]
    # "official" (the period is closed: its official revision, core.period_close),
    # "provisional" (not closed yet: the score writer's latest revision), or None (computed
    # for the report).
    status: str | None = None

    @property
    def achieved_count(self) -> int:
        return sum(1 for i in self.indicators if i.achieved)

    @property
    def realised_count(self) -> int:
        """Indicators with a realisation in the period (the others are neither achieved nor
        missed)."""
        return sum(1 for i in self.indicators if i.achieved is not None)

    @property
    def worst_indicator(self) -> Indicator | None:
        """The indicator with the lowest achievement % (the first of equals)."""
        known = [i for i in self.indicators if i.achievement_percent is not None]
        return min(known, key=lambda i: i.achievement_percent or 0.0) if known else None

    @property
    def missed_indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.achieved is False)

    def indicator(self, name: str) -> Indicator | None:
        return next((i for i in self.indicators if i.name == name), None)

    def value(self, key: str) -> Any:
        return self.values.get(key)


@dataclass(frozen=True)
class Restatement:
    """A change to a closed period after its official close, shown beside the official
    figures (never instead of them): the restated score, the columns that changed and why
    (the events appended after the close, by type; the registry version)."""

    score: Score
    changed: tuple[str, ...]
    appended_after_close: Mapping[str, int]
    registry_version: str


@dataclass(frozen=True)
class TrendPoint:
    period: str
    start: date
    score: Score | None  # None: nothing persisted for that period


@dataclass(frozen=True)
class TrendSpan:
    """A row of the trend table: one period, or a run of periods with nothing persisted."""

    first: str
    last: str
    score: Score | None  # None: nothing persisted from `first` to `last`

    @property
    def label(self) -> str:
        return self.first if self.first == self.last else f"{self.first} to {self.last}"


def trend_spans(trend: Sequence[TrendPoint]) -> tuple[TrendSpan, ...]:
    """The trend as table rows: each period with a score on its own row, each run of
    periods without one on a single row (so empty periods don't fill the page)."""
    spans: list[TrendSpan] = []
    for point in trend:
        previous = spans[-1] if spans else None
        if point.score is None and previous is not None and previous.score is None:
            spans[-1] = TrendSpan(previous.first, point.period, None)
        else:
            spans.append(TrendSpan(point.period, point.period, point.score))
    return tuple(spans)


def charted_trend(trend: Sequence[TrendPoint]) -> tuple[TrendPoint, ...]:
    """The trend as charted: from the first period with a score (the current period at
    least), so a unit's first months without data do not squeeze its chart."""
    first = next((n for n, p in enumerate(trend) if p.score is not None), len(trend) - 1)
    return tuple(trend[max(first, 0) :])


@dataclass(frozen=True)
class OfficerTime:
    """Where the officers' time went on the complaints with one of the unit's timers decided
    in the period (the unit section's "all complaints decided in the period"): each
    officer's wall time holding them while the unit's resolution clock ran, by phase
    (core.officer_scores.held_seconds, over the whole of each complaint's stay at the unit).
    Complaints without any officer code are not split among officers (not counted here)."""

    complaints: int  # decided in the period and carrying officer data
    without_officer_data: int  # decided in the period, no officer code and no hand-over
    seconds: Mapping[str, Mapping[str, float]]  # officer -> phase -> seconds

    def held(self, officer: str) -> float:
        return sum(self.seconds.get(officer, {}).values())

    def unit_seconds(self, phase: str) -> float:
        """The unit's figure: every officer's seconds of the phase."""
        return sum(phases.get(phase, 0.0) for phases in self.seconds.values())

    @property
    def unit_held(self) -> float:
        return sum(self.unit_seconds(phase) for phase in OFFICER_PHASES)

    def share(self, officer: str, phase: str) -> float | None:
        held = self.held(officer)
        return self.seconds.get(officer, {}).get(phase, 0.0) / held if held > 0 else None


@dataclass(frozen=True)
class OfficerTrend:
    """One officer's stored quarter scores (over all categories), oldest first; a point's
    score is None when nothing is stored for that quarter."""

    officer: str
    points: tuple[TrendPoint, ...]


def overall_achievement(score: Score | None) -> float | None:
    """The mean of the score's IKU achievement percentages (core.predikat.achievement, the
    figure the grades are given on)."""
    if score is None:
        return None
    return achievement({"achievement_percent": i.achievement_percent} for i in score.indicators)


@dataclass(frozen=True)
class UnitReport:
    unit: str
    unit_name: str
    kind: PeriodKind
    start: date
    period: str
    begin_epoch: float
    end_epoch: float
    watermark: float | None  # the latest event time among the stored views
    score: Score | None  # the period's persisted score over all categories
    trend: tuple[TrendPoint, ...]  # the previous periods, oldest first, then this one
    categories: tuple[Score, ...]
    channels: tuple[Score, ...]
    feedback: Feedback | None  # None without stored views (nothing to evaluate)
    indicator_names: tuple[str, ...] = field(default=())
    # docs/causes.md: misses by cause, paused/excluded time, the routing ledger, findings.
    causes: CauseAnalysis | None = None
    routing: RoutingLedger | None = None
    findings: tuple[Finding, ...] = ()
    actions: tuple[ActionEffect, ...] = ()
    # The categories' names and tiers from the registry's taxonomy, e.g.
    # {"roads_bridges": "Jalan dan jembatan (complex)"}; "other" for the rest.
    category_names: Mapping[str, str] = field(default_factory=dict)
    restatements: tuple[Restatement, ...] = ()
    # `sigap report --officers`: each officer's score of the period over all categories
    # (storage.officer_scores), `subject` the officer code; None: the section was not asked.
    officers: tuple[Score, ...] | None = None
    # With `officers`: each officer's last quarters, and where their time went.
    officer_trend: tuple[OfficerTrend, ...] = ()
    officer_time: OfficerTime | None = None


@dataclass(frozen=True)
class LeagueRow:
    unit: str
    unit_name: str
    score: Score | None
    standing: Standing | None  # None: no persisted score (listed last)

    @property
    def rank(self) -> int | None:
        """None: listed, not ranked (see `standing.status`, or no score)."""
        return None if self.standing is None else self.standing.rank


@dataclass(frozen=True)
class LeagueReport:
    kind: PeriodKind
    start: date
    period: str
    rows: tuple[LeagueRow, ...]
    indicator_names: tuple[str, ...]
    min_decided_timers: int = DEFAULT_MIN_DECIDED_TIMERS
    confidence: float = DEFAULT_CONFIDENCE
    restatements: tuple[Restatement, ...] = ()


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _score(
    unit: str,
    subject: str,
    kind: PeriodKind,
    start: date,
    data: Mapping[str, Any],
    revision: int | None,
    final: bool | None,
) -> Score:
    """A score from its JSON form (a stored row, or one computed): the columns and the
    indicators apart."""
    return Score(
        unit=unit,
        subject=subject,
        period=format_period(kind, start),
        start=start,
        revision=revision,
        final=final,
        values={k: v for k, v in data.items() if k != "indicators"},
        indicators=tuple(Indicator.from_row(i) for i in data.get("indicators", ())),
    )


def score_from_row(row: Mapping[str, Any], kind: PeriodKind, subject: str | None = None) -> Score:
    status = row.get("status")
    score = _score(
        str(row["unit"]),
        subject if subject is not None else str(row.get("category", ALL)),
        kind,
        date.fromisoformat(str(row["period_start"])),
        row,
        int(row["revision"]),
        bool(row["final"]) if "final" in row else status != "provisional",
    )
    return replace(score, status=None if status is None else str(status))


def report_rows(
    engine: Engine,
    kind: PeriodKind,
    *,
    units: Sequence[str] = (),
    category: str | None = ALL,
    start: date | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows a report shows, and the restatements of those periods. For a closed period
    (storage.official), its official rows: a (unit, category) without one had no activity
    by the close, so it has no official score (whatever happened after is a restatement);
    for an open period, the score writer's latest revision (storage.score_queries.score_rows),
    `status` "provisional"."""
    filters: dict[str, Any] = {"start": start, "date_from": date_from, "date_to": date_to}
    live = score_rows(engine, units, kind, category=category, **filters)
    stored = official_rows(engine, kind, units=units, category=category, **filters)
    closed = closed_starts(engine, kind, date_from=date_from or start, date_to=date_to or start)
    rows = [{**row, "status": "provisional"} for row in live if _start(row) not in closed]
    rows += [row for row in stored if row["status"] == "official"]
    rows.sort(
        key=lambda r: (str(r["period_start"]), r["unit"], r["category"] != ALL, r["category"])
    )
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in stored:
        if row["status"] == "restatement":
            latest[(str(row["period_start"]), row["unit"], row["category"])] = row
    return rows, list(latest.values())


def _start(row: Mapping[str, Any]) -> date:
    return date.fromisoformat(str(row["period_start"]))


def restatement_of(row: Mapping[str, Any], kind: PeriodKind) -> Restatement:
    reason = row.get("reason") or {}
    return Restatement(
        score=score_from_row(row, kind),
        changed=tuple(row.get("changed") or ()),
        appended_after_close=dict(reason.get("appended_after_close") or {}),
        registry_version=str(reason.get("registry_version", row.get("registry_version", ""))),
    )


def _computed_score(unit: str, subject: str, kind: PeriodKind, start: date, computed: Any) -> Score:
    return _score(unit, subject, kind, start, computed.as_json(), None, None)


def _names(scores: Iterable[Score | None]) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for score in scores:
        if score is not None:
            for indicator in score.indicators:
                names.setdefault(indicator.name, None)
    return tuple(names)


def channel_scores(
    unit: str,
    kind: PeriodKind,
    start: date,
    views: Sequence[UnitView],
    watermark: float,
    registry: Registry,
) -> tuple[Score, ...]:
    """The unit's score per channel over the period, from its stored views."""
    channels = sorted({view.channel for view in views if view.unit == unit}, key=lambda c: c or "")
    scores = []
    for channel in channels:
        if channel is None:
            # period_score's channel=None means every channel: select these views by hand.
            subset = [v for v in views if v.unit == unit and v.channel is None]
            computed = period_score(unit, kind, start, subset, watermark, registry=registry)
        else:
            computed = period_score(
                unit, kind, start, views, watermark, channel=channel, registry=registry
            )
        score = _computed_score(unit, channel or NO_CHANNEL, kind, start, computed)
        if any(score.values.get(key) for key in COUNT_KEYS):
            scores.append(score)
    return tuple(scores)


def officer_scores(engine: Engine, unit: str, kind: PeriodKind, start: date) -> tuple[Score, ...]:
    """The unit's officers' stored scores of the period over all categories, `subject` the
    officer code: most complaints received first, `unassigned` last."""
    rows = officer_score_rows(engine, [unit], kind, category=ALL, date_from=start, date_to=start)
    scores = [
        _score(unit, str(row["officer"]), kind, start, row, None, bool(row["final"]))
        for row in rows
    ]
    return tuple(
        sorted(
            scores,
            key=lambda s: (s.subject == UNASSIGNED, -int(s.value("received") or 0), s.subject),
        )
    )


def _officer_order(officer: str) -> tuple[bool, str]:
    return (officer == UNASSIGNED, officer)


def officer_trend(
    engine: Engine, unit: str, kind: PeriodKind, start: date, first: Sequence[str] = ()
) -> tuple[OfficerTrend, ...]:
    """Each officer's stored quarter scores over all categories for the quarter holding the
    period's start and the OFFICER_TREND_QUARTERS before it: the officers of `first` in that
    order, then every other officer with a score in those quarters, `unassigned` last."""
    quarter = period_start("quarter", period_start_epoch(kind, start))
    quarters = [*previous_periods("quarter", quarter, OFFICER_TREND_QUARTERS), quarter]
    rows = officer_score_rows(
        engine, [unit], "quarter", category=ALL, date_from=quarters[0], date_to=quarter
    )
    stored: dict[tuple[str, date], Score] = {}
    for row in rows:
        row_start = date.fromisoformat(str(row["period_start"]))
        stored[(str(row["officer"]), row_start)] = _score(
            unit, str(row["officer"]), "quarter", row_start, row, None, bool(row["final"])
        )
    found = {officer for officer, _ in stored} | set(first)
    listed = [officer for officer in first if officer != UNASSIGNED]
    listed += sorted(found - set(listed), key=_officer_order)
    return tuple(
        OfficerTrend(
            officer,
            tuple(
                TrendPoint(format_period("quarter", q), q, stored.get((officer, q)))
                for q in quarters
            ),
        )
        for officer in listed
    )


def officer_time(views: Sequence[UnitView], unit: str, feedback: Feedback) -> OfficerTime:
    """Where the officers' time went on the complaints with a timer of the unit decided in
    the period (see OfficerTime)."""
    decided = {decision.complaint_id for decision in feedback.decisions}
    chosen = [
        view
        for view in views
        if view.unit == unit and not view.deleted and view.complaint_id in decided
    ]
    split = [view for view in chosen if view.officers is not None]
    seconds = {
        officer: phases
        for (view_unit, officer), phases in held_seconds(split).items()
        if view_unit == unit
    }
    return OfficerTime(
        complaints=len(split),
        without_officer_data=len(chosen) - len(split),
        seconds=dict(sorted(seconds.items(), key=lambda item: _officer_order(item[0]))),
    )


def unit_report(
    engine: Engine,
    registry: Registry,
    unit: str,
    kind: PeriodKind,
    start: date,
    *,
    trend_periods: int = DEFAULT_TREND_PERIODS,
    officers: bool = False,
) -> UnitReport:
    begin, end = period_start_epoch(kind, start), period_end(kind, start)
    trend_starts = [*previous_periods(kind, start, trend_periods), start]
    rows, restated = report_rows(
        engine, kind, units=[unit], category=None, date_from=trend_starts[0], date_to=start
    )
    overall = {
        date.fromisoformat(str(r["period_start"])): score_from_row(r, kind)
        for r in rows
        if r.get("category", ALL) == ALL
    }
    categories = tuple(
        sorted(
            (
                score_from_row(r, kind)
                for r in rows
                if r.get("category", ALL) != ALL
                and date.fromisoformat(str(r["period_start"])) == start
            ),
            key=_category_order,
        )
    )
    views = stored_views(engine, unit=unit, created_before=end, active_from=begin)
    watermark = _watermark(engine)
    feedback = None
    causes = None
    routing = None
    channels: tuple[Score, ...] = ()
    if views and watermark is not None:
        feedback = unit_feedback(views, unit, begin, end, watermark, overdue_limit=None)
        channels = channel_scores(unit, kind, start, views, watermark, registry)
        figures = cause_figures(engine, unit, kind, start)
        causes, routing = figures.causes, figures.routing
    trend = tuple(TrendPoint(format_period(kind, s), s, overall.get(s)) for s in trend_starts)
    current = overall.get(start)
    officer_rows = officer_scores(engine, unit, kind, start) if officers else None
    actions = (
        action_effects(engine, unit, kind, start, causes, watermark)
        if causes is not None and watermark is not None
        else ()
    )
    findings = unit_findings(
        indicators_missed=[
            IndicatorMiss(
                i.name, _indicator_label(i.name), i.realisation, i.target, i.unit_of_measure
            )
            for i in (current.missed_indicators if current is not None else ())
        ],
        indicators_known=0
        if current is None
        else sum(1 for i in current.indicators if i.achieved is not None),
        feedback=feedback,
        causes=causes,
        routing=routing,
        open_actions=[
            OpenAction(a.action_id, a.cause, a.due, a.overdue)
            for a in actions
            if a.status == "open"
        ],
    )
    return UnitReport(
        unit=unit,
        unit_name=_unit_name(registry, unit),
        kind=kind,
        start=start,
        period=format_period(kind, start),
        begin_epoch=begin,
        end_epoch=end,
        watermark=watermark,
        score=current,
        trend=trend,
        categories=categories,
        channels=channels,
        feedback=feedback,
        indicator_names=_names([current, *overall.values(), *categories, *channels]),
        causes=causes,
        routing=routing,
        findings=findings,
        actions=actions,
        category_names={s.subject: category_name(registry, s.subject) for s in categories},
        restatements=tuple(restatement_of(row, kind) for row in restated if _start(row) == start),
        officers=officer_rows,
        officer_trend=(
            officer_trend(engine, unit, kind, start, [s.subject for s in officer_rows])
            if officer_rows is not None
            else ()
        ),
        officer_time=(
            officer_time(views, unit, feedback) if officers and feedback is not None else None
        ),
    )


def action_effects(
    engine: Engine,
    unit: str,
    kind: PeriodKind,
    start: date,
    causes: CauseAnalysis,
    watermark: float,
) -> tuple[ActionEffect, ...]:
    """The unit's actions decided before the period's end and not closed before its
    beginning, each with the misses of its cause in the period it was decided in and in this
    one (core.actions)."""
    begin, end = period_start_epoch(kind, start), period_end(kind, start)
    effects = []
    for action in list_actions(engine, unit=unit):
        if action.decided_at >= end or (action.closed_at is not None and action.closed_at < begin):
            continue
        decided_start = period_start(kind, action.decided_at)
        if decided_start == start:
            before = causes.count(action.cause)
        else:
            d_begin, d_end = (
                period_start_epoch(kind, decided_start),
                period_end(kind, decided_start),
            )
            views = stored_views(engine, unit=unit, created_before=d_end, active_from=d_begin)
            before = cause_analysis(views, unit, d_begin, d_end, watermark).count(action.cause)
        later = start > decided_start
        effects.append(
            ActionEffect(
                action_id=action.action_id,
                cause=action.cause,
                owner=action.owner,
                due=action.due_on.isoformat(),
                status=action.status,
                overdue=action.status == "open"
                and period_end("day", action.due_on) <= min(end, watermark),
                before_period=format_period(kind, decided_start),
                misses_before=before,
                after_period=format_period(kind, start) if later else None,
                misses_after=causes.count(action.cause) if later else None,
            )
        )
    return tuple(effects)


def _category_order(score: Score) -> tuple[bool, int, int, str]:
    """Largest first (complaints received, then resolved), `other` last."""
    received = int(score.value("received") or 0)
    resolved = int(score.value("resolved") or 0)
    return (score.subject == OTHER_CATEGORY, -received, -resolved, score.subject)


def category_name(registry: Registry, category: str) -> str:
    """A category's name and tier from the taxonomy; the tiers and `other` explained."""
    spec = registry.category_specs.get(category)
    if spec is not None:
        return f"{spec.name} ({spec.tier})"
    if category == OTHER_CATEGORY:
        return "not in the registry's taxonomy, or none"
    return "complexity tier"  # "complex" / "very_complex" sent as the category itself


def candidate(score: Score) -> Candidate:
    """A persisted score as the ranking rule (core.ranking) sees it."""

    def count(key: str) -> int:
        value = score.value(key)
        return int(value) if value is not None else 0

    return Candidate(
        unit=score.unit,
        indicators=tuple(
            IndicatorOutcome(i.achieved, i.achievement_percent) for i in score.indicators
        ),
        met=count("response_met") + count("resolution_met"),
        missed=count("response_missed") + count("resolution_missed"),
    )


def league_report(
    engine: Engine, registry: Registry, kind: PeriodKind, start: date
) -> LeagueReport:
    """Every unit's score of the period, in the order of the ranking rule (core.ranking):
    the ranked units first, then those listed without a rank, then the registry's units
    without a score."""
    rows, restated = report_rows(engine, kind, category=ALL, start=start)
    scores = {str(r["unit"]): score_from_row(r, kind) for r in rows}
    settings = registry.ranking
    standings = rank_units(
        (candidate(s) for s in scores.values()),
        min_decided_timers=settings.min_decided_timers,
        confidence=settings.confidence,
    )
    ranked = [LeagueRow(s.unit, _unit_name(registry, s.unit), scores[s.unit], s) for s in standings]
    ranked += [
        LeagueRow(unit, _unit_name(registry, unit), None, None)
        for unit in sorted(set(registry.units) - set(scores))
    ]
    return LeagueReport(
        kind=kind,
        start=start,
        period=format_period(kind, start),
        rows=tuple(ranked),
        indicator_names=_names(scores.values()),
        min_decided_timers=settings.min_decided_timers,
        confidence=settings.confidence,
        restatements=tuple(restatement_of(row, kind) for row in restated),
    )


def _indicator_label(name: str) -> str:
    return name.replace("_", " ").replace("p90", "p90 of")


def _unit_name(registry: Registry, unit: str) -> str:
    spec = registry.units.get(unit)
    return spec.name if spec is not None else unit


def _watermark(engine: Engine) -> float | None:
    with Session(engine) as session:
        return restored_watermark(session)
