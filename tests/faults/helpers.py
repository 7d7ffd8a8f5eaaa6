"""Shared by the fault-tolerance tests: a deterministic event set, worker processes that can
be killed and restarted on the same state, and the KPI series to compare between runs.

The event set is designed so that its numbers do not depend on the pace at which partitions
are read: every event time lies within one working day (Mon 2 Nov 2026, 08:00-14:30 WIB) and
only units with a 24 h response target and a 5-working-day resolution target are used, so
no deadline and no "open past 50 % of target" threshold can be passed, whatever the
watermark when an event is read. Created, resolved, transferred, rated and open complaints
are all there.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from sigap.settings import Settings
from streams.diagnostics import STATE_DUMP_TITLE
from tests.conftest import free_port
from tests.integration.processes import SigapProcess, http_get, run_sigap, wait_for

UNITS = ["dlh", "dsda", "dishub", "satpol-pp", "dispendukcapil", "dinkes"]
START = datetime.fromisoformat("2026-11-02T08:00:00+07:00")

# Short group timeouts (Faust reads them from the environment): a worker killed with
# SIGKILL leaves the consumer group after 10 s instead of Faust's default 60 s, so that a
# restarted worker gets its partitions back quickly.
FAST_GROUP = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}

Sample = tuple[str, tuple[tuple[str, str], ...]]


def _at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def make_events(complaints: int = 120, prefix: str = "k") -> list[dict[str, Any]]:
    """The events of `complaints` complaints, in event-time order (a complaint's events keep
    their order, as they share a key and so a partition)."""
    events: list[tuple[float, int, dict[str, Any]]] = []

    def add(minutes: float, type_: str, complaint: str, **extra: Any) -> None:
        event_id = f"{complaint}-{len(events)}"
        event = {
            "event_id": event_id,
            "type": type_,
            "complaint_id": complaint,
            "occurred_at": _at(minutes),
            **extra,
        }
        events.append((minutes, len(events), event))

    for i in range(complaints):
        complaint = f"{prefix}{i:04d}"
        unit = UNITS[i % len(UNITS)]
        t0 = i * 1.5  # 08:00 .. 11:00
        add(t0, "created", complaint, unit=unit, category="sampah" if i % 2 else "jalan")
        pattern = i % 5
        if pattern == 0:  # responded, resolved, rated
            add(t0 + 20, "responded", complaint)
            add(t0 + 120, "resolved", complaint)
            add(t0 + 130, "rated", complaint, rating=(i // 5) % 5 + 1)
        elif pattern == 1:  # transferred in time, then answered by the new unit
            other = UNITS[(i + 1) % len(UNITS)]
            add(t0 + 30, "assigned", complaint, unit=other, reason="not_our_authority")
            add(t0 + 60, "responded", complaint)
            add(t0 + 180, "resolved", complaint)
        elif pattern == 3:  # resolved without a response
            add(t0 + 90, "resolved", complaint)
        elif pattern == 4:  # responded, left open
            add(t0 + 45, "responded", complaint)
        # pattern 2: left open without an answer
    return [event for _, _, event in sorted(events, key=lambda item: (item[0], item[1]))]


def expected_counts(events: list[dict[str, Any]]) -> dict[Sample, float]:
    """A few totals computed by hand from the events: created per unit, resolved and open
    per unit that holds the complaint at the end, transfers per unit they leave."""
    created: dict[str, int] = {}
    holder: dict[str, str] = {}
    resolved: set[str] = set()
    transfers: dict[str, int] = {}
    for event in events:
        cid = event["complaint_id"]
        if event["type"] == "created":
            created[event["unit"]] = created.get(event["unit"], 0) + 1
            holder[cid] = event["unit"]
        elif event["type"] == "assigned":
            transfers[holder[cid]] = transfers.get(holder[cid], 0) + 1
            holder[cid] = event["unit"]
        elif event["type"] == "resolved":
            resolved.add(cid)
    expected: dict[Sample, float] = {}
    for unit in UNITS:
        held = [cid for cid, u in holder.items() if u == unit]
        expected[("sigap_complaints_created_total", (("unit", unit),))] = created.get(unit, 0)
        expected[("sigap_complaints_resolved_total", (("unit", unit),))] = len(
            [c for c in held if c in resolved]
        )
        expected[("sigap_complaints_open", (("unit", unit),))] = len(
            [c for c in held if c not in resolved]
        )
        if unit in transfers:
            labels = (("reason", "not_our_authority"), ("unit", unit))
            expected[("sigap_complaint_transfers_total", labels)] = transfers[unit]
    return expected


def publish(bootstrap: str, topic: str, events: list[dict[str, Any]], pause: float = 0.0) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    try:
        for event in events:
            producer.send(topic, key=event["complaint_id"].encode(), value=orjson.dumps(event))
            if pause:
                producer.flush()
                time.sleep(pause)
        producer.flush()
    finally:
        producer.close()


@contextmanager
def publishing(
    bootstrap: str, topic: str, events: list[dict[str, Any]], pause: float
) -> Iterator[threading.Thread]:
    """Publishes in the background, one event every `pause` seconds; joined on exit."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            publish(bootstrap, topic, events, pause)
        except BaseException as error:  # reported in the test thread
            failures.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        thread.join(timeout=120)
    assert not thread.is_alive(), "the publisher did not finish"
    assert not failures, failures


def samples(text: str) -> dict[Sample, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


# The rolling-window and period gauges (complaint_window_*, complaint_category_window_*,
# complaint_period_*) are left out: they are quantiles over the last hour/day/... before
# the watermark, which advances with the wall clock once the events are read, so two runs
# of the same events never share it (a restart keeps it: test_state_recovery.py).
WINDOW_GAUGES = (
    "sigap_complaint_window_",
    "sigap_complaint_category_window_",
    "sigap_complaint_period_",
)


# complaint_events_* are pipeline health, not KPIs: processed/rejected are per worker and
# since start, and differ by design after a crash (the events redelivered after a SIGKILL are
# rejected as duplicate_event_id and dead-lettered, because the complaints table, restored
# from its changelog, already holds them); the watermark and the consumer lag are progress.
def kpi_samples(text: str) -> dict[Sample, float]:
    return {
        key: value
        for key, value in samples(text).items()
        if key[0].startswith(("sigap_complaint_", "sigap_complaints_"))
        and not key[0].startswith(WINDOW_GAUGES)
    }


def summed(scrapes: list[str]) -> dict[Sample, float]:
    """Each KPI series summed over the scrapes of several workers."""
    total: dict[Sample, float] = {}
    for text in scrapes:
        for key, value in kpi_samples(text).items():
            total[key] = total.get(key, 0.0) + value
    return total


def differences(actual: dict[Sample, float], expected: dict[Sample, float]) -> list[str]:
    problems = []
    for key in sorted(set(actual) | set(expected)):
        if actual.get(key) != expected.get(key):
            problems.append(f"{key}: {actual.get(key)} != expected {expected.get(key)}")
    return problems


def subset_differences(actual: dict[Sample, float], expected: dict[Sample, float]) -> list[str]:
    return [
        f"{key}: {actual.get(key)} != expected {value}"
        for key, value in sorted(expected.items())
        if actual.get(key) != value
    ]


def scores(env: dict[str, str]) -> list[dict[str, Any]]:
    """The daily scores, without the revision number (how many times a row was rewritten
    depends on how the views were batched, not on the numbers)."""
    result = run_sigap(["scores", "--format", "json"], env)
    if result.returncode != 0:
        return [{"error": result.stderr[-500:]}]
    rows = json.loads(result.stdout)
    return [{k: v for k, v in row.items() if k != "revision"} for row in rows]


def fresh_env(bootstrap: str, tmp_path: Path, name: str, **overrides: str) -> dict[str, str]:
    run_id = uuid.uuid4().hex[:8]
    base = tmp_path / name
    base.mkdir(parents=True, exist_ok=True)
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SIGAP_APP_ID": f"sigap-fault-{run_id}",
        "SIGAP_EVENTS_TOPIC": f"fault-{run_id}-events",
        "SIGAP_VIEWS_TOPIC": f"fault-{run_id}-views",
        "SIGAP_SCORE_WRITER_GROUP": f"fault-{run_id}-writer",
        "SIGAP_WEB_HOST": "127.0.0.1",
        "SIGAP_WEB_PORT": str(free_port()),
        "SIGAP_STATE_DIR": str(base / "state"),
        "DATABASE_URL": f"sqlite:///{base / 'scores.db'}",
        **FAST_GROUP,
        **overrides,
    }


def create_topics(env: dict[str, str]) -> None:
    """The service's topics and the worker's changelogs, as production creates them."""
    created = run_sigap(["topics", "create"], env)
    assert created.returncode == 0, created.stderr


def metrics_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['SIGAP_WEB_PORT']}/metrics"


# Faust logs an agent that raised as "Crashed reason=..." and restarts it: the message it was
# processing is lost while the process keeps running and serving /metrics. Such a line fails
# a fault test whatever the totals say (it is how the "wm": null bug showed itself).
CRASH_MARKERS = ("Crashed reason=", "Traceback (most recent call last)")


def crash_lines(process: SigapProcess) -> list[str]:
    return [
        line
        for line in process.log_text().splitlines()
        if any(marker in line for marker in CRASH_MARKERS)
    ]


@dataclass
class Worker:
    """A `sigap worker` process that can be killed and started again on the same state."""

    env: dict[str, str]
    log_dir: Path
    name: str = "worker"
    runs: list[SigapProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return metrics_url(self.env)

    @property
    def process(self) -> SigapProcess:
        return self.runs[-1]

    def start(self) -> None:
        log = self.log_dir / f"{self.name}-{len(self.runs)}.log"
        self.runs.append(SigapProcess(["worker"], self.env, log))

    def alive(self) -> bool:
        return bool(self.runs) and self.process.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no flush."""
        os.kill(self.process.process.pid, signal.SIGKILL)
        self.process.process.wait(30)
        self.process.stop()  # closes the log file

    def stop(self) -> int:
        return self.process.stop()

    def dump_state(self, wait_seconds: float = 10) -> str:
        """SIGUSR1 (streams/diagnostics.py): the worker logs its consumer's state; returns
        the dump's text ("" if none appeared within `wait_seconds`)."""
        before = self.process.log_text().count(STATE_DUMP_TITLE)
        os.kill(self.process.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            text = self.process.log_text()
            if text.count(STATE_DUMP_TITLE) > before:
                time.sleep(0.5)  # the rest of the block
                return self.process.log_text().rsplit(STATE_DUMP_TITLE, 1)[1]
            time.sleep(0.2)
        return ""

    def scrape(self) -> str:
        return http_get(self.url) if self.alive() else ""

    def wait_serving(self, timeout: float = 60) -> None:
        text = wait_for(self.scrape, lambda t: "sigap_complaints_created_total" in t, timeout, "up")
        assert "sigap_complaints_created_total" in text, self.logs()

    def crashes(self) -> list[str]:
        """Agent crashes and tracebacks logged by any run of this worker."""
        return [line for run in self.runs for line in crash_lines(run)]

    def logs(self) -> str:
        return "\n".join(
            f"--- {run.log_path.name} ---\n{run.log_text()[-3000:]}" for run in self.runs
        )


def total(found: dict[Sample, float], name: str) -> float:
    return sum(value for (sample, _), value in found.items() if sample == name)


# --- An event set where deadlines pass ------------------------------------------------------
#
# Ten working days (Mon 2 - Fri 13 Nov 2026, no public holiday, office calendar 08:00-16:00
# WIB) and a Saturday. Each working day has one slot, 09:00-11:30 WIB, holding every event
# of that day: six complaints are created (09:00 + 12 min per unit) and earlier ones are
# answered, transferred or resolved, some in time and some late. Response targets are 24 h
# wall, resolution targets 5 working days (close of the 5th working day, day 1 the day after
# a receipt after 08:00). The last events are on Saturday 14 Nov: a late response at 13:30
# and a complaint created at 14:00 (DEADLINE_LAST).
#
# Why the final numbers cannot depend on the pace at which partitions are read, if the
# worker is right:
# - a timer that stops or is transferred in time does so in the slot of its receipt day
#   (or the next working day's slot for resolutions), hours before its deadline; every
#   deadline lies outside the slots (response deadlines 09:00-10:50 the next day are inside
#   a slot, but no timer with such a deadline stops in that slot before it), so reading the
#   events of one slot in any order gives the same outcomes;
# - the instants that decide the final gauges at watermark DEADLINE_LAST (+ minutes of
#   wall-clock drift): deadlines, stops and 50/75/100 % thresholds are all at least 30 min
#   away from DEADLINE_LAST - 0 / 10 min (the worker's grace) - 1 h / 24 h / 7 d / 30 d.
DEADLINE_DAYS = [
    datetime.fromisoformat(f"2026-11-{day:02d}T00:00:00+07:00")
    for day in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13)
]
DEADLINE_LAST = datetime.fromisoformat("2026-11-14T14:00:00+07:00")


def make_deadline_events(prefix: str = "s") -> list[dict[str, Any]]:
    """Every event of the deadline set, in event-time order. Patterns by (day + unit) % 6:
    0 answered and resolved in time, rated; 1 answered late (next working day 11:00),
    resolved two working days later; 2 answered in time, resolved the working day after its
    resolution deadline (late) or left open; 3 transferred after 40 min, answered by the new
    unit, resolved two working days later; 4 never answered, transferred the next working
    day at 10:50 (after its response deadline), then left open by the new unit; 5 left open
    without any answer."""
    events: list[tuple[datetime, int, dict[str, Any]]] = []

    def add(moment: datetime, type_: str, complaint: str, **extra: Any) -> None:
        event = {
            "event_id": f"{complaint}-{len(events)}",
            "type": type_,
            "complaint_id": complaint,
            "occurred_at": moment.isoformat(),
            **extra,
        }
        events.append((moment, len(events), event))

    def day_at(index: int, hour: int, minute: int = 0) -> datetime | None:
        if index >= len(DEADLINE_DAYS):
            return None
        return DEADLINE_DAYS[index] + timedelta(hours=hour, minutes=minute)

    for k in range(len(DEADLINE_DAYS)):
        for u, unit in enumerate(UNITS):
            complaint = f"{prefix}{k:02d}{u}"
            created = DEADLINE_DAYS[k] + timedelta(hours=9, minutes=12 * u)
            add(created, "created", complaint, unit=unit, category="waste")
            pattern = (k + u) % 6
            if pattern == 0:
                add(created + timedelta(minutes=30), "responded", complaint)
                add(created + timedelta(minutes=60), "resolved", complaint)
                add(created + timedelta(minutes=70), "rated", complaint, rating=(k + u) % 5 + 1)
            elif pattern == 1:
                late = day_at(k + 1, 11)
                if late is None:  # Friday 13: answered on Saturday afternoon
                    late = DEADLINE_LAST - timedelta(minutes=30)
                add(late, "responded", complaint)
                resolved = day_at(k + 3, 9, 30)
                if resolved is not None:
                    add(resolved, "resolved", complaint)
            elif pattern == 2:
                add(created + timedelta(minutes=20), "responded", complaint)
                # The 5th working day after the receipt day is k + 5; resolved on k + 6.
                resolved = day_at(k + 6, 9, 30)
                if resolved is not None:
                    add(resolved, "resolved", complaint)
            elif pattern == 3:
                other = UNITS[(u + 1) % len(UNITS)]
                add(
                    created + timedelta(minutes=40),
                    "assigned",
                    complaint,
                    unit=other,
                    reason="not_our_authority",
                )
                add(created + timedelta(minutes=80), "responded", complaint)
                resolved = day_at(k + 2, 10, 45)
                if resolved is not None:
                    add(resolved, "resolved", complaint)
            elif pattern == 4:
                moved = day_at(k + 1, 10, 50)
                if moved is not None:
                    other = UNITS[(u + 2) % len(UNITS)]
                    add(moved, "assigned", complaint, unit=other, reason="not_our_authority")
    add(DEADLINE_LAST, "created", f"{prefix}last", unit="dlh", category="waste")
    return [event for _, _, event in sorted(events, key=lambda item: (item[0], item[1]))]


def local_day(event: dict[str, Any]) -> str:
    """The event's date in WIB (the slot it belongs to)."""
    return datetime.fromisoformat(event["occurred_at"]).date().isoformat()


def writer_settings(
    bootstrap: str,
    prefix: str,
    *,
    group: str | None = None,
    partitions: int = 1,
    database_url: str | None = None,
) -> Settings:
    """Settings of a score writer test: its own topics, app id and group (`<prefix>-writer`
    unless told), and the default score database unless one is given."""
    extra = {} if database_url is None else {"database_url": database_url}
    return Settings(
        kafka_bootstrap_servers=bootstrap,
        events_topic=f"{prefix}-events",
        views_topic=f"{prefix}-views",
        app_id=prefix,
        score_writer_group=group or f"{prefix}-writer",
        topic_partitions=partitions,
        **extra,
    )
