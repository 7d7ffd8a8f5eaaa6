"""Alertmanager routes, receivers and inhibitions, generated from the unit registry.

`sigap alertmanager-config` writes deploy/alertmanager/alertmanager.yml.

Routing (first match wins, in this order):

1. ``component="pipeline"`` -> ``sigap-ops`` (worker, lag, dead letters, unknown units);
2. ``unit="<code>"`` for each registered unit: an open-target alert (label ``threshold``:
   ``0.5``, ``0.75``, ``1`` of the allowed time used) -> the receiver the registry's
   ``escalation.notify`` names for that threshold (``sigap-<code>-duty``,
   ``sigap-<code>-unit-head``, ``sigap-<code>-department-head``; by default 50% to the duty
   channel, 75% to the unit head, 100% to the department head); otherwise
   ``sigap-<code>-page`` when ``severity="page"``, else ``sigap-<code>-ticket``;
3. anything else (e.g. ``unit="unknown"``) -> ``sigap-default``.

Inhibitions: a paging SLO alert holds back the tickets and warnings of the same unit and
timer; while the worker is down or processes no events, every SLO alert is held back (the
numbers are stale, and unanswered complaints turn into misses that are not real).

Webhook URLs are placeholders (``<base>/<unit>/page``, ``<base>/ops`` ...), to be replaced
by the real receivers (docs/monitoring.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.registry import Registry
from monitoring import dump_yaml, generated_header
from monitoring.rules import (
    COMPONENT_PIPELINE,
    COMPONENT_SLO,
    SEVERITY_PAGE,
    SEVERITY_TICKET,
    SEVERITY_WARNING,
    STALE_PIPELINE_ALERTS,
)

__all__ = [
    "DEFAULT_RECEIVER",
    "DEFAULT_WEBHOOK_BASE",
    "OPS_RECEIVER",
    "build_alertmanager_config",
    "expected_receiver",
    "render_alertmanager_config",
    "role_receiver",
    "unit_receiver",
]

DEFAULT_WEBHOOK_BASE: Final = "http://127.0.0.1:9099/hooks"
OPS_RECEIVER: Final = "sigap-ops"
DEFAULT_RECEIVER: Final = "sigap-default"
_PAGE_KIND: Final = "page"
_TICKET_KIND: Final = "ticket"


def unit_receiver(unit_code: str, kind: str) -> str:
    """``sigap-<unit>-page`` or ``sigap-<unit>-ticket``."""
    return f"sigap-{unit_code}-{kind}"


def role_receiver(unit_code: str, role: str) -> str:
    """``sigap-<unit>-duty``, ``sigap-<unit>-unit-head``, ``sigap-<unit>-department-head``."""
    return f"sigap-{unit_code}-{role.replace('_', '-')}"


def _threshold_text(threshold: float) -> str:
    return {0.5: "0.5", 0.75: "0.75", 1.0: "1"}[threshold]


def expected_receiver(registry: Registry, labels: Mapping[str, str]) -> str:
    """Where the generated routing tree sends an alert with ``labels`` (the tests check
    Alertmanager's own answer against this)."""
    if labels.get("component") == COMPONENT_PIPELINE:
        return OPS_RECEIVER
    unit = labels.get("unit")
    if unit is not None and unit in registry.units:
        for rule in registry.escalation.notify:
            if labels.get("threshold") == _threshold_text(rule.threshold):
                return role_receiver(unit, rule.receiver)
        kind = _PAGE_KIND if labels.get("severity") == SEVERITY_PAGE else _TICKET_KIND
        return unit_receiver(unit, kind)
    return DEFAULT_RECEIVER


def _webhook(url: str) -> dict[str, Any]:
    return {"name": "", "webhook_configs": [{"url": url, "send_resolved": True}]}


def _receiver(name: str, url: str) -> dict[str, Any]:
    receiver = _webhook(url)
    receiver["name"] = name
    return receiver


def build_alertmanager_config(
    registry: Registry, webhook_base: str = DEFAULT_WEBHOOK_BASE
) -> dict[str, Any]:
    """The Alertmanager configuration as data."""
    base = webhook_base.rstrip("/")
    unit_routes: list[dict[str, Any]] = []
    receivers: list[dict[str, Any]] = [
        _receiver(DEFAULT_RECEIVER, f"{base}/default"),
        _receiver(OPS_RECEIVER, f"{base}/ops"),
    ]
    for unit in registry.units.values():
        page = unit_receiver(unit.code, _PAGE_KIND)
        ticket = unit_receiver(unit.code, _TICKET_KIND)
        threshold_routes = [
            {
                "receiver": role_receiver(unit.code, rule.receiver),
                "matchers": [f'threshold="{_threshold_text(rule.threshold)}"'],
            }
            for rule in registry.escalation.notify
        ]
        unit_routes.append(
            {
                "receiver": ticket,
                "matchers": [f'unit="{unit.code}"'],
                "routes": [
                    *threshold_routes,
                    {
                        "receiver": page,
                        "matchers": [f'severity="{SEVERITY_PAGE}"'],
                        # Pages are re-sent sooner: someone has to act on them today.
                        "group_wait": "10s",
                        "repeat_interval": "1h",
                    },
                ],
            }
        )
        receivers.append(_receiver(page, f"{base}/{unit.code}/page"))
        receivers.append(_receiver(ticket, f"{base}/{unit.code}/ticket"))
        for role in sorted({rule.receiver for rule in registry.escalation.notify}):
            receivers.append(
                _receiver(role_receiver(unit.code, role), f"{base}/{unit.code}/{role}")
            )
    stale = "|".join(STALE_PIPELINE_ALERTS)
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", "unit", "timer"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": OPS_RECEIVER,
                    "matchers": [f'component="{COMPONENT_PIPELINE}"'],
                    "group_by": ["alertname"],
                },
                *unit_routes,
            ],
        },
        "inhibit_rules": [
            {
                # Same unit and timer: the page already says it all.
                "source_matchers": [
                    f'component="{COMPONENT_SLO}"',
                    f'severity="{SEVERITY_PAGE}"',
                ],
                "target_matchers": [
                    f'component="{COMPONENT_SLO}"',
                    f'severity=~"{SEVERITY_TICKET}|{SEVERITY_WARNING}"',
                ],
                "equal": ["unit", "timer"],
            },
            {
                # Stale pipeline: SLO numbers are wrong until it recovers, for every unit.
                "source_matchers": [
                    f'component="{COMPONENT_PIPELINE}"',
                    f'alertname=~"{stale}"',
                ],
                "target_matchers": [f'component="{COMPONENT_SLO}"'],
            },
        ],
        "receivers": receivers,
    }


def render_alertmanager_config(registry: Registry, webhook_base: str = DEFAULT_WEBHOOK_BASE) -> str:
    """The text of deploy/alertmanager/alertmanager.yml."""
    return generated_header("sigap alertmanager-config") + dump_yaml(
        build_alertmanager_config(registry, webhook_base)
    )
