"""A local webhook sink for the demo's Alertmanager: answers 200 to every notification and
writes one line per alert to a log file, so the generated (placeholder) webhook receivers
neither fail nor fill Alertmanager's log with connection errors.

Listens on 127.0.0.1 only. Alert notifications carry labels and annotations (unit codes,
alert names, counts), never complaint text or personal data; only the alert name, status
and the unit, severity and timer labels are logged.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["WebhookSink"]

_LOGGED_LABELS = ("unit", "severity", "timer")


class WebhookSink:
    """An HTTP server on 127.0.0.1:``port`` (0: any free port) in a daemon thread."""

    def __init__(self, log_path: Path, port: int = 0) -> None:
        self.log_path = log_path
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    payload = {}
                sink._record(self.path, payload if isinstance(payload, dict) else {})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # one line per alert in the log file is enough

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebhookSink:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, path: str, payload: dict[str, Any]) -> None:
        lines = []
        for alert in payload.get("alerts") or []:
            labels = alert.get("labels") or {}
            fields = " ".join(f"{k}={labels[k]}" for k in _LOGGED_LABELS if k in labels)
            lines.append(
                f"{alert.get('startsAt', '')} {path} {alert.get('status', '?')} "
                f"{labels.get('alertname', '?')} {fields}".rstrip()
            )
        with self._lock:
            self.received.append({"path": path, "payload": payload})
            with self.log_path.open("a", encoding="utf-8") as log:
                log.writelines(line + "\n" for line in lines)
