"""Phases without Kafka: replay of the events file, and the bare JSON loop it is compared with."""

from __future__ import annotations

import time

import orjson

from .common import ROOT
from .context import Bench


def bare_orjson_phase(bench: Bench) -> None:
    """The replay goal's yardstick: a bare `orjson.loads` loop over the same file."""
    best = 0.0
    for _ in range(3):  # the best of three: the loop is short, a noisy neighbour is not
        t = time.perf_counter()
        lines = 0
        with open(bench.events_file, "rb") as file:
            for line in file:
                orjson.loads(line)
                lines += 1
        best = max(best, lines / (time.perf_counter() - t))
    bench.figure(
        "bare_orjson_lines_per_second",
        best,
        "lines/s",
        "a bare `for line in file: orjson.loads(line)` over the events file (best of 3)",
    )


def replay_phase(bench: Bench, workers: int = 1) -> None:
    """`sigap replay FILE [--workers N]` in process: the file read and parsed by
    sigap.replay_sources (schemas.events.parse_event per line), then sigap.replay.replay
    (with N > 1: sharded by complaint, then by unit, across N forked processes)."""
    from sigap.core.registry_file import load_registry
    from sigap.gc_policy import tuned_garbage_collector
    from sigap.replay import replay
    from sigap.replay_sources import open_source

    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    reference = time.time()
    # As `sigap replay` runs it: with the process's garbage-collector policy.
    with tuned_garbage_collector():
        t = time.perf_counter()
        events, _report = open_source(bench.events_file, None)
        parsed = list(events)
        parse_s = time.perf_counter() - t
        t = time.perf_counter()
        result = replay(parsed, registry, reference_epoch=reference, workers=workers)
        core_s = time.perf_counter() - t
    created = sum(s.counters.created for s in result.units.values())
    if workers > 1:
        assert created == bench.expected_created, "parallel replay differs"
        name = f"replay_{workers}_workers_events_per_second"
        bench.figure(
            name,
            bench.n / (parse_s + core_s),
            "events/s",
            f"as replay_events_per_second with --workers {workers} (parsing in the parent, "
            "then the complaint and unit stages sharded across forked processes)",
            parse_seconds=parse_s,
            replay_seconds=core_s,
        )
        bench.ratio(
            f"replay_{workers}_workers_vs_one",
            name,
            "replay_events_per_second",
            f"replay --workers {workers} / replay, same run",
        )
        bench.ratio(
            f"replay_{workers}_workers_vs_bare_orjson",
            name,
            "bare_orjson_lines_per_second",
            f"replay --workers {workers} / the bare orjson.loads loop, same run",
        )
        return
    bench.expected_created = created
    bench.figure(
        "replay_events_per_second",
        bench.n / (parse_s + core_s),
        "events/s",
        "`sigap replay FILE` in process: reading and parsing the events file "
        "(sigap.replay_sources, schemas.events.parse_event per line), then sigap.replay.replay; "
        "no Kafka",
        parse_seconds=parse_s,
        replay_seconds=core_s,
        replay_only_events_per_second=bench.n / core_s,
    )
    bench.ratio(
        "replay_vs_bare_orjson",
        "replay_events_per_second",
        "bare_orjson_lines_per_second",
        "replay / a bare orjson.loads loop over the same file, same run",
    )
