"""Soak: the worker through faults, round after round, with a conservation figure per round.

    .venv/bin/python bench/soak.py [--rounds 20] [--complaints 40] [--json FILE]
                                   [--kinds broker-stop,kill-rebalance] [--outage 4]

On a broker of its own (deploy/kafka/local-kafka.sh, a free port, a temporary data dir), each
round runs on fresh topics and a fresh app id, and alternates two faults:

- `broker-stop`: one worker; the events are published one by one while the broker is
  stopped for a few seconds, so that a batch, its changelog records and its views are in
  flight when it goes (the producer and the worker ride it out and resume);
- `kill-rebalance`: two workers; a third one joins mid-stream (a rebalance) and one of the
  first two is SIGKILLed while the group rebalances.

Every round publishes valid events and a few invalid ones (not JSON, keyless, dated an hour
ahead). At the end of the round it prints:

    in = counted + dead-lettered   (events published = events held in the complaints'
                                    final states + distinct messages dead-lettered with a
                                    reason other than duplicate_event_id)
    redelivered                    (duplicate_event_id dead letters: redeliveries, harmless)
    double counted                 (KPI series summed over the live workers that exceed
                                    the expected ones computed by hand from the events)

`counted` is read from the complaints table's changelog (the last state of each complaint),
not from the worker's own counters. A round fails when conservation does not hold, or when
any KPI series differs from the expected one. Exit 1 if any round failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.app import COMPLAINTS_TABLE, changelog_topic  # noqa: E402
from tests.conftest import LOCAL_KAFKA, free_port  # noqa: E402
from tests.faults.helpers import (  # noqa: E402
    Worker,
    create_topics,
    expected_counts,
    fresh_env,
    make_events,
    samples,
)

KINDS = ("broker-stop", "kill-rebalance")


def local_kafka(command: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", str(LOCAL_KAFKA), command], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"local-kafka {command}: {done.stderr[-500:]}")


def invalid_messages(prefix: str) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of messages the worker must dead-letter, each once."""
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    future = {
        "event_id": f"{prefix}-f",
        "type": "created",
        "complaint_id": f"{prefix}-f",
        "occurred_at": ahead,
        "unit": "dlh",
    }
    keyless = {**future, "event_id": f"{prefix}-k", "occurred_at": "2026-11-02T09:00:00+07:00"}
    return [
        (b"x", b'{"event_id": '),
        (None, orjson.dumps(keyless)),
        (future["complaint_id"].encode(), orjson.dumps(future)),
    ]


def publish_slowly(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes | None, bytes]],
    pause: float,
    progress: list[int],
) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        delivery_timeout_ms=180_000,
        request_timeout_ms=20_000,
    )
    for key, value in messages:
        producer.send(topic, key=key, value=value)
        progress[0] += 1
        time.sleep(pause)
    producer.flush(timeout=180)
    producer.close()


def read_all(bootstrap: str, topic: str) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {topic} to its end")
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def counted_events(bootstrap: str, app_id: str) -> int:
    """Events held in the complaints' final states (the complaints table's changelog)."""
    latest: dict[bytes, bytes | None] = {}
    for record in read_all(bootstrap, changelog_topic(app_id, COMPLAINTS_TABLE)):
        latest[record.key] = record.value
    return sum(len(orjson.loads(value)["e"]) for value in latest.values() if value)


def dead_letters(bootstrap: str, topic: str) -> tuple[int, int, Counter[str]]:
    """(distinct dead-lettered messages other than redeliveries, redeliveries, reasons)."""
    distinct: set[tuple[bytes | None, bytes, str]] = set()
    reasons: Counter[str] = Counter()
    redelivered = 0
    for record in read_all(bootstrap, topic):
        reason = dict(record.headers).get("sigap-reason", b"?").decode()
        reasons[reason] += 1
        if reason == "duplicate_event_id":
            redelivered += 1
        else:
            distinct.add((record.key, record.value, reason))
    return len(distinct), redelivered, reasons


def wait_until(probe: Any, done: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(1.0)
        value = probe()
    return value


def run_round(
    number: int,
    kind: str,
    bootstrap: str,
    broker_env: dict[str, str],
    base: Path,
    complaints: int,
    outage: float = 4.0,
) -> dict[str, Any]:
    started = time.monotonic()
    prefix = f"s{number}"
    env = fresh_env(bootstrap, base, f"round-{number}")
    create_topics(env)
    events = make_events(complaints, prefix=prefix)
    valid = [(e["complaint_id"].encode(), orjson.dumps(e)) for e in events]
    invalid = invalid_messages(prefix)
    messages = valid[: len(valid) // 2] + invalid + valid[len(valid) // 2 :]
    workers = [Worker(env, base / f"round-{number}", name=f"w{i}") for i in range(2)]
    (base / f"round-{number}").mkdir(parents=True, exist_ok=True)
    active = workers[:1] if kind == "broker-stop" else workers[:2]
    if kind == "kill-rebalance":
        # Each worker its own state dir and web port, as separate machines would have.
        for index, worker in enumerate(active):
            worker.env = {
                **env,
                "SIGAP_STATE_DIR": str(base / f"round-{number}" / f"state-{index}"),
                "SIGAP_WEB_PORT": str(free_port()),
            }
    for worker in active:
        worker.start()
    for worker in active:
        worker.wait_serving(120)
    progress = [0]
    publisher = threading.Thread(
        target=publish_slowly,
        args=(bootstrap, env["SIGAP_EVENTS_TOPIC"], messages, 0.05, progress),
        daemon=True,
    )
    publisher.start()
    while progress[0] < len(messages) // 3 and publisher.is_alive():
        time.sleep(0.05)
    if kind == "broker-stop":
        local_kafka("stop", broker_env)
        time.sleep(outage)
        local_kafka("start", broker_env)
    else:
        joining = Worker(
            {
                **env,
                "SIGAP_STATE_DIR": str(base / f"round-{number}" / "state-2"),
                "SIGAP_WEB_PORT": str(free_port()),
            },
            base / f"round-{number}",
            name="w2",
        )
        joining.start()
        time.sleep(3)  # the group is rebalancing: kill one of the first two meanwhile
        active[0].kill()
        active = [active[1], joining]
    publisher.join(240)
    expected = expected_counts(events)

    def kpis() -> dict[Any, float]:
        """The expected series, summed over the live workers (each exports its units)."""
        total: dict[Any, float] = {}
        for worker in active:
            for key, value in samples(worker.scrape()).items():
                if key in expected:
                    total[key] = total.get(key, 0.0) + value
        return total

    def matches(found: dict[Any, float]) -> bool:
        return all(found.get(key) == value for key, value in expected.items())

    found = wait_until(kpis, matches, 180)
    # A round that did not converge: what each live worker's consumer is doing, in its log
    # (streams/diagnostics.py) and in the round's detail.
    dumps = {} if matches(found) else {w.name: w.dump_state() for w in active if w.alive()}
    time.sleep(5)  # the changelog records of the last batch
    counted = counted_events(bootstrap, env["SIGAP_APP_ID"])
    dead, redelivered, reasons = dead_letters(bootstrap, f"{env['SIGAP_EVENTS_TOPIC']}.dlq")
    double = {
        str(key): (found.get(key), value)
        for key, value in expected.items()
        if (found.get(key) or 0) > value
    }
    missing = {
        str(key): (found.get(key), value)
        for key, value in expected.items()
        if (found.get(key) or 0) < value
    }
    crashes = [line for worker in active for line in worker.crashes()]
    for worker in active:
        if worker.alive():
            worker.stop()
    total_in = len(messages)
    result = {
        "round": number,
        "kind": kind,
        "in": total_in,
        "counted": counted,
        "dead_lettered": dead,
        "redelivered": redelivered,
        "reasons": dict(reasons),
        "double_counted_series": len(double),
        "missing_series": len(missing),
        "crashes": len(crashes),
        "seconds": round(time.monotonic() - started, 1),
    }
    result["ok"] = (
        total_in == counted + dead
        and counted == len(valid)
        and not double
        and not missing
        and not crashes
    )
    if not result["ok"]:
        result["detail"] = {
            "double": double,
            "missing": missing,
            "crashes": crashes[:3],
            "state": {name: dump.splitlines()[:20] for name, dump in dumps.items()},
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--complaints", type=int, default=40)
    parser.add_argument("--json", type=Path, default=None, help="write the rounds here")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="faults to alternate (comma-separated)"
    )
    parser.add_argument(
        "--outage",
        type=float,
        default=4.0,
        help="seconds the broker stays stopped in broker-stop rounds (past Faust's 90 s "
        "broker_request_timeout to exercise recovery timeouts)",
    )
    args = parser.parse_args()
    kinds = tuple(args.kinds.split(","))
    if not set(kinds) <= set(KINDS):
        parser.error(f"--kinds: each of {', '.join(KINDS)}")
    port = free_port(count=2)
    base = Path(tempfile.mkdtemp(prefix="sigap-soak-"))
    broker_env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(base / "kafka")}
    bootstrap = f"127.0.0.1:{port}"
    load = os.getloadavg()
    print(
        f"soak: {args.rounds} rounds ({','.join(kinds)}), {args.complaints} complaints each,"
        f" outage {args.outage} s; load {load}"
    )
    local_kafka("start", broker_env)
    results = []
    try:
        for number in range(args.rounds):
            kind = kinds[number % len(kinds)]
            result = run_round(
                number, kind, bootstrap, broker_env, base, args.complaints, args.outage
            )
            results.append(result)
            print(
                f"round {number:2d} {kind:15s} in={result['in']} = counted {result['counted']}"
                f" + dead-lettered {result['dead_lettered']}"
                f" | redelivered {result['redelivered']}"
                f" | double counted {result['double_counted_series']}"
                f" missing {result['missing_series']} crashes {result['crashes']}"
                f" | {result['seconds']} s {'ok' if result['ok'] else 'FAILED'}",
                flush=True,
            )
    finally:
        local_kafka("stop", broker_env)
    failed = [r for r in results if not r["ok"]]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"soak: {len(results) - len(failed)}/{len(results)} rounds ok; {uptime}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rounds": results, "uptime": uptime}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
