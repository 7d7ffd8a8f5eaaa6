"""The score writer computes the officer rows of one (unit, category, period) at a time
(`only_unit_keys`): they must be exactly the rows that computing every period gives for it.

Histories start anywhere in a year, so every kind has many periods, and a unit's complaints
are still open at the end of periods in which they had no activity (the `open_at_end` rows)."""

from __future__ import annotations

import random
from datetime import timedelta

from sigap.core.officer_scores import OfficerScore, officer_period_scores
from sigap.core.periods import SCORE_PERIOD_KINDS
from sigap.replay import replay
from tests.officers.helpers import random_history
from tests.officers.test_storage import REGISTRY, START


def _row_key(score: OfficerScore) -> tuple[str, str, str, object]:
    return (score.score.unit, score.score.category, score.score.period, score.score.period_start)


def test_the_officer_rows_of_an_asked_period_equal_those_computed_for_every_period() -> None:
    rng = random.Random(11)
    events = [
        event
        for n in range(80)
        for event in random_history(rng, f"c{n}", START + timedelta(days=rng.randrange(365)))
    ]
    result = replay(events, REGISTRY)
    assert result.watermark is not None
    watermark = result.watermark
    views = result.views
    keys = sorted(
        {(s.unit, s.category, s.period, s.period_start) for s in result.scores}
        | {_row_key(s) for s in result.officer_scores}
    )
    assert {kind for _, _, kind, _ in keys} == set(SCORE_PERIOD_KINDS)
    assert len(keys) > 500
    compared = 0
    for key in keys[:: max(1, len(keys) // 400)]:
        unit, _, kind, _ = key
        of_unit = [view for view in views if view.unit == unit]
        expected = [
            score
            for score in officer_period_scores(
                of_unit, watermark, (kind,), REGISTRY, unit_keys=[key]
            )
            if _row_key(score) == key
        ]
        asked = officer_period_scores(
            of_unit, watermark, (kind,), REGISTRY, unit_keys=[key], only_unit_keys=True
        )
        assert asked == expected, key
        compared += len(expected)
    assert compared > 200
