"""deploy/kafka/local-kafka.sh fetch prints progress while Maven downloads the broker (it
printed nothing for minutes), and Maven's output when it fails. A stand-in `mvn` on PATH
plays Maven: no network, no real download."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "local-kafka.sh"

FAKE_MVN = """#!/usr/bin/env bash
# Stand-in Maven: one "Downloaded from" line every 0.5 s for 6 s, then the jars.
out=""
for arg in "$@"; do case $arg in -DoutputDirectory=*) out=${arg#-DoutputDirectory=} ;; esac; done
for i in $(seq 1 12); do
  echo "[INFO] Downloaded from central: https://repo.example/a$i.jar (1 kB at 1 kB/s)"
  sleep 0.5
done
[ "${FAKE_MVN_FAIL:-}" = 1 ] && { echo "[ERROR] could not resolve"; exit 1; }
mkdir -p "$out" && touch "$out/kafka.jar"
"""


def fetch(tmp_path: Path, fail: bool = False) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("mvn", FAKE_MVN), ("java", "#!/bin/sh\nexit 0\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}:{env['PATH']}",
        SIGAP_CACHE_DIR=str(tmp_path / "cache"),
        FAKE_MVN_FAIL="1" if fail else "0",
    )
    return subprocess.run(
        ["bash", str(SCRIPT), "fetch"], env=env, capture_output=True, text=True, timeout=60
    )


def test_fetch_prints_progress_while_maven_downloads(tmp_path: Path) -> None:
    result = fetch(tmp_path)
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "fetching:" in line]
    assert progress, result.stderr
    assert "fetched: 12 file(s) downloaded" in result.stderr
    # Maven's per-file lines are not echoed on success.
    assert "repo.example" not in result.stderr + result.stdout
    jars = list((tmp_path / "cache").glob("kafka-*/libs/kafka.jar"))
    assert jars and (jars[0].parent / ".complete").exists()
    # Fetched once: a second fetch does nothing and says nothing.
    again = fetch(tmp_path)
    assert again.returncode == 0 and "fetching" not in again.stderr


def test_fetch_shows_mavens_output_when_it_fails(tmp_path: Path) -> None:
    result = fetch(tmp_path, fail=True)
    assert result.returncode == 1
    assert "Maven failed" in result.stderr and "could not resolve" in result.stderr
    assert not list((tmp_path / "cache").glob("kafka-*/libs/.complete"))
