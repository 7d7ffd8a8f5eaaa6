"""IKU achievement: how far a unit's period score reached its indicator targets.

For each indicator, with realisation r (from the period score) and target t (from the
registry, `Registry.iku_target`):

    higher is better:  achievement % = r / t x 100          achieved iff r >= t
    lower is better:   achievement % = t / r x 100          achieved iff r <= t
                       (r = 0 reaches the cap: nothing better is possible)

capped at the registry's `iku.max_achievement_percent` (default 120), so that one excellent
indicator cannot hide a missed one in an average. When the period has no realisation (no
decided timer, no resolution, no rating) both are None: an absent measurement is neither a
success nor a failure.

Indicators (INDICATORS):

    name                          realisation                                     better
    response_within_target        response_met / (met + missed) x 100, %          higher
    resolution_within_target      resolution_met / (met + missed) x 100, %        higher
    response_p90_working_hours    p90 working time to first response, hours       lower
    resolution_p90_working_hours  p90 working time to first resolution, hours     lower
    rating_mean                   mean citizen rating, 1-5                        higher

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sigap.core.registry import (
    DEFAULT_IKU_TARGETS,
    DEFAULT_MAX_ACHIEVEMENT_PERCENT,
    DEFAULT_OBJECTIVE,
    IKU_INDICATORS,
    Registry,
)

Direction = Literal["higher", "lower"]


@dataclass(frozen=True)
class Indicator:
    name: str
    direction: Direction
    unit_of_measure: str
    description: str


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "response_within_target",
        "higher",
        "%",
        "share of the unit's decided response timers that met their target",
    ),
    Indicator(
        "resolution_within_target",
        "higher",
        "%",
        "share of the unit's decided resolution timers that met their target",
    ),
    Indicator(
        "response_p90_working_hours",
        "lower",
        "h",
        "p90 of the working time from receipt to first response, of the unit's responses",
    ),
    Indicator(
        "resolution_p90_working_hours",
        "lower",
        "h",
        "p90 of the working time from receipt to first resolution, of the unit's resolutions",
    ),
    Indicator("rating_mean", "higher", "1-5", "mean citizen rating"),
)
assert tuple(i.name for i in INDICATORS) == IKU_INDICATORS  # one list of names

_HOUR = 3600.0


@dataclass(frozen=True)
class IndicatorScore:
    name: str
    direction: Direction
    unit_of_measure: str
    realisation: float | None
    target: float
    achievement_percent: float | None
    achieved: bool | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def achievement_percent(
    realisation: float | None,
    target: float,
    direction: Direction,
    max_percent: float = DEFAULT_MAX_ACHIEVEMENT_PERCENT,
) -> float | None:
    """The capped achievement (see the module docstring); None without a realisation."""
    if not target > 0:
        raise ValueError(f"an IKU target must be > 0, got {target!r}")
    if realisation is None:
        return None
    if realisation < 0:
        raise ValueError(f"an IKU realisation cannot be negative, got {realisation!r}")
    if direction == "higher":
        raw = realisation / target * 100.0
    elif realisation == 0:
        return max_percent  # lower is better and nothing is lower than zero
    else:
        raw = target / realisation * 100.0
    return min(raw, max_percent)


def target_achieved(realisation: float | None, target: float, direction: Direction) -> bool | None:
    if realisation is None:
        return None
    return realisation >= target if direction == "higher" else realisation <= target


def indicator_score(
    indicator: Indicator,
    realisation: float | None,
    target: float,
    max_percent: float = DEFAULT_MAX_ACHIEVEMENT_PERCENT,
) -> IndicatorScore:
    return IndicatorScore(
        name=indicator.name,
        direction=indicator.direction,
        unit_of_measure=indicator.unit_of_measure,
        realisation=realisation,
        target=target,
        achievement_percent=achievement_percent(
            realisation, target, indicator.direction, max_percent
        ),
        achieved=target_achieved(realisation, target, indicator.direction),
    )


def realisations(values: Mapping[str, Any]) -> dict[str, float | None]:
    """Each indicator's realisation from a period score's values (PeriodScore.values())."""

    def percent(share: float | None) -> float | None:
        return None if share is None else share * 100.0

    def hours(seconds: float | None) -> float | None:
        return None if seconds is None else seconds / _HOUR

    return {
        "response_within_target": percent(values["response_within_target_share"]),
        "resolution_within_target": percent(values["resolution_within_target_share"]),
        "response_p90_working_hours": hours(values["response_p90_working_seconds"]),
        "resolution_p90_working_hours": hours(values["resolution_p90_working_seconds"]),
        "rating_mean": values["rating_mean"],
    }


# The targets without a registry: the defaults, the default objective for the shares.
_DEFAULT_TARGETS: Mapping[str, float] = {
    indicator.name: DEFAULT_IKU_TARGETS.get(indicator.name, DEFAULT_OBJECTIVE * 100.0)
    for indicator in INDICATORS
}


def indicator_scores(
    unit: str, category: str, values: Mapping[str, Any], registry: Registry | None
) -> tuple[IndicatorScore, ...]:
    """Every indicator of one period score. Without a registry: the default targets (the
    default objective for the shares) and the default cap."""
    targets: Mapping[str, float]
    if registry is None:
        targets = _DEFAULT_TARGETS
        cap = DEFAULT_MAX_ACHIEVEMENT_PERCENT
    else:
        targets = registry.iku_targets(unit, category)
        cap = registry.iku.max_achievement_percent
    realised = realisations(values)
    return tuple(
        indicator_score(indicator, realised[indicator.name], targets[indicator.name], cap)
        for indicator in INDICATORS
    )


__all__ = [
    "INDICATORS",
    "Indicator",
    "IndicatorScore",
    "achievement_percent",
    "indicator_score",
    "indicator_scores",
    "realisations",
    "target_achieved",
]
