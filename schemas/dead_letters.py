"""Dead-letter contract: records of the dead-letter topic.

Key and value: the rejected message's own key and bytes, unchanged (they may hold personal
data: never logged). Header ``REASON_HEADER``: the reason, a short bounded code such as
``invalid_json``, ``duplicate_event_id`` or ``internal_error``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["INTERNAL_ERROR", "REASON_HEADER"]

REASON_HEADER: Final = "sigap-reason"
# The dead-letter reason of events whose complaint the KPI code failed on (a bug).
INTERNAL_ERROR: Final = "internal_error"
