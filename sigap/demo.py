"""`sigap demo`: the whole service on one machine, for a first look.

Starts (or reuses) a local Kafka broker, then the worker, the score writer and the traffic
simulator as child processes, and Prometheus (and Alertmanager) when they are installed;
prints where to look; stops everything it started on Ctrl-C or after DEMO_SECONDS.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streams.stall_guard import EXIT_CODE as RESTART_EXIT_CODE

ROOT = Path(__file__).resolve().parent.parent
LOCAL_KAFKA = ROOT / "deploy" / "kafka" / "local-kafka.sh"
RULES = ROOT / "deploy" / "prometheus" / "sigap-rules.yml"
PROMETHEUS_DIR = ROOT / ".local" / "demo-prometheus"
ALERTMANAGER_DIR = ROOT / ".local" / "demo-alertmanager"
# Where the demo's simulator records how far it has published (sigap/simulator_mark.py):
# a second `make demo` continues the simulated history; `make clean` starts afresh.
SIMULATOR_STATE = "simulator.json"
# The generated receivers' placeholder port: the demo's webhook sink listens there when free.
DEFAULT_WEBHOOK_SINK_PORT = 9099
DEFAULT_PROMETHEUS_PORT = 9090
# Not Alertmanager's usual 9093: the local Kafka broker's controller listens on KAFKA_PORT+1.
DEFAULT_ALERTMANAGER_PORT = 9094
PROMETHEUS_INSTALL_HINT = (
    "Prometheus is not installed, so the demo runs without it "
    "(to get it: apt-get install prometheus prometheus-alertmanager)"
)


@dataclass
class Demo:
    env: dict[str, str]
    log_dir: Path
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    # Prometheus and Alertmanager: the demo goes on without them if they stop.
    optional: set[str] = field(default_factory=set)
    # Each process's command, to restart it with.
    commands: dict[str, list[str]] = field(default_factory=dict)
    started_broker: bool = False
    sink: Any = None  # the WebhookSink, when Alertmanager runs

    def say(self, text: str) -> None:
        print(f"[demo] {text}", flush=True)

    def start_broker(self) -> None:
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.say(f"using the Kafka cluster at {self.env['KAFKA_BOOTSTRAP_SERVERS']}")
            return
        status = subprocess.run(["bash", str(LOCAL_KAFKA), "status"], capture_output=True)
        if status.returncode == 0:
            self.say("reusing the local Kafka broker that is already running")
            return
        self.say("starting a local Kafka broker (first run downloads it with Maven)...")
        subprocess.run(["bash", str(LOCAL_KAFKA), "start"], check=True)
        self.started_broker = True

    def spawn(self, name: str, *args: str) -> None:
        self.spawn_command(name, [sys.executable, "-m", "sigap", *args])

    def spawn_command(
        self, name: str, command: list[str], optional: bool = False
    ) -> subprocess.Popen[bytes]:
        log_path = self.log_dir / f"{name}.log"
        # A restart appends to the log of the run it replaces.
        log = log_path.open("ab" if name in self.commands else "wb")
        self.commands[name] = command
        process = subprocess.Popen(
            command,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops children in order
        )
        self.processes.append((name, process))
        if optional:
            self.optional.add(name)
        self.say(f"started {name} (pid {process.pid}, log {log_path})")
        return process

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
            self.say(f"stopped {name}")
        if self.sink is not None:
            self.sink.stop()
        if self.started_broker:
            subprocess.run(["bash", str(LOCAL_KAFKA), "stop"])

    def failed(self) -> str | None:
        for name, process in list(self.processes):
            if process.poll() is None:
                continue
            if process.returncode == RESTART_EXIT_CODE:
                # A worker that fenced itself after a freeze (streams/stall_guard.py) asks
                # to be restarted, as a supervisor would.
                self.say(f"{name} asked for a restart (exit {RESTART_EXIT_CODE}); restarting it")
                self.processes.remove((name, process))
                self.spawn_command(name, self.commands[name], optional=name in self.optional)
                continue
            if name not in self.optional:
                return name
            self.say(f"{name} exited; carrying on without it (see {self.log_dir}/{name}.log)")
            self.processes.remove((name, process))
        return None

    def start_prometheus(
        self,
        worker_port: int,
        prometheus_port: int,
        alertmanager_port: int,
        score_writer_port: int = 0,
    ) -> list[str]:
        """Prometheus (and Alertmanager) on 127.0.0.1 when installed and their ports are
        free, scraping the worker and the score writer with the generated rules; the
        "where to look" lines."""
        if os.environ.get("SIGAP_DEMO_PROMETHEUS") == "0":
            return []
        prometheus = shutil.which("prometheus")
        if prometheus is None:
            self.say(PROMETHEUS_INSTALL_HINT)
            return []
        if not _port_free(prometheus_port):
            self.say(
                f"port {prometheus_port} is taken, so the demo runs without Prometheus "
                "(set SIGAP_PROMETHEUS_PORT to use another one)"
            )
            return []
        lines: list[str] = []
        alertmanager_url = self.start_alertmanager(alertmanager_port)
        PROMETHEUS_DIR.mkdir(parents=True, exist_ok=True)
        config = PROMETHEUS_DIR / "prometheus.yml"
        config.write_text(
            "# Written by `sigap demo` at every start: scrapes this demo's worker.\n"
            + yaml.safe_dump(
                _prometheus_config(
                    worker_port, prometheus_port, alertmanager_url, score_writer_port
                ),
                sort_keys=False,
            )
        )
        url = f"http://127.0.0.1:{prometheus_port}"
        process = self.spawn_command(
            "prometheus",
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={PROMETHEUS_DIR / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            optional=True,
        )
        if not _wait_for_url(f"{url}/-/ready", 60, process):
            self.say(f"Prometheus did not start; see {self.log_dir}/prometheus.log")
            return lines
        query = "sum by (unit) (sigap_complaints_created_total)"
        lines.append(
            f"  prometheus: {url}   (try: {url}/graph?g0.expr="
            f"{urllib.parse.quote(query)}; alerts: {url}/alerts)"
        )
        if alertmanager_url is not None:
            lines.append(f"  alertmanager: {alertmanager_url}")
            lines.append(
                f"  notifications: {self.log_dir / 'alerts.log'}   (the local webhook sink)"
            )
        return lines

    def start_alertmanager(self, port: int) -> str | None:
        """Alertmanager with the generated routes, when installed; its URL or None."""
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            return None
        if not _port_free(port):
            self.say(
                f"port {port} is taken, so the demo runs without Alertmanager "
                "(set SIGAP_ALERTMANAGER_PORT to use another one)"
            )
            return None
        ALERTMANAGER_DIR.mkdir(parents=True, exist_ok=True)
        config = self.alertmanager_config()
        url = f"http://127.0.0.1:{port}"
        process = self.spawn_command(
            "alertmanager",
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={ALERTMANAGER_DIR / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # one instance: no gossip port
            ],
            optional=True,
        )
        if not _wait_for_url(f"{url}/-/ready", 30, process):
            self.say(f"Alertmanager did not start; see {self.log_dir}/alertmanager.log")
            return None
        return url

    def alertmanager_config(self) -> Path:
        """The generated routes with their webhooks pointed at a local sink the demo runs
        (127.0.0.1, the placeholder port 9099 when free), so notifications are delivered
        and logged to alerts.log instead of failing in Alertmanager's log."""
        from sigap.core.registry_file import load_registry
        from sigap.monitoring.alertmanager import render_alertmanager_config
        from sigap.webhook_sink import WebhookSink

        port = DEFAULT_WEBHOOK_SINK_PORT if _port_free(DEFAULT_WEBHOOK_SINK_PORT) else 0
        self.sink = WebhookSink(self.log_dir / "alerts.log", port).start()
        registry_path = self.env.get("SIGAP_REGISTRY")
        registry = load_registry(Path(registry_path) if registry_path else _default_registry())
        config = ALERTMANAGER_DIR / "alertmanager.yml"
        config.write_text(render_alertmanager_config(registry, f"{self.sink.url}/hooks"))
        self.say(f"webhook sink on {self.sink.url} (alerts in {self.log_dir}/alerts.log)")
        return config


def _default_registry() -> Path:
    from sigap.settings import DEFAULT_REGISTRY

    return Path(DEFAULT_REGISTRY)


def _events_topic_is_empty(env: dict[str, str]) -> bool | None:
    """Whether the events topic holds no message (a new or wiped broker); None when the
    broker cannot tell."""
    try:
        from kafka import KafkaConsumer, TopicPartition

        topic = env.get("SIGAP_EVENTS_TOPIC", "complaint-events")
        consumer = KafkaConsumer(
            bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], request_timeout_ms=15000
        )
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            return bool(sum(ends.values()) == 0)
        finally:
            consumer.close()
    except Exception:
        return None


def _prometheus_config(
    worker_port: int,
    prometheus_port: int,
    alertmanager_url: str | None,
    score_writer_port: int = 0,
) -> dict[str, Any]:
    from sigap.monitoring.rules import SCORE_WRITER_JOB, WORKER_JOB

    config: dict[str, Any] = {
        # Scraped more often than in production (15s): the simulator fast-forwards.
        "global": {"scrape_interval": "5s", "evaluation_interval": "15s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": WORKER_JOB,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
            },
            {
                "job_name": "prometheus",
                "static_configs": [{"targets": [f"127.0.0.1:{prometheus_port}"]}],
            },
        ],
    }
    if score_writer_port:  # 0: the writer serves no metrics (SIGAP_SCORE_WRITER_METRICS_PORT)
        config["scrape_configs"].insert(
            1,
            {
                "job_name": SCORE_WRITER_JOB,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{score_writer_port}"]}],
            },
        )
    if alertmanager_url is not None:
        target = alertmanager_url.removeprefix("http://")
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
    return config


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_url(url: str, timeout: float, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def _port_setting(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"[demo] {name}={value!r} is not a port number (1-65535)")
    return int(value)


def _wait_for_metrics(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(1)
    return False


def run_demo(seconds: float | None) -> int:
    prometheus_port = _port_setting("SIGAP_PROMETHEUS_PORT", DEFAULT_PROMETHEUS_PORT)
    alertmanager_port = _port_setting("SIGAP_ALERTMANAGER_PORT", DEFAULT_ALERTMANAGER_PORT)
    env = dict(os.environ)
    env.setdefault("SIGAP_STATE_DIR", str(ROOT / ".local" / "demo-state"))
    port = int(os.environ.get("KAFKA_PORT", "9092"))
    env.setdefault("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
    log_dir = ROOT / ".local" / "demo-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    demo = Demo(env=env, log_dir=log_dir)
    interrupted = {"now": False}

    def on_signal(*_: object) -> None:
        interrupted["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        demo.start_broker()
        created = subprocess.run(
            [sys.executable, "-m", "sigap", "topics", "create"], env=env, check=False
        )
        if created.returncode != 0:
            return created.returncode
        demo.spawn("worker", "worker")
        demo.spawn("score-writer", "score-writer")
        worker_port = int(env.get("SIGAP_WEB_PORT", "6066"))
        metrics_url = f"http://127.0.0.1:{worker_port}/metrics"
        if not _wait_for_metrics(metrics_url, 90):
            demo.say(f"the worker did not serve {metrics_url}; see {log_dir}/worker.log")
            return 1
        writer_port = int(env.get("SIGAP_SCORE_WRITER_METRICS_PORT", "6067"))
        monitoring = demo.start_prometheus(
            worker_port, prometheus_port, alertmanager_port, writer_port
        )
        # Continue the simulated history of an earlier run (no event published twice),
        # unless the broker's events topic is empty (a new broker): then start afresh.
        state = Path(env["SIGAP_STATE_DIR"]) / SIMULATOR_STATE
        if state.exists() and _events_topic_is_empty(env):
            state.unlink()
        if state.exists():
            demo.say(
                f"continuing the simulated history of the last run ({state}; make clean resets)"
            )
        demo.spawn("simulator", "simulate", "--state", str(state))
        database = env.get("DATABASE_URL", "sqlite:///sigap.db")
        demo.say("SIGAP is running.")
        demo.say(f"  metrics:  {metrics_url}   (try: curl -s {metrics_url} | grep ^sigap_)")
        demo.say(f"  scores:   {database}   (try: .venv/bin/sigap scores)")
        demo.say(f"  logs:     {log_dir}/")
        for line in monitoring:
            demo.say(line)
        demo.say(
            "  stop:     Ctrl-C"
            + (f" (stopping by itself after {seconds:.0f}s)" if seconds else "")
        )
        started = time.monotonic()
        while not interrupted["now"]:
            if seconds is not None and time.monotonic() - started >= seconds:
                break
            dead = demo.failed()
            if dead is not None:
                demo.say(f"{dead} exited unexpectedly; see {log_dir}/{dead}.log")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        demo.say("stopping...")
        demo.stop()
        subprocess.run([sys.executable, "-m", "sigap", "scores"], env=env, check=False)
