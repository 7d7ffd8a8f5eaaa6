"""sigap.gc_policy: the commands that own a process raise the collector's thresholds and
freeze what start-up built; library use (tests, create_app) keeps CPython's defaults."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

from sigap.gc_policy import GC_THRESHOLDS, tuned_garbage_collector


def test_tuning_for_a_block_sets_the_thresholds_and_freezes_then_restores() -> None:
    before = gc.get_threshold()
    with tuned_garbage_collector():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_sigap_replay_runs_with_the_tuned_collector(tmp_path: Path) -> None:
    # The replay command in a process of its own, reporting the thresholds it ran with.
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event_id":"e1","type":"created","complaint_id":"c1",'
        '"occurred_at":"2026-11-02T01:00:00+00:00","unit":"dlh","category":"sampah",'
        '"channel":"wargaku"}\n'
    )
    script = textwrap.dedent(
        f"""
        import gc, sys
        from click.testing import CliRunner
        from sigap.cli.replay import replay
        result = CliRunner().invoke(replay, [{str(events)!r}, "--format", "json"])
        assert result.exit_code == 0, result.output
        print(gc.get_threshold())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == str(GC_THRESHOLDS)
