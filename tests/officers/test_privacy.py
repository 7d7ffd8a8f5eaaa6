"""Officer codes reach neither /metrics, the logs, an unauthenticated API reply (officer
data is served by /api/officers/scores only with the bearer token SIGAP_OFFICER_TOKEN) nor a
dead-letter reason, and the token reaches no log: the real worker and score writer on the
real broker. The score database does hold the codes (officer_scores), by design."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.processes import http_get, run_sigap, running_stack, wait_for
from tests.robustness.generator import Message
from tests.robustness.helpers import by_label, publish_raw, samples
from tests.robustness.test_privacy import dead_letters

pytestmark = pytest.mark.kafka

CODES = ("dlh-zq7xk", "dlh-wv3pm", "dsda-yj8tr")
INVALID_CODE = "Zq7Xk Budi"
T0 = "2026-10-05T09:00:00+07:00"


def ev(event_id: str, type_: str, cid: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "complaint_id": cid, "occurred_at": at, **extra}


def msg(value: dict[str, Any], expected: str) -> Message:
    return Message(str(value["complaint_id"]).encode(), orjson.dumps(value), expected)


VALID = [
    msg(ev("o1", "created", "oc1", T0, unit="dlh", officer=CODES[0]), "accepted"),
    msg(ev("o2", "handed_over", "oc1", "2026-10-05T09:20:00+07:00", officer=CODES[1]), "accepted"),
    msg(ev("o3", "responded", "oc1", "2026-10-05T09:30:00+07:00", officer=CODES[1]), "accepted"),
    msg(
        ev("o4", "assigned", "oc1", "2026-10-05T10:00:00+07:00", unit="dsda", officer=CODES[2]),
        "accepted",
    ),
    msg(ev("o5", "resolved", "oc1", "2026-10-05T11:00:00+07:00", officer=CODES[2]), "accepted"),
]
INVALID = [
    msg(
        ev("x1", "responded", "oc1", "2026-10-05T09:40:00+07:00", officer=INVALID_CODE),
        "invalid_officer",
    ),
    msg(ev("x2", "handed_over", "oc1", "2026-10-05T09:45:00+07:00"), "missing_officer"),
]
SECRETS = (*CODES, INVALID_CODE, "zq7xk", "Zq7Xk")
TOKEN = "officer-token-" + "5f3a9c" * 8
OFFICERS = "/api/officers/scores"
OFFICER_QUERIES = ("", "?period=day", f"?unit=dlh&officer={CODES[0]}", "?officer=Zq7Xk%20Budi")
# Requests without the token: none, another scheme, a wrong token, the token as a query.
NOT_AUTHENTICATED: tuple[dict[str, str], ...] = (
    {},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": f"Bearer {TOKEN[:-1]}x"},
    {"Authorization": "Bearer"},
)


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
    return (row["period_start"], row["unit"], row["category"], row["officer"])


def get_with(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def assert_clean(where: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    leaked = [code for code in SECRETS if code.encode() in data]
    assert not leaked, f"officer code {leaked} in {where}"


def test_no_officer_code_reaches_metrics_logs_api_or_dead_letter_reasons(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    app_id = f"sigap-officers-{uuid.uuid4().hex[:8]}"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SIGAP_APP_ID": app_id,
        "SIGAP_OFFICER_TOKEN": TOKEN,
    }
    with running_stack(env, tmp_path) as stack:
        publish_raw(kafka_bootstrap, stack.env["SIGAP_EVENTS_TOPIC"], VALID)
        publish_raw(kafka_bootstrap, stack.env["SIGAP_EVENTS_TOPIC"], INVALID)

        def counted(text: str) -> bool:
            found = samples(text) if text else {}
            rejected = {
                k: int(v)
                for k, v in by_label(found, "sigap_events_rejected_total", "reason").items()
                if v
            }
            return (
                found.get(("sigap_events_processed_total", ()), 0) == len(VALID)
                and rejected == {"invalid_officer": 1, "missing_officer": 1}
                and by_label(found, "sigap_complaints_resolved_total", "unit").get("dsda") == 1.0
            )

        metrics = wait_for(lambda: http_get(stack.metrics_url), counted, 180, "the events")
        assert counted(metrics), metrics[-3000:]

        def officer_rows() -> list[dict[str, Any]]:
            result = run_sigap(["scores", "--officers", "--format", "json"], stack.env)
            assert result.returncode == 0, result.stderr
            return [row for row in json.loads(result.stdout) if row["period"] == "day"]

        rows = wait_for(officer_rows, lambda r: len(r) >= 3, 120, "the officer scores")
        # The officer scores are stored and shown to the operator ...
        assert {(r["unit"], r["officer"]) for r in rows} >= {
            ("dlh", CODES[0]),
            ("dlh", CODES[1]),
            ("dsda", CODES[2]),
        }
        # ... and nowhere else.
        assert_clean("/metrics", metrics)
        api_base = stack.metrics_url.removesuffix("/metrics")
        for path in ("/api/units", "/api/units/dlh/kpis", "/api/units/dsda/kpis", "/api/scores"):
            body = http_get(api_base + path)
            assert '"unit"' in body or '"units"' in body, (path, body[:500])
            assert_clean(f"GET {path}", body)
        # The officer endpoint: nothing without the token, whatever is asked ...
        for query in OFFICER_QUERIES:
            for headers in NOT_AUTHENTICATED:
                status, answer_headers, body_bytes = get_with(api_base + OFFICERS + query, headers)
                assert status == 401, (query, headers, body_bytes[:300])
                assert answer_headers["WWW-Authenticate"].startswith("Bearer "), answer_headers
                assert_clean(f"GET {OFFICERS}{query} with {sorted(headers)}", body_bytes)
                assert TOKEN.encode() not in body_bytes

        # ... and, with it, exactly the stored officer rows.
        def served_and_stored() -> tuple[list[Any], list[Any]]:
            status, _, body_bytes = get_with(
                api_base + OFFICERS + "?period=day", {"Authorization": f"Bearer {TOKEN}"}
            )
            assert status == 200, body_bytes[:500]
            served = orjson.loads(body_bytes)["scores"]
            return sorted(served, key=row_key), sorted(officer_rows(), key=row_key)

        served, stored = wait_for(
            served_and_stored, lambda pair: pair[0] == pair[1], 60, "the served officer rows"
        )
        assert served == stored and {(r["unit"], r["officer"]) for r in served} >= {
            ("dlh", CODES[0]),
            ("dsda", CODES[2]),
        }
        letters = dead_letters(kafka_bootstrap, stack.env["SIGAP_EVENTS_TOPIC"] + ".dlq")
        listed = run_sigap(["dlq", "list"], stack.env)
    assert_clean("worker log", stack.worker.log_text())
    assert_clean("score writer log", stack.score_writer.log_text())
    assert TOKEN not in stack.worker.log_text() + stack.score_writer.log_text()
    assert "officer endpoints (/api/officers/...) enabled" in stack.worker.log_text()
    assert_clean("sigap dlq list", listed.stdout + listed.stderr)
    assert len(letters) == len(INVALID)
    for _, _, headers in letters:
        for name, value in headers:
            assert_clean(f"dead-letter header {name}", value)
