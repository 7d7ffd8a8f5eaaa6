"""Exact nearest-rank quantiles.

Definition used everywhere in SIGAP (README, "Quantiles"): the q-quantile of a sample is
the smallest value v such that at least a fraction q of the sample is <= v.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile of an ascending, non-empty sequence."""
    if not sorted_values:
        raise ValueError("the quantile of an empty sample is undefined")
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must be in (0, 1], got {q}")
    # Rank ceil(q*n) (1-based); the small epsilon keeps 0.9*10 from becoming rank 10 > 9.
    rank = max(1, math.ceil(q * len(sorted_values) - 1e-9))
    return sorted_values[rank - 1]


def quantiles(values: Iterable[float], qs: Sequence[float]) -> list[float | None]:
    """Nearest-rank quantiles of an unsorted sample; None for each q when it is empty."""
    ordered = sorted(values)
    if not ordered:
        return [None for _ in qs]
    return [nearest_rank(ordered, q) for q in qs]
