"""Fixed histogram bounds of metrics contract v1."""

from __future__ import annotations

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

# Resolution-time histogram bounds: 5 minutes to 60 days.
RESOLUTION_BUCKETS: tuple[float, ...] = (
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    1 * HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    12 * HOUR,
    1 * DAY,
    2 * DAY,
    3 * DAY,
    5 * DAY,
    7 * DAY,
    14 * DAY,
    30 * DAY,
    60 * DAY,
)
