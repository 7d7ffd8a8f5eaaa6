"""A real PostgreSQL server for the tests, started from the Debian package's binaries.

SIGAP_TEST_POSTGRES_URL names an existing server instead. Under CI=true a server that
cannot be started fails the tests; it is never a reason to skip them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager


def _postgres_bin() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return candidates[0] if candidates else None


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Start a throw-away server on 127.0.0.1:port; yields its SQLAlchemy URL."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian package `postgresql`)")
    base = tempfile.mkdtemp(prefix="sigap-pg-")
    data = os.path.join(base, "data")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(
        _as_postgres([f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "sigap", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    log = os.path.join(base, "server.log")
    subprocess.run(
        _as_postgres(
            [
                f"{bin_dir}/pg_ctl",
                "-D",
                data,
                "-l",
                log,
                "-w",
                "start",
                "-o",
                f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [f"{bin_dir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            ).returncode
            != 0
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not become ready; see {log}")
            time.sleep(0.2)
        subprocess.run(
            [f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "sigap", "sigap"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://sigap@127.0.0.1:{port}/sigap"
    finally:
        subprocess.run(
            _as_postgres([f"{bin_dir}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
