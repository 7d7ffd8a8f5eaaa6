"""Where the shared/ folder is (the public data sets and vendored schemas some tests read).

In order: `SIGAP_SHARED_DIR`; `shared/` beside the repository (this machine and CI); or
`shared/` beside the local repository this checkout was cloned from, so that a clone in a
temporary directory finds it too. When none exists, the first candidate is returned and the
tests that need it fail naming it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cloned_from() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    origin = Path(url.removeprefix("file://"))
    return origin if url and origin.is_dir() else None


def shared_dir() -> Path:
    configured = os.environ.get("SIGAP_SHARED_DIR")
    if configured:
        return Path(configured)
    beside = ROOT.parent / "shared"
    if beside.is_dir():
        return beside
    origin = _cloned_from()
    if origin is not None and (origin.resolve().parent / "shared").is_dir():
        return origin.resolve().parent / "shared"
    return beside


SHARED = shared_dir()


def shared_file(*parts: str) -> Path:
    """A file under shared/; a missing one fails the test (never a skip), naming it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"{path} is missing: the tests need the shared/ folder beside the repository "
            "(or SIGAP_SHARED_DIR), holding data/ and vendor/grafana/",
            pytrace=False,
        )
    return path
