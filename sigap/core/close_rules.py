"""The close rules of the registry's `close:` section (see core.period_close). Pure; no
dependency on the registry, which holds a CloseRules."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date

# The rule applied when the registry has no `close:` section.
DEFAULT_CLOSE_WORKING_DAYS = 5
DEFAULT_CLOSE_FROM = date(2000, 1, 1)  # events before 2000 are rejected anyway


@dataclass(frozen=True)
class CloseRule:
    """Periods starting on or after `effective_from` close `working_days` working days
    after they end (until a rule with a later effective_from)."""

    effective_from: date
    working_days: int

    def __post_init__(self) -> None:
        if not 0 <= self.working_days <= 60:
            raise ValueError(f"working_days must be 0..60, got {self.working_days}")


@dataclass(frozen=True)
class CloseRules:
    rules: tuple[CloseRule, ...] = (CloseRule(DEFAULT_CLOSE_FROM, DEFAULT_CLOSE_WORKING_DAYS),)

    def __post_init__(self) -> None:
        starts = [rule.effective_from for rule in self.rules]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError("close rules must have distinct effective_from dates, oldest first")

    def rule_for(self, start: date) -> CloseRule | None:
        """The rule of the period beginning on `start` (None: it never closes)."""
        index = bisect.bisect_right([rule.effective_from for rule in self.rules], start)
        return self.rules[index - 1] if index else None
