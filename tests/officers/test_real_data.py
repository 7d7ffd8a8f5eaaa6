"""Officer scores on a real public data set (Open Baltimore 311, ../shared/data), officer codes
assigned deterministically to its rows, against a computation straight from the CSV."""

from __future__ import annotations

import csv
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from schemas.events import ComplaintEvent
from sigap.core.calendar import JAKARTA
from sigap.replay import replay
from sigap.replay_sources import load_csv_mapping, open_source, slugify_unit
from tests.shared import shared_file
from tests.test_replay import nearest_rank, registry_for

ROOT = Path(__file__).resolve().parents[2]
FILE = "baltimore_311_customer_service_requests_2019-10.csv"
MAPPING = ROOT / "deploy" / "csv-mappings" / "baltimore-311.yaml"
HAND_OVER_AFTER = timedelta(hours=2)


def officers_of(complaint_id: str) -> tuple[str, str | None]:
    """(receiving officer, officer handed to after HAND_OVER_AFTER or None), from the id."""
    digest = zlib.crc32(complaint_id.encode())
    first = f"o{digest % 4}"
    other = f"o{(digest // 4) % 4}"
    return first, (other if digest % 3 == 0 and other != first else None)


def with_officers(events: Iterator[ComplaintEvent]) -> Iterator[ComplaintEvent]:
    for event in events:
        if event.type != "created":
            yield event
            continue
        first, second = officers_of(event.complaint_id)
        yield event.model_copy(update={"officer": first})
        if second is not None:
            yield ComplaintEvent.model_validate(
                {
                    "event_id": f"{event.event_id}-handed-over",
                    "type": "handed_over",
                    "complaint_id": event.complaint_id,
                    "occurred_at": event.occurred_at + HAND_OVER_AFTER,
                    "officer": second,
                }
            )


def independent(path: Path) -> tuple[Counter[tuple[str, str]], list[dict[str, Any]]]:
    """Received per (unit, officer) and daily resolution figures per (unit, officer), read
    straight from the CSV with the mapping's rules (the first row of an id counts)."""
    mapping = load_csv_mapping(MAPPING)
    zone = ZoneInfo("America/New_York")
    missing = set(mapping.missing_values)
    prefix = "bal-"

    def parse(text: str) -> datetime | None:
        if text.strip() in missing:
            return None
        return datetime.strptime(text.strip(), "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=zone)

    received: Counter[tuple[str, str]] = Counter()
    durations: dict[tuple[date, str, str], list[float]] = {}
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            complaint_id = prefix + row["ServiceRequestNum"]
            if complaint_id in seen:
                continue
            created, closed = parse(row["CreatedDate"]), parse(row["CloseDate"])
            if created is None or (closed is not None and closed < created):
                continue
            seen.add(complaint_id)
            unit = dict(mapping.unit_map).get(row["Agency"]) or slugify_unit(row["Agency"])
            first, second = officers_of(complaint_id)
            received[(unit, first)] += 1
            if closed is None:
                continue
            created_utc, closed_utc = created.astimezone(UTC), closed.astimezone(UTC)
            # The hand-over happens HAND_OVER_AFTER after receipt; at the same instant as
            # the resolution, it comes first: the new officer resolves.
            resolver = (
                second
                if second is not None and created_utc + HAND_OVER_AFTER <= closed_utc
                else first
            )
            day = closed.astimezone(JAKARTA).date()
            elapsed = (closed_utc - created_utc).total_seconds()
            durations.setdefault((day, unit, resolver), []).append(elapsed)
    scores = [
        {
            "unit": unit,
            "officer": officer,
            "period_start": day.isoformat(),
            "resolved": len(values),
            "resolution_p50_wall_seconds": nearest_rank(values, 0.5),
            "resolution_p90_wall_seconds": nearest_rank(values, 0.9),
        }
        for (day, unit, officer), values in sorted(durations.items())
    ]
    return received, scores


def test_officer_scores_on_real_data_match_an_independent_computation() -> None:
    path = shared_file("data", FILE)
    received, expected = independent(path)
    registry = registry_for({unit for unit, _ in received})
    events, _ = open_source(path, MAPPING)
    result = replay(list(with_officers(events)), registry)
    assert result.rejected == Counter()
    officer_days = [s for s in result.officer_scores if s.score.category == "*"]
    keys = list(expected[0])
    replayed = sorted(
        (
            {key: item.as_json()[key] for key in keys}
            for item in officer_days
            if item.score.period == "day" and item.score.resolved
        ),
        key=lambda row: (row["period_start"], row["unit"], row["officer"]),
    )
    expected.sort(key=lambda row: (row["period_start"], row["unit"], row["officer"]))
    assert replayed == expected
    assert len({row["officer"] for row in replayed}) >= 4
    got_received: Counter[tuple[str, str]] = Counter()
    for item in officer_days:
        if item.score.period == "month":
            got_received[(item.unit, item.officer)] += item.score.received
    assert got_received == received
    # Some resolutions were made by the officer the complaint was handed to.
    handed = sum(1 for cid in {v.complaint_id for v in result.views} if officers_of(cid)[1])
    assert handed > 100
