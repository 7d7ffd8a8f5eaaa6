"""SIGAP benchmark suite: one command, one broker, every figure from the same run.

    .venv/bin/python bench/run.py [--quick | --smoke] [--out bench/results.json]

See bench/README.md for what each figure means. Timings are wall-clock on a shared machine:
compare the ratios measured in one run, not figures from different runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PY = sys.executable
SIGAP = str(Path(PY).with_name("sigap"))
LOCAL_KAFKA = ROOT / "deploy" / "kafka" / "local-kafka.sh"
NAIVE_TABLES = (
    "created-at",
    "created-1h",
    "created-1d",
    "resolved-1h",
    "resolved-1d",
    "ressum-1h",
    "ressum-1d",
)
WORKER_TABLES = ("complaints", "rejections", "unit-views")
# The empty-agent settings sweep (bench/faust_apps.py): Faust's defaults, then one change at a
# time, up to the worker's own settings (the ceiling the worker is compared with).
EMPTY_VARIANTS = ("defaults", "uvloop", "tuned", "take", "batch", "worker")
UNITS = ("dlh", "dsda", "dishub", "satpol-pp", "dispendukcapil", "dinkes", "damkar", "bpbd")

MODES: dict[str, dict[str, Any]] = {
    # days_back x rate_scale sets the backlog N (about 720 events per simulated day per 1.0)
    "full": {
        "days_back": 14,
        "rate_scale": 20.0,
        "open": 1_000_000,
        "latency_s": 20.0,
        "partitions": 4,
    },
    "quick": {
        "days_back": 7,
        "rate_scale": 6.0,
        "open": 20_000,
        "latency_s": 10.0,
        "partitions": 4,
    },
    "smoke": {"days_back": 2, "rate_scale": 2.0, "open": 2_000, "latency_s": 1.5, "partitions": 2},
}
TARGETS = {
    # figure: (comparison, threshold, description)
    "worker_vs_empty_faust": (">=", 0.8, "worker >= 0.8 x empty-Faust ceiling"),
    "worker_events_per_second": (">=", 5000.0, "worker >= 5,000 events/s end to end"),
    "worker_vs_naive": (">=", 2.0, "worker >= 2 x naive Faust baseline"),
    "replay_events_per_second": (">=", 200_000.0, "replay >= 200,000 events/s"),
    "latency_p99_seconds": ("<=", 1.0, "p99 publish-to-/metrics <= 1 s at 1,000 ev/s"),
    "bytes_per_open_complaint": ("<=", 500.0, "<= 500 bytes per open complaint (RSS + state)"),
    "restart_to_ready_seconds_at_1m": ("<=", 30.0, "restart-to-ready <= 30 s at 1M open"),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# environment
# ---------------------------------------------------------------------------------------


def free_port(count: int = 1) -> int:
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + count > 65535:
            continue
        ok = True
        for offset in range(count):
            with socket.socket() as other:
                try:
                    other.bind(("127.0.0.1", port + offset))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no free port")


def machine_info(bootstrap_external: bool) -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>(.*?)</kafka.version>", pom)
    broker = match.group(1) if match else "unknown"
    mem_total = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_total = int(line.split()[1]) * 1024

    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem_total,
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kafka_broker": broker
        + (
            " (external cluster, version not checked)"
            if bootstrap_external
            else " (local, deploy/kafka)"
        ),
        "faust_streaming": version("faust-streaming"),
        "aiokafka": version("aiokafka"),
        "kafka_python": version("kafka-python"),
        "orjson": version("orjson"),
    }


class Broker:
    """The project's local broker on free ports, or KAFKA_BOOTSTRAP_SERVERS if set."""

    def __init__(self, workdir: Path) -> None:
        self.external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        self.env: dict[str, str] | None = None
        if self.external:
            self.bootstrap = self.external
            return
        port = free_port(count=2)
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(port),
            "KAFKA_DATA_DIR": str(workdir / "kafka"),
        }
        self.env.pop("KAFKA_SASL_PORT", None)
        self.bootstrap = f"127.0.0.1:{port}"

    def start(self) -> None:
        if self.env is None:
            log(f"using the external cluster {self.bootstrap}")
            return
        log(f"starting a local broker on {self.bootstrap}")
        done = subprocess.run(
            ["bash", str(LOCAL_KAFKA), "start"], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"could not start the broker:\n{done.stderr}")

    def stop(self) -> None:
        if self.env is not None:
            subprocess.run(["bash", str(LOCAL_KAFKA), "stop"], env=self.env, capture_output=True)


def create_topics(bootstrap: str, specs: list[tuple[str, int]]) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="sigap-bench")
    try:
        admin.create_topics([NewTopic(name, parts, 1) for name, parts in specs])
    finally:
        admin.close()


# ---------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------


def simulated_events(days_back: float, rate_scale: float, seed: int) -> list[dict[str, Any]]:
    from sigap.simulator import TrafficModel

    now = time.time()
    model = TrafficModel(start=now - days_back * 86400, seed=seed, rate_scale=rate_scale)
    return model.advance(now - 60)


def created_event(complaint_id: str, unit: str, at: float) -> dict[str, Any]:
    return {
        "event_id": f"{complaint_id}-c",
        "type": "created",
        "complaint_id": complaint_id,
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
        "unit": unit,
        "category": "bench",
        "channel": "wargaku",
        "priority": "normal",
    }


def encoded(events: Iterator[dict[str, Any]]) -> Iterator[tuple[bytes, bytes]]:
    for event in events:
        yield event["complaint_id"].encode(), orjson.dumps(event)


async def _publish(bootstrap: str, topic: str, records: Iterator[tuple[bytes, bytes]]) -> int:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    count = 0
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value=value, key=key))
            count += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


def publish(bootstrap: str, topic: str, records: Iterator[tuple[bytes, bytes]]) -> int:
    return asyncio.run(_publish(bootstrap, topic, records))


# ---------------------------------------------------------------------------------------
# /metrics
# ---------------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape(port: int, timeout: float = 2.0) -> dict[str, list[tuple[str, float]]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as page:
            text = page.read().decode()
    except OSError:
        return None
    samples: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        match = _SAMPLE.match(line)
        if match:
            samples.setdefault(match.group(1), []).append(
                (match.group(2) or "", float(match.group(3)))
            )
    return samples


def total(
    samples: dict[str, list[tuple[str, float]]] | None, name: str, label: str | None = None
) -> float:
    if samples is None:
        return 0.0
    return sum(value for labels, value in samples.get(name, []) if label is None or label in labels)


def consumed(samples: dict[str, list[tuple[str, float]]] | None) -> float:
    return total(samples, "complaint_events_processed_total") + total(
        samples, "complaint_events_rejected_total"
    )


def wait_for(
    predicate: Callable[[], bool], timeout: float, interval: float = 0.1, what: str = ""
) -> float:
    """Seconds until predicate() holds; raises after timeout."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def du_bytes(path: Path) -> int:
    size = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                size += (Path(root) / name).stat().st_blocks * 512
    return size


class Worker:
    """`sigap worker` as a subprocess with its own app id, state dir, web port and topics."""

    def __init__(self, bench: Bench, name: str) -> None:
        self.bench = bench
        self.port = free_port()
        self.state_dir = bench.workdir / f"state-{name}"
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bench.bootstrap,
            "SIGAP_EVENTS_TOPIC": bench.events_topic,
            "SIGAP_VIEWS_TOPIC": bench.views_topic,
            "SIGAP_TOPIC_PARTITIONS": str(bench.partitions),
            "SIGAP_APP_ID": f"{bench.run_id}-{name}",
            "SIGAP_STATE_DIR": str(self.state_dir),
            "SIGAP_WEB_PORT": str(self.port),
            "SIGAP_WEB_HOST": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{bench.workdir / 'unused.db'}",
        }
        self.log_path = bench.workdir / f"worker-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [SIGAP, "worker", "--loglevel", "warning"],
            env=self.env,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        return started

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def scrape(self) -> dict[str, list[tuple[str, float]]] | None:
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            raise RuntimeError(f"the worker exited ({code}); see {self.log_path}")
        if b"PartitionsMismatch" in self.log_path.read_bytes():  # a crashed agent stays up
            raise RuntimeError(f"the worker logged a traceback; see {self.log_path}")
        return scrape(self.port)

    def stop(self, timeout: float = 60.0) -> float:
        """SIGTERM; seconds until it exited."""
        assert self.process is not None
        start = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()
        return time.perf_counter() - start


def watch_throughput(
    read: Callable[[], float], target: float, timeout: float, interval: float = 0.1
) -> dict[str, float]:
    """Poll a counter until it reaches target; rate from the first observation above zero
    (startup and rebalance excluded) to the first one at or above target."""
    deadline = time.perf_counter() + timeout
    first: tuple[float, float] | None = None
    started = time.perf_counter()
    while True:
        now = time.perf_counter()
        value = read()
        if value > 0 and first is None:
            first = (now, value)
        if value >= target:
            break
        if now > deadline:
            raise TimeoutError(f"counter at {value} of {target} after {timeout:.0f}s")
        time.sleep(interval)
    assert first is not None
    elapsed = now - first[0]
    counted = value - first[1]
    return {
        "events_per_second": counted / elapsed if elapsed > 0 else float("nan"),
        "measured_events": counted,
        "measured_seconds": elapsed,
        "startup_seconds": first[0] - started,
    }


# ---------------------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        params = dict(MODES[self.mode])
        if args.open_complaints is not None:
            params["open"] = args.open_complaints
        self.params = params
        self.partitions = int(params["partitions"])
        self.workdir = Path(tempfile.mkdtemp(prefix="sigap-bench-"))
        self.broker = Broker(self.workdir)
        self.bootstrap = self.broker.bootstrap
        self.run_id = f"bench-{uuid.uuid4().hex[:8]}"
        self.events_topic = f"{self.run_id}-events"
        self.views_topic = f"{self.run_id}-views"
        self.figures: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.machine = machine_info(self.broker.external is not None)
        self.command = [Path(PY).name, *sys.argv]

    def figure(self, name: str, value: float, unit: str, meaning: str, **extra: Any) -> None:
        self.figures[name] = {
            "value": value,
            "unit": unit,
            "meaning": meaning,
            **extra,
            "load_average_1m": os.getloadavg()[0],
            "machine": self.machine,
            "command": self.command,
        }
        log(f"{name} = {value:,.3f} {unit}")

    # -- phases --------------------------------------------------------------------------

    def prepare(self) -> None:
        p = self.params
        log(f"mode {self.mode}: simulating {p['days_back']} days at rate x{p['rate_scale']}")
        t = time.perf_counter()
        self.events = simulated_events(p["days_back"], p["rate_scale"], seed=11)
        self.n = len(self.events)
        types: dict[str, int] = {}
        for event in self.events:
            types[event["type"]] = types.get(event["type"], 0) + 1
        self.event_mix = dict(sorted(types.items()))
        log(
            f"{self.n} events ({len({e['complaint_id'] for e in self.events})} complaints, "
            f"{len({e.get('unit') for e in self.events if 'unit' in e})} units) "
            f"in {time.perf_counter() - t:.1f}s"
        )
        self.raw = [orjson.dumps(e) for e in self.events]
        create_topics(
            self.bootstrap,
            [
                (self.events_topic, self.partitions),
                (self.views_topic, self.partitions),
                (f"{self.views_topic}2", self.partitions),
                (f"{self.events_topic}.dlq", 1),
                (f"{self.run_id}-naive-units", self.partitions),
                # The naive app's changelogs, up front: Faust's own creation of seven changelog
                # topics at once raced with its partition check (PartitionsMismatch, 0 partitions).
                *(
                    (f"{self.run_id}-naive-{table}-changelog", self.partitions)
                    for table in NAIVE_TABLES
                ),
                # The worker's changelogs too: its first start hit the same race (see RESULTS.md).
                *(
                    (f"{self.run_id}-{app}-{table}-changelog", self.partitions)
                    for table in WORKER_TABLES
                    for app in ("w", "w2")
                ),
            ],
        )
        t = time.perf_counter()
        publish(
            self.bootstrap,
            self.events_topic,
            (
                (e["complaint_id"].encode(), raw)
                for e, raw in zip(self.events, self.raw, strict=True)
            ),
        )
        seconds = time.perf_counter() - t
        log(f"published the backlog in {seconds:.1f}s ({self.n / seconds:,.0f}/s)")

    def replay_phase(self) -> None:
        from core.registry import load_registry
        from schemas.events import parse_event
        from sigap.replay import replay

        registry = load_registry(ROOT / "deploy" / "registry.yaml")
        reference = time.time()
        t = time.perf_counter()
        parsed = [parse_event(raw) for raw in self.raw]
        parse_s = time.perf_counter() - t
        t = time.perf_counter()
        result = replay(parsed, registry, reference_epoch=reference)
        core_s = time.perf_counter() - t
        self.expected_created = sum(s.counters.created for s in result.units.values())
        self.figure(
            "replay_events_per_second",
            self.n / (parse_s + core_s),
            "events/s",
            "sigap.replay.replay on the backlog, including parsing each JSON line "
            "(schemas.events.parse_event) as `sigap replay FILE` does; no Kafka",
            parse_seconds=parse_s,
            replay_seconds=core_s,
            replay_only_events_per_second=self.n / core_s,
        )

    def bare_consumer_phase(self) -> None:
        from aiokafka import AIOKafkaConsumer

        async def consume() -> dict[str, float]:
            consumer = AIOKafkaConsumer(
                self.events_topic,
                bootstrap_servers=self.bootstrap,
                group_id=None,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            count = 0
            first = 0.0
            try:
                while count < self.n:
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
        self.figure(
            "bare_aiokafka_events_per_second",
            result["events_per_second"],
            "events/s",
            "ceiling (a): a bare aiokafka consumer that only orjson-decodes each value, "
            "same topic, from its first record",
            seconds=result["seconds"],
        )

    def faust_app_phase(self, mode: str, variant: str = "defaults") -> dict[str, Any]:
        result_path = self.workdir / f"{mode}-{variant}.json"
        env = {
            **os.environ,
            "BENCH_BOOTSTRAP": self.bootstrap,
            "BENCH_TOPIC": self.events_topic,
            "BENCH_UNITS_TOPIC": f"{self.run_id}-naive-units",
            "BENCH_PARTITIONS": str(self.partitions),
            "BENCH_APP_ID": f"{self.run_id}-{mode}" + ("" if mode == "naive" else f"-{variant}"),
            "BENCH_STATE_DIR": str(self.workdir / f"state-{mode}-{variant}"),
            "BENCH_WEB_PORT": str(free_port()),
            "BENCH_TARGET": str(self.n),
            "BENCH_RESULT": str(result_path),
        }
        log_path = self.workdir / f"faust-{mode}-{variant}.log"
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                [PY, str(ROOT / "bench" / "faust_apps.py"), mode, variant],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.perf_counter() + self.timeout()
                while process.poll() is None:
                    crashed = b"PartitionsMismatch" in log_path.read_bytes()
                    if time.perf_counter() > deadline or crashed:
                        raise subprocess.TimeoutExpired(mode, self.timeout())
                    time.sleep(0.5)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(20)
                if process.poll() is None:
                    process.kill()
                raise RuntimeError(f"faust app {mode} did not finish; see {log_path}") from None
        if not result_path.exists():
            raise RuntimeError(f"faust app {mode} wrote no result; see {log_path}")
        return dict(orjson.loads(result_path.read_bytes()))

    def timeout(self) -> float:
        return max(120.0, self.n / 300.0)

    def ceilings_and_baseline(self) -> None:
        # The sweep is skipped in --smoke (time): only the worker's settings are measured.
        variants = ("worker",) if self.mode == "smoke" else EMPTY_VARIANTS
        for variant in variants:
            empty = self.faust_app_phase("empty", variant)
            if variant == "worker":
                self.figure(
                    "empty_faust_events_per_second",
                    empty["events_per_second"],
                    "events/s",
                    "ceiling (b): an empty Faust agent with the worker's own settings "
                    "(streams.app.faust_settings: raw serializers, rocksdb store, uvloop, "
                    "FAUST_TUNING, streams.app.event_batches, Prometheus sensors)",
                )
            else:
                self.figure(
                    f"empty_faust_{variant}_events_per_second",
                    empty["events_per_second"],
                    "events/s",
                    f"settings sweep: empty Faust agent, variant {variant!r} "
                    "(bench/faust_apps.py: defaults, then one change at a time)",
                )
        naive = self.faust_app_phase("naive")
        self.figure(
            "naive_faust_events_per_second",
            naive["events_per_second"],
            "events/s",
            "baseline: the obvious Faust way (JSON decode, per-complaint created "
            "table, repartition by unit, tumbling 1h/24h windowed tables of "
            "created/resolved counts and resolution sums); stage-1 rate",
            all_stages_events_per_second=naive["all_stages_events_per_second"],
            forwarded=naive["forwarded"],
        )

    def worker_phase(self) -> None:
        self.worker = Worker(self, "w")
        self.worker.start()
        result = watch_throughput(
            lambda: consumed(self.worker.scrape()), self.n, timeout=self.timeout(), interval=0.5
        )
        self.figure(
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
                    total(self.worker.scrape(), "complaints_created_total") >= self.expected_created
                ),
                timeout=self.timeout(),
                interval=0.5,
                what="the unit stage",
            )
        self.figure(
            "worker_unit_stage_tail_seconds",
            max(time.perf_counter() - t, 1e-3),
            "s",
            "after the complaint stage reached N: seconds until the unit stage "
            "had counted every created complaint (complaints_created_total = replay's)",
            expected_created=self.expected_created,
            counted_created=total(self.worker.scrape(), "complaints_created_total"),
        )
        tail = self.figures["worker_unit_stage_tail_seconds"]["value"]
        self.figure(
            "worker_all_stages_events_per_second",
            result["measured_events"] / (result["measured_seconds"] + tail),
            "events/s",
            "as worker_events_per_second, but until the unit stage had counted them too "
            "(measured events / (measured seconds + unit stage tail))",
        )
        self.figure(
            "worker_vs_empty_faust",
            result["events_per_second"] / self.figures["empty_faust_events_per_second"]["value"],
            "ratio",
            "worker / empty Faust agent, same run",
        )
        self.figure(
            "worker_vs_naive",
            result["events_per_second"] / self.figures["naive_faust_events_per_second"]["value"],
            "ratio",
            "worker / naive Faust baseline (stage-1 rates), same run",
        )
        self.figure(
            "worker_vs_bare_aiokafka",
            result["events_per_second"] / self.figures["bare_aiokafka_events_per_second"]["value"],
            "ratio",
            "worker / bare aiokafka consumer, same run",
        )

    def two_workers_phase(self) -> None:
        """Two `sigap worker` processes in one consumer group (their own app id and views
        topic) on the same backlog, while the single worker is stopped; then it restarts."""
        single = self.worker
        single.stop()
        pair = [Worker(self, "w2a"), Worker(self, "w2b")]
        for worker in pair:
            worker.env = {
                **worker.env,
                "SIGAP_APP_ID": f"{self.run_id}-w2",
                "SIGAP_VIEWS_TOPIC": f"{self.views_topic}2",
            }
            worker.start()
        try:
            result = watch_throughput(
                lambda: sum(consumed(worker.scrape()) for worker in pair),
                self.n,
                timeout=self.timeout(),
                interval=0.5,
            )
        finally:
            for worker in pair:
                worker.stop()
        self.figure(
            "two_workers_events_per_second",
            result["events_per_second"],
            "events/s",
            "two `sigap worker` processes in one group on the same backlog (2 partitions "
            "each), same machine: the sum of their processed + rejected counters",
            measured_seconds=result["measured_seconds"],
            startup_seconds=result["startup_seconds"],
        )
        self.figure(
            "two_workers_vs_one",
            result["events_per_second"] / self.figures["worker_events_per_second"]["value"],
            "ratio",
            "two workers / one worker, same run",
        )
        restarted = Worker(self, "w")
        restarted.port, restarted.env = single.port, single.env
        restarted.start()
        self.worker = restarted
        wait_for(
            lambda: total(restarted.scrape(), "complaints_created_total") >= self.expected_created,
            timeout=300,
            interval=0.5,
            what="the single worker again, with its state",
        )

    def latency_phase(self, rate: float = 1000.0, prefix: str = "latency") -> None:
        from kafka import KafkaProducer

        duration = float(self.params["latency_s"])
        count = int(rate * duration)
        unit = "dlh"
        label = f'unit="{unit}"'
        base = total(self.worker.scrape(), "complaints_created_total", label)
        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap, linger_ms=0, acks=1, enable_idempotence=False
        )
        sent_at: list[float] = []
        observations: list[tuple[float, float]] = []
        stop = threading.Event()
        poll_costs: list[float] = []

        def poll() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                samples = scrape(self.worker.port)
                t1 = time.perf_counter()
                if samples is not None:
                    poll_costs.append(t1 - t0)
                    # the value was current somewhere in [t0, t1]: t1 is the conservative end
                    observations.append((t1, total(samples, "complaints_created_total", label)))
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
            event = created_event(f"{self.run_id}-{prefix}-{i}", unit, time.time())
            sent_at.append(time.perf_counter())
            producer.send(
                self.events_topic, key=event["complaint_id"].encode(), value=orjson.dumps(event)
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
        latencies.sort()

        def pct(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

        costs = sorted(poll_costs)
        common = {
            "events": count,
            "achieved_rate": achieved,
            "unobserved_events": missing,
            "median_scrape_seconds": costs[len(costs) // 2] if costs else None,
            "scrapes": len(costs),
        }
        self.figure(
            f"{prefix}_p50_seconds",
            pct(0.5),
            "s",
            "publish (send call) to the unit's complaints_created_total on /metrics "
            f"counting it, created events for new complaints at ~{rate:,.0f}/s; "
            "resolution: one scrape + max(0.1 s, 3 x scrape time)",
            rate=rate,
            **common,
        )
        self.figure(
            f"{prefix}_p99_seconds",
            pct(0.99),
            "s",
            f"as {prefix}_p50, 99th percentile",
            rate=rate,
            **common,
        )

    def open_complaints_phase(self) -> None:
        m = int(self.params["open"])
        worker = self.worker
        # settle: the latency events are counted
        time.sleep(1.0)
        before = worker.scrape()
        consumed_before = consumed(before)
        created_before = total(before, "complaints_created_total")
        rss_before, state_before = rss_bytes(worker.pid), du_bytes(worker.state_dir)
        now = time.time() - 3600
        log(f"publishing {m:,} created events (open complaints)")
        t = time.perf_counter()
        publish(
            self.bootstrap,
            self.events_topic,
            encoded(
                created_event(f"{self.run_id}-open-{i}", UNITS[i % len(UNITS)], now + i * 1e-3)
                for i in range(m)
            ),
        )
        log(f"published in {time.perf_counter() - t:.1f}s; waiting for the worker")
        result = watch_throughput(
            lambda: consumed(worker.scrape()) - consumed_before,
            m,
            timeout=max(300.0, m / 200.0),
            interval=0.5,
        )
        wait_for(
            lambda: total(worker.scrape(), "complaints_created_total") >= created_before + m,
            timeout=max(300.0, m / 200.0),
            interval=0.5,
            what="the unit stage to count the open complaints",
        )
        time.sleep(2.0)  # let RocksDB flush its memtables a little
        rss_after, state_after = rss_bytes(worker.pid), du_bytes(worker.state_dir)
        open_total = total(worker.scrape(), "complaints_open")
        per = (rss_after - rss_before + state_after - state_before) / m
        self.open_m = m
        self.figure(
            "worker_rss_bytes",
            rss_after,
            "bytes",
            f"worker RSS (/proc/PID/status VmRSS) with the backlog and {m:,} extra open complaints",
            rss_before=rss_before,
            open_complaints=open_total,
            added_open=m,
        )
        self.figure(
            "state_dir_bytes",
            state_after,
            "bytes",
            "du of SIGAP_STATE_DIR (RocksDB tables) at the same moment",
            state_before=state_before,
        )
        self.figure(
            "bytes_per_open_complaint",
            per,
            "bytes",
            f"(RSS growth + state growth) / {m:,} added open complaints",
            rss_bytes_per_open=(rss_after - rss_before) / m,
            state_bytes_per_open=(state_after - state_before) / m,
            added_open=m,
        )
        self.figure(
            "worker_created_only_events_per_second",
            result["events_per_second"],
            "events/s",
            "worker throughput on the all-`created` open-complaint load",
        )

    def restart(self) -> dict[str, float]:
        """SIGTERM the worker, start it again on the same state; seconds to ready."""
        worker = self.worker
        stop_s = worker.stop()
        probe = 200
        restart = Worker(self, "w")  # same app id, state dir and port
        restart.port = worker.port
        restart.env = worker.env
        self.restarts = getattr(self, "restarts", 0) + 1
        started = restart.start()
        self.worker = restart
        publish(
            self.bootstrap,
            self.events_topic,
            encoded(
                created_event(
                    f"{self.run_id}-probe{self.restarts}-{i}", UNITS[i % len(UNITS)], time.time()
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
                and total(samples, "complaint_events_consumer_lag") == 0
            ):
                break
            if now > deadline:
                raise TimeoutError("the restarted worker did not become ready")
            time.sleep(0.25)
        return {
            "ready": time.perf_counter() - started,
            "serving": serving or 0.0,
            "stop": stop_s,
            "probe": probe,
        }

    def restart_baseline_phase(self) -> None:
        self.restart_small = self.restart()
        self.figure(
            "restart_to_ready_seconds_backlog_only",
            self.restart_small["ready"],
            "s",
            "restart-to-ready with only the backlog's complaints in state (before the "
            "open-complaint load): the fixed cost of a restart",
            metrics_serving_seconds=self.restart_small["serving"],
            stop_seconds=self.restart_small["stop"],
        )

    def restart_phase(self) -> None:
        big = self.restart()
        m = self.open_m
        self.figure(
            "restart_to_ready_seconds",
            big["ready"],
            "s",
            f"SIGTERM'd worker started again on its RocksDB state ({m:,} added open "
            "complaints): process start to /metrics serving, the probe events "
            f"({big['probe']}) processed and consumer lag 0",
            open_complaints=m,
            metrics_serving_seconds=big["serving"],
            stop_seconds=big["stop"],
        )
        small = self.restart_small["ready"]
        slope = max(big["ready"] - small, 0.0) / m
        extrapolated = m < 1_000_000
        value = small + slope * 1_000_000 if extrapolated else big["ready"]
        self.figure(
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

    def finish(self) -> None:
        with contextlib.suppress(Exception):
            self.worker.stop(20)

    # -- report --------------------------------------------------------------------------

    def targets(self) -> list[dict[str, Any]]:
        rows = []
        for name, (op, threshold, text) in TARGETS.items():
            if name not in self.figures:
                continue
            value = float(self.figures[name]["value"])
            met = value >= threshold if op == ">=" else value <= threshold
            ratio = value / threshold if op == ">=" else threshold / value if value else 0.0
            rows.append(
                {
                    "target": text,
                    "figure": name,
                    "value": value,
                    "threshold": threshold,
                    "met": met,
                    "ratio_to_target": ratio,
                }
            )
        return rows

    def report(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "command": self.command,
            "machine": self.machine,
            "params": {
                **self.params,
                "events": self.n,
                "event_mix": self.event_mix,
                "units": list(UNITS),
                "partitions": self.partitions,
                "bootstrap": self.bootstrap,
                "topic": self.events_topic,
            },
            "figures": self.figures,
            "targets": self.targets(),
            "load_average_at_end": list(os.getloadavg()),
            "notes": self.notes,
        }


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\nSIGAP benchmark ({report['mode']}): {report['params']['events']:,} events, "
        f"{report['params']['partitions']} partitions"
    )
    machine = report["machine"]
    print(
        f"machine: {machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']}, "
        f"Kafka {machine['kafka_broker']}, faust {machine['faust_streaming']}, "
        f"aiokafka {machine['aiokafka']}"
    )
    print(f"command: {' '.join(report['command'])}\n")
    width = max(len(name) for name in report["figures"])
    for name, figure in report["figures"].items():
        print(f"  {name:<{width}}  {figure['value']:>16,.3f}  {figure['unit']}")
    print("\ntargets:")
    for row in report["targets"]:
        mark = "MET   " if row["met"] else "MISSED"
        print(
            f"  {mark} {row['target']:<48} value {row['value']:,.3f} "
            f"(x{row['ratio_to_target']:.2f} of target)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument(
        "--open-complaints",
        type=int,
        default=None,
        help="M for the memory/restart figures (full default 1,000,000)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    bench = Bench(args)
    bench.broker.start()
    try:
        bench.prepare()
        bench.replay_phase()
        bench.bare_consumer_phase()
        bench.ceilings_and_baseline()
        bench.worker_phase()
        if bench.mode != "smoke":
            bench.two_workers_phase()
        bench.latency_phase()
        bench.latency_phase(rate=200.0, prefix="latency_200")
        bench.restart_baseline_phase()
        bench.open_complaints_phase()
        bench.restart_phase()
    finally:
        bench.finish()
        bench.broker.stop()
        if not args.keep:
            shutil.rmtree(bench.workdir, ignore_errors=True)
        else:
            log(f"kept {bench.workdir}")
    report = bench.report()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print_table(report)
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
