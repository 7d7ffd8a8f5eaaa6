"""A unit's causes figures for one period (core.causes) from the stored unit views: the one
reading shared by the report and the API, so both show the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sigap.core.causes import CauseAnalysis, RoutingLedger, cause_analysis, routing_ledger
from sigap.core.periods import PeriodKind, format_period, period_end, period_start_epoch
from sigap.storage.score_queries import stored_views
from sigap.storage.scores import restored_watermark

# A misrouting charge counts when the complaint reached the right unit, which may be after
# the charged unit's own last activity: its views are looked up that much further back.
ROUTING_LOOKBACK_SECONDS = 92 * 86400.0


@dataclass(frozen=True)
class CauseFigures:
    unit: str
    kind: PeriodKind
    start: date
    watermark: float | None
    causes: CauseAnalysis | None  # None: no stored view or no watermark yet
    routing: RoutingLedger | None

    def as_json(self) -> dict[str, Any]:
        """Counts and seconds only: no complaint id, no officer code."""
        causes, routing = self.causes, self.routing
        body: dict[str, Any] = {
            "unit": self.unit,
            "period": format_period(self.kind, self.start),
            "period_kind": self.kind,
            "watermark_epoch": self.watermark,
            "misses_by_cause": [],
            "paused_by_reason": [],
            "excluded_by_reason": [],
            "excused": 0,
            "objections_pending": 0,
            "extensions": 0,
            "extension_days": 0,
            "routing": None,
        }
        if causes is not None:
            body.update(
                misses_by_cause=[
                    {
                        "cause": c.cause,
                        "explained": c.explained,
                        "response": c.response,
                        "resolution": c.resolution,
                        "total": c.total,
                    }
                    for c in causes.misses
                ],
                paused_by_reason=[
                    {"reason": p.reason, "seconds": p.seconds, "complaints": p.complaints}
                    for p in causes.paused
                ],
                excluded_by_reason=[
                    {"reason": p.reason, "seconds": p.seconds, "complaints": p.complaints}
                    for p in causes.excluded
                ],
                excused=causes.excused,
                objections_pending=causes.objections_pending,
                extensions=causes.extensions,
                extension_days=causes.extension_days,
            )
        if routing is not None:
            body["routing"] = {
                "transfers": [
                    {"to": t.to_unit, "reason": t.reason, "count": t.count}
                    for t in routing.transfers
                ],
                "ping_pongs": routing.ping_pongs,
                "first_touch_resolved": routing.first_touch_resolved,
                "first_touch_total": routing.first_touch_total,
                "first_touch_share": routing.first_touch_share,
                "misrouting_seconds": routing.misrouting_seconds,
                "misrouted_complaints": routing.misrouted_complaints,
            }
        return body


def cause_figures(engine: Engine, unit: str, kind: PeriodKind, start: date) -> CauseFigures:
    begin, end = period_start_epoch(kind, start), period_end(kind, start)
    with Session(engine) as session:
        watermark = restored_watermark(session)
    views = stored_views(engine, unit=unit, created_before=end, active_from=begin)
    if not views or watermark is None:
        return CauseFigures(unit, kind, start, watermark, None, None)
    routing_views = stored_views(
        engine, unit=unit, created_before=end, active_from=begin - ROUTING_LOOKBACK_SECONDS
    )
    return CauseFigures(
        unit,
        kind,
        start,
        watermark,
        cause_analysis(views, unit, begin, end, watermark),
        routing_ledger(routing_views, unit, begin, end),
    )
