"""A few rounds of the soak script (bench/soak.py) in CI: a broker stopped while a batch is
in flight, a worker SIGKILLed during a rebalance; each round's conservation must hold
(events in = counted + dead-lettered, nothing double counted). The full soak (20 rounds and
more) is a benchmark: its figures are in bench/RESULTS.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


def test_soak_rounds_conserve_every_event(tmp_path: Path) -> None:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs a local broker of its own (it stops it); KAFKA_BOOTSTRAP_SERVERS is set")
    report = tmp_path / "soak.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            "--rounds",
            "2",
            "--complaints",
            "15",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2/2 rounds ok" in done.stdout
    import json

    rounds = json.loads(report.read_text())["rounds"]
    assert [r["kind"] for r in rounds] == ["broker-stop", "kill-rebalance"]
    for r in rounds:
        assert r["in"] == r["counted"] + r["dead_lettered"]
        assert r["double_counted_series"] == 0 and r["missing_series"] == 0
