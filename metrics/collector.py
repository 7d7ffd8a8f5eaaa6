"""The SIGAP metrics (contract v1), exported from state rather than from in-process counters.

The worker's totals live in Faust tables backed by a changelog, so after a restart the
counters continue where they were instead of starting again from zero, and a worker exports
only the partitions it currently owns. `SigapCollector` turns a snapshot of those totals into
Prometheus metric families at scrape time.

Names are in base units (seconds) and differ from Faust's own sensor metrics, which are in
milliseconds and carry the `faust_` prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from core.totals import UnitTotals
from metrics.names import (
    COMPLAINTS_CREATED,
    COMPLAINTS_OPEN,
    COMPLAINTS_RESOLVED,
    EVENTS_REJECTED,
    RESOLUTION_SECONDS,
)


@dataclass
class TotalsSnapshot:
    units: dict[str, UnitTotals] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


def _bound_text(bound: float) -> str:
    # The same text the official client writes for `le` ("86400.0", "+Inf").
    return "+Inf" if bound == float("inf") else repr(float(bound))


class SigapCollector(Collector):
    """Collects the project's metrics from a snapshot function called at each scrape."""

    def __init__(self, snapshot: Callable[[], TotalsSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot()
        units: Mapping[str, UnitTotals] = dict(sorted(snapshot.units.items()))
        created = CounterMetricFamily(
            COMPLAINTS_CREATED, "Complaints created, by responsible unit.", labels=["unit"]
        )
        resolved = CounterMetricFamily(
            COMPLAINTS_RESOLVED,
            "Complaints resolved (first resolution measured), by unit.",
            labels=["unit"],
        )
        open_gauge = GaugeMetricFamily(
            COMPLAINTS_OPEN, "Complaints created and not yet resolved, by unit.", labels=["unit"]
        )
        resolution = HistogramMetricFamily(
            RESOLUTION_SECONDS,
            "Seconds from a complaint's created event to its resolved event (event time).",
            labels=["unit"],
        )
        for unit, totals in units.items():
            created.add_metric([unit], totals.created)
            resolved.add_metric([unit], totals.resolved)
            open_gauge.add_metric([unit], totals.open)
            resolution.add_metric(
                [unit],
                buckets=[(_bound_text(b), c) for b, c in totals.cumulative_buckets()],
                sum_value=totals.resolution_seconds_sum,
            )
        rejected = CounterMetricFamily(
            EVENTS_REJECTED,
            "Events rejected (dead-lettered), by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(snapshot.rejected_by_reason.items()):
            rejected.add_metric([reason], count)
        yield from (created, resolved, open_gauge, resolution, rejected)
