"""A throw-away PostgreSQL server (as tests/postgres.py) that a test can stop and start again
on the same port and data directory, to simulate a database outage."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.postgres import _as_postgres, _postgres_bin


class PostgresServer:
    def __init__(self, port: int) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package `postgresql`)")
        self.bin_dir = bin_dir
        self.port = port
        self.base = tempfile.mkdtemp(prefix="sigap-pg-outage-")
        self.data = os.path.join(self.base, "data")
        self.log = os.path.join(self.base, "server.log")
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [f"{bin_dir}/initdb", "-D", self.data, "-A", "trust", "-U", "sigap", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )
        self.url = f"postgresql+psycopg://sigap@127.0.0.1:{port}/sigap"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([f"{self.bin_dir}/pg_ctl", "-D", self.data, *args]),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.base} -c fsync=off"
        self._ctl("-l", self.log, "-w", "start", "-o", options)
        deadline = time.monotonic() + 30
        while not self.ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not become ready; see {self.log}")
            time.sleep(0.2)

    def ready(self) -> bool:
        probe = [f"{self.bin_dir}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe, capture_output=True).returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session (their transactions roll back), as a restart would."""
        self._ctl("-m", mode, "-w", "stop")

    def create_database(self) -> None:
        host = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "sigap"]
        subprocess.run(
            [f"{self.bin_dir}/createdb", *host, "sigap"],
            check=True,
            capture_output=True,
        )

    def remove(self) -> None:
        subprocess.run(
            _as_postgres([f"{self.bin_dir}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def restartable_postgres(port: int) -> Iterator[PostgresServer]:
    server = PostgresServer(port)
    try:
        server.start()
        server.create_database()
        yield server
    finally:
        server.remove()
