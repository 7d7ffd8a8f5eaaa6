"""The registry's `escalation:` section: the escalation ladder and who is told at each
share of a target (docs/operations.md, "Escalation ladder").

Surabaya's complaint app escalates a complaint the unit has not answered: the `escalated`
event (schemas/events.py) names the ladder level it went to, e.g. `kecamatan` (the district
office), `dinas` (the head of the department), `walikota` (the mayor: WargaKu sends an
unanswered complaint to the mayor after 1x24 hours). SIGAP records the escalations of each
unit (`sigap_complaints_escalated_total`), derives the escalation share the mayor judges
units by, and generates the Alertmanager routes that tell the right people before a deadline
passes: by default 50% of the allowed time to the unit's duty channel, 75% to the unit head,
100% to the department head.

    escalation:
      levels:
        - {code: kecamatan, name: "Kecamatan (district office)"}
        - {code: dinas, name: "Kepala Dinas (head of department)"}
        - {code: walikota, name: "Wali Kota (mayor)", after_hours: 24}
      notify:
        - {threshold: 0.5, receiver: duty}
        - {threshold: 0.75, receiver: unit_head}
        - {threshold: 1, receiver: department_head}

Levels are only ever added (a code used by past events must stay). Pure: parsing returns the
settings or the problems, each naming the file, the entry and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "DEFAULT_ESCALATION",
    "RECEIVER_ROLES",
    "EscalationLevel",
    "EscalationSettings",
    "NotifyRule",
    "parse_escalation_settings",
]

_CODE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
# Who can be told: the unit's duty channel, the unit's head, the department's head.
RECEIVER_ROLES: Final = ("duty", "unit_head", "department_head")
THRESHOLDS: Final = (0.5, 0.75, 1.0)
MAX_LEVELS: Final = 16


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    code: str
    name: str
    # The app escalates there after this many wall hours without an answer (informational;
    # the `escalated` event is what SIGAP counts).
    after_hours: float | None = None


@dataclass(frozen=True, slots=True)
class NotifyRule:
    threshold: float  # 0.5, 0.75 or 1 of the allowed time used
    receiver: str  # one of RECEIVER_ROLES


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    levels: tuple[EscalationLevel, ...]
    notify: tuple[NotifyRule, ...]
    _codes: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_codes", frozenset(level.code for level in self.levels))

    def known(self, code: str | None) -> bool:
        return code is not None and code in self._codes

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(level.code for level in self.levels)


DEFAULT_ESCALATION: Final = EscalationSettings(
    levels=(
        EscalationLevel("kecamatan", "Kecamatan (district office)"),
        EscalationLevel("dinas", "Kepala Dinas (head of department)"),
        EscalationLevel("walikota", "Wali Kota (mayor)", after_hours=24.0),
    ),
    notify=(
        NotifyRule(0.5, "duty"),
        NotifyRule(0.75, "unit_head"),
        NotifyRule(1.0, "department_head"),
    ),
)


def _where(source: str, entry: str, field_name: str | None, message: str) -> str:
    if field_name is None:
        return f"{source}: {entry}: {message}"
    return f"{source}: {entry}: field {field_name!r}: {message}"


def _unknown_fields(
    raw: Mapping[str, Any], allowed: tuple[str, ...], source: str, entry: str
) -> list[str]:
    return [
        _where(source, entry, str(key), "unknown field (check the spelling)")
        for key in raw
        if key not in allowed
    ]


def _levels(raw: object, source: str, problems: list[str]) -> tuple[EscalationLevel, ...]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_LEVELS:
        problems.append(
            _where(source, "escalation", "levels", f"must be a list of 1 to {MAX_LEVELS}")
        )
        return DEFAULT_ESCALATION.levels
    levels: list[EscalationLevel] = []
    for i, item in enumerate(raw):
        entry = f"escalation.levels[{i}]"
        if not isinstance(item, Mapping):
            problems.append(_where(source, entry, None, "must be a mapping"))
            continue
        problems += _unknown_fields(item, ("code", "name", "after_hours"), source, entry)
        code, name, after = item.get("code"), item.get("name"), item.get("after_hours")
        if not isinstance(code, str) or not _CODE_RE.match(code):
            problems.append(
                _where(source, entry, "code", f"{code!r} must match {_CODE_RE.pattern}")
            )
            continue
        if code in {level.code for level in levels}:
            problems.append(_where(source, entry, "code", f"duplicate level {code!r}"))
            continue
        if not isinstance(name, str) or not name.strip():
            problems.append(_where(source, entry, "name", "must be a non-empty string"))
            continue
        hours: float | None = None
        if after is not None:
            if (
                isinstance(after, bool)
                or not isinstance(after, int | float)
                or not math.isfinite(after)
                or after <= 0
            ):
                problems.append(_where(source, entry, "after_hours", "must be a number > 0"))
                continue
            hours = float(after)
        levels.append(EscalationLevel(code, name.strip(), hours))
    return tuple(levels)


def _notify(raw: object, source: str, problems: list[str]) -> tuple[NotifyRule, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(_where(source, "escalation", "notify", "must be a non-empty list"))
        return DEFAULT_ESCALATION.notify
    rules: list[NotifyRule] = []
    for i, item in enumerate(raw):
        entry = f"escalation.notify[{i}]"
        if not isinstance(item, Mapping):
            problems.append(_where(source, entry, None, "must be a mapping"))
            continue
        problems += _unknown_fields(item, ("threshold", "receiver"), source, entry)
        threshold, receiver = item.get("threshold"), item.get("receiver")
        if isinstance(threshold, bool) or threshold not in THRESHOLDS:
            problems.append(
                _where(source, entry, "threshold", f"{threshold!r}: one of 0.5, 0.75, 1")
            )
            continue
        if receiver not in RECEIVER_ROLES:
            problems.append(
                _where(
                    source, entry, "receiver", f"{receiver!r}: one of {', '.join(RECEIVER_ROLES)}"
                )
            )
            continue
        if any(rule.threshold == threshold for rule in rules):
            problems.append(_where(source, entry, "threshold", "duplicate threshold"))
            continue
        rules.append(NotifyRule(float(threshold), str(receiver)))
    return tuple(sorted(rules, key=lambda rule: rule.threshold))


def parse_escalation_settings(data: object, source: str) -> tuple[EscalationSettings, list[str]]:
    """The section (None when absent: the defaults) and the problems found."""
    if data is None:
        return DEFAULT_ESCALATION, []
    problems: list[str] = []
    if not isinstance(data, Mapping):
        return DEFAULT_ESCALATION, [_where(source, "escalation", None, "must be a mapping")]
    problems += _unknown_fields(data, ("levels", "notify"), source, "escalation")
    levels = (
        _levels(data.get("levels"), source, problems)
        if "levels" in data
        else (DEFAULT_ESCALATION.levels)
    )
    notify = (
        _notify(data.get("notify"), source, problems)
        if "notify" in data
        else (DEFAULT_ESCALATION.notify)
    )
    return EscalationSettings(levels=levels, notify=notify), problems
