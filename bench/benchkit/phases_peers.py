"""Phases measuring the peers on the same pre-loaded topic: a bare aiokafka consumer, an empty
Faust agent (the settings sweep), the naive KPI in Faust and the same naive KPI in Quix Streams."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import orjson

from .common import EMPTY_VARIANTS, PY, QUIX_PY, ROOT, free_port, log
from .context import Bench
from .workloads import run_peer_app


def bare_consumer_phase(bench: Bench) -> None:
    from aiokafka import AIOKafkaConsumer

    async def consume() -> dict[str, float]:
        consumer = AIOKafkaConsumer(
            bench.events_topic,
            bootstrap_servers=bench.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        count = 0
        first = 0.0
        try:
            while count < bench.n:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        orjson.loads(record.value)
                        count += 1
                        if count == 1:
                            first = time.perf_counter()
        finally:
            await consumer.stop()
        elapsed = time.perf_counter() - first
        return {"events_per_second": (count - 1) / elapsed, "seconds": elapsed}

    result = asyncio.run(asyncio.wait_for(consume(), timeout=300))
    bench.figure(
        "bare_aiokafka_events_per_second",
        result["events_per_second"],
        "events/s",
        "ceiling (a): a bare aiokafka consumer that only orjson-decodes each value, "
        "same topic, from its first record",
        seconds=result["seconds"],
    )


def _peer_env(bench: Bench, app_id: str, name: str) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_BOOTSTRAP": bench.bootstrap,
        "BENCH_TOPIC": bench.events_topic,
        "BENCH_UNITS_TOPIC": f"{bench.run_id}-naive-units",
        "BENCH_PARTITIONS": str(bench.partitions),
        "BENCH_APP_ID": app_id,
        "BENCH_STATE_DIR": str(bench.workdir / f"state-{name}"),
        "BENCH_WEB_PORT": str(free_port()),
        "BENCH_TARGET": str(bench.n),
        "BENCH_RESULT": str(bench.workdir / f"{name}.json"),
    }


def faust_app_phase(
    bench: Bench, mode: str, variant: str = "defaults", units_topic: str | None = None
) -> dict[str, Any]:
    """bench/faust_apps.py MODE VARIANT until it writes its result; `units_topic` replaces
    the naive app's second topic (bench/record_floor.py: one per skeleton)."""
    name = f"{mode}-{variant}"
    app_id = f"{bench.run_id}-{mode}" + ("" if mode == "naive" else f"-{variant}")
    env = _peer_env(bench, app_id, name)
    if units_topic is not None:
        env["BENCH_UNITS_TOPIC"] = units_topic
    return run_peer_app(
        [PY, str(ROOT / "bench" / "faust_apps.py"), mode, variant],
        env,
        bench.workdir / f"faust-{name}.log",
        bench.workdir / f"{name}.json",
        bench.timeout(),
    )


def ceilings_and_baseline(bench: Bench) -> None:
    # The sweep is skipped in --smoke (time): only the worker's settings are measured.
    variants = ("worker",) if bench.mode == "smoke" else EMPTY_VARIANTS
    for variant in variants:
        empty = faust_app_phase(bench, "empty", variant)
        if variant == "worker":
            bench.figure(
                "empty_faust_events_per_second",
                empty["events_per_second"],
                "events/s",
                "ceiling (b): an empty Faust agent with the worker's own settings "
                "(streams.app.faust_settings: raw serializers, rocksdb store, uvloop, "
                "FAUST_TUNING, streams.app.event_batches, Prometheus sensors)",
            )
        else:
            bench.figure(
                f"empty_faust_{variant}_events_per_second",
                empty["events_per_second"],
                "events/s",
                f"settings sweep: empty Faust agent, variant {variant!r} "
                "(bench/faust_apps.py: defaults, then one change at a time)",
            )
    naive = faust_app_phase(bench, "naive")
    bench.figure(
        "naive_faust_events_per_second",
        naive["events_per_second"],
        "events/s",
        "baseline: the obvious Faust way (JSON decode, per-complaint created "
        "table, repartition by unit, tumbling 1h/24h windowed tables of "
        "created/resolved counts and resolution sums); stage-1 rate",
        all_stages_events_per_second=naive["all_stages_events_per_second"],
        forwarded=naive["forwarded"],
    )


def quix_phase(bench: Bench) -> None:
    """The naive KPI in Quix Streams (bench/quix_app.py), in its own virtualenv."""
    if not QUIX_PY.exists():
        message = f"no Quix Streams peer: {QUIX_PY} is missing (make bench-quix-venv)"
        log(message)
        bench.notes.append(message)
        return
    name = "quix-naive"
    result = run_peer_app(
        [str(QUIX_PY), str(ROOT / "bench" / "quix_app.py")],
        _peer_env(bench, f"{bench.run_id}-quix", name),
        bench.workdir / f"{name}.log",
        bench.workdir / f"{name}.json",
        bench.timeout(),
    )
    bench.figure(
        "naive_quix_events_per_second",
        result["events_per_second"],
        "events/s",
        "peer: the naive Faust baseline's KPI in Quix Streams (bench/quix_app.py: stateful "
        "apply per complaint, group_by unit, tumbling 1h/24h window aggregations, event time); "
        "stage-1 rate",
        all_stages_events_per_second=result["all_stages_events_per_second"],
        forwarded=result["forwarded"],
    )
