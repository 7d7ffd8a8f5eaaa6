"""Shared helpers of the monitoring tests: paths, real tools, free ports, servers.

Under CI=true a missing tool (promtool, amtool, prometheus, prometheus-alertmanager) or a
server that does not start fails the test; locally it skips it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.shared import SHARED

ROOT = Path(__file__).resolve().parents[2]
VENDOR_GRAFANA = SHARED / "vendor" / "grafana"
REGISTRY = ROOT / "deploy" / "registry.yaml"
DEPLOY = ROOT / "deploy"


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """Absolute path of a Debian-packaged tool, or fail (CI) / skip (locally)."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        unavailable(
            f"{name} is not installed (Debian packages prometheus, prometheus-alertmanager)"
        )
    return path


def run(command: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def http_json(url: str, data: bytes | None = None, timeout: float = 10) -> tuple[int, Any]:
    """GET (or POST ``data`` as JSON) and decode the JSON answer, errors included."""
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, body.decode(errors="replace")


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            unavailable(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    unavailable(f"{what} did not become ready at {url}:\n{log.read_text()[-3000:]}")


@contextmanager
def server(command: Sequence[str], ready_url: str, log: Path, what: str) -> Iterator[None]:
    """Run a server process until the block ends; stops it (and only it) afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(ready_url, process, log, what)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def query_url(base: str, path: str, **params: str) -> str:
    return f"{base}{path}?{urllib.parse.urlencode(params)}"
