"""The naive KPI of bench/faust_apps.py (mode `naive`) in Quix Streams: a peer engine.

    .venv-quix/bin/python bench/quix_app.py

Runs in its own virtualenv (`make bench-quix-venv`, pinned by bench/quix-constraints.txt):
quixstreams pins pydantic below the project's pin, so it cannot share .venv. bench/run.py
starts it as a subprocess with the same environment variables as the Faust apps:
  BENCH_BOOTSTRAP, BENCH_TOPIC, BENCH_APP_ID (consumer group), BENCH_STATE_DIR,
  BENCH_TARGET (events to consume), BENCH_RESULT (JSON file written at the end).

The same work as the naive Faust app, the obvious Quix way: stage 1 (the events topic, keyed
by complaint_id) decodes the JSON, keeps each complaint's created time and unit in its state
(RocksDB, changelogged) and forwards created/resolved facts; `group_by(unit)` repartitions
them through an internal topic keyed by unit, with the event time as the message timestamp
(the topic's timestamp extractor); stage 2 counts created/resolved and sums resolution seconds
per unit in tumbling 1 h and 24 h windows (event time). The figure is stage 1's rate from its
first event to the N-th, timed inside the pipeline like the Faust apps; the run also waits for
stage 2 to have counted every forwarded fact (`all_stages_events_per_second`).

Only the standard library, orjson and quixstreams: nothing from SIGAP is imported here.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from quixstreams import Application, State
from quixstreams.dataframe.windows import Count, Sum

ENV = os.environ
TARGET = int(ENV["BENCH_TARGET"])
RESULT = Path(ENV["BENCH_RESULT"])

counters: dict[str, Any] = {"n": 0, "t_first": None, "t_target": None, "n2": 0, "forwarded": 0}


def finish() -> None:
    t_all = time.perf_counter()
    result = {
        "mode": "quix-naive",
        "events": counters["n"],
        "forwarded": counters["forwarded"],
        "events_per_second": (counters["n"] - 1) / (counters["t_target"] - counters["t_first"]),
        "all_stages_events_per_second": (counters["n"] - 1) / (t_all - counters["t_first"]),
    }
    RESULT.write_bytes(orjson.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # the parent only needs the result; skip the orderly shutdown


def maybe_finish() -> None:
    if counters["t_target"] is not None and counters["n2"] >= counters["forwarded"]:
        finish()


def event_time_ms(value: Any, headers: Any, timestamp: int, timestamp_type: Any) -> int:
    try:
        return int(datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000)
    except (KeyError, TypeError, ValueError):
        return timestamp


def stage1(data: dict[str, Any], state: State) -> list[dict[str, Any]]:
    """Per complaint: remember created; forward created/resolved facts (0 or 1 of them)."""
    now = time.perf_counter()
    counters["n"] += 1
    if counters["t_first"] is None:
        counters["t_first"] = now
    if counters["n"] >= TARGET and counters["t_target"] is None:
        counters["t_target"] = now
    kind = data["type"]
    facts: list[dict[str, Any]] = []
    if kind == "created":
        ts = datetime.fromisoformat(data["occurred_at"]).timestamp()
        state.set("created", [ts, data["unit"]])
        facts.append({"u": data["unit"], "c": 1, "r": 0, "d": 0.0})
    elif kind == "resolved":
        record = state.get("created")
        if record is not None:
            ts = datetime.fromisoformat(data["occurred_at"]).timestamp()
            facts.append({"u": record[1], "c": 0, "r": 1, "d": ts - record[0]})
    counters["forwarded"] += len(facts)
    if not facts:
        maybe_finish()
    return facts


def counted(_window: Any) -> None:
    counters["n2"] += 1


def main() -> None:
    app = Application(
        broker_address=ENV["BENCH_BOOTSTRAP"],
        consumer_group=ENV["BENCH_APP_ID"],
        auto_offset_reset="earliest",
        state_dir=ENV["BENCH_STATE_DIR"],
        loglevel=logging.WARNING,
    )
    events = app.topic(
        ENV["BENCH_TOPIC"], value_deserializer="json", timestamp_extractor=event_time_ms
    )
    sdf = app.dataframe(events)
    sdf = sdf.apply(stage1, stateful=True, expand=True)
    by_unit = sdf.group_by("u", name="naive-units")
    thirty_days = timedelta(days=30)
    hourly = by_unit.tumbling_window(timedelta(hours=1), grace_ms=thirty_days).agg(
        created=Sum("c"), resolved=Sum("r"), ressum=Sum("d"), facts=Count()
    )
    hourly.current()
    daily = by_unit.tumbling_window(timedelta(days=1), grace_ms=thirty_days).agg(
        created=Sum("c"), resolved=Sum("r"), ressum=Sum("d"), facts=Count()
    )
    daily = daily.current()
    daily.update(counted)
    daily.update(lambda _window: maybe_finish())
    app.run()


if __name__ == "__main__":
    main()
