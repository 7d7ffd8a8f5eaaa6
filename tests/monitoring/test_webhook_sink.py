"""The demo's local webhook sink (sigap/webhook_sink.py): Alertmanager's notifications to the
generated receivers are delivered to it and logged, instead of failing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from sigap.core.registry import Registry
from sigap.monitoring.alertmanager import render_alertmanager_config
from sigap.webhook_sink import WebhookSink
from tests.monitoring.helpers import free_port, http_json, require_tool, server

PAGE_DLH = {
    "alertname": "SigapResolutionBudgetBurn",
    "unit": "dlh",
    "timer": "resolution",
    "severity": "page",
    "component": "slo",
}


def test_the_sink_answers_and_logs_one_line_per_alert(tmp_path: Path) -> None:
    sink = WebhookSink(tmp_path / "alerts.log").start()
    try:
        payload = {"alerts": [{"status": "firing", "labels": PAGE_DLH, "startsAt": "t0"}]}
        status, _ = http_json(f"{sink.url}/hooks/dlh/page", data=json.dumps(payload).encode())
        assert status == 200
    finally:
        sink.stop()
    assert (tmp_path / "alerts.log").read_text().splitlines() == [
        "t0 /hooks/dlh/page firing SigapResolutionBudgetBurn unit=dlh severity=page "
        "timer=resolution"
    ]


def test_a_real_alertmanager_delivers_to_the_sink(registry: Registry, tmp_path: Path) -> None:
    # What `make demo` does: the generated routes, their webhooks on the local sink.
    binary = require_tool("prometheus-alertmanager")
    sink = WebhookSink(tmp_path / "alerts.log").start()
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager_config(registry, f"{sink.url}/hooks"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    log = tmp_path / "alertmanager.log"
    try:
        with server(command, f"{url}/-/ready", log, "alertmanager"):
            now = datetime.now(UTC).isoformat()
            body = json.dumps([{"labels": PAGE_DLH, "startsAt": now}]).encode()
            status, answer = http_json(f"{url}/api/v2/alerts", data=body)
            assert status == 200, answer
            # Pages wait 10 s (group_wait of the page route) before the first notification.
            deadline = time.monotonic() + 40
            while not sink.received and time.monotonic() < deadline:
                time.sleep(0.5)
    finally:
        sink.stop()
    assert [r["path"] for r in sink.received] == ["/hooks/dlh/page"]
    alerts = sink.received[0]["payload"]["alerts"]
    assert [a["labels"]["alertname"] for a in alerts] == [PAGE_DLH["alertname"]]
    # Nothing failed to notify (what the placeholder receivers filled the log with).
    assert "Notify for alerts failed" not in log.read_text()
