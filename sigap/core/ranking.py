"""The league table's ranking rule: the one place where units are put in order.

The rule
--------
For one period, each unit's score (over all categories) is judged on its IKU indicators
(core.iku), counting only the indicators with a realisation in the period:

0. **Eligibility.** A unit is *ranked* only when it has at least ``min_decided_timers``
   decided timers in the period (response and resolution timers, met or missed; registry
   setting ``ranking.min_decided_timers``) and at least one indicator with a realisation.
   Every other unit is *listed* (with the reason) below the ranked ones, without a rank.
1. **Share of indicators achieved** (achieved / indicators with a realisation), higher
   first. A unit that met all of its indicators always ranks above one that missed any.
2. **Worst indicator's achievement** (the lowest capped achievement %), higher first.
3. **Geometric mean of the achievements** (capped; 0 when one is 0), higher first.
4. Units equal on 1-3 share a rank (competition ranking: 1, 2, 2, 4); the table lists them
   by unit code, which carries no meaning.

Why
---
- The old table averaged capped achievements: a unit at 120% on three easy indicators and
  far below target on one could outrank a unit that met all five (damkar rank 1 at 111.2%
  with 4/5 achieved, satpol-pp rank 4 at 110.0% with 5/5). Counting indicators achieved
  first makes meeting every target the thing that matters, as the IKU intends.
- The tie-breaks cannot be bought by over-achieving easy indicators: the worst indicator
  does not move when a good one gets better, and the geometric mean (only reached when the
  worst ones are equal) rewards balance: raising an indicator that is already capped adds
  nothing, and a low indicator weighs more than a high one.
- A unit with a handful of complaints can reach 100% by luck; below the minimum sample its
  figures are shown but not ranked (a unit with one complaint has at most two decided
  timers, so it can never top the table while the minimum is at least 3).

Uncertainty band
----------------
Each unit's within-target share (met / decided, both timers pooled) gets a Wilson score
interval at ``confidence`` (registry ``ranking.confidence``, default 95%). Two ranked units
whose intervals overlap are *not distinguishable*: the data do not show that one handles
complaints within target more often than the other, whatever their ranks say. Each ranked
standing lists the ranks it is not distinguishable from, so a report can say "rank 3,
not distinguishable from 2 and 4".

Pure: no I/O; the result does not depend on the order of the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Final, Literal

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_MIN_DECIDED_TIMERS",
    "Candidate",
    "IndicatorOutcome",
    "Standing",
    "StandingStatus",
    "rank_units",
    "wilson_interval",
]

DEFAULT_MIN_DECIDED_TIMERS: Final = 10
DEFAULT_CONFIDENCE: Final = 0.95

StandingStatus = Literal["ranked", "too_few_timers", "no_indicator"]


@dataclass(frozen=True, slots=True)
class IndicatorOutcome:
    """One IKU indicator of a unit's score: achieved (None: no realisation) and its capped
    achievement % (None: no realisation)."""

    achieved: bool | None
    achievement_percent: float | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A unit's period score, as the ranking needs it."""

    unit: str
    indicators: tuple[IndicatorOutcome, ...]
    met: int  # decided timers that met their target (response + resolution)
    missed: int  # decided timers that missed it

    @property
    def decided(self) -> int:
        return max(self.met, 0) + max(self.missed, 0)


@dataclass(frozen=True, slots=True)
class Standing:
    """A unit's place in the table (see the module docstring)."""

    unit: str
    rank: int | None  # None: listed, not ranked (see status)
    status: StandingStatus
    indicators_known: int  # indicators with a realisation
    indicators_achieved: int
    achieved_share: float | None  # achieved / known; None without a known indicator
    worst_achievement: float | None  # lowest capped achievement %
    balanced_achievement: float | None  # geometric mean of the capped achievements %
    decided: int  # decided timers
    within_target_share: float | None  # met / decided; None when nothing was decided
    band: tuple[float, float] | None  # Wilson interval of within_target_share
    not_distinguishable_from: tuple[int, ...] = ()  # ranks whose bands overlap this one's

    def sort_key(self) -> tuple[float, float, float]:
        """Lower sorts first; only meaningful for ranked standings."""
        return (
            -(self.achieved_share or 0.0),
            -(self.worst_achievement or 0.0),
            -(self.balanced_achievement or 0.0),
        )


def wilson_interval(successes: int, trials: int, confidence: float) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion; None when there are no trials.

    For p = successes / trials and z the two-sided normal quantile of ``confidence``:
    centre = (p + z²/2n) / (1 + z²/n), half-width = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
    Unlike the normal ("Wald") interval it stays inside [0, 1] and is not empty at p = 0 or 1.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if trials <= 0:
        return None
    successes = min(max(successes, 0), trials)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    n = float(trials)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(max(p * (1.0 - p) / n + z2 / (4.0 * n * n), 0.0)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


def _geometric_mean(values: Sequence[float]) -> float:
    if any(v <= 0.0 for v in values):
        return 0.0
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))


def _standing(candidate: Candidate, min_decided: int, confidence: float) -> Standing:
    known = [
        i
        for i in candidate.indicators
        if i.achieved is not None and i.achievement_percent is not None
    ]
    percents = [max(float(i.achievement_percent or 0.0), 0.0) for i in known]
    achieved = sum(1 for i in known if i.achieved)
    decided = candidate.decided
    met = min(max(candidate.met, 0), decided)
    if not known:
        status: StandingStatus = "no_indicator"
    elif decided < min_decided:
        status = "too_few_timers"
    else:
        status = "ranked"
    return Standing(
        unit=candidate.unit,
        rank=None,
        status=status,
        indicators_known=len(known),
        indicators_achieved=achieved,
        achieved_share=achieved / len(known) if known else None,
        worst_achievement=min(percents) if percents else None,
        balanced_achievement=_geometric_mean(percents) if percents else None,
        decided=decided,
        within_target_share=met / decided if decided else None,
        band=wilson_interval(met, decided, confidence),
    )


def _overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    if a is None or b is None:
        return True  # no evidence either way: not distinguishable
    return a[0] <= b[1] and b[0] <= a[1]


def rank_units(
    candidates: Iterable[Candidate],
    *,
    min_decided_timers: int = DEFAULT_MIN_DECIDED_TIMERS,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[Standing, ...]:
    """Every candidate's standing: the ranked ones first (best first, ties by unit code),
    then those listed without a rank (too few decided timers, then no indicator, each by
    unit code). Raises ValueError on a duplicate unit or a bad setting."""
    if min_decided_timers < 0:
        raise ValueError(f"min_decided_timers must be >= 0, got {min_decided_timers!r}")
    standings: dict[str, Standing] = {}
    for candidate in candidates:
        if candidate.unit in standings:
            raise ValueError(f"unit {candidate.unit!r} appears twice")
        standings[candidate.unit] = _standing(candidate, min_decided_timers, confidence)

    ranked = sorted(
        (s for s in standings.values() if s.status == "ranked"),
        key=lambda s: (s.sort_key(), s.unit),
    )
    ranks: list[int] = []
    for position, standing in enumerate(ranked, start=1):
        tied = position > 1 and standing.sort_key() == ranked[position - 2].sort_key()
        ranks.append(ranks[-1] if tied else position)

    result: list[Standing] = []
    for index, standing in enumerate(ranked):
        overlapping = sorted(
            {
                ranks[other]
                for other, peer in enumerate(ranked)
                if other != index and _overlap(standing.band, peer.band)
            }
            - {ranks[index]}
        )
        result.append(
            replace(standing, rank=ranks[index], not_distinguishable_from=tuple(overlapping))
        )
    order: dict[StandingStatus, int] = {"ranked": 0, "too_few_timers": 1, "no_indicator": 2}
    result += sorted(
        (s for s in standings.values() if s.status != "ranked"),
        key=lambda s: (order[s.status], s.unit),
    )
    return tuple(result)
