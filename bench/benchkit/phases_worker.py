"""Phases measuring `sigap worker` on the real broker: the backlog (one worker, then two),
latency, memory per open complaint and restart-to-ready."""

from __future__ import annotations

import contextlib
import threading
import time

import orjson

from .broker import publish
from .common import UNITS, log, wait_for
from .context import Bench
from .measure import (
    PROGRESS_SERIES,
    consumed,
    du_bytes,
    rss_bytes,
    scrape,
    total,
    watch_throughput,
)
from .workloads import Worker, created_event, encoded


def worker_phase(bench: Bench) -> None:
    bench.worker = Worker(bench, "w")
    bench.worker.start()
    result = watch_throughput(
        lambda: consumed(bench.worker.scrape()),
        bench.n,
        timeout=bench.timeout(),
        interval=bench.poll_seconds,
    )
    bench.figure(
        "worker_events_per_second",
        result["events_per_second"],
        "events/s",
        "`sigap worker` consuming the pre-published backlog: processed + rejected "
        "counter on /metrics, from the first event seen to N (startup excluded); "
        "/metrics polled every 0.5 s (a scrape costs the worker tens of ms)",
        measured_events=result["measured_events"],
        measured_seconds=result["measured_seconds"],
        startup_seconds=result["startup_seconds"],
    )
    # The unit stage runs behind the complaint stage: when has every created view counted?
    t = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        wait_for(
            lambda: (
                total(bench.worker.scrape(), "sigap_complaints_created_total")
                >= bench.expected_created
            ),
            timeout=bench.timeout(),
            interval=bench.poll_seconds,
            what="the unit stage",
        )
    bench.figure(
        "worker_unit_stage_tail_seconds",
        max(time.perf_counter() - t, 1e-3),
        "s",
        "after the complaint stage reached N: seconds until the unit stage "
        "had counted every created complaint (sigap_complaints_created_total = replay's)",
        expected_created=bench.expected_created,
        counted_created=total(bench.worker.scrape(), "sigap_complaints_created_total"),
    )
    tail = bench.figures["worker_unit_stage_tail_seconds"]["value"]
    bench.figure(
        "worker_all_stages_events_per_second",
        result["measured_events"] / (result["measured_seconds"] + tail),
        "events/s",
        "as worker_events_per_second, but until the unit stage had counted them too "
        "(measured events / (measured seconds + unit stage tail))",
    )
    for name, numerator, denominator, meaning in (
        (
            "worker_vs_empty_faust",
            "worker_events_per_second",
            "empty_faust_events_per_second",
            "worker (complaint stage) / empty Faust agent, same run",
        ),
        (
            "worker_all_stages_vs_empty_faust",
            "worker_all_stages_events_per_second",
            "empty_faust_events_per_second",
            "worker, both stages / empty Faust agent, same run (issue 19's goal)",
        ),
        (
            "worker_vs_naive",
            "worker_events_per_second",
            "naive_faust_events_per_second",
            "worker / naive Faust baseline (stage-1 rates), same run",
        ),
        (
            "worker_vs_naive_quix",
            "worker_events_per_second",
            "naive_quix_events_per_second",
            "worker / the naive KPI in Quix Streams (stage-1 rates), same run",
        ),
        (
            "worker_vs_bare_aiokafka",
            "worker_events_per_second",
            "bare_aiokafka_events_per_second",
            "worker / bare aiokafka consumer, same run",
        ),
    ):
        bench.ratio(name, numerator, denominator, meaning)


def two_workers_phase(bench: Bench) -> None:
    """Two `sigap worker` processes in one consumer group (their own app id and views
    topic) on the same backlog, while the single worker is stopped; then it restarts."""
    single = bench.worker
    single.stop()
    pair = [Worker(bench, "w2a"), Worker(bench, "w2b")]
    for worker in pair:
        worker.env = {
            **worker.env,
            "SIGAP_APP_ID": f"{bench.run_id}-w2",
            "SIGAP_VIEWS_TOPIC": f"{bench.views_topic}2",
        }
        worker.start()
    try:
        result = watch_throughput(
            lambda: sum(consumed(worker.scrape()) for worker in pair),
            bench.n,
            timeout=bench.timeout(),
            interval=bench.poll_seconds,
        )
    finally:
        for worker in pair:
            worker.stop()
    bench.figure(
        "two_workers_events_per_second",
        result["events_per_second"],
        "events/s",
        "two `sigap worker` processes in one group on the same backlog (2 partitions "
        "each), same machine: the sum of their processed + rejected counters",
        measured_seconds=result["measured_seconds"],
        startup_seconds=result["startup_seconds"],
    )
    bench.figure(
        "two_workers_vs_one",
        result["events_per_second"] / bench.figures["worker_events_per_second"]["value"],
        "ratio",
        "two workers / one worker, same run",
    )
    restarted = Worker(bench, "w")
    restarted.port, restarted.env = single.port, single.env
    restarted.start()
    bench.worker = restarted
    wait_for(
        lambda: (
            total(restarted.scrape(), "sigap_complaints_created_total") >= bench.expected_created
        ),
        timeout=300,
        interval=bench.poll_seconds,
        what="the single worker again, with its state",
    )


def latency_phase(bench: Bench, rate: float = 1000.0, prefix: str = "latency") -> None:
    from kafka import KafkaProducer

    duration = float(bench.params["latency_s"])
    count = int(rate * duration)
    unit = "dlh"
    label = f'unit="{unit}"'
    base = total(bench.worker.scrape(), "sigap_complaints_created_total", label)
    producer = KafkaProducer(
        bootstrap_servers=bench.bootstrap, linger_ms=0, acks=1, enable_idempotence=False
    )
    sent_at: list[float] = []
    observations: list[tuple[float, float]] = []
    stop = threading.Event()
    poll_costs: list[float] = []

    def poll() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            samples = scrape(bench.worker.port, series=PROGRESS_SERIES)
            t1 = time.perf_counter()
            if samples is not None:
                poll_costs.append(t1 - t0)
                # the value was current somewhere in [t0, t1]: t1 is the conservative end
                observations.append((t1, total(samples, "sigap_complaints_created_total", label)))
            # A scrape runs on the worker's event loop (tens of ms: the whole snapshot),
            # so polling back to back would slow down what is measured: at most ~25%.
            time.sleep(max(0.1, 3 * (t1 - t0)))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        event = created_event(f"{bench.run_id}-{prefix}-{i}", unit, time.time())
        sent_at.append(time.perf_counter())
        producer.send(
            bench.events_topic, key=event["complaint_id"].encode(), value=orjson.dumps(event)
        )
    producer.flush()
    achieved = count / (time.perf_counter() - start)
    producer.close()
    with contextlib.suppress(TimeoutError):
        wait_for(
            lambda: bool(observations) and observations[-1][1] >= base + count,
            timeout=120,
            what="latency events",
        )
    stop.set()
    poller.join()
    latencies = []
    j = 0
    for i, sent in enumerate(sent_at):
        needed = base + i + 1
        while j < len(observations) and observations[j][1] < needed:
            j += 1
        if j == len(observations):
            break
        latencies.append(max(observations[j][0] - sent, 0.0))
    missing = count - len(latencies)
    # Where the tail is: the worst latency of each second of sending (a stall at the start,
    # or one per commit interval, shows here, where a percentile cannot tell them apart).
    worst_by_second: dict[int, float] = {}
    for sent, latency in zip(sent_at, latencies, strict=False):
        second = int(sent - start)
        worst_by_second[second] = max(worst_by_second.get(second, 0.0), latency)
    latencies.sort()
    log(
        f"{prefix}: worst latency per second of sending: "
        + " ".join(f"{worst_by_second[second]:.2f}" for second in sorted(worst_by_second))
    )

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    costs = sorted(poll_costs)
    common = {
        "events": count,
        "achieved_rate": achieved,
        "unobserved_events": missing,
        "median_scrape_seconds": costs[len(costs) // 2] if costs else None,
        "scrapes": len(costs),
        "worst_by_second_of_sending": [
            round(worst_by_second[second], 3) for second in sorted(worst_by_second)
        ],
    }
    bench.figure(
        f"{prefix}_p50_seconds",
        pct(0.5),
        "s",
        "publish (send call) to the unit's sigap_complaints_created_total on /metrics "
        f"counting it, created events for new complaints at ~{rate:,.0f}/s; "
        "resolution: one scrape + max(0.1 s, 3 x scrape time)",
        rate=rate,
        **common,
    )
    bench.figure(
        f"{prefix}_p99_seconds",
        pct(0.99),
        "s",
        f"as {prefix}_p50, 99th percentile",
        rate=rate,
        **common,
    )


def open_complaints_phase(bench: Bench) -> None:
    m = int(bench.params["open"])
    worker = bench.worker
    # settle: the latency events are counted
    time.sleep(1.0)
    before = worker.scrape()
    consumed_before = consumed(before)
    created_before = total(before, "sigap_complaints_created_total")
    rss_before, state_before = rss_bytes(worker.pid), du_bytes(worker.state_dir)
    now = time.time() - 3600
    log(f"publishing {m:,} created events (open complaints)")
    t = time.perf_counter()
    publish(
        bench.bootstrap,
        bench.events_topic,
        encoded(
            created_event(f"{bench.run_id}-open-{i}", UNITS[i % len(UNITS)], now + i * 1e-3)
            for i in range(m)
        ),
    )
    log(f"published in {time.perf_counter() - t:.1f}s; waiting for the worker")
    result = watch_throughput(
        lambda: consumed(worker.scrape()) - consumed_before,
        m,
        timeout=max(300.0, m / 200.0),
        interval=bench.poll_seconds,
    )
    wait_for(
        lambda: total(worker.scrape(), "sigap_complaints_created_total") >= created_before + m,
        timeout=max(300.0, m / 200.0),
        interval=bench.poll_seconds,
        what="the unit stage to count the open complaints",
    )
    time.sleep(2.0)  # let RocksDB flush its memtables a little
    rss_after, state_after = rss_bytes(worker.pid), du_bytes(worker.state_dir)
    open_total = total(worker.scrape(series=None), "sigap_complaints_open")
    per = (rss_after - rss_before + state_after - state_before) / m
    bench.open_m = m
    bench.figure(
        "worker_rss_bytes",
        rss_after,
        "bytes",
        f"worker RSS (/proc/PID/status VmRSS) with the backlog and {m:,} extra open complaints",
        rss_before=rss_before,
        open_complaints=open_total,
        added_open=m,
    )
    bench.figure(
        "state_dir_bytes",
        state_after,
        "bytes",
        "du of SIGAP_STATE_DIR (RocksDB tables) at the same moment",
        state_before=state_before,
    )
    bench.figure(
        "bytes_per_open_complaint",
        per,
        "bytes",
        f"(RSS growth + state growth) / {m:,} added open complaints",
        rss_bytes_per_open=(rss_after - rss_before) / m,
        state_bytes_per_open=(state_after - state_before) / m,
        added_open=m,
    )
    bench.figure(
        "worker_created_only_events_per_second",
        result["events_per_second"],
        "events/s",
        "worker throughput on the all-`created` open-complaint load",
    )


def restart(bench: Bench) -> dict[str, float]:
    """SIGTERM the worker, start it again on the same state; seconds to ready."""
    worker = bench.worker
    stop_s = worker.stop()
    # The unit stage's snapshots written at the stop (streams.unit_snapshot); a refused one
    # is logged at WARNING (the level the bench runs the worker at).
    snapshots = sorted((worker.state_dir / "unit-snapshots").glob("*.snapshot"))
    refusals_before = worker.log_path.read_bytes().count(b"not loaded")
    probe = 200
    restart = Worker(bench, "w")  # same app id, state dir and port
    restart.port = worker.port
    restart.env = worker.env
    bench.restarts = getattr(bench, "restarts", 0) + 1
    started = restart.start()
    bench.worker = restart
    publish(
        bench.bootstrap,
        bench.events_topic,
        encoded(
            created_event(
                f"{bench.run_id}-probe{bench.restarts}-{i}", UNITS[i % len(UNITS)], time.time()
            )
            for i in range(probe)
        ),
    )
    serving = None
    deadline = started + 600.0
    while True:
        samples = restart.scrape()
        now = time.perf_counter()
        if samples is not None and serving is None:
            serving = now - started
        if (
            samples is not None
            and consumed(samples) >= probe
            and total(samples, "sigap_events_consumer_lag") == 0
        ):
            break
        if now > deadline:
            raise TimeoutError("the restarted worker did not become ready")
        time.sleep(0.25)
    ready = time.perf_counter() - started
    refused = restart.log_path.read_bytes().count(b"not loaded") - refusals_before
    return {
        "ready": ready,
        "serving": serving or 0.0,
        "stop": stop_s,
        "probe": probe,
        "snapshots_written": len(snapshots),
        "snapshots_loaded": sum(not path.exists() for path in snapshots) - refused,
    }


def restart_baseline_phase(bench: Bench) -> None:
    bench.restart_small = restart(bench)
    bench.figure(
        "restart_to_ready_seconds_backlog_only",
        bench.restart_small["ready"],
        "s",
        "restart-to-ready with only the backlog's complaints in state (before the "
        "open-complaint load): the fixed cost of a restart",
        metrics_serving_seconds=bench.restart_small["serving"],
        stop_seconds=bench.restart_small["stop"],
        snapshots_written=bench.restart_small["snapshots_written"],
        snapshots_loaded=bench.restart_small["snapshots_loaded"],
    )


def restart_phase(bench: Bench) -> None:
    big = restart(bench)
    m = bench.open_m
    bench.figure(
        "restart_to_ready_seconds",
        big["ready"],
        "s",
        f"SIGTERM'd worker started again on its RocksDB state ({m:,} added open "
        "complaints): process start to /metrics serving, the probe events "
        f"({big['probe']}) processed and consumer lag 0",
        open_complaints=m,
        metrics_serving_seconds=big["serving"],
        stop_seconds=big["stop"],
        snapshots_written=big["snapshots_written"],
        snapshots_loaded=big["snapshots_loaded"],
    )
    small = bench.restart_small["ready"]
    slope = max(big["ready"] - small, 0.0) / m
    extrapolated = m < 1_000_000
    value = small + slope * 1_000_000 if extrapolated else big["ready"]
    bench.figure(
        "restart_to_ready_seconds_at_1m",
        value,
        "s",
        "restart-to-ready at 1,000,000 open complaints"
        + (
            f": EXTRAPOLATED linearly through the two restarts measured (backlog only, "
            f"and +{m:,} open): fixed {small:.1f} s + {slope * 1e6:.2f} s per million"
            if extrapolated
            else ": measured"
        ),
        extrapolated=extrapolated,
        measured_at=m,
        seconds_per_million=slope * 1e6,
    )


def finish(bench: Bench) -> None:
    with contextlib.suppress(Exception):
        bench.worker.stop(20)


# -- report --------------------------------------------------------------------------
