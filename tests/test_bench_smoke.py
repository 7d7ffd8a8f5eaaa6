"""The benchmark suite runs end to end (bench/run.py --smoke) against the session's broker.

Only the presence and sign of every figure is checked: timings on a shared machine are
never asserted.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_FIGURES = {
    "bare_orjson_lines_per_second",
    "replay_events_per_second",
    "replay_vs_bare_orjson",
    "bare_aiokafka_events_per_second",
    "empty_faust_events_per_second",
    "naive_faust_events_per_second",
    "worker_events_per_second",
    "worker_unit_stage_tail_seconds",
    "worker_all_stages_events_per_second",
    "worker_vs_empty_faust",
    "worker_all_stages_vs_empty_faust",
    "worker_vs_naive",
    "worker_vs_bare_aiokafka",
    "latency_p50_seconds",
    "latency_p99_seconds",
    "latency_200_p50_seconds",
    "latency_200_p99_seconds",
    "restart_to_ready_seconds_backlog_only",
    "worker_rss_bytes",
    "state_dir_bytes",
    "bytes_per_open_complaint",
    "worker_created_only_events_per_second",
    "restart_to_ready_seconds",
    "restart_to_ready_seconds_at_1m",
}


def _run_on_broker(bootstrap: str, script: str, *arguments: str) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.mark.kafka
@pytest.mark.timeout(300)
def test_bench_smoke_reports_every_figure(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    _run_on_broker(kafka_bootstrap, "run.py", "--smoke", "--out", str(out))
    report = json.loads(out.read_text())

    machine = report["machine"]
    for field in ("cpu_model", "cores", "python", "kafka_broker", "faust_streaming", "aiokafka"):
        assert machine[field], field
    assert report["command"]

    figures = report["figures"]
    assert set(figures) >= EXPECTED_FIGURES, EXPECTED_FIGURES - set(figures)
    for name, figure in figures.items():
        value = figure["value"]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, name
        assert figure["unit"] and figure["meaning"], name
        assert figure["machine"] == machine, name
        assert figure["command"] == report["command"], name
    assert {row["figure"] for row in report["targets"]} == {
        "replay_vs_bare_orjson",
        "worker_all_stages_events_per_second",
        "worker_all_stages_vs_empty_faust",
        "latency_p99_seconds",
        "bytes_per_open_complaint",
        "restart_to_ready_seconds_at_1m",
    }
    # The Quix Streams peer runs when its virtualenv exists (make bench-quix-venv), and
    # says so in the notes when it does not.
    if (ROOT / ".venv-quix" / "bin" / "python").exists():
        assert "naive_quix_events_per_second" in figures
        assert "worker_vs_naive_quix" in figures
    else:
        assert any("make bench-quix-venv" in note for note in report["notes"])


@pytest.mark.kafka
@pytest.mark.timeout(300)
def test_the_record_floor_moves_every_record_of_each_pattern(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """bench/record_floor.py: each skeleton reads the whole backlog, and a two-stage one
    applies every view it forwarded before its figure is taken (else it never finishes)."""
    out = tmp_path / "floor.json"
    arguments = ("--smoke", "--rounds", "1", "--no-worker", "--out", str(out))
    _run_on_broker(kafka_bootstrap, "record_floor.py", *arguments)
    [row] = json.loads(out.read_text())
    patterns = ("records", "views-recovered", "source-recovered", "one-stage")
    for name in ("empty", *patterns):
        assert row[name] > 0, name
        assert math.isfinite(row["ratios_to_empty"].get(name, 1.0)), name
    forwarded = row["views_forwarded"]
    # Per batch, one view per complaint touched: at most one per event, at least one per
    # complaint; the single stage sends none.
    for name in patterns[:3]:
        assert 0 < forwarded[name] <= row["events"], name
    assert forwarded["one-stage"] == 0


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("script", "arguments", "printed"),
    [
        # cliff_scrape and open311_walk assert that their two ways agree before they time them.
        ("cliff_scrape.py", ["--open", "400", "--rounds", "1"], "walked / bisected"),
        ("open311_walk.py", ["--open", "1200", "--rounds", "1"], "stall one pass / walk"),
        ("api_share.py", ["--open", "400", "--seconds", "0.3"], "the agents kept"),
        ("stage_costs.py", ["--events", "600", "--batch", "100"], "unit stage:"),
    ],
)
def test_the_offline_benches_run(script: str, arguments: list[str], printed: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *arguments],
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert printed in result.stdout
