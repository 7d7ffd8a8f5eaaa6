"""The metrics contract: every metric name and label SIGAP exports, in one place.

The collector (metrics/collector.py), the generated alert and recording rules, the
Alertmanager routes and the Grafana dashboards all take their names from here.
Base units (seconds); counters end in `_total` in the exposition (the constant here is the
family name without it, as prometheus_client expects). Complaint ids never appear in labels.
"""

from __future__ import annotations

from typing import Final

# Contract v1 (walking skeleton)
COMPLAINTS_CREATED: Final = "complaints_created"  # counter {unit}
COMPLAINTS_RESOLVED: Final = "complaints_resolved"  # counter {unit}
COMPLAINTS_OPEN: Final = "complaints_open"  # gauge {unit}
RESOLUTION_SECONDS: Final = "complaint_resolution_seconds"  # histogram {unit}, wall seconds
EVENTS_REJECTED: Final = "complaint_events_rejected"  # counter {reason}

# SLA clocks (working calendar, per-unit targets)
FIRST_RESPONSE_SECONDS: Final = "complaint_first_response_seconds"  # histogram {unit}
RESOLUTION_WORKING_SECONDS: Final = "complaint_resolution_working_seconds"  # histogram {unit}
SLA: Final = "complaint_sla"  # counter {unit, timer, outcome}
OPEN_PAST_TARGET: Final = "complaints_open_past_target"  # gauge {unit, timer, threshold}
WINDOW_SECONDS: Final = "complaint_window_seconds"  # gauge {unit, timer, window, quantile}
WINDOW_WITHIN_TARGET_RATIO: Final = (
    "complaint_window_within_target_ratio"  # gauge {unit,timer,window}
)
PERIOD_SECONDS: Final = "complaint_period_seconds"  # gauge {unit, timer, period, quantile}
PERIOD_WITHIN_TARGET_RATIO: Final = "complaint_period_within_target_ratio"  # {unit,timer,period}
CATEGORY_WINDOW_SECONDS: Final = "complaint_category_window_seconds"  # + {category}
CATEGORY_WINDOW_WITHIN_TARGET_RATIO: Final = "complaint_category_window_within_target_ratio"
TRANSFERS: Final = "complaint_transfers"  # counter {unit, reason}: transfers away from unit
REOPENED: Final = "complaints_reopened"  # counter {unit}
RATINGS: Final = "complaint_ratings"  # counter {unit, rating}

# Pipeline health
EVENTS_PROCESSED: Final = "complaint_events_processed"  # counter: accepted events
WATERMARK: Final = "complaint_events_watermark_timestamp_seconds"  # gauge: event-time watermark
CONSUMER_LAG: Final = "complaint_events_consumer_lag"  # gauge {partition}: messages behind
VIEWS_FAILED: Final = "complaint_views_failed"  # counter: unit views the unit stage failed on
# counter {reason}: views-topic records or views the score writer set aside (dead-lettered)
SCORE_WRITER_DEAD_LETTERED: Final = "sigap_score_writer_dead_lettered"
SCORE_WRITER_REASONS: Final = ("invalid_view", "data_error", "integrity_error")

# Label values
TIMERS: Final = ("response", "resolution")
OUTCOMES: Final = ("met", "missed")
THRESHOLDS: Final = ("0.5", "0.75", "1")
WINDOWS: Final = ("1h", "24h", "7d", "30d")
QUANTILES: Final = ("0.5", "0.9")
UNKNOWN_UNIT: Final = "unknown"
RATINGS_VALUES: Final = ("1", "2", "3", "4", "5")
# Transfer reasons are free text in events; these are exported as they are, any other as
# "other", so the label stays bounded.
TRANSFER_REASONS: Final = ("not_our_authority", "wrong_category", "duplicate", "unspecified")
OTHER_REASON: Final = "other"
