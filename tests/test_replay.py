"""Batch replay: the same results as streaming, whatever the arrival order, and the right
numbers on the real data sets in ../shared/data (checked by an independent computation)."""

from __future__ import annotations

import csv
import math
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.names import RESOLUTION_BUCKETS
from schemas.events import ComplaintEvent, EventRejected
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry, parse_registry
from sigap.core.scoring import ScoreInput, all_period_scores
from sigap.core.unit_kpis import UnitKpis
from sigap.core.unit_view import UnitView, target_bucket_bounds
from sigap.replay import replay
from sigap.replay_sources import load_csv_mapping, open_source, slugify_unit
from tests.histories import complaint_events as history_of
from tests.properties import examples
from tests.shared import shared_file

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
JAKARTA = ZoneInfo("Asia/Jakarta")
START = datetime(2026, 3, 2, 8, 0, tzinfo=JAKARTA)  # spans Nyepi and Lebaran 2026

# -- streaming and replay agree, in any arrival order ------------------------------------

UNITS = ["dlh", "dsda", "dishub", "damkar", "not-registered"]


def complaint_events(number: int) -> st.SearchStrategy[list[ComplaintEvent]]:
    return history_of(
        number,
        start=START,
        units=UNITS,
        created_within_days=30,
        max_later_events=7,
        days_between_events=4,
        assigned_reason="not_our_authority",
    )


def streamed(arrivals: list[ComplaintEvent]) -> tuple[list[UnitView], UnitKpis]:
    """The worker's path: accept_event per arrival, the unit stage keeps the latest views."""
    states: dict[str, ComplaintState] = {}
    latest: dict[tuple[str, str], UnitView] = {}
    for event in arrivals:
        state = states.setdefault(event.complaint_id, ComplaintState())
        try:
            accepted = accept_event(state, event, REGISTRY)
        except EventRejected:
            continue
        for view in accepted.views:
            latest[(view.unit, view.complaint_id)] = view
    bounds = tuple(sorted(set(RESOLUTION_BUCKETS) | set(target_bucket_bounds(REGISTRY))))
    kpis = UnitKpis(bounds, bounds, resolution_bounds=RESOLUTION_BUCKETS)
    for view in latest.values():
        kpis.apply(view, None, -math.inf)
    return [v for v in latest.values() if not v.deleted], kpis


@settings(max_examples=examples(60), deadline=None)
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=8).flatmap(
        lambda seeds: st.tuples(
            st.tuples(*[complaint_events(n) for n in range(len(seeds))]),
            st.randoms(use_true_random=False),
        )
    )
)
def test_replay_equals_streaming_in_any_arrival_order(drawn: Any) -> None:
    per_complaint, rng = drawn
    in_order = [event for events in per_complaint for event in events]
    arrivals = in_order[:]
    rng.shuffle(arrivals)
    arrivals += rng.sample(in_order, k=min(3, len(in_order)))  # redeliveries
    views, kpis = streamed(arrivals)
    result = replay(in_order, REGISTRY)

    def key(view: UnitView) -> tuple[str, str]:
        return (view.unit, view.complaint_id)

    assert sorted(views, key=key) == sorted(result.views, key=key)
    watermark = result.watermark
    assert watermark is not None
    streamed_scores = all_period_scores(
        (ScoreInput.from_view(v) for v in views), watermark, registry=REGISTRY
    )
    assert streamed_scores == result.scores
    for unit, snapshot in result.units.items():
        mine = kpis.unit_snapshot(unit, watermark)
        assert mine.counters.to_json() == snapshot.counters.to_json(), unit
        assert mine.sla_missed_open == snapshot.sla_missed_open
        assert mine.open_past == snapshot.open_past
        assert mine.windows == snapshot.windows


# -- the real data sets ------------------------------------------------------------------


def data_file(name: str) -> Path:
    return shared_file("data", name)


def registry_for(units: set[str]) -> Any:
    """A registry with the data set's units, office hours, the national default targets."""
    document = {
        "version": "replay-test",
        "calendars": {"office": {"kind": "office_hours", "start": "08:00", "end": "16:00"}},
        "units": [{"code": u, "name": u, "calendar": "office"} for u in sorted(units)],
        "targets": [
            {
                "effective_from": "2000-01-01",
                "unit": "*",
                "category": "*",
                "priority": "*",
                "response": {"clock": "wall", "hours": 24},
                "resolution": {"clock": "working", "days": 5},
            }
        ],
    }
    return parse_registry(yaml.safe_load(yaml.safe_dump(document)), "test", frozenset())


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return next(v for v in ordered if sum(x <= v for x in ordered) >= q * len(ordered))


def independent(
    path: Path,
    *,
    id_column: str,
    unit_column: str,
    created_column: str,
    closed_column: str,
    cancelled_column: str | None,
    zone: str,
    formats: list[str],
    unit_map: dict[str, str],
    missing: set[str],
) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Created per unit, and daily resolution scores, straight from the CSV."""
    tz = ZoneInfo(zone)

    def parse(text: str) -> datetime | None:
        if text.strip() in missing:
            return None
        for fmt in formats:
            try:
                local = datetime.strptime(text.strip(), fmt)
            except ValueError:
                continue
            return local.replace(tzinfo=tz)
        raise AssertionError(f"unparsable {text!r}")

    created_by_unit: Counter[str] = Counter()
    durations: dict[tuple[date, str], list[float]] = {}
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            if row[id_column] in seen:
                continue
            created = parse(row[created_column])
            closed = parse(row[closed_column])
            cancelled = parse(row[cancelled_column]) if cancelled_column else None
            if created is None:
                continue
            end = cancelled if cancelled is not None else closed
            if end is not None and end < created:
                continue  # the replay reports these rows as problems
            seen.add(row[id_column])
            raw_unit = row[unit_column]
            unit = unit_map.get(raw_unit) or slugify_unit(raw_unit)
            created_by_unit[unit] += 1
            if cancelled is None and closed is not None:
                day = closed.astimezone(JAKARTA).date()
                # Aware datetimes sharing one ZoneInfo subtract as wall clocks (DST ignored):
                # subtract instants instead.
                elapsed = (closed.astimezone(UTC) - created.astimezone(UTC)).total_seconds()
                durations.setdefault((day, unit), []).append(elapsed)
    scores = [
        {
            "unit": unit,
            "period": "day",
            "period_start": day.isoformat(),
            "resolved": len(values),
            "resolution_p50_wall_seconds": nearest_rank(values, 0.5),
            "resolution_p90_wall_seconds": nearest_rank(values, 0.9),
        }
        for (day, unit), values in sorted(durations.items())
    ]
    return created_by_unit, scores


@pytest.mark.parametrize(
    ("file_name", "mapping_name", "columns"),
    [
        (
            "baltimore_311_customer_service_requests_2019-10.csv",
            "baltimore-311.yaml",
            {
                "id_column": "ServiceRequestNum",
                "unit_column": "Agency",
                "created_column": "CreatedDate",
                "closed_column": "CloseDate",
                "cancelled_column": None,
                "zone": "America/New_York",
                "formats": ["%m/%d/%Y %I:%M:%S %p"],
            },
        ),
        pytest.param(
            "stlouis_csb_service_requests_2009_2012.csv",
            "stlouis-csb.yaml",
            {
                "id_column": "REQUESTID",
                "unit_column": "SUBMITTO",
                "created_column": "DATETIMEINIT",
                "closed_column": "DATETIMECLOSED",
                "cancelled_column": "DATECANCELLED",
                "zone": "America/Chicago",
                "formats": ["%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"],
            },
            marks=pytest.mark.slow,  # four years of requests
        ),
    ],
)
def test_replay_of_real_data_matches_an_independent_computation(
    file_name: str, mapping_name: str, columns: dict[str, Any]
) -> None:
    path = data_file(file_name)
    mapping_path = ROOT / "deploy" / "csv-mappings" / mapping_name
    mapping = load_csv_mapping(mapping_path)
    created_by_unit, scores = independent(
        path,
        **columns,
        unit_map=dict(mapping.unit_map),
        missing=set(mapping.missing_values),
    )
    registry = registry_for(set(created_by_unit))
    events, report = open_source(path, mapping_path)
    result = replay(events, registry)
    assert result.rejected == Counter()
    assert {u: s.counters.created for u, s in result.units.items() if s.counters.created} == dict(
        created_by_unit
    )
    v1_keys = [
        "unit",
        "period",
        "period_start",
        "resolved",
        "resolution_p50_wall_seconds",
        "resolution_p90_wall_seconds",
    ]
    replayed = [
        {key: score.as_json()[key] for key in v1_keys}
        for score in result.scores
        if score.period == "day" and score.category == "*" and score.resolved
    ]
    assert replayed == scores
    resolved = sum(s["resolved"] for s in scores)
    assert sum(s.counters.resolved for s in result.units.values()) == resolved
    # Every row is accounted for: a created event, or a reported problem.
    assert report.rows == sum(created_by_unit.values()) + len(report.problems)
