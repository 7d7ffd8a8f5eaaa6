"""The tools the monitoring tests need fail the run under CI=true, and only skip locally."""

from __future__ import annotations

import pytest

from tests.monitoring.helpers import require_tool


def test_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        require_tool("sigap-no-such-tool")


def test_missing_tool_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_tool("sigap-no-such-tool")
