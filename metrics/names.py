"""The metrics contract: every metric name and label SIGAP exports, in one place.

The collector (metrics/collector.py), the generated alert and recording rules, the
Alertmanager routes and the Grafana dashboards all take their names from here; the tests that
read /metrics do too. docs/metrics.md documents each series and the rename from the
unprefixed names of earlier releases (`RENAMED` below).

Conventions (https://prometheus.io/docs/practices/naming/):
- one application prefix, ``sigap_``, for every metric SIGAP itself exports (``process_*`` and
  ``faust_*`` come from the client library and from Faust);
- base units (seconds); counters end in ``_total`` in the exposition (the constant here is the
  family name without it, as prometheus_client expects);
- a metric in seconds says which clock in its name (``_wall_seconds``, ``_working_seconds``) or
  carries a ``clock`` label (``wall`` / ``working``): the two are never mixed in one series;
- window and period statistics are gauges (a sliding window's count goes down; a summary's
  ``_count`` must not);
- complaint ids never appear in labels; every label value set is bounded and pre-created, so a
  series does not vanish when its window is empty (its value is then 0, or NaN for a quantile or
  a ratio of nothing).
"""

from __future__ import annotations

from typing import Final

from sigap.core.charging import TIMERS as TIMERS
from sigap.core.registry import UNKNOWN_UNIT as UNKNOWN_UNIT
from sigap.core.registry import Registry
from sigap.core.unit_kpis import THRESHOLDS as THRESHOLD_FRACTIONS
from sigap.core.unit_kpis import threshold_text
from sigap.core.unit_view import target_bucket_bounds
from sigap.core.windows import WINDOW_NAMES
from sigap.core.worklist import LATENESS_BANDS

PREFIX: Final = "sigap_"

# Complaints, per unit
COMPLAINTS_CREATED: Final = "sigap_complaints_created"  # counter {unit}
COMPLAINTS_RESOLVED: Final = "sigap_complaints_resolved"  # counter {unit}
COMPLAINTS_OPEN: Final = "sigap_complaints_open"  # gauge {unit}
RESOLUTION_WALL_SECONDS: Final = "sigap_complaint_resolution_wall_seconds"  # histogram {unit}
FIRST_RESPONSE_WALL_SECONDS: Final = "sigap_complaint_first_response_wall_seconds"  # histogram
RESOLUTION_WORKING_SECONDS: Final = "sigap_complaint_resolution_working_seconds"  # histogram
SLA: Final = "sigap_complaint_sla"  # counter {unit, timer, outcome}
OPEN_PAST_TARGET: Final = "sigap_complaints_open_past_target"  # gauge {unit, timer, threshold}
TRANSFERS: Final = "sigap_complaint_transfers"  # counter {unit, reason}: transfers away from unit
REOPENED: Final = "sigap_complaints_reopened"  # counter {unit}
RATINGS: Final = "sigap_complaint_ratings"  # counter {unit, rating}
ESCALATED: Final = "sigap_complaints_escalated"  # counter {unit, level}: `escalated` events
# The overdue worklist (GET /api/units/{unit}/overdue): open timers past their deadline with
# the clock running, by how late (wall time), and how late the oldest one is.
OVERDUE: Final = "sigap_complaints_overdue"  # gauge {unit, timer, late_by}
OVERDUE_OLDEST: Final = "sigap_complaints_overdue_oldest_wall_seconds"  # gauge {unit, timer}
# The holiday deadline cliff (sigap/core/holiday_cliff.py): open deadlines due from the start of the
# next long break to the close of the Nth working day after it, while it is M working days
# away or less (0 otherwise).
DEADLINES_AFTER_BREAK: Final = "sigap_deadlines_after_break"  # gauge {unit, timer}

# Window and period statistics (gauges): the timers stopped in the window, per clock, and the
# share of timers decided in it that met their target.
WINDOW_SECONDS: Final = "sigap_complaint_window_seconds"  # {unit,timer,window,clock,percentile}
WINDOW_STOPPED: Final = "sigap_complaint_window_stopped_timers"  # {unit,timer,window,clock}
WINDOW_WITHIN_TARGET_RATIO: Final = "sigap_complaint_window_within_target_ratio"
CATEGORY_WINDOW_SECONDS: Final = "sigap_complaint_category_window_seconds"  # + {category}
CATEGORY_WINDOW_STOPPED: Final = "sigap_complaint_category_window_stopped_timers"  # + {category}
CATEGORY_WINDOW_WITHIN_TARGET_RATIO: Final = "sigap_complaint_category_window_within_target_ratio"
PERIOD_SECONDS: Final = "sigap_complaint_period_seconds"  # {unit,timer,period,clock,percentile}
PERIOD_STOPPED: Final = "sigap_complaint_period_stopped_timers"  # {unit,timer,period,clock}
PERIOD_WITHIN_TARGET_RATIO: Final = "sigap_complaint_period_within_target_ratio"

# Pipeline health
EVENTS_PROCESSED: Final = "sigap_events_processed"  # counter: accepted events
EVENTS_REJECTED: Final = "sigap_events_rejected"  # counter {reason}
WATERMARK: Final = "sigap_events_watermark_timestamp_seconds"  # gauge: event-time watermark
CONSUMER_LAG: Final = "sigap_events_consumer_lag"  # gauge {partition}: messages behind
VIEWS_FAILED: Final = "sigap_unit_views_failed"  # counter: unit views the unit stage failed on
# counter {reason}: views-topic records or views the score writer set aside (dead-lettered)
SCORE_WRITER_DEAD_LETTERED: Final = "sigap_score_writer_dead_lettered"
SCORE_WRITER_REASONS: Final = ("invalid_view", "data_error", "integrity_error")
# gauge: views-topic records not yet consumed by the score writer (sum over partitions)
SCORE_WRITER_LAG: Final = "sigap_score_writer_lag_messages"
# gauge: the score writer's event-time watermark (the lowest over the views partitions)
SCORE_WRITER_WATERMARK: Final = "sigap_score_writer_watermark_timestamp_seconds"

# Official close (core.period_close), by the score writer's periodic closer
PERIOD_LAST_CLOSED_END: Final = "sigap_period_last_closed_end_timestamp_seconds"  # {period}
PERIODS_CLOSED: Final = "sigap_periods_closed"  # counter {period}
CLOSE_RUNS: Final = "sigap_period_close_runs"  # counter {outcome}
CLOSE_OUTCOMES: Final = ("ok", "error")
RESTATEMENTS: Final = "sigap_score_restatements"  # counter {period}: restatement rows written
PERIOD_KINDS: Final = ("day", "week", "month", "quarter")
# The families the score writer process exports on its own page (not the worker's /metrics).
SCORE_WRITER_FAMILIES: Final = frozenset(
    {
        SCORE_WRITER_DEAD_LETTERED,
        SCORE_WRITER_LAG,
        SCORE_WRITER_WATERMARK,
        PERIOD_LAST_CLOSED_END,
        PERIODS_CLOSED,
        CLOSE_RUNS,
        RESTATEMENTS,
    }
)

# Label values. The timers (core.charging), the unknown unit (core.registry), the past-target
# thresholds (core.unit_kpis) and the windows (core.windows) are defined where the KPIs are
# computed; these are their label forms.
OUTCOMES: Final = ("met", "missed")
THRESHOLDS: Final[tuple[str, ...]] = tuple(threshold_text(t) for t in THRESHOLD_FRACTIONS)
WINDOWS: Final[tuple[str, ...]] = WINDOW_NAMES
# Nearest-rank percentiles of the window gauges (a `quantile` label is for summaries only).
PERCENTILES: Final = ("50", "90")
CLOCKS: Final = ("wall", "working")
LATE_BY: Final[tuple[str, ...]] = tuple(label for label, _, _ in LATENESS_BANDS)
RATINGS_VALUES: Final = ("1", "2", "3", "4", "5")
# Transfer reasons are free text in events; these are exported as they are, any other as
# "other", so the label stays bounded.
TRANSFER_REASONS: Final = ("not_our_authority", "wrong_category", "duplicate", "unspecified")
OTHER_REASON: Final = "other"

# The exposition names of earlier releases (no prefix) and what replaced them; old names are
# not exported any more (docs/metrics.md, "Renamed metrics").
RENAMED: Final[dict[str, str]] = {
    "complaints_created_total": f"{COMPLAINTS_CREATED}_total",
    "complaints_resolved_total": f"{COMPLAINTS_RESOLVED}_total",
    "complaints_open": COMPLAINTS_OPEN,
    "complaint_resolution_seconds": RESOLUTION_WALL_SECONDS,
    "complaint_first_response_seconds": FIRST_RESPONSE_WALL_SECONDS,
    "complaint_resolution_working_seconds": RESOLUTION_WORKING_SECONDS,
    "complaint_sla_total": f"{SLA}_total",
    "complaints_open_past_target": OPEN_PAST_TARGET,
    "complaint_window_seconds": f"{WINDOW_SECONDS} (gauge, + clock), {WINDOW_STOPPED}",
    "complaint_window_within_target_ratio": WINDOW_WITHIN_TARGET_RATIO,
    "complaint_category_window_seconds": (
        f"{CATEGORY_WINDOW_SECONDS} (gauge, + clock), {CATEGORY_WINDOW_STOPPED}"
    ),
    "complaint_category_window_within_target_ratio": CATEGORY_WINDOW_WITHIN_TARGET_RATIO,
    "complaint_period_seconds": f"{PERIOD_SECONDS} (gauge, + clock), {PERIOD_STOPPED}",
    "complaint_period_within_target_ratio": PERIOD_WITHIN_TARGET_RATIO,
    "complaint_transfers_total": f"{TRANSFERS}_total",
    "complaints_reopened_total": f"{REOPENED}_total",
    "complaint_ratings_total": f"{RATINGS}_total",
    "complaint_events_rejected_total": f"{EVENTS_REJECTED}_total",
    "complaint_events_processed_total": f"{EVENTS_PROCESSED}_total",
    "complaint_events_watermark_timestamp_seconds": WATERMARK,
    "complaint_events_consumer_lag": CONSUMER_LAG,
    "complaint_views_failed_total": f"{VIEWS_FAILED}_total",
}

# Histogram bounds (seconds, upper-inclusive). The wall-clock resolution histogram has these
# fixed bounds: 5 minutes to 60 days. The first-response and working-time resolution
# histograms have these and every configured target as bounds (`histogram_bounds`), so that
# "within target" is a bucket boundary.
_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0
RESOLUTION_BUCKETS: Final[tuple[float, ...]] = (
    5 * _MINUTE,
    15 * _MINUTE,
    30 * _MINUTE,
    1 * _HOUR,
    2 * _HOUR,
    4 * _HOUR,
    8 * _HOUR,
    12 * _HOUR,
    1 * _DAY,
    2 * _DAY,
    3 * _DAY,
    5 * _DAY,
    7 * _DAY,
    14 * _DAY,
    30 * _DAY,
    60 * _DAY,
)


def histogram_bounds(registry: Registry) -> tuple[float, ...]:
    """The bounds of the first-response and working-time resolution histograms: the fixed
    RESOLUTION_BUCKETS and every target of the registry (core.unit_view)."""
    return tuple(sorted(set(RESOLUTION_BUCKETS) | set(target_bucket_bounds(registry))))
