"""The Faust application: topics, tables, web server and the metrics page.

`create_app(settings)` builds everything from settings (no module-level app), so tests and
the CLI each get their own app with their own topics and store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, CollectionT, EventT, Message, StreamT
from faust.web import Request, Response, View
from prometheus_client import (
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.aiohttp import make_aiohttp_handler

from metrics.collector import REQUESTED_SAMPLES, MetricsSnapshot, SigapCollector
from metrics.names import RESOLUTION_BUCKETS, histogram_bounds
from sigap.core.registry import Registry
from sigap.settings import Settings
from streams.api import register_api
from streams.commits import acknowledge_before_commits, commit_only_processed_offsets
from streams.complaint_stage import ComplaintStage
from streams.diagnostics import install_state_dump
from streams.fetch_wait import shorten_fetch_wait
from streams.loop_share import LoopShare
from streams.open311 import register_open311
from streams.recovery import SigapTableManager
from streams.seek_back import seek_uncommitted_to_beginning
from streams.unit_snapshot import SnapshotStore, code_fingerprint
from streams.unit_stage import UnitStage

# Series such as complaints_created_created only double the series count for nothing.
disable_created_metrics()  # type: ignore[no-untyped-call]


@dataclass
class SigapApp:
    faust_app: faust.App
    complaint_stage: ComplaintStage
    unit_stage: UnitStage
    registry: CollectorRegistry
    settings: Settings
    # Replaceable in tests without a broker, where nothing is ever assigned.
    owned_partitions: Callable[[str], set[int]]

    def snapshot(self) -> MetricsSnapshot:
        settings = self.settings
        view_partitions = self.exported_partitions(settings.views_topic)
        event_partitions = self.exported_partitions(settings.events_topic)
        watermark, units = self.unit_stage.snapshot(view_partitions)
        return MetricsSnapshot(
            watermark=watermark,
            units=units,
            rejected_by_reason=self.complaint_stage.rejected_by_reason(event_partitions),
            processed=self.complaint_stage.counts.processed,
            lag_by_partition=self.lag(settings.events_topic),
            views_failed=self.unit_stage.views_failed,
            escalation_levels=self.unit_stage.registry.escalation.codes,
        )

    def exported_partitions(self, topic: str) -> set[int]:
        """The owned partitions whose state may be shown: none between a revocation and the
        end of the recovery that follows it, so that no unit is ever exported by two workers
        at once, nor with half-recovered values (counters that would seem to reset)."""
        return self.owned_partitions(topic) if self.state_ready else set()

    def lag(self, topic: str) -> dict[int, int]:
        """Messages behind (highwater - next offset), per owned partition of `topic` that
        this worker has processed a message of (before that the position is unknown)."""
        highwater_of = self.highwater_of(topic)
        behind = {}
        for partition in sorted(self.owned_partitions(topic)):
            highwater = highwater_of(partition)
            position = self._positions.get((topic, partition))
            if highwater is not None and position is not None:
                behind[partition] = max(0, highwater - position)
        return behind

    def highwater_of(self, topic: str) -> Callable[[int], int | None]:
        def highwater(partition: int) -> int | None:
            try:
                value = self.faust_app.consumer.highwater(TP(topic, partition))
            except Exception:  # no fetch yet for that partition
                return None
            return None if value is None else int(value)

        return highwater

    def start_offset_of(self, topic: str) -> Callable[[int], Awaitable[int | None]]:
        """Where this worker starts reading an assigned partition of `topic`: its committed
        offset (Faust's, once it has sought there after the assignment's recovery), else
        the partition's earliest offset (where a group without a commit starts). Either is
        at or before the real start, so "start >= highwater" never hides a backlog.

        The earliest offset comes from a kafka-python consumer of its own, in a thread: asked
        through Faust's consumer (`earliest_offsets`), the request waited in its consumer
        thread's queue and held up the fetching (seen in tests/faults/test_crash_restart.py:
        a restarted worker read nothing)."""
        earliest = _EarliestOffsets(self.settings, topic)

        async def start_offset(partition: int) -> int | None:
            tp = TP(topic, partition)
            committed = getattr(self.faust_app.consumer, "_committed_offset", {}).get(tp)
            if committed:  # Faust keeps a committed 0 as None
                return int(committed)
            return await earliest.of(partition)

        return start_offset

    def note_position(self, topic: str, partition: int, offset: int) -> None:
        self._positions[(topic, partition)] = offset + 1

    def __post_init__(self) -> None:
        self._positions: dict[tuple[str, int], int] = {}
        # False from a partition revocation until the unit state is rebuilt after the
        # recovery that follows it (streams.app.create_app).
        self.state_ready = True


class _EarliestOffsets:
    """A partition's earliest offset, from a kafka-python consumer (no group) used in a
    worker thread, one request at a time; None while the broker does not answer."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._consumer: Any = None
        self._busy = False

    async def of(self, partition: int) -> int | None:
        if self._busy:  # the previous request is still running: ask again next time
            return None
        self._busy = True  # until the thread is done, even after the wait below gives up
        try:
            task = asyncio.to_thread(self._earliest, partition)
            return await asyncio.wait_for(task, START_OFFSET_TIMEOUT_SECONDS)
        except Exception:  # no broker answer now: the next heartbeat asks again
            return None

    def _earliest(self, partition: int) -> int | None:
        from kafka import KafkaConsumer, TopicPartition

        try:
            if self._consumer is None:
                self._consumer = KafkaConsumer(
                    **self.settings.kafka_python_config(),
                    group_id=None,
                    client_id=f"{self.settings.app_id}-start-offsets",
                )
            tp = TopicPartition(self.topic, partition)
            value = self._consumer.beginning_offsets([tp]).get(tp)
            return None if value is None else int(value)
        finally:
            self._busy = False


class LeanPrometheusMonitor(PrometheusMonitor):
    """Faust's Prometheus sensor without the per-operation series no dashboard or alert uses
    (table operations, messages sent and received per topic, events per stream): each costs
    a labels() lookup per message or table write (bench/RESULTS.md, "Faust settings").
    Every series the pipeline dashboard reads is kept, with the same names."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        super(PrometheusMonitor, self).on_message_in(tp, offset, message)
        self._metrics.messages_received.inc()
        self._metrics.active_messages.inc()

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        state = super(PrometheusMonitor, self).on_stream_event_in(tp, offset, stream, event)
        self._metrics.total_events.inc()
        self._metrics.total_active_events.inc()
        return state

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        pass

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        pass

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        pass

    def on_send_initiated(self, *args: Any, **kwargs: Any) -> Any:
        return super(PrometheusMonitor, self).on_send_initiated(*args, **kwargs)

    def on_send_completed(self, *args: Any, **kwargs: Any) -> None:
        pass


METRICS_PATH = "/metrics"


def setup_sensors(app: faust.App, registry: CollectorRegistry) -> None:
    """Faust's own sensor metrics (milliseconds, faust_ prefix) in ``registry``."""
    metrics = FaustMetrics.create(registry, "faust")
    app.monitor = LeanPrometheusMonitor(metrics=metrics)


def setup_metrics_page(app: faust.App, registry: CollectorRegistry) -> None:
    """``GET /metrics``: ``registry`` through prometheus_client's own aiohttp handler, which
    negotiates the format (Prometheus text, or OpenMetrics when the scraper asks for it in
    ``Accept``) and compresses with gzip when the scraper accepts it (Prometheus does), and
    the ``process_*`` (CPU, memory, file descriptors, start time) and ``python_info`` series
    of this process beside SIGAP's and Faust's."""
    ProcessCollector(registry=registry)
    registry.register(PLATFORM_COLLECTOR)
    handler = make_aiohttp_handler(registry)

    @app.page(METRICS_PATH, name="sigap-metrics")
    async def metrics_page(self: View, request: Request) -> Response:
        # Faust's aiohttp driver hands the view aiohttp's own request and sends its response.
        # The exposition runs in this task: the collector sees which samples were asked for.
        asked = frozenset(cast(Any, request).query.getall("name[]", ()))
        token = REQUESTED_SAMPLES.set(asked or None)
        try:
            return cast(Response, await handler(cast(Any, request)))
        finally:
            REQUESTED_SAMPLES.reset(token)


# The worker's tables; each has a changelog topic `<app id>-<table>-changelog`.
COMPLAINTS_TABLE = "complaints"
REJECTIONS_TABLE = "rejections"
UNIT_VIEWS_TABLE = "unit-views"
UNIT_PROGRESS_TABLE = "unit-progress"
TABLE_NAMES = (COMPLAINTS_TABLE, REJECTIONS_TABLE, UNIT_VIEWS_TABLE, UNIT_PROGRESS_TABLE)


def changelog_topic(app_id: str, table: str) -> str:
    """Faust's name for a table's changelog topic (app version 1)."""
    return f"{app_id}-{table}-changelog"


def kafka_broker_urls(bootstrap_servers: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server]


def broker_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """Faust's form of the Kafka security settings (the same ones kafka-python clients use)."""
    ssl_context = None
    if settings.kafka_uses_tls:
        ssl_context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile:
            ssl_context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    if settings.kafka_uses_sasl:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=ssl_context,
        )
    if ssl_context is not None:
        return faust.SSLCredentials(ssl_context)
    return None


log = logging.getLogger(__name__)

# How long a heartbeat waits for a partition's earliest offset (streams.complaint_stage).
START_OFFSET_TIMEOUT_SECONDS = 5.0


def patch_consumer(app: faust.App, source_topics: tuple[str, ...]) -> None:
    """faust-streaming 0.15.3's consumer with SIGAP's fixes, installed once, on the first
    assignment: the consumer and the producer exist by then, and nothing has been processed
    or committed yet. Records a rebalance drops are read again (streams/seek_back.py);
    offsets are committed only past events the agents processed, and only once the
    changelog records written for them are acknowledged (streams/commits.py)."""
    consumer: Any = app.consumer
    if getattr(consumer, "_sigap_patched", False):
        return
    consumer._sigap_patched = True
    seek_uncommitted_to_beginning(consumer, source_topics)
    commit_only_processed_offsets(consumer)
    acknowledge_before_commits(app.producer.buffer)


def _assigned_partitions(app: faust.App) -> Callable[[str], set[int]]:
    def owned(topic: str) -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}

    return owned


# Faust settings that moved the worker's throughput in bench/RESULTS.md ("Faust settings").
# The empty-agent ceiling of the benchmark (bench/faust_apps.py) uses the same ones.
# How often the worker's consumer refreshes its metadata (and so notices subscribed topics
# that were missing at its last assignment). One small request per interval.
CONSUMER_METADATA_MAX_AGE_MS = 30_000

FAUST_TUNING: dict[str, Any] = {
    # Bigger fetches and polls: fewer round trips to the broker while catching up.
    "broker_max_poll_records": 2000,
    "consumer_max_fetch_size": 4 * 1024**2,
    "stream_buffer_maxsize": 16384,
    # The changelog and views records of a batch leave in a few produce requests.
    "producer_linger": 0.005,
    "producer_max_batch_size": 256 * 1024,
}
# RocksDB of each table partition (Faust's defaults: 64 MB memtables x 3 and a 2 GB block
# cache, per partition and table): memory that grows with the data written, not needed here.
ROCKSDB_OPTIONS: dict[str, Any] = {
    "write_buffer_size": 4 * 1024**2,
    "max_write_buffer_number": 2,
    "block_cache_size": 16 * 1024**2,
}
# In-memory copies of recently used table entries, per stage (a miss costs a table read).
CACHE_SIZE = 4000

# The complaint agent handles up to this many events at a time (see event_batches).
BATCH_MAX = 1000


# Put into a batching agent's channel when a rebalance starts; never an event.
BATCH_WAKEUP: Any = object()


class BatchWakeups:
    """The channel queues of the agents reading through `event_batches`, and the wake-up
    that makes each hand over the batch it holds when partitions are revoked.

    Why: a batch holding events waits for the next event the buffer showed, and a
    rebalance clears the buffer (faust-streaming 0.15.3, `App._on_partitions_revoked`:
    `flow_control.clear()`), then waits for every event taken to be acknowledged
    (`Consumer.wait_empty`). Nothing arrives while the flow is stopped, so neither side
    moved until the group coordinator expelled the worker (seen in bench/run.py's two-worker
    phase: `wait_empty: Waiting for tasks [(1, <ConsumerMessage ... offset=4883>)]` for 57 s,
    then `local member_id was not recognized`). The wake-up is a value without an event
    in the channel, which the stream passes through while it skips events.
    """

    def __init__(self) -> None:
        self._queues: weakref.WeakSet[Any] = weakref.WeakSet()
        self._loop: asyncio.AbstractEventLoop | None = None  # the agents' loop

    def register(self, queue: Any) -> None:
        self._queues.add(queue)
        self._loop = asyncio.get_running_loop()

    def wake(self) -> None:
        for queue in list(self._queues):
            # After the rebalance has cleared the queues and stopped the fetcher: room.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(BATCH_WAKEUP)

    def wake_after_revocation_starts(self) -> None:
        """For SigapTableManager.on_revoke: the wake-up goes in at the next turn of the
        loop, after the rebalance's `flow_control.clear()` (which would drop it) and before
        anything it waits for (it runs no await before `wait_empty`). Faust runs the
        revocation on the agents' loop (the consumer thread hands it over); from any other
        thread the wake-up is still handed to that loop safely."""
        loop = self._loop
        if loop is None:  # no batching agent has started: nothing can be held
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_soon(self.wake)
        else:
            loop.call_soon_threadsafe(self.wake)


# Loop turns a batch waits for the consumer's next event before it ends (see _more_after_turns).
HANDOVER_TURNS = 10


async def _more_after_turns(queue: Any) -> bool:
    """Whether an event arrives in `queue` within HANDOVER_TURNS turns of the event loop.

    Faust's consumer hands fetched records to the agents one at a time, each put awaited
    with `wait_first` (four tasks and an `asyncio.wait`: several loop turns per record, more
    when other tasks are ready). Ended at the first empty queue, a batch taken while records
    were still being handed over held one event: under live load the agent then went event
    by event (one views record and one table write per event, the whole per-batch cost each
    time) and fell behind (bench/RESULTS.md, "Issue 19: live batches, fetches and polls").
    A few turns let the consumer hand over what it has fetched; when it has nothing, the
    batch ends after these turns (microseconds)."""
    for _ in range(HANDOVER_TURNS):
        await asyncio.sleep(0)
        if not queue.empty():
            return True
    return False


async def event_batches(
    stream: Any, max_size: int = BATCH_MAX, wakeups: BatchWakeups | None = None
) -> AsyncIterator[list[Any]]:
    """The stream's events in batches: whatever has already arrived, up to `max_size`.

    A batch ends when the stream's buffer is empty and stays so for HANDOVER_TURNS loop
    turns (the consumer hands records over one by one), so a quiet stream waits for nothing
    (batches of one) and a backlog comes in batches of `max_size`, or at a wake-up from
    `wakeups` (a rebalance starting: BatchWakeups says why). The events are acknowledged
    only once the caller has processed their batch (asked for the next one), so offsets are
    never committed past an event not yet processed. Faust's own `stream.take_events` does
    the same with a timer, and measured half the throughput of plain iteration
    (bench/RESULTS.md).
    """
    stream.enable_acks = False
    queue = stream.channel.queue
    if wakeups is not None:
        wakeups.register(queue)
    batch: list[Any] = []
    # The stream itself, not stream.events(): a wake-up comes as a value with no event.
    async for _ in stream:
        event = stream.current_event
        if event is None:  # a wake-up
            if not batch:
                continue
        else:
            batch.append(event)
            if len(batch) < max_size and (not queue.empty() or await _more_after_turns(queue)):
                continue
        yield batch
        for done in batch:
            await stream.ack(done)
        batch = []


def install_event_loop() -> None:
    """uvloop for the worker's process (before the app touches a loop): a faster loop."""
    import mode.loop

    mode.loop.use("uvloop")


def quiet_debug_logging(worker: Any) -> None:
    """No progress spinner: with one, faust.Worker sets the root logger to DEBUG for good,
    and every debug call of aiokafka and Faust (several per message) then builds a log
    record only to drop it (about 6% of the worker's time, bench/RESULTS.md)."""
    worker.spinner = None


def faust_settings(settings: Settings) -> dict[str, Any]:
    """The faust.App settings of the worker (also the benchmark's empty-agent ceiling)."""
    return {
        "broker": kafka_broker_urls(settings.kafka_bootstrap_servers),
        "broker_credentials": broker_credentials(settings),
        "store": settings.store_url,
        "datadir": settings.state_dir,
        "topic_partitions": settings.topic_partitions,
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "autodiscover": False,
        # Events are parsed by schemas.events (strict validation, dead-lettering); Faust
        # passes the bytes through untouched.
        "key_serializer": "raw",
        "value_serializer": "raw",
        "consumer_auto_offset_reset": "earliest",
        # No standby replicas. Seen in the rebalance test: a standby promoted to active
        # started its recovery at the changelog's end while its RocksDB held none of the
        # records (faust-streaming 0.15.3 advances a standby's offset when it reads a record
        # and writes records in batches of 1,000; cf. faust-streaming #212), so the new owner
        # processed events on empty complaint states and totals came out short. A partition
        # that moves is recovered from its changelog instead: slower, always complete.
        "table_standby_replicas": 0,
        # The web server serves /metrics and the read-only API only: Faust's table pages
        # would show the stored complaint states, and its router is not used.
        "web_tables_enabled": False,
        "web_router_enabled": False,
        # A recovery step that times out while the broker is away restarts the recovery
        # instead of ending it for good (streams/recovery.py; soak rounds 12 and 14).
        "TableManager": SigapTableManager,
        # Soak round 14: the broker, restarted while the worker started, answered the first
        # assignment with every topic missing (metadata not loaded yet); the worker got no
        # partitions and aiokafka re-checks the subscription only on its metadata refresh
        # (5 minutes by default). 30 s: the group rejoins within 30 s of the topics showing.
        "consumer_metadata_max_age_ms": CONSUMER_METADATA_MAX_AGE_MS,
        **FAUST_TUNING,
    }


def create_app(settings: Settings, registry: Registry, **faust_overrides: Any) -> SigapApp:
    app = faust.App(settings.app_id, **{**faust_settings(settings), **faust_overrides})
    partitions = settings.topic_partitions
    store_options = ROCKSDB_OPTIONS if settings.store_url.startswith("rocksdb") else None
    events_topic = app.topic(settings.events_topic, partitions=partitions, internal=False)
    views_topic = app.topic(settings.views_topic, partitions=partitions, internal=False)
    dead_letter_topic = app.topic(settings.dead_letter_topic, partitions=1, internal=False)

    def bytes_table(name: str, description: str) -> Any:
        # JSON the stages encode themselves (orjson), stored as raw bytes (Faust's "raw"
        # codec): no second encoding by Faust's JSON codec.
        return app.Table(
            name, partitions=partitions, value_type=bytes, options=store_options, help=description
        )

    complaints = bytes_table(
        COMPLAINTS_TABLE,
        "Per complaint_id: its accepted events and the hash of each unit view sent.",
    )
    rejections = app.Table(
        REJECTIONS_TABLE,
        partitions=partitions,
        options=store_options,
        help="Per (partition, reason): rejected events.",
    )
    unit_views = bytes_table(
        UNIT_VIEWS_TABLE,
        "Per (unit, complaint_id): the latest unit view and what it has counted.",
    )
    unit_progress = bytes_table(
        UNIT_PROGRESS_TABLE,
        "Per views partition: the unit stage's watermark, restored after a restart.",
    )
    complaint_stage = ComplaintStage(
        registry=registry,
        complaints=complaints,
        rejections=rejections,
        views_topic=views_topic,
        dead_letter_topic=dead_letter_topic,
        cache_size=CACHE_SIZE,
        heartbeat_repeat_seconds=settings.heartbeat_repeat_seconds,
    )
    unit_stage = UnitStage(
        registry=registry,
        unit_views=unit_views,
        partitions=partitions,
        grace_seconds=settings.grace_seconds,
        unit_progress=unit_progress,
        cache_size=CACHE_SIZE,
        snapshots=SnapshotStore(
            Path(settings.state_dir) / "unit-snapshots",
            # What the derived state depends on besides the views and the code.
            code_fingerprint((histogram_bounds(registry), RESOLUTION_BUCKETS, partitions)),
        ),
    )
    registry_metrics = CollectorRegistry(auto_describe=True)
    sigap = SigapApp(
        faust_app=app,
        complaint_stage=complaint_stage,
        unit_stage=unit_stage,
        registry=registry_metrics,
        settings=settings,
        owned_partitions=_assigned_partitions(app),
    )
    complaint_stage.highwater = sigap.highwater_of(settings.events_topic)
    complaint_stage.start_offset = sigap.start_offset_of(settings.events_topic)
    complaint_stage.views_partitions = partitions

    batch_wakeups = BatchWakeups()

    # Concurrency 1 (the default): offsets are never committed past an event still being
    # processed (faust-streaming #606), and a complaint's events apply in order.
    # event_batches acknowledges a batch's events only after the batch is processed.
    @app.agent(events_topic, name="complaints")
    async def complaints_agent(stream: Any) -> None:
        async for events in event_batches(stream, wakeups=batch_wakeups):
            await complaint_stage.process_batch(events)
            for event in events:
                sigap.note_position(
                    settings.events_topic, event.message.partition, event.message.offset
                )

    @app.agent(views_topic, name="units")
    async def units_agent(stream: Any) -> None:
        async for event in stream.events():
            await unit_stage.process(event)
            message = event.message
            sigap.note_position(settings.views_topic, message.partition, message.offset)

    async def rebuild_unit_state() -> None:
        # After every rebalance and table recovery: the units this worker owns now.
        unit_stage.rebuild(sigap.owned_partitions(settings.views_topic))
        sigap.state_ready = True

    unit_views.on_recover(rebuild_unit_state)

    def save_unit_snapshot() -> None:
        # A clean stop (streams.recovery.SigapTableManager.before_stop): the next start
        # loads this instead of decoding every stored view (streams.unit_snapshot). Not
        # while a rebalance has left the derived state behind the assignment.
        if sigap.state_ready:
            unit_stage.save_snapshot(sigap.owned_partitions(settings.views_topic))

    tables = app.tables
    if isinstance(tables, SigapTableManager):
        tables.before_stop.append(save_unit_snapshot)
        tables.on_revoke.append(batch_wakeups.wake_after_revocation_starts)

    @app.on_partitions_revoked.connect
    def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Kafka's (eager) group protocol revokes every partition here, before any worker
        # is assigned them: stopping the export now means a unit is never exported by two
        # workers (until rebuild_unit_state after the recovery).
        sigap.state_ready = False
        # The in-memory copies of table entries: the tables are the truth after a rebalance.
        complaint_stage.forget_cached_states()
        unit_stage.forget_cached_views()
        # No progress stamps for the partitions just revoked: their next owner announces
        # them, and a stale stamp of ours after that would end its hold.
        complaint_stage.assigned(set())

    @app.on_partitions_assigned.connect
    def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Before the recovery that follows (whose seek it completes) and before anything
        # is processed or committed under this assignment.
        patch_consumer(app, (settings.events_topic, settings.views_topic))
        shorten_fetch_wait(app.consumer)
        # The complaint stage announces every events partition it reads now as behind, its
        # event time unknown, before its next batch or heartbeat: the unit stages hold
        # their watermarks until each is heard from (core.watermarks).
        complaint_stage.assigned(sigap.owned_partitions(settings.events_topic))

    @app.task  # type: ignore[untyped-decorator]
    async def dump_state_on_signal() -> None:
        # kill -USR1 <pid>: the consumer's state in the log (streams/diagnostics.py).
        install_state_dump(app, lambda: sigap.state_ready)

    @app.timer(interval=settings.heartbeat_seconds)  # type: ignore[untyped-decorator]
    async def send_watermark_heartbeats() -> None:
        await complaint_stage.heartbeat()

    @app.timer(interval=60.0)  # type: ignore[untyped-decorator]
    async def expire_windows() -> None:
        unit_stage.expire()

    registry_metrics.register(SigapCollector(sigap.snapshot))
    setup_sensors(app, registry_metrics)
    setup_metrics_page(app, registry_metrics)
    # The API's state-sized replies and Open311's search share one bound on the loop.
    loop_share = LoopShare()
    register_api(sigap, loop_share)  # the read-only JSON API (streams/api.py)
    register_open311(sigap, loop_share)  # Open311 GeoReport v2, read-only (streams/open311.py)
    return sigap
