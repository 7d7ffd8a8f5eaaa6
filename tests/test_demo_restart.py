"""`make demo` supervises its processes: a worker that fenced itself after a freeze (exit
streams.stall_guard.EXIT_CODE) is restarted; any other exit stops the demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sigap.demo import Demo
from streams.stall_guard import EXIT_CODE


def test_a_process_asking_for_a_restart_is_restarted_with_its_command(tmp_path: Path) -> None:
    demo = Demo(env=dict(os.environ), log_dir=tmp_path)
    marker = tmp_path / "runs"
    script = (
        f"import sys; open({str(marker)!r}, 'a').write('run\\n'); print('ran', flush=True); "
        f"sys.exit({EXIT_CODE} if open({str(marker)!r}).read().count('run') == 1 else 0)"
    )
    first = demo.spawn_command("worker", [sys.executable, "-c", script])
    first.wait(30)
    assert demo.failed() is None  # restarted, not failed
    ((name, second),) = demo.processes
    assert name == "worker" and second.pid != first.pid
    second.wait(30)
    assert marker.read_text() == "run\nrun\n"
    # The restart's output is appended to the first run's log.
    assert (tmp_path / "worker.log").read_text() == "ran\nran\n"
    assert demo.failed() == "worker"  # exit 0 of a service is not a restart request


def test_any_other_exit_stops_the_demo(tmp_path: Path) -> None:
    demo = Demo(env=dict(os.environ), log_dir=tmp_path)
    demo.spawn_command("worker", [sys.executable, "-c", "import sys; sys.exit(1)"]).wait(30)
    assert demo.failed() == "worker"
    assert len(demo.processes) == 1
