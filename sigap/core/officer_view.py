"""One officer's share of one (unit, complaint) view: the officer split that travels inside a
`core.unit_view.UnitView` (JSON key "of") to the score writer and through batch replay.

Built by core.officers; read by core.officer_scores. Holds pseudonymous officer codes only
(never names): the unit stage ignores it, so no code reaches a metric label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

# The officer of a unit's complaints that carry no officer code.
UNASSIGNED: Final = "unassigned"
PHASES: Final = ("before_response", "after_response", "before_transfer")


@dataclass(frozen=True, slots=True)
class OfficerView:
    """What one officer is charged with in one (unit, complaint) view.

    - `received`: the officer who received the complaint at its creation (created here).
    - `responded` / `resolved`: held it when the unit's response / resolution stopped.
    - `timers`: timer -> ("met" | "missed" | "open", instant): the unit's outcome charged to
      the officer holding the complaint when it was decided (the stop when met, the deadline
      when missed), or its running open timer's deadline ("open": missed there once the
      watermark passes it, by whoever held it at the deadline).
    - `transfers_away`: instants of the unit's transfers away made while the officer held it.
    - `rated`: the citizen's rating of the unit was given while the officer held it.
    - `spans`: pieces (s, u] of the unit's open span (u None: open-ended) during which the
      officer held it (for open_at_end).
    - `held_seconds`: wall seconds the officer held the complaint while the unit's
      resolution clock ran, by phase: before the first response, after it, and in the
      unit's stints that ended in a transfer away (`before_transfer`).
    """

    officer: str
    received: bool = False
    responded: bool = False
    resolved: bool = False
    timers: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    transfers_away: tuple[float, ...] = ()
    rated: bool = False
    spans: tuple[tuple[float, float | None], ...] = ()
    held_seconds: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "o": self.officer,
            "r": self.received,
            "rs": self.responded,
            "rv": self.resolved,
            "t": {timer: list(value) for timer, value in sorted(self.timers.items())},
            "tr": list(self.transfers_away),
            "rt": self.rated,
            "sp": [list(span) for span in self.spans],
            "hs": dict(sorted(self.held_seconds.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OfficerView:
        return cls(
            officer=str(data["o"]),
            received=bool(data["r"]),
            responded=bool(data["rs"]),
            resolved=bool(data["rv"]),
            timers={str(k): (str(v[0]), float(v[1])) for k, v in data["t"].items()},
            transfers_away=tuple([float(at) for at in data["tr"]]),
            rated=bool(data["rt"]),
            spans=tuple([(float(s), None if u is None else float(u)) for s, u in data["sp"]]),
            held_seconds={str(k): float(v) for k, v in data["hs"].items()},
        )


def span_until(value: float | None) -> float:
    return math.inf if value is None else value


__all__ = ["PHASES", "UNASSIGNED", "OfficerView", "span_until"]
