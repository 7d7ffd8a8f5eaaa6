"""The SIGAP metrics, exported from the worker's state at each scrape.

The values come from Faust tables backed by changelog topics and from state rebuilt from
them, not from counters in process memory: after a restart they continue where they were,
and a worker exports only the units (and partitions) it owns. See metrics/names.py for the
contract and README "Metrics contract" for the meaning of each series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from metrics import names
from sigap.core.unit_kpis import (
    ALL_CATEGORIES,
    THRESHOLDS,
    Histogram,
    TimerWindowStats,
    UnitSnapshot,
    threshold_text,
)


@dataclass
class MetricsSnapshot:
    watermark: float | None = None
    units: dict[str, UnitSnapshot] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    processed: int = 0
    lag_by_partition: dict[int, int] = field(default_factory=dict)
    views_failed: int = 0
    # The registry's escalation ladder levels: pre-created `level` label values.
    escalation_levels: tuple[str, ...] = ()


def _bound_text(bound: float) -> str:
    # The same text the official client writes for `le` ("86400.0", "+Inf").
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _histogram(family: HistogramMetricFamily, labels: list[str], histogram: Histogram) -> None:
    family.add_metric(
        labels,
        buckets=[(_bound_text(b), c) for b, c in histogram.cumulative()],
        sum_value=histogram.total,
    )


_NAN = float("nan")


@dataclass
class _WindowFamilies:
    """The gauges of one kind of window statistics: quantiles and sample size per clock of
    the timers' targets, and the within-target share (unitless, over both clocks)."""

    seconds: GaugeMetricFamily
    stopped: GaugeMetricFamily
    ratio: GaugeMetricFamily

    @classmethod
    def create(
        cls, seconds: str, stopped: str, ratio: str, what: str, labels: list[str]
    ) -> _WindowFamilies:
        return cls(
            GaugeMetricFamily(
                seconds,
                f"Quantiles (exact nearest-rank) of the timers stopped {what}, in seconds of "
                "their target's clock (label clock: wall or working); NaN when none stopped.",
                labels=[*labels, "clock", "percentile"],
            ),
            GaugeMetricFamily(
                stopped,
                f"Timers stopped {what}, by the clock of their target (the quantiles' sample).",
                labels=[*labels, "clock"],
            ),
            GaugeMetricFamily(
                ratio,
                f"Share of the timers decided {what} that met their target (open timers past "
                "their deadline included); NaN when none was decided.",
                labels=labels,
            ),
        )

    def add(self, label_values: list[str], stats: TimerWindowStats) -> None:
        """Every series, also for an empty window (0, or NaN for a quantile or a ratio)."""
        for clock in names.CLOCKS:
            clock_stats = stats.by_clock.get(clock)
            count = 0 if clock_stats is None else clock_stats.count
            self.stopped.add_metric([*label_values, clock], count)
            for percentile in names.PERCENTILES:
                value = None
                if clock_stats is not None and count:
                    value = clock_stats.p50 if percentile == "50" else clock_stats.p90
                self.seconds.add_metric(
                    [*label_values, clock, percentile], _NAN if value is None else value
                )
        ratio = stats.within_target_ratio
        self.ratio.add_metric(label_values, _NAN if ratio is None else ratio)

    def __iter__(self) -> Iterator[Metric]:
        return iter((self.seconds, self.stopped, self.ratio))


# The sample names a scrape asked for (`/metrics?name[]=...`, which prometheus_client's
# exposition honours by dropping the other samples), or None for the whole page. Set by the
# page handler around the exposition (streams.app.setup_metrics_page). The collector then
# skips building the window and histogram families no asked sample belongs to: ~7,000 of
# the ~7,500 samples with the simulator's 8 units, built and then dropped, cost a scrape
# that asks for one counter 10-35 ms of the worker's event loop (bench/RESULTS.md).
REQUESTED_SAMPLES: ContextVar[frozenset[str] | None] = ContextVar(
    "sigap_requested_samples", default=None
)

_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def _asked_for(family_names: tuple[str, ...], histogram: bool = False) -> bool:
    """Whether the current scrape asked for a sample of any of these families."""
    requested = REQUESTED_SAMPLES.get()
    if requested is None:
        return True
    for name in family_names:
        if histogram:
            if any(name + suffix in requested for suffix in _HISTOGRAM_SUFFIXES):
                return True
        elif name in requested:
            return True
    return False


def transfer_reason_label(reason: str) -> str:
    return reason if reason in names.TRANSFER_REASONS else names.OTHER_REASON


class SigapCollector(Collector):
    """Collects the project's metrics from a snapshot function called at each scrape."""

    def __init__(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot()
        yield from self._unit_metrics(snapshot)
        yield from self._pipeline_metrics(snapshot)

    def _unit_metrics(self, snapshot: MetricsSnapshot) -> Iterator[Metric]:
        created = CounterMetricFamily(
            names.COMPLAINTS_CREATED, "Complaints created, by first unit.", labels=["unit"]
        )
        resolved = CounterMetricFamily(
            names.COMPLAINTS_RESOLVED,
            "Complaints resolved (first resolution), by the resolving unit.",
            labels=["unit"],
        )
        open_gauge = GaugeMetricFamily(
            names.COMPLAINTS_OPEN, "Open complaints, by the unit holding them.", labels=["unit"]
        )
        resolution = HistogramMetricFamily(
            names.RESOLUTION_WALL_SECONDS,
            "Wall seconds from creation to first resolution (pauses excluded).",
            labels=["unit"],
        )
        first_response = HistogramMetricFamily(
            names.FIRST_RESPONSE_WALL_SECONDS,
            "Wall seconds from creation to the first response (pauses excluded).",
            labels=["unit"],
        )
        resolution_working = HistogramMetricFamily(
            names.RESOLUTION_WORKING_SECONDS,
            "Working seconds from creation to first resolution, on each holder's calendar.",
            labels=["unit"],
        )
        sla = CounterMetricFamily(
            names.SLA,
            "Timers decided, by unit, timer and outcome: each complaint once per timer and "
            "unit, at the earlier of its stop and its deadline.",
            labels=["unit", "timer", "outcome"],
        )
        open_past = GaugeMetricFamily(
            names.OPEN_PAST_TARGET,
            "Open timers past a fraction (threshold) of their allowed time.",
            labels=["unit", "timer", "threshold"],
        )
        windows = _WindowFamilies.create(
            names.WINDOW_SECONDS,
            names.WINDOW_STOPPED,
            names.WINDOW_WITHIN_TARGET_RATIO,
            "in the rolling window ending at the watermark",
            ["unit", "timer", "window"],
        )
        category_windows = _WindowFamilies.create(
            names.CATEGORY_WINDOW_SECONDS,
            names.CATEGORY_WINDOW_STOPPED,
            names.CATEGORY_WINDOW_WITHIN_TARGET_RATIO,
            "in the rolling window, per complaint category,",
            ["unit", "category", "timer", "window"],
        )
        periods = _WindowFamilies.create(
            names.PERIOD_SECONDS,
            names.PERIOD_STOPPED,
            names.PERIOD_WITHIN_TARGET_RATIO,
            "in the current calendar day, week and month (Asia/Jakarta) up to the watermark",
            ["unit", "timer", "period"],
        )
        escalated = CounterMetricFamily(
            names.ESCALATED,
            "Escalations (`escalated` events) of complaints while the unit held them, by the "
            "ladder level they went to (registry `escalation.levels`).",
            labels=["unit", "level"],
        )
        overdue = GaugeMetricFamily(
            names.OVERDUE,
            "Open timers past their deadline (clock running), by how late in wall time "
            "(late_by); the list is GET /api/units/{unit}/overdue.",
            labels=["unit", "timer", "late_by"],
        )
        overdue_oldest = GaugeMetricFamily(
            names.OVERDUE_OLDEST,
            "Wall seconds the oldest overdue open timer is past its deadline (0 when none).",
            labels=["unit", "timer"],
        )
        after_break = GaugeMetricFamily(
            names.DEADLINES_AFTER_BREAK,
            "Open timers (clock running) whose deadline falls from the start of the next long "
            "break (>= 3 days off) to the close of the 3rd working day after it, while the "
            "break is 5 working days away or less; 0 otherwise (sigap/core/holiday_cliff.py).",
            labels=["unit", "timer"],
        )
        transfers = CounterMetricFamily(
            names.TRANSFERS, "Transfers away from a unit, by reason.", labels=["unit", "reason"]
        )
        reopened = CounterMetricFamily(
            names.REOPENED, "Reopened complaints, by the unit holding them.", labels=["unit"]
        )
        ratings = CounterMetricFamily(
            names.RATINGS, "Citizens' ratings (1-5), by unit.", labels=["unit", "rating"]
        )
        with_histograms = _asked_for(
            (resolution.name, first_response.name, resolution_working.name), histogram=True
        )
        with_windows = _asked_for(
            tuple(family.name for group in (windows, category_windows, periods) for family in group)
        )
        for unit, state in sorted(snapshot.units.items()):
            counters = state.counters
            created.add_metric([unit], counters.created)
            resolved.add_metric([unit], counters.resolved)
            open_gauge.add_metric([unit], state.open_complaints)
            if with_histograms:
                _histogram(resolution, [unit], counters.resolution)
                _histogram(first_response, [unit], counters.first_response)
                _histogram(resolution_working, [unit], counters.resolution_working)
            timer: str
            for timer in names.TIMERS:
                met = counters.sla.get(f"{timer}:met", 0)
                missed = counters.sla.get(f"{timer}:missed", 0) + state.sla_missed_open[timer]
                sla.add_metric([unit, timer, "met"], met)
                sla.add_metric([unit, timer, "missed"], missed)
                for threshold in THRESHOLDS:
                    open_past.add_metric(
                        [unit, timer, threshold_text(threshold)],
                        state.open_past[(timer, threshold)],
                    )
            for level in sorted({*snapshot.escalation_levels, *counters.escalated}):
                escalated.add_metric([unit, level], counters.escalated.get(level, 0))
            for timer in names.TIMERS:
                late = state.overdue.get(timer)
                for band in names.LATE_BY:
                    count = 0 if late is None else late.by_band.get(band, 0)
                    overdue.add_metric([unit, timer, band], count)
                overdue_oldest.add_metric(
                    [unit, timer], 0.0 if late is None else late.oldest_past_seconds
                )
                after_break.add_metric([unit, timer], state.after_break.get(timer, 0))
            if with_windows:
                for (timer, category), per_window in sorted(state.windows.items()):
                    for window, stats in per_window.items():
                        if category == ALL_CATEGORIES:
                            windows.add([unit, timer, window], stats)
                        else:
                            category_windows.add([unit, category, timer, window], stats)
                for (timer, period), stats in sorted(state.periods.items()):
                    periods.add([unit, timer, period], stats)
            by_reason: dict[str, int] = dict.fromkeys(names.TRANSFER_REASONS, 0)
            for reason, count in counters.transfers.items():
                label = transfer_reason_label(reason)
                by_reason[label] = by_reason.get(label, 0) + count
            for reason, count in sorted(by_reason.items()):
                transfers.add_metric([unit, reason], count)
            reopened.add_metric([unit], counters.reopened)
            for rating in names.RATINGS_VALUES:
                ratings.add_metric([unit, rating], counters.ratings.get(rating, 0))
        yield from (
            created,
            resolved,
            open_gauge,
            resolution,
            first_response,
            resolution_working,
            sla,
            open_past,
            escalated,
            overdue,
            overdue_oldest,
            after_break,
            *windows,
            *category_windows,
            *periods,
            transfers,
            reopened,
            ratings,
        )

    def _pipeline_metrics(self, snapshot: MetricsSnapshot) -> Iterator[Metric]:
        rejected = CounterMetricFamily(
            names.EVENTS_REJECTED, "Events dead-lettered, by reason.", labels=["reason"]
        )
        for reason, count in sorted(snapshot.rejected_by_reason.items()):
            rejected.add_metric([reason], count)
        processed = CounterMetricFamily(
            names.EVENTS_PROCESSED, "Events accepted by this worker since it started."
        )
        processed.add_metric([], snapshot.processed)
        views_failed = CounterMetricFamily(
            names.VIEWS_FAILED,
            "Unit views this worker's unit stage failed on since it started (a bug in the KPI "
            "code): skipped, so the live KPIs of their units may be off.",
        )
        views_failed.add_metric([], snapshot.views_failed)
        watermark = GaugeMetricFamily(
            names.WATERMARK,
            "Event-time watermark of the unit stage (Unix seconds): the latest event time "
            "seen, advanced with the wall clock while caught up.",
        )
        if snapshot.watermark:
            watermark.add_metric([], snapshot.watermark)
        lag = GaugeMetricFamily(
            names.CONSUMER_LAG,
            "Messages of the events topic not yet processed, by partition.",
            labels=["partition"],
        )
        for partition, behind in sorted(snapshot.lag_by_partition.items()):
            lag.add_metric([str(partition)], behind)
        yield from (rejected, processed, watermark, lag, views_failed)
