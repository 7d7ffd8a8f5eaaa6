"""Synthetic SIGAP metrics in OpenMetrics, for `promtool tsdb create-blocks-from openmetrics`.

A few hours of samples, one a minute, ending at ``end``, for every metric of the contract
(metrics/names.py) and every unit given (plus unit="unknown"), as the worker job would
expose them, and for the Faust sensor metrics the pipeline dashboard uses (names and types
taken from faust's own FaustMetrics, so they are the ones the worker really exports).
Deterministic for a given ``end``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from faust.sensors.prometheus import MS_LATENCY_BUCKETS, FaustMetrics
from prometheus_client import CollectorRegistry

from metrics.names import (
    CATEGORY_WINDOW_SECONDS,
    CATEGORY_WINDOW_WITHIN_TARGET_RATIO,
    CLOCKS,
    COMPLAINTS_CREATED,
    COMPLAINTS_OPEN,
    COMPLAINTS_RESOLVED,
    CONSUMER_LAG,
    ESCALATED,
    EVENTS_PROCESSED,
    EVENTS_REJECTED,
    FIRST_RESPONSE_WALL_SECONDS,
    LATE_BY,
    OPEN_PAST_TARGET,
    OVERDUE,
    OVERDUE_OLDEST,
    PERCENTILES,
    RATINGS,
    RATINGS_VALUES,
    REOPENED,
    RESOLUTION_WALL_SECONDS,
    RESOLUTION_WORKING_SECONDS,
    SLA,
    THRESHOLDS,
    TIMERS,
    TRANSFER_REASONS,
    TRANSFERS,
    UNKNOWN_UNIT,
    VIEWS_FAILED,
    WATERMARK,
    WINDOW_SECONDS,
    WINDOW_WITHIN_TARGET_RATIO,
    WINDOWS,
)

STEP_SECONDS = 60
HOURS = 3
JOB = {"job": "sigap-worker", "instance": "127.0.0.1:6066"}
# Seconds; includes 86400.0, written the way the Python client writes it.
BUCKETS = (300.0, 900.0, 3600.0, 14400.0, 28800.0, 86400.0, 172800.0, 432000.0)
REJECT_REASONS = ("invalid_schema", "unknown_complaint")
PARTITIONS = ("0", "1", "2")
TOPIC = "complaint-events"
FAUST_PREFIX = "faust"

Labels = dict[str, str]


def _fmt_labels(labels: Labels) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + inner + "}"


def _fmt_value(value: float) -> str:
    return repr(float(value))


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class _Writer:
    def __init__(self, timestamps: Sequence[float]) -> None:
        self.timestamps = timestamps
        self.lines: list[str] = []
        self.families: dict[str, str] = {}

    def family(self, name: str, kind: str) -> None:
        assert name not in self.families, name
        self.families[name] = kind
        self.lines.append(f"# TYPE {name} {kind}")

    def series(self, sample: str, labels: Labels, values: Sequence[float]) -> None:
        text = _fmt_labels({**JOB, **labels})
        for ts, value in zip(self.timestamps, values, strict=True):
            self.lines.append(f"{sample}{text} {_fmt_value(value)} {ts:.3f}")

    def counter(self, name: str, labels: Labels, increments: Sequence[float]) -> None:
        total, values = 0.0, []
        for increment in increments:
            total += increment
            values.append(total)
        self.series(f"{name}_total", labels, values)

    def histogram(
        self,
        name: str,
        labels: Labels,
        bounds: Sequence[float],
        observe: Callable[[int], list[float]],
    ) -> None:
        counts = [0] * (len(bounds) + 1)
        total = 0.0
        all_bounds = [*bounds, float("inf")]
        for i, ts in enumerate(self.timestamps):
            for value in observe(i):
                total += value
                for j, bound in enumerate(all_bounds):
                    if value <= bound:
                        counts[j] += 1
                        break
            cumulative = 0
            # One MetricPoint (all buckets, count and sum) per timestamp, as OpenMetrics wants.
            for bound, count in zip(all_bounds, counts, strict=True):
                cumulative += count
                text = _fmt_labels({**JOB, **labels, "le": _le(bound)})
                self.lines.append(f"{name}_bucket{text} {cumulative} {ts:.3f}")
            text = _fmt_labels({**JOB, **labels})
            self.lines.append(f"{name}_count{text} {cumulative} {ts:.3f}")
            self.lines.append(f"{name}_sum{text} {_fmt_value(total)} {ts:.3f}")


def faust_families() -> dict[str, str]:
    """Faust's sensor metric families and their types, from faust itself."""
    registry = CollectorRegistry()
    FaustMetrics.create(registry, FAUST_PREFIX)
    return {metric.name: metric.type for metric in registry.collect()}


def openmetrics(units: Iterable[str], end: float) -> str:
    """The OpenMetrics text; ``end`` is the (Unix) time of the last sample."""
    rng = random.Random(20260101)
    count = HOURS * 3600 // STEP_SECONDS + 1
    first = int(end) - (count - 1) * STEP_SECONDS
    timestamps = [float(first + i * STEP_SECONDS) for i in range(count)]
    all_units = [*units, UNKNOWN_UNIT]
    w = _Writer(timestamps)

    def noisy(base: float, spread: float) -> list[float]:
        return [max(0.0, base + rng.uniform(-spread, spread)) for _ in timestamps]

    def every(period: int, offset: int = 0, amount: float = 1) -> list[float]:
        """Counter increments: ``amount`` every ``period`` minutes."""
        return [amount if (i + offset) % period == 0 else 0.0 for i in range(count)]

    def exponential(mean: float, per_step: int) -> Callable[[int], list[float]]:
        return lambda _: [rng.expovariate(1 / mean) for _ in range(per_step)]

    w.family(COMPLAINTS_CREATED, "counter")
    for n, unit in enumerate(all_units):
        w.counter(COMPLAINTS_CREATED, {"unit": unit}, [1 + (i + n) % 3 for i in range(count)])
    w.family(ESCALATED, "counter")
    for n, unit in enumerate(all_units):
        for k, level in enumerate(("kecamatan", "dinas", "walikota")):
            w.counter(ESCALATED, {"unit": unit, "level": level}, every(5 + n % 3 + k))
    w.family(COMPLAINTS_RESOLVED, "counter")
    for n, unit in enumerate(all_units):
        w.counter(COMPLAINTS_RESOLVED, {"unit": unit}, [(i + n) % 3 for i in range(count)])
    w.family(COMPLAINTS_OPEN, "gauge")
    for unit in all_units:
        w.series(COMPLAINTS_OPEN, {"unit": unit}, noisy(20, 5))
    w.family(SLA, "counter")
    for n, unit in enumerate(all_units):
        for timer in TIMERS:
            # Every minute has outcomes, one in (3 + n % 4) minutes a miss.
            w.counter(SLA, {"unit": unit, "timer": timer, "outcome": "met"}, every(1, amount=2))
            w.counter(SLA, {"unit": unit, "timer": timer, "outcome": "missed"}, every(3 + n % 4))
    w.family(OPEN_PAST_TARGET, "gauge")
    for unit in all_units:
        for timer in TIMERS:
            for k, threshold in enumerate(THRESHOLDS):
                # Past 0.5 >= past 0.75 >= past 1: the gauge is cumulative.
                w.series(
                    OPEN_PAST_TARGET,
                    {"unit": unit, "timer": timer, "threshold": threshold},
                    [float(6 - 2 * k + i % 2) for i in range(count)],
                )
    w.family(OVERDUE, "gauge")
    for unit in all_units:
        for timer in TIMERS:
            for k, band in enumerate(LATE_BY):
                w.series(
                    OVERDUE,
                    {"unit": unit, "timer": timer, "late_by": band},
                    [float((3 - k + i // 30) % 4) for i in range(count)],
                )
    w.family(OVERDUE_OLDEST, "gauge")
    for unit in all_units:
        for timer in TIMERS:
            w.series(
                OVERDUE_OLDEST,
                {"unit": unit, "timer": timer},
                noisy(3 * 86400.0, 3600.0),
            )
    w.family(WINDOW_SECONDS, "gauge")
    for unit in all_units:
        for timer in TIMERS:
            base = 3600.0 if timer == "response" else 86400.0
            for window in WINDOWS:
                for clock in CLOCKS:
                    for percentile in PERCENTILES:
                        factor = 1.0 if percentile == PERCENTILES[0] else 3.0
                        labels = {"unit": unit, "timer": timer, "window": window}
                        w.series(
                            WINDOW_SECONDS,
                            {**labels, "clock": clock, "percentile": percentile},
                            noisy(base * factor, base * 0.1),
                        )
    w.family(WINDOW_WITHIN_TARGET_RATIO, "gauge")
    for unit in all_units:
        for timer in TIMERS:
            for window in WINDOWS:
                ratio = rng.uniform(0.8, 0.99)
                w.series(
                    WINDOW_WITHIN_TARGET_RATIO,
                    {"unit": unit, "timer": timer, "window": window},
                    noisy(ratio, 0.005),
                )
    # Per complaint category: two of the taxonomy's and `other` for each unit.
    categories = ("waste", "roads_bridges", "other")
    w.family(CATEGORY_WINDOW_SECONDS, "gauge")
    w.family(CATEGORY_WINDOW_WITHIN_TARGET_RATIO, "gauge")
    for unit in all_units:
        for category in categories:
            for timer in TIMERS:
                base = 3600.0 if timer == "response" else 86400.0
                for window in WINDOWS:
                    labels = {"unit": unit, "category": category, "timer": timer, "window": window}
                    for clock in CLOCKS:
                        for percentile in PERCENTILES:
                            factor = 1.0 if percentile == PERCENTILES[0] else 3.0
                            w.series(
                                CATEGORY_WINDOW_SECONDS,
                                {**labels, "clock": clock, "percentile": percentile},
                                noisy(base * factor, base * 0.1),
                            )
                    w.series(
                        CATEGORY_WINDOW_WITHIN_TARGET_RATIO,
                        labels,
                        noisy(rng.uniform(0.7, 0.99), 0.005),
                    )
    for name, scale in (
        (FIRST_RESPONSE_WALL_SECONDS, 3600.0),
        (RESOLUTION_WORKING_SECONDS, 86400.0),
        (RESOLUTION_WALL_SECONDS, 172800.0),
    ):
        w.family(name, "histogram")
        for unit in all_units:
            w.histogram(name, {"unit": unit}, BUCKETS, exponential(scale, 2))
    w.family(TRANSFERS, "counter")
    for unit in all_units:
        for reason in TRANSFER_REASONS:
            w.counter(TRANSFERS, {"unit": unit, "reason": reason}, every(7))
    w.family(REOPENED, "counter")
    for unit in all_units:
        w.counter(REOPENED, {"unit": unit}, every(11))
    w.family(RATINGS, "counter")
    for unit in all_units:
        for rating in RATINGS_VALUES:
            w.counter(RATINGS, {"unit": unit, "rating": rating}, every(int(rating)))
    w.family(EVENTS_REJECTED, "counter")
    for reason in REJECT_REASONS:
        w.counter(EVENTS_REJECTED, {"reason": reason}, every(13))
    w.family(EVENTS_PROCESSED, "counter")
    w.counter(EVENTS_PROCESSED, {}, every(1, amount=20))
    w.family(VIEWS_FAILED, "counter")
    w.counter(VIEWS_FAILED, {}, every(97))  # rare: a bug
    w.family(WATERMARK, "gauge")
    w.series(WATERMARK, {}, [ts - 45 for ts in timestamps])
    w.family(CONSUMER_LAG, "gauge")
    for partition in PARTITIONS:
        w.series(CONSUMER_LAG, {"partition": partition}, noisy(50, 40))
    w.family("up", "gauge")
    w.series("up", {}, [1.0] * count)

    faust = faust_families()

    def faust_family(name: str, kind: str) -> str:
        full = f"{FAUST_PREFIX}_{name}"
        # Only metrics faust really defines, with faust's type.
        assert faust.get(full) == kind, (full, kind, faust.get(full))
        w.family(full, kind)
        return full

    name = faust_family("messages_received", "counter")
    w.counter(name, {}, every(1, amount=25))
    name = faust_family("total_error_messages_sent", "counter")
    w.counter(name, {}, every(17))
    name = faust_family("events_runtime_ms", "histogram")
    w.histogram(name, {}, MS_LATENCY_BUCKETS, exponential(20, 20))
    for gauge in ("active_messages", "total_rebalances", "total_rebalances_recovering"):
        name = faust_family(gauge, "gauge")
        w.series(name, {}, [float(i % 3) for i in range(count)])
    end_name = faust_family("topic_partition_end_offset", "gauge")
    for partition in PARTITIONS:
        w.series(
            end_name, {"topic": TOPIC, "partition": partition}, [100.0 * i for i in range(count)]
        )
    committed_name = faust_family("topic_partition_offset_commited", "gauge")
    for partition in PARTITIONS:
        w.series(
            committed_name,
            {"topic": TOPIC, "partition": partition},
            [max(0.0, 100.0 * i - 30) for i in range(count)],
        )
    return "\n".join([*w.lines, "# EOF", ""])
