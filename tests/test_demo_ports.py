"""The monitoring ports the README and docs tell people to use by hand do not collide with
the local broker's controller (KAFKA_PORT + 1 = 9093, deploy/kafka/local-kafka.sh)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTROLLER_PORT = 9093


def test_no_hand_run_listen_address_on_the_controller_port() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [
        f"{page.name}: {line.strip()}"
        for page in pages
        for line in page.read_text(encoding="utf-8").splitlines()
        if re.search(rf"listen-address=\S*:{CONTROLLER_PORT}\b", line)
    ]
    assert found == []
    monitoring = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    assert "--web.listen-address=127.0.0.1:9094" in monitoring


def test_the_demo_uses_the_same_ports() -> None:
    from sigap import demo

    assert CONTROLLER_PORT not in (
        demo.DEFAULT_PROMETHEUS_PORT,
        demo.DEFAULT_ALERTMANAGER_PORT,
        demo.DEFAULT_WEBHOOK_SINK_PORT,
    )
