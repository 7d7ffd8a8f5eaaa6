"""The comparison of stored and recomputed scores, as a pure function over score rows."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from sigap.verify import Difference, compare_scores


def row(unit: str = "dlh", category: str = "*", **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "unit": unit,
        "category": category,
        "period": "month",
        "period_start": "2026-11-01",
        "received": 3,
        "resolved": 2,
        "resolution_p90_wall_seconds": 5400.0,
        "response_within_target_share": 2 / 3,
        "rating_mean": None,
        "indicators": [
            {
                "name": "response_within_target",
                "realisation": 200 / 3,
                "target": 95.0,
                "achievement_percent": 200 / 3 / 95.0 * 100,
                "achieved": False,
            }
        ],
    }
    base.update(values)
    return base


def test_identical_rows_in_any_order_and_bookkeeping_are_no_difference() -> None:
    stored = [
        {**row("dlh"), "revision": 1, "final": True, "watermark_epoch": 1.8e9},
        {**row("dsda"), "revision": 0, "final": False},
    ]
    recomputed = [row("dsda"), {**row("dlh"), "period_start": date(2026, 11, 1)}]
    assert compare_scores(stored, recomputed) == []


def test_every_differing_column_is_named_with_both_values() -> None:
    stored = [row(received=4, resolution_p90_wall_seconds=5400.000000000001)]
    differences = compare_scores(stored, [row()])
    assert differences == [
        Difference("dlh", "*", "month", "2026-11-01", "value", "received", 4, 3),
        Difference(
            "dlh",
            "*",
            "month",
            "2026-11-01",
            "value",
            "resolution_p90_wall_seconds",
            5400.000000000001,
            5400.0,
        ),
    ]


def test_floats_are_compared_exactly_and_none_is_not_zero() -> None:
    share = 2 / 3
    assert compare_scores([row(response_within_target_share=share)], [row()]) == []
    nudged = compare_scores([row(response_within_target_share=math.nextafter(share, 1))], [row()])
    assert [d.column for d in nudged] == ["response_within_target_share"]
    assert [d.column for d in compare_scores([row(rating_mean=0.0)], [row()])] == ["rating_mean"]
    assert [d.column for d in compare_scores([row()], [row(rating_mean=0)])] == ["rating_mean"]


def test_indicator_fields_are_compared() -> None:
    changed = row()
    changed["indicators"] = [{**changed["indicators"][0], "achieved": True}]
    differences = compare_scores([changed], [row()])
    assert [(d.column, d.stored, d.recomputed) for d in differences] == [
        ("response_within_target.achieved", True, False)
    ]
    as_number = row()
    as_number["indicators"] = [{**as_number["indicators"][0], "achieved": 0}]
    assert [d.column for d in compare_scores([as_number], [row()])] == [
        "response_within_target.achieved"
    ]
    missing = {**row(), "indicators": []}
    columns = {d.column for d in compare_scores([missing], [row()])}
    assert columns == {
        "response_within_target.realisation",
        "response_within_target.target",
        "response_within_target.achievement_percent",
        "response_within_target.achieved",
    }


def test_rows_on_one_side_only_are_reported_unless_empty() -> None:
    other_category = row(category="sampah", received=1)
    only_stored = compare_scores([row(), other_category], [row()])
    assert [(d.kind, d.category, d.column) for d in only_stored] == [
        ("only_stored", "sampah", None)
    ]
    assert only_stored[0].stored is not None and only_stored[0].stored["received"] == 1
    assert only_stored[0].recomputed is None
    only_recomputed = compare_scores([], [row("dsda")])
    assert [(d.kind, d.unit) for d in only_recomputed] == [("only_recomputed", "dsda")]
    # A final row restated to nothing equals an absent one (core.scoring drops empty
    # periods); indicator targets are configuration, not counts.
    empty = row(
        received=0,
        resolved=0,
        resolution_p90_wall_seconds=None,
        response_within_target_share=None,
        revision=2,
        final=True,
    )
    assert compare_scores([row(), empty | {"unit": "dsda"}], [row()]) == []
    # Complaints held open at the period's end alone make no score either.
    held_open = {**empty, "unit": "dsda", "open_at_end": 4}
    assert compare_scores([row()], [row(), held_open]) == []


def test_json_form_of_a_difference() -> None:
    [difference] = compare_scores([row(received=4)], [row()])
    assert difference.as_json() == {
        "unit": "dlh",
        "category": "*",
        "period": "month",
        "period_start": "2026-11-01",
        "kind": "value",
        "column": "received",
        "stored": 4,
        "recomputed": 3,
    }
