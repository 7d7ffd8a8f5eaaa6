"""How many records the score writer takes per poll: as many as it writes well within the
consumer group's `max_poll_interval_ms`.

Why: kafka-python counts the time between two `poll()` calls. Past `max_poll_interval_ms`
(300 s by default) the consumer leaves its group, the commit after the write fails, and the
same records are delivered again. The writer used to take up to 1,000 records per poll, and
a views record holds the views of one worker batch (up to about a thousand when the worker
catches up). So after an outage, or when a historic export is published, one poll could take
longer than the interval to write. It was then written, refused at the commit, read again and
written again, for ever, and no score moved. Found by running `sigap verify` on the St. Louis
export (15,440 events over four years; bench/RESULTS.md, "The score writer on a four-year
export").

The budget learns the seconds per record from each write. The next poll takes at most the
records that fit in `share` of the interval. It shrinks at once after a slow write and grows
at most twofold per poll, so a slow patch costs one oversized poll and a few short ones.
A single record can still hold more than the interval's worth of views: the writer also
writes a poll's views in chunks and polls with its partitions paused between them
(`ScoreWriter._write_in_chunks`).
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_MAX_POLL_INTERVAL_SECONDS", "SHARE", "PollBudget"]

# kafka-python's default `max_poll_interval_ms`, for consumers that do not say theirs.
DEFAULT_MAX_POLL_INTERVAL_SECONDS: Final = 300.0
# The part of the interval a poll's write may take: room for a write four times slower than
# the previous one's pace.
SHARE: Final = 0.25


class PollBudget:
    """`records`: how many records the next poll may take; `observe` what a write took."""

    def __init__(self, max_records: int, interval_seconds: float, share: float = SHARE) -> None:
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, got {max_records}")
        if interval_seconds <= 0 or not 0 < share <= 1:
            raise ValueError(
                f"interval_seconds must be positive and share in (0, 1], "
                f"got {interval_seconds} and {share}"
            )
        self.max_records = max_records
        self.seconds = interval_seconds * share
        self.interval_seconds = interval_seconds
        self.records = max_records

    def observe(self, records: int, seconds: float) -> None:
        """`records` records (at least one) were written in `seconds`."""
        if records < 1:
            return
        fit = self.max_records if seconds <= 0 else int(self.seconds * records / seconds)
        self.records = max(1, min(self.max_records, fit, 2 * self.records))
