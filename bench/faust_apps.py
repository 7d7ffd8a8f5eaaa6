"""Faust apps the benchmark compares the worker with (run as subprocesses by bench/run.py).

    python bench/faust_apps.py empty|naive [VARIANT]

Configuration from the environment (set by bench/run.py):
  BENCH_BOOTSTRAP, BENCH_TOPIC, BENCH_PARTITIONS, BENCH_APP_ID, BENCH_STATE_DIR,
  BENCH_WEB_PORT, BENCH_TARGET (events to consume), BENCH_RESULT (JSON file written at the end),
  BENCH_GUARANTEE (Faust's processing_guarantee: at_least_once, the default and the worker's,
  or exactly_once: Kafka transactions; bench/guarantees.py compares the two).

`empty`: one agent that does nothing with its events: the ceiling of Faust itself on this
machine and topic. VARIANT says with which settings (the settings sweep of bench/RESULTS.md):
  defaults  Faust's defaults (raw key/value serializers, earliest offsets, rocksdb store),
            asyncio loop, `stream.events()`, no sensors (the previous run's ceiling);
  uvloop    + the uvloop event loop;
  tuned     + streams.app.FAUST_TUNING (poll, fetch, buffer and producer sizes) and no
            progress spinner (streams.app.quiet_debug_logging);
  take      + Faust's `stream.take_events(1000, within=0.02)` instead of `stream.events()`;
  batch     + batches as the complaint agent takes them (streams.app.event_batches: what has
            arrived, up to 1000, acknowledged after the batch) instead of take_events;
  worker    the worker's own settings: tuned + batch, plus the Prometheus sensors the worker
            installs (streams.app.setup_sensors): the ceiling the worker is compared with.

`naive`: the obvious Faust way to count the main KPIs: stage 1 (keyed by complaint_id) parses
the JSON, keeps each complaint's created time and unit in a plain table, and forwards
created/resolved facts to a topic keyed by unit (with the event time as the record timestamp);
stage 2 (keyed by unit) counts created/resolved and sums resolution seconds in tumbling
windowed tables (1 h and 24 h, relative to the stream = event time). Not equivalent to SIGAP's
KPIs (no working calendar, no transfers, pauses, reopenings, targets): a lower bound of work.

`skeleton PATTERN`: the worker's records per event without its work (bench/record_floor.py):
what Faust alone costs for a record pattern, i.e. the most the worker could reach with it
however fast SIGAP's own code became. The worker's settings (as `empty worker`), its consumer
patches (streams.app.patch_consumer) and its batches. Per batch, each complaint touched is
read from and written to a bytes table (a stand-in of the complaint state's size) and gives
one view (a stand-in of a unit view's size); the views go out as one record per (events
partition, views partition), and the units agent reads each view's stored entry and writes it
(reads go to the tables only on a miss of the worker's in-memory copies, CACHE_SIZE each).
PATTERN says which writes produce a changelog record (a store-only write is `table.data[k]`):
  records           both tables (the worker today: ~2 changelog records per event);
  views-recovered   the complaint table only: the unit table recovered from the views topic;
  source-recovered  neither: the complaint table recovered from the events topic, the unit
                    table from the views topic (state flushed per commit interval at best);
  one-stage         the complaint table store-only and no views topic: per-unit figures
                    kept per events partition in memory (summed across workers by Prometheus).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import faust
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from schemas.views import unit_partition
from sigap.settings import Settings
from streams.app import (
    CACHE_SIZE,
    FAUST_TUNING,
    ROCKSDB_OPTIONS,
    event_batches,
    faust_settings,
    install_event_loop,
    patch_consumer,
    quiet_debug_logging,
    setup_sensors,
)
from streams.complaint_stage import acting_for

MODE = sys.argv[1]
VARIANTS = ("defaults", "uvloop", "tuned", "take", "batch", "worker")
PATTERNS = ("records", "views-recovered", "source-recovered", "one-stage")
if MODE == "skeleton":
    PATTERN = sys.argv[2] if len(sys.argv) > 2 else "records"
    if PATTERN not in PATTERNS:
        raise SystemExit(f"unknown record pattern {PATTERN!r}; known: {PATTERNS}")
    VARIANT = "worker"
else:
    VARIANT = sys.argv[2] if len(sys.argv) > 2 else "defaults"
    if VARIANT not in VARIANTS:
        raise SystemExit(f"unknown variant {VARIANT!r}; known: {VARIANTS}")
USE_UVLOOP = VARIANT != "defaults"
TUNED = VARIANT in ("tuned", "take", "batch", "worker")
TAKE = VARIANT == "take"
BATCHES = VARIANT in ("batch", "worker")
ENV = os.environ
TOPIC = ENV["BENCH_TOPIC"]
PARTITIONS = int(ENV["BENCH_PARTITIONS"])
TARGET = int(ENV["BENCH_TARGET"])
RESULT = Path(ENV["BENCH_RESULT"])

if USE_UVLOOP:
    install_event_loop()
settings = faust_settings(
    Settings(
        kafka_bootstrap_servers=ENV["BENCH_BOOTSTRAP"],
        topic_partitions=PARTITIONS,
        state_dir=ENV["BENCH_STATE_DIR"],
        web_port=int(ENV["BENCH_WEB_PORT"]),
    )
)
if not TUNED:
    settings = {name: value for name, value in settings.items() if name not in FAUST_TUNING}
GUARANTEE = ENV.get("BENCH_GUARANTEE", "at_least_once")
if GUARANTEE not in ("at_least_once", "exactly_once"):
    raise SystemExit(f"BENCH_GUARANTEE: unknown processing guarantee {GUARANTEE!r}")
settings["processing_guarantee"] = GUARANTEE
app = faust.App(ENV["BENCH_APP_ID"], **settings)
if VARIANT == "worker":
    from prometheus_client import CollectorRegistry

    setup_sensors(app, CollectorRegistry())
events_topic = app.topic(TOPIC, partitions=PARTITIONS, internal=False)

state: dict[str, Any] = {"n": 0, "t_first": None, "t_target": None, "n2": 0, "forwarded": 0}


def finish(extra: dict[str, Any]) -> None:
    result = {
        "mode": MODE,
        "processing_guarantee": GUARANTEE,
        "events": state["n"],
        "t_first": state["t_first"],
        "t_target": state["t_target"],
        "events_per_second": (state["n"] - 1) / (state["t_target"] - state["t_first"]),
        **extra,
    }
    RESULT.write_bytes(orjson.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # the parent only needs the result; skip Faust's slow shutdown


def count_stage1() -> None:
    now = time.perf_counter()
    state["n"] += 1
    if state["t_first"] is None:
        state["t_first"] = now
    if state["n"] >= TARGET and state["t_target"] is None:
        state["t_target"] = now


if MODE == "empty" and TAKE:

    @app.agent(events_topic, name="empty")
    async def empty_take_agent(stream: Any) -> None:
        async for events in stream.take_events(1000, within=0.02):
            for _event in events:
                count_stage1()
            if state["t_target"] is not None:
                finish({"variant": VARIANT})

elif MODE == "empty" and BATCHES:

    @app.agent(events_topic, name="empty")
    async def empty_batch_agent(stream: Any) -> None:
        async for events in event_batches(stream):
            for _event in events:
                count_stage1()
            if state["t_target"] is not None:
                finish({"variant": VARIANT})

elif MODE == "empty":

    @app.agent(events_topic, name="empty")
    async def empty_agent(stream: Any) -> None:
        async for _event in stream.events():
            count_stage1()
            if state["t_target"] is not None:
                finish({"variant": VARIANT})

elif MODE == "naive":
    units_topic = app.topic(ENV["BENCH_UNITS_TOPIC"], partitions=PARTITIONS, internal=False)
    # Table keys and values use Faust's default for tables (json), as the worker's tables.
    created_at = app.Table("created-at", partitions=PARTITIONS)

    def windowed(name: str, size: timedelta, default: Any) -> Any:
        return (
            app.Table(name, default=default, partitions=PARTITIONS)
            .tumbling(size, expires=timedelta(days=30))
            .relative_to_stream()
        )

    hour, day = timedelta(hours=1), timedelta(days=1)
    created_1h, created_1d = windowed("created-1h", hour, int), windowed("created-1d", day, int)
    resolved_1h, resolved_1d = windowed("resolved-1h", hour, int), windowed("resolved-1d", day, int)
    ressum_1h, ressum_1d = windowed("ressum-1h", hour, float), windowed("ressum-1d", day, float)

    def maybe_finish() -> None:
        if state["t_target"] is not None and state["n2"] >= state["forwarded"]:
            t_all = time.perf_counter()
            finish(
                {
                    "forwarded": state["forwarded"],
                    "all_stages_events_per_second": (state["n"] - 1) / (t_all - state["t_first"]),
                }
            )

    @app.agent(events_topic, name="naive-complaints")
    async def naive_complaints(stream: Any) -> None:
        async for event in stream.events():
            data = orjson.loads(event.value)
            kind = data["type"]
            cid = data["complaint_id"]
            ts = datetime.fromisoformat(data["occurred_at"]).timestamp()
            if kind == "created":
                created_at[cid] = [ts, data["unit"]]
                state["forwarded"] += 1
                await units_topic.send(key=data["unit"].encode(), value=b'{"t":"c"}', timestamp=ts)
            elif kind == "resolved":
                record = created_at.get(cid)
                if record is not None:
                    state["forwarded"] += 1
                    value = orjson.dumps({"t": "r", "d": ts - record[0]})
                    await units_topic.send(key=record[1].encode(), value=value, timestamp=ts)
            count_stage1()
            maybe_finish()

    @app.agent(units_topic, name="naive-units")
    async def naive_units(stream: Any) -> None:
        async for event in stream.events():
            data = orjson.loads(event.value)
            unit = event.key.decode()
            if data["t"] == "c":
                created_1h[unit] += 1
                created_1d[unit] += 1
            else:
                resolved_1h[unit] += 1
                resolved_1d[unit] += 1
                ressum_1h[unit] += data["d"]
                ressum_1d[unit] += data["d"]
            state["n2"] += 1
            maybe_finish()

elif MODE == "skeleton":
    # Stand-ins of the sizes measured on created events (bench/RESULTS.md, "record floor").
    STATE_BYTES, VIEW_BYTES = 215, 640
    views_topic = app.topic(ENV["BENCH_UNITS_TOPIC"], partitions=PARTITIONS, internal=False)

    def bytes_table(name: str) -> Any:
        return app.Table(name, partitions=PARTITIONS, value_type=bytes, options=ROCKSDB_OPTIONS)

    complaint_table, view_table = bytes_table("complaints"), bytes_table("unit-views")
    complaint_changelog = PATTERN in ("records", "views-recovered")
    view_changelog = PATTERN == "records"
    per_unit: dict[str, int] = {}  # one-stage: the per-unit figure, in memory
    # The worker's in-memory copies of table entries (streams.app.CACHE_SIZE, oldest out):
    # a read goes to the table only on a miss, as in the stages.
    complaint_cache: dict[bytes, bytes] = {}
    view_cache: dict[bytes, bytes] = {}

    def read_through(table: Any, cache: dict[bytes, bytes], key: bytes) -> bytes | None:
        value = cache.get(key)
        return table.get(key) if value is None else value

    def keep(cache: dict[bytes, bytes], key: bytes, value: bytes) -> None:
        if len(cache) >= CACHE_SIZE and key not in cache:
            del cache[next(iter(cache))]
        cache[key] = value

    @app.on_partitions_assigned.connect
    def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        patch_consumer(app, (TOPIC, views_topic.get_topic_name()))

    def finish_when_done() -> None:
        if state["t_target"] is not None and state["n2"] >= state["forwarded"]:
            elapsed = time.perf_counter() - state["t_first"]
            finish(
                {
                    "pattern": PATTERN,
                    "forwarded": state["forwarded"],
                    "all_stages_events_per_second": (state["n"] - 1) / elapsed,
                }
            )

    @app.agent(events_topic, name="skeleton-complaints")
    async def skeleton_complaints(stream: Any) -> None:
        async for events in event_batches(stream):
            touched: dict[bytes, tuple[Any, bytes]] = {}
            for event in events:
                data = orjson.loads(event.value)
                key = event.key
                with acting_for(event):
                    stored = read_through(complaint_table, complaint_cache, key)
                unit = data.get("unit")
                if unit is None:  # the unit of the complaint, from its stored state
                    unit = (stored or b"|").split(b"|", 1)[0].decode() or "unknown"
                value = unit.encode() + b"|" + event.value[: STATE_BYTES - len(unit) - 1]
                touched[key] = (event, value)
                count_stage1()
            outgoing: dict[tuple[int, int], list[bytes]] = {}
            for key, (event, value) in touched.items():
                with acting_for(event):
                    if complaint_changelog:
                        complaint_table[key] = value
                    else:
                        complaint_table.data[key] = value
                keep(complaint_cache, key, value)
                unit = value.split(b"|", 1)[0].decode()
                if PATTERN == "one-stage":
                    per_unit[unit] = per_unit.get(unit, 0) + 1
                    continue
                view = key + b"|" + unit.encode() + b"|" + b"v" * VIEW_BYTES
                destination = unit_partition(unit, PARTITIONS)
                outgoing.setdefault((event.message.partition, destination), []).append(view)
            for (_source, destination), views in outgoing.items():
                state["forwarded"] += len(views)
                await views_topic.send(key=None, partition=destination, value=b"\n".join(views))
            finish_when_done()

    @app.agent(views_topic, name="skeleton-units")
    async def skeleton_units(stream: Any) -> None:
        async for event in stream.events():
            for view in event.value.split(b"\n"):
                complaint, unit, _ = view.split(b"|", 2)
                key = unit + b"|" + complaint
                read_through(view_table, view_cache, key)
                if view_changelog:
                    view_table[key] = view
                else:
                    view_table.data[key] = view
                keep(view_cache, key, view)
                state["n2"] += 1
            finish_when_done()

else:
    raise SystemExit(f"unknown mode {MODE!r}")


if __name__ == "__main__":
    from faust import Worker

    worker = Worker(app, loglevel="warning")
    if TUNED:
        quiet_debug_logging(worker)
    worker.execute_from_commandline()
