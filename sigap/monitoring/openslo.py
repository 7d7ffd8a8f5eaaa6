"""OpenSLO v1 documents of each unit's objectives, generated from the unit registry.

`sigap openslo` writes them (docs/monitoring.md, "OpenSLO"). For every registered unit:

- one ``Service`` (the unit);
- per timer (response, resolution) one ``SLI``: a ratio of counters, good = the timers that
  met their target, total = the timers decided (met or missed), both from
  ``sigap_complaint_sla_total{unit, timer, outcome}`` (metrics/names.py) -- the same share as
  the IKU indicators ``response_within_target`` / ``resolution_within_target`` (core.iku);
- per timer and calendar window (month, quarter; Asia/Jakarta, the periods of core.periods)
  one ``SLO`` referring to that SLI: budgeting method ``Occurrences`` (each complaint's timer
  is one event), objective target = the registry's within-target objective of the unit
  (``Registry.iku_target(unit, "*", "<timer>_within_target") / 100``, which is the unit's
  ``objective`` unless an ``iku.targets`` entry sets it).

OpenSLO has no notion of working time. Whether a timer's targets run on the unit's working
calendar is stated as an extension, in metadata the specification leaves to implementations:

- label ``sigap.surabaya.go.id/clock`` and the annotation of the same name: ``wall``,
  ``working-time`` or ``mixed`` (the unit's targets of that timer use both clocks);
- annotations ``sigap.surabaya.go.id/calendar`` (the unit's calendar in the registry),
  ``sigap.surabaya.go.id/targets`` (the targets in force, e.g. ``5 working days``) and
  ``sigap.surabaya.go.id/registry-version``.

The SLI counts what the worker already decided on that clock (a miss is counted when the
working-time deadline passes), so a tool reading these documents needs no calendar itself.

The functions are pure: ``at`` (the instant whose targets are described, and whose year
anchors the calendar windows) is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Final

from metrics.names import OUTCOMES, SLA, TIMERS
from sigap.core.calendar import JAKARTA
from sigap.core.registry import PRIORITIES, Registry, TargetSpec, Unit
from sigap.monitoring import dump_yaml, generated_header

__all__ = [
    "API_VERSION",
    "CLOCK_KEY",
    "DATASOURCE_TYPE",
    "EXTENSION_DOMAIN",
    "TIME_ZONE",
    "WINDOWS",
    "build_documents",
    "objective_target",
    "openslo_name",
    "render_openslo",
    "render_unit_files",
]

API_VERSION: Final = "openslo/v1"
DATASOURCE_TYPE: Final = "Prometheus"
TIME_ZONE: Final = "Asia/Jakarta"
EXTENSION_DOMAIN: Final = "sigap.surabaya.go.id"
CLOCK_KEY: Final = f"{EXTENSION_DOMAIN}/clock"
CALENDAR_KEY: Final = f"{EXTENSION_DOMAIN}/calendar"
TARGETS_KEY: Final = f"{EXTENSION_DOMAIN}/targets"
REGISTRY_VERSION_KEY: Final = f"{EXTENSION_DOMAIN}/registry-version"
# Calendar-aligned windows: (name suffix, OpenSLO duration shorthand, what it is).
WINDOWS: Final[tuple[tuple[str, str, str], ...]] = (
    ("month", "1M", "calendar month"),
    ("quarter", "1Q", "calendar quarter"),
)
_MET: Final = "met"
assert _MET in OUTCOMES
_COMMAND: Final = "sigap openslo"


def openslo_name(unit_code: str) -> str:
    """A unit code as an OpenSLO name (which allows no ``_``: it becomes ``-``)."""
    return unit_code.replace("_", "-")


def objective_target(registry: Registry, unit_code: str, timer: str) -> float:
    """The unit's within-target objective for ``timer`` as a share (0 <= x < 1)."""
    target = registry.iku_target(unit_code, "*", f"{timer}_within_target") / 100.0
    if not 0.0 <= target < 1.0:
        raise ValueError(
            f"unit {unit_code!r}: {timer}_within_target {target * 100:g}% cannot be an "
            "OpenSLO objective (its target must be at least 0 and below 1)"
        )
    return target


def _clock(specs: Iterable[TargetSpec]) -> str:
    clocks = {spec.clock for spec in specs}
    if clocks == {"wall"}:
        return "wall"
    if clocks == {"working"}:
        return "working-time"
    return "mixed"


def _targets_in_force(
    registry: Registry, unit_code: str, timer: str, at: datetime
) -> tuple[TargetSpec, ...]:
    """The distinct targets of ``timer`` a complaint of the unit created at ``at`` can get
    (any category of the taxonomy or none, any priority), in a stable order."""
    categories: list[str | None] = [None, *sorted(registry.categories)]
    specs: dict[TargetSpec, None] = {}
    for category in categories:
        for priority in PRIORITIES:
            targets = registry.targets_for(unit_code, category, priority, at)
            specs[targets.response if timer == "response" else targets.resolution] = None
    return tuple(sorted(specs, key=lambda s: (s.clock, s.days or 0, s.hours or 0.0)))


def _query(unit_code: str, timer: str, outcomes: tuple[str, ...]) -> str:
    outcome = (
        f'outcome="{outcomes[0]}"' if len(outcomes) == 1 else f'outcome=~"{"|".join(outcomes)}"'
    )
    return f'sum({SLA}_total{{unit="{unit_code}",timer="{timer}",{outcome}}})'


def _metric(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": DATASOURCE_TYPE, "spec": {"query": query}}}


def _unit_documents(registry: Registry, unit: Unit, at: datetime) -> Iterator[dict[str, Any]]:
    service = openslo_name(unit.code)
    year_start = f"{at.astimezone(JAKARTA).year:04d}-01-01 00:00:00"
    yield {
        "apiVersion": API_VERSION,
        "kind": "Service",
        "metadata": {
            "name": service,
            "displayName": unit.name,
            "labels": {"sigap.surabaya.go.id/unit": service},
        },
        "spec": {
            "description": f"Complaint handling of {unit.name} ({unit.code}), as counted by SIGAP."
        },
    }
    for timer in TIMERS:
        specs = _targets_in_force(registry, unit.code, timer, at)
        clock = _clock(specs)
        labels = {"sigap.surabaya.go.id/unit": service, "sigap.surabaya.go.id/timer": timer}
        labels[CLOCK_KEY] = clock
        annotations = {
            CLOCK_KEY: clock,
            CALENDAR_KEY: unit.calendar_name,
            TARGETS_KEY: ", ".join(spec.label for spec in specs),
            REGISTRY_VERSION_KEY: registry.version,
        }
        sli = f"{service}-{timer}-within-target"
        yield {
            "apiVersion": API_VERSION,
            "kind": "SLI",
            "metadata": {
                "name": sli,
                "displayName": f"{unit.name}: {timer} within target",
                "labels": dict(labels),
                "annotations": dict(annotations),
            },
            "spec": {
                "description": f"Share of {timer} timers of {unit.code} that met their target "
                f"({annotations[TARGETS_KEY]}), of those decided (met or missed); each "
                "complaint counted once per timer, at the earlier of its stop and its deadline.",
                "ratioMetric": {
                    "counter": True,
                    "good": _metric(_query(unit.code, timer, (_MET,))),
                    "total": _metric(_query(unit.code, timer, OUTCOMES)),
                },
            },
        }
        target = objective_target(registry, unit.code, timer)
        for suffix, duration, what in WINDOWS:
            yield {
                "apiVersion": API_VERSION,
                "kind": "SLO",
                "metadata": {
                    "name": f"{sli}-{suffix}",
                    "displayName": f"{unit.name}: {timer} within target, per {what}",
                    "labels": {**labels, "sigap.surabaya.go.id/window": suffix},
                    "annotations": dict(annotations),
                },
                "spec": {
                    "description": f"At least {target * 100:g}% of the {timer} timers of "
                    f"{unit.code} decided in each {what} ({TIME_ZONE}) meet their target.",
                    "service": service,
                    "indicatorRef": sli,
                    "timeWindow": [
                        {
                            "duration": duration,
                            "isRolling": False,
                            "calendar": {"startTime": year_start, "timeZone": TIME_ZONE},
                        }
                    ],
                    "budgetingMethod": "Occurrences",
                    "objectives": [{"displayName": f"{timer} within target", "target": target}],
                },
            }


def _checked_units(registry: Registry) -> list[Unit]:
    units = sorted(registry.units.values(), key=lambda u: u.code)
    seen: dict[str, str] = {}
    for unit in units:
        name = openslo_name(unit.code)
        if name in seen:
            raise ValueError(
                f"units {seen[name]!r} and {unit.code!r} have the same OpenSLO name {name!r}"
            )
        seen[name] = unit.code
    return units


def build_documents(registry: Registry, at: datetime) -> dict[str, list[dict[str, Any]]]:
    """The OpenSLO documents of each registered unit (by unit code, sorted): its Service,
    then per timer its SLI and that SLI's SLOs. ``at`` must be timezone-aware."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    return {
        unit.code: list(_unit_documents(registry, unit, at)) for unit in _checked_units(registry)
    }


def _render(documents: Iterable[dict[str, Any]], command: str) -> str:
    body = "---\n".join(dump_yaml(document) for document in documents)
    return f"{generated_header(command)}---\n{body}"


def render_openslo(registry: Registry, at: datetime) -> str:
    """Every unit's documents as one multi-document YAML stream."""
    return _render(
        (document for docs in build_documents(registry, at).values() for document in docs),
        _COMMAND,
    )


def render_unit_files(registry: Registry, at: datetime) -> dict[str, str]:
    """One multi-document YAML file per unit: ``{"<unit>.yaml": text}``."""
    return {
        f"{code}.yaml": _render(docs, _COMMAND)
        for code, docs in build_documents(registry, at).items()
    }
