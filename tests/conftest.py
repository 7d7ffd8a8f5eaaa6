"""Shared fixtures: a real Kafka broker for the integration tests; the Hypothesis profile
(tests/properties.py); the `broker` and `external` markers of the tests that need services
(the `slow` marker, of tests that need none but take seconds, is set in the test files).

The broker is the project's own (deploy/kafka/local-kafka.sh) on a free port, unless
KAFKA_BOOTSTRAP_SERVERS names a cluster to use. Under CI=true a broker that cannot be
started fails the tests; it is never a reason to skip them.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.postgres import postgres_server
from tests.properties import register_profiles

register_profiles()

ROOT = Path(__file__).resolve().parent.parent
LOCAL_KAFKA = ROOT / "deploy" / "kafka" / "local-kafka.sh"


def free_port(count: int = 1) -> int:
    """A port p such that p .. p+count-1 are free on 127.0.0.1 right now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + count > 65535:
            continue
        if all(_is_free(port + offset) for offset in range(count)):
            return port
    raise RuntimeError("no free port range found")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


SASL_USER = "sigap-test"
SASL_PASSWORD = "not-a-real-secret"


@dataclass(frozen=True)
class KafkaBroker:
    bootstrap: str
    sasl_bootstrap: str | None  # a SASL_PLAINTEXT (PLAIN) listener, on the local broker only


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield KafkaBroker(external, os.environ.get("SIGAP_TEST_SASL_BOOTSTRAP"))
        return
    port = free_port(count=3)  # client port, controller port, SASL port
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_SASL_PORT": str(port + 2),
        "KAFKA_SASL_USERS": f"{SASL_USER}:{SASL_PASSWORD}",
        "KAFKA_DATA_DIR": str(tmp_path_factory.mktemp("kafka")),
    }
    started = subprocess.run(
        ["bash", str(LOCAL_KAFKA), "start"], env=env, capture_output=True, text=True
    )
    if started.returncode != 0:
        _unavailable(f"could not start the local Kafka broker:\n{started.stderr}")
    try:
        yield KafkaBroker(f"127.0.0.1:{port}", f"127.0.0.1:{port + 2}")
    finally:
        subprocess.run(["bash", str(LOCAL_KAFKA), "stop"], env=env, capture_output=True)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap


# Tests in these folders need a real external tool (Prometheus, promtool, Alertmanager,
# Chromium, a worker process) or run the service end to end.
_EXTERNAL_FOLDERS = ("integration", "faults", "monitoring", "reports", "api", "close", "causes")
_BROKER_FIXTURES = {"kafka_broker", "kafka_bootstrap"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what `make test-fast` leaves out: `broker` (a real Kafka broker) and `external`
    (PostgreSQL, the monitoring tools, Chromium, end-to-end runs)."""
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _BROKER_FIXTURES:
            item.add_marker(pytest.mark.broker)
        params = getattr(getattr(item, "callspec", None), "params", {})
        folder = Path(str(item.fspath)).resolve().relative_to(tests_dir).parts[0]
        if (
            "postgres_url" in names
            or params.get("database_url") == "postgresql"
            or folder in _EXTERNAL_FOLDERS
            or folder == "test_bench_smoke.py"
        ):
            item.add_marker(pytest.mark.external)


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    external = os.environ.get("SIGAP_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    try:
        server = postgres_server(free_port())
        url = server.__enter__()
    except Exception as error:  # any failure to start is reported the same way
        _unavailable(f"could not start PostgreSQL: {error}")
        return
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on the SQLite default and on a real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sigap.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine, text

    # A fresh schema per test keeps tests independent on the shared server.
    schema = f"t_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    yield f"{url}?options=-csearch_path%3D{schema}"
