"""The official close on a real broker: the events topic keeps the broker's append time, so
events published now about a period closed weeks ago are a restatement, never official."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumers.closing import PeriodicCloser
from sigap.core.period_close import registry_close_instant
from sigap.core.periods import JAKARTA
from sigap.core.registry_file import load_registry
from sigap.publisher import EventPublisher
from sigap.settings import Settings
from sigap.storage.database import make_engine
from sigap.storage.official import official_rows
from sigap.topics import ensure_topics
from tests.integration.processes import run_sigap

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")


def backdated_week() -> date:
    """The Monday of a week closed at least a week ago."""
    today = datetime.now(JAKARTA).date()
    return today - timedelta(days=today.weekday() + 28)


def ev(number: int, complaint: str, type_: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"{complaint}-{number}",
        "type": type_,
        "complaint_id": complaint,
        "occurred_at": at.isoformat(),
        **extra,
    }


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_backdated_events_appended_now_are_a_restatement_not_official(
    kafka_bootstrap: str, database_url: str
) -> None:
    topic = f"close-{uuid.uuid4().hex[:8]}"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SIGAP_EVENTS_TOPIC": topic,
        "SIGAP_VIEWS_TOPIC": f"{topic}-views",
        "DATABASE_URL": database_url,
        "SIGAP_APP_ID": f"app-{topic}",
        "SIGAP_SCORE_WRITER_GROUP": f"writer-{topic}",
    }
    settings = Settings.from_environ(env)
    ensure_topics(settings)  # LogAppendTime
    week = backdated_week()
    monday = datetime.combine(week, datetime.min.time(), JAKARTA) + timedelta(hours=9)
    events = [
        ev(0, "a", "created", monday, unit="dlh"),
        ev(1, "a", "responded", monday + timedelta(hours=2)),
        ev(2, "a", "resolved", monday + timedelta(days=1)),
        ev(0, "b", "created", monday + timedelta(days=2), unit="dsda"),
    ]
    with EventPublisher.from_settings(settings) as publisher:
        for item in events:
            publisher.publish(item)
        publisher.flush()
    engine = make_engine(database_url)
    metrics = CollectorRegistry()
    closer = PeriodicCloser(settings, engine, REGISTRY, 900, metrics, clock_margin_seconds=0.0)
    report = closer.run_once()
    assert ("week", week) in report.closed
    close = registry_close_instant(REGISTRY, "week", week)
    assert close is not None and close < datetime.now(JAKARTA).timestamp()
    rows = official_rows(engine, "week", start=week, category="*")
    # By the close instant the topic held none of these events: no official row; the
    # events appended since make restatement rows, beside it.
    assert [row["status"] for row in rows] == ["restatement", "restatement"]
    by_unit = {row["unit"]: row for row in rows}
    assert (by_unit["dlh"]["received"], by_unit["dlh"]["resolved"]) == (1, 1)
    assert by_unit["dlh"]["reason"]["appended_after_close"] == {
        "created": 1,
        "resolved": 1,
        "responded": 1,
    }
    assert by_unit["dsda"]["reason"]["appended_after_close"] == {"created": 1}
    assert all(row["watermark_epoch"] == close for row in rows)
    assert sample(metrics, "sigap_period_close_runs_total", outcome="ok") == 1.0
    # dlh and dsda, "*" and "other" (and b's missed resolution in the next week, closed too)
    assert sample(metrics, "sigap_score_restatements_total", period="week") == 6.0
    assert sample(metrics, "sigap_periods_closed_total", period="week") >= 1.0
    last_week = sample(metrics, "sigap_period_last_closed_end_timestamp_seconds", period="week")
    assert last_week is not None and last_week >= close - 14 * 86400
    # Nothing new appended: a second run adds nothing.
    again = closer.run_once()
    assert again.closed == [] and again.restatement_rows == 0
    assert len(official_rows(engine, "week", start=week, category="*")) == 2
    # verify reproduces the official revision (empty) and the restatements from the topic;
    # no worker nor score writer consumed the topic: exit 3, not false differences.
    iso = week.isocalendar()
    result = run_sigap(
        ["verify", "--period", f"{iso[0]}-W{iso[1]:02d}", "--format", "json", "--wait", "0"], env
    )
    assert result.returncode == 3, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["pipeline"]["caught_up"] is False
    assert document["official"]["identical"] is True
    assert document["official"]["official_rows"] == 0
    assert document["official"]["restatement_rows"] == 4  # dlh, dsda; "*" and "other"
    closer.follower.close()
    engine.dispose()
