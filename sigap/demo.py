"""`sigap demo`: the whole service on one machine, for a first look.

Starts (or reuses) a local Kafka broker, then the worker, the score writer and the traffic
simulator as child processes; prints where to look; stops everything it started on Ctrl-C
or after DEMO_SECONDS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_KAFKA = ROOT / "deploy" / "kafka" / "local-kafka.sh"


@dataclass
class Demo:
    env: dict[str, str]
    log_dir: Path
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    started_broker: bool = False

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
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "sigap", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops children in order
        )
        self.processes.append((name, process))
        self.say(f"started {name} (pid {process.pid}, log {log_path})")

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
            self.say(f"stopped {name}")
        if self.started_broker:
            subprocess.run(["bash", str(LOCAL_KAFKA), "stop"])

    def failed(self) -> str | None:
        for name, process in self.processes:
            if process.poll() is not None:
                return name
        return None


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
        metrics_url = f"http://127.0.0.1:{env.get('SIGAP_WEB_PORT', '6066')}/metrics"
        if not _wait_for_metrics(metrics_url, 90):
            demo.say(f"the worker did not serve {metrics_url}; see {log_dir}/worker.log")
            return 1
        demo.spawn("simulator", "simulate")
        database = env.get("DATABASE_URL", "sqlite:///sigap.db")
        demo.say("SIGAP is running.")
        demo.say(f"  metrics:  {metrics_url}   (try: curl -s {metrics_url} | grep ^complaint)")
        demo.say(f"  scores:   {database}   (try: .venv/bin/sigap scores)")
        demo.say(f"  logs:     {log_dir}/")
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
