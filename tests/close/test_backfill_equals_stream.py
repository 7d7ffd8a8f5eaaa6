"""Backfill equals the streaming path on a real public data set: St. Louis CSB service
requests (shared/data, SOURCE.md) published to a real broker with `sigap publish`, scored by
the real worker and score writer, against `sigap replay --store` of the same events into
another database: every score column and indicator, every period kind, every category."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sigap.pipeline_lag import wait_caught_up
from sigap.replay_sources import open_source
from sigap.settings import Settings
from sigap.storage.database import make_engine
from sigap.storage.score_queries import score_rows
from tests.integration.processes import run_sigap, running_stack, wait_for
from tests.shared import shared_file

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
COMPLAINTS = 600  # the first complaints of the export (2009), all their events


def stlouis_events(path: Path) -> list[dict[str, Any]]:
    events, _ = open_source(
        shared_file("data", "stlouis_csb_service_requests_2009_2012.csv"),
        ROOT / "deploy" / "csv-mappings" / "stlouis-csb.yaml",
    )
    kept: list[dict[str, Any]] = []
    complaints: set[str] = set()
    for event in events:
        if event.complaint_id not in complaints and len(complaints) >= COMPLAINTS:
            continue
        complaints.add(event.complaint_id)
        kept.append(event.model_dump(mode="json", exclude_none=True))
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in kept))
    return kept


def latest_final(database_url: str) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    engine = make_engine(database_url)
    found = {}
    for kind in ("day", "week", "month", "quarter"):
        for row in score_rows(engine, period=kind, category=None):
            if row["final"]:
                key = (row["unit"], row["category"], row["period"], row["period_start"])
                found[key] = {k: v for k, v in row.items() if k not in ("revision", "final")}
    engine.dispose()
    return found


def test_backfill_equals_the_streaming_path_on_st_louis(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    source = tmp_path / "stlouis.jsonl"
    events = stlouis_events(source)
    assert len(events) > 1000
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SIGAP_CLOSE_EVERY_SECONDS": "0"}
    with running_stack(env, tmp_path) as stack:
        published = run_sigap(["publish", str(source)], stack.env)
        assert published.returncode == 0, published.stderr
        settings = Settings.from_environ(stack.env)
        lag = wait_caught_up(settings, 600)
        assert not lag.behind, lag.describe()
        streamed = wait_for(
            lambda: latest_final(stack.env["DATABASE_URL"]),
            lambda rows: len(rows) > 100,
            120,
            "final scores",
        )
        # Stable: two readings a few seconds apart agree (the writer has written all).
        streamed = wait_for(
            lambda: (streamed, latest_final(stack.env["DATABASE_URL"])),
            lambda pair: pair[0] == pair[1],
            120,
            "the scores to settle",
        )[1]
    backfill_url = f"sqlite:///{tmp_path / 'backfill.db'}"
    stored = run_sigap(
        ["replay", str(source), "--store", "--format", "json"],
        {**stack.env, "DATABASE_URL": backfill_url},
    )
    assert stored.returncode == 0, stored.stderr
    backfilled = latest_final(backfill_url)
    watermark = orjson.loads(stored.stdout)["watermark"]
    assert watermark is not None
    # Periods final in both (the streaming writer's watermark may stand a little apart):
    # all but the last few days of the data.
    common = streamed.keys() & backfilled.keys()
    assert len(common) > 0.95 * max(len(streamed), len(backfilled))
    kinds = {key[2] for key in common}
    assert kinds == {"day", "week", "month", "quarter"}
    differing = [key for key in sorted(common) if streamed[key] != backfilled[key]]
    assert differing == [], (differing[:5], [streamed[k] for k in differing[:1]])
