"""Kafka SASL/PLAIN: the worker, the score writer, the admin and the publisher all
authenticate with the configured credentials against a real SASL listener."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.conftest import SASL_PASSWORD, SASL_USER, KafkaBroker
from tests.integration.processes import Stack, http_get, run_sigap, running_stack, wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture
def sasl_env(kafka_broker: KafkaBroker) -> dict[str, str]:
    if kafka_broker.sasl_bootstrap is None:
        pytest.fail("the test broker has no SASL listener (set SIGAP_TEST_SASL_BOOTSTRAP)")
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.sasl_bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": SASL_USER,
        "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
    }


@pytest.fixture
def sasl_stack(sasl_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    with running_stack(sasl_env, tmp_path) as started:
        yield started


def test_whole_pipeline_over_sasl(sasl_stack: Stack, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        orjson.dumps(
            {
                "event_id": "s1",
                "type": "created",
                "complaint_id": "sasl-1",
                "occurred_at": "2026-11-02T09:00:00+07:00",
                "unit": "dlh",
            }
        )
        + b"\n"
        + orjson.dumps(
            {
                "event_id": "s2",
                "type": "resolved",
                "complaint_id": "sasl-1",
                "occurred_at": "2026-11-02T10:00:00+07:00",
            }
        )
        + b"\n"
    )
    published = run_sigap(["publish", str(events)], sasl_stack.env)
    assert published.returncode == 0, published.stderr
    text = wait_for(
        lambda: http_get(sasl_stack.metrics_url),
        lambda t: 'sigap_complaints_resolved_total{unit="dlh"} 1.0' in t,
        timeout=90,
        what="the worker to consume over SASL",
    )
    assert 'sigap_complaint_resolution_wall_seconds_sum{unit="dlh"} 3600.0' in text
    scores = wait_for(
        lambda: run_sigap(["scores", "--format", "json"], sasl_stack.env).stdout,
        lambda out: '"resolved": 1' in out,
        timeout=60,
        what="the score writer to consume over SASL",
    )
    assert orjson.loads(scores)[0]["resolution_p50_wall_seconds"] == 3600.0
    # The password is in no log line.
    assert SASL_PASSWORD not in sasl_stack.worker.log_text()
    assert SASL_PASSWORD not in sasl_stack.score_writer.log_text()


def test_wrong_password_is_refused_with_a_clear_error(sasl_env: dict[str, str]) -> None:
    result = run_sigap(["topics", "create"], {**sasl_env, "KAFKA_SASL_PASSWORD": "wrong"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "SaslAuthenticationFailedError" in result.stderr  # the broker's answer, logged
    assert "Check KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL" in result.stderr
