"""Corrective actions: what a unit decided to do about a cause of its misses, and whether
the misses of that cause went down afterwards. Pure; the register itself (with its
history) is in the score database (storage.actions) and managed with `sigap actions`.

For a report of period P, every action of the unit decided before P's end and not closed
before P's beginning is shown with the misses of its cause (core.causes, the same count
as the scores') in the period of the same kind in which it was decided (`before`) and in
P (`after`, when P begins after that period; else not yet known).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

__all__ = ["ACTION_STATUSES", "ActionEffect", "CorrectiveAction", "Status"]

Status = Literal["open", "done", "dropped"]
ACTION_STATUSES: Final[tuple[Status, ...]] = ("open", "done", "dropped")


@dataclass(frozen=True, slots=True)
class CorrectiveAction:
    action_id: int
    unit: str
    cause: str  # a code of the registry's causes vocabulary, or "unexplained"
    owner: str  # an officer code (pseudonymous), never a name
    due_on: date
    status: Status
    decided_at: float  # epoch seconds
    closed_at: float | None  # epoch seconds, when done or dropped


@dataclass(frozen=True, slots=True)
class ActionEffect:
    """One action in a report, with the misses of its cause before and after."""

    action_id: int
    cause: str
    owner: str
    due: str  # ISO date
    status: str
    overdue: bool  # open and past its due date at the report's period end
    before_period: str
    misses_before: int
    after_period: str | None
    misses_after: int | None
