"""Replay sources: JSONL events and 311 CSV exports through a column mapping.

The real-data tests recompute every expected count here with the csv module and zoneinfo,
not through the module's helpers. The data lives beside the repository (../shared/data);
its absence fails these tests: it is never a reason to skip them.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import UNIT_PATTERN, ComplaintEvent
from sigap.core.registry_file import load_registry
from sigap.replay_sources import (
    SourceError,
    SourceProblem,
    SourceReport,
    load_csv_mapping,
    open_source,
    read_csv_events,
    read_jsonl_events,
    slugify_unit,
)
from tests.properties import examples
from tests.shared import shared_file

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "deploy" / "csv-mappings"
BALTIMORE_CSV = "baltimore_311_customer_service_requests_2019-10.csv"
STLOUIS_CSV = "stlouis_csb_service_requests_2009_2012.csv"
BALTIMORE_MAPPING = MAPPINGS / "baltimore-311.yaml"
STLOUIS_MAPPING = MAPPINGS / "stlouis-csb.yaml"

EDT = timezone(timedelta(hours=-4))
CDT = timezone(timedelta(hours=-5))
CST = timezone(timedelta(hours=-6))

CSV_REASONS = {
    "malformed_row",
    "missing_id",
    "invalid_id",
    "duplicate_id",
    "missing_created",
    "bad_created",
    "missing_unit",
    "invalid_unit",
    "bad_cancelled",
    "cancelled_before_created",
    "bad_closed",
    "closed_before_created",
    "invalid_event",
}


def data_file(name: str) -> Path:
    return shared_file("data", name)


def collect(path: Path, mapping_path: Path | None) -> tuple[list[ComplaintEvent], SourceReport]:
    events, report = open_source(path, mapping_path)
    return list(events), report


def by_type(events: list[ComplaintEvent]) -> dict[str, dict[str, ComplaintEvent]]:
    """type -> complaint_id -> event (each CSV complaint has at most one event per type)."""
    table: dict[str, dict[str, ComplaintEvent]] = {}
    for event in events:
        per_type = table.setdefault(event.type, {})
        assert event.complaint_id not in per_type, event.event_id
        per_type[event.complaint_id] = event
    return table


def assert_accounted(report: SourceReport, events: list[ComplaintEvent]) -> None:
    created = sum(1 for event in events if event.type == "created")
    assert report.rows == created + len(report.problems)
    assert report.events == len(events)
    assert sum(report.reasons().values()) == len(report.problems)


# --------------------------------------------------------------------------------------
# JSONL
# --------------------------------------------------------------------------------------

VALID_CREATED = (
    b'{"event_id":"e1","type":"created","complaint_id":"c1",'
    b'"occurred_at":"2026-01-05T08:00:00+07:00","unit":"dlh","reporter":"Budi"}'
)
VALID_RESOLVED = (
    b'{"event_id":"e2","type":"resolved","complaint_id":"c1",'
    b'"occurred_at":"2026-01-05T10:00:00+07:00"}'
)


def test_jsonl_valid_and_invalid_lines(tmp_path: Path) -> None:
    lines = [
        VALID_CREATED,  # 1
        b"",  # 2: blank, not a row
        b"{not json",  # 3
        b'{"event_id":"e3","type":"created","complaint_id":"c2",'
        b'"occurred_at":"2026-01-05T08:00:00+07:00"}',  # 4: created without unit
        b'{"event_id":"e4","type":"resolved","complaint_id":"c2",'
        b'"occurred_at":"2026-01-05T08:00:00"}',  # 5: no offset
        b'{"event_id":"e5","type":"archived","complaint_id":"c2",'
        b'"occurred_at":"2026-01-05T08:00:00+07:00"}',  # 6
        b"[1, 2]",  # 7
        VALID_RESOLVED,  # 8
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    events, report = collect(path, None)

    assert [event.event_id for event in events] == ["e1", "e2"]
    assert events[0].unit == "dlh"
    assert not hasattr(events[0], "reporter")
    assert report.rows == 7
    assert report.events == 2
    assert report.problems == [
        SourceProblem("events.jsonl:3", "not_json"),
        SourceProblem("events.jsonl:4", "missing_unit"),
        SourceProblem("events.jsonl:5", "timestamp_without_offset"),
        SourceProblem("events.jsonl:6", "unknown_type"),
        SourceProblem("events.jsonl:7", "not_object"),
    ]
    assert report.rows == report.events + len(report.problems)


def test_jsonl_reader_fills_the_report_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(VALID_CREATED + b"\n")
    report = SourceReport()
    iterator = read_jsonl_events(path, report)
    assert report.rows == 0  # lazy: nothing read before iteration
    assert len(list(iterator)) == 1
    assert (report.rows, report.events, report.problems) == (1, 1, [])


def test_open_source_rejects_wrong_combinations(tmp_path: Path) -> None:
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_bytes(VALID_CREATED + b"\n")
    exported = tmp_path / "export.csv"
    exported.write_text("id,created,unit\n1,2020-01-01 00:00:00,x\n")

    with pytest.raises(SourceError, match=r"export\.csv: a CSV file needs a column mapping"):
        open_source(exported, None)
    with pytest.raises(SourceError, match=r"CSV mapping applies to \.csv files only"):
        open_source(jsonl, BALTIMORE_MAPPING)
    with pytest.raises(SourceError, match=r"unknown replay file kind '\.txt'"):
        open_source(tmp_path / "events.txt", None)
    with pytest.raises(SourceError, match=r"missing\.jsonl: no such file"):
        open_source(tmp_path / "missing.jsonl", None)
    with pytest.raises(SourceError, match=r"missing\.csv: no such file"):
        open_source(tmp_path / "missing.csv", BALTIMORE_MAPPING)
    with pytest.raises(SourceError, match=r"nope\.yaml: cannot read the CSV mapping"):
        open_source(exported, tmp_path / "nope.yaml")


# --------------------------------------------------------------------------------------
# Mapping files
# --------------------------------------------------------------------------------------

MINIMAL_MAPPING = """\
name: test
timezone: America/Chicago
timestamp_formats: ["%Y-%m-%d %H:%M:%S"]
id_prefix: "t-"
columns:
  complaint_id: id
  created_at: created
  closed_at: closed
  cancelled_at: cancelled
  unit: dept
  category: kind
  channel: via
"""


def write_mapping(tmp_path: Path, text: str, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def mapping_error(tmp_path: Path, text: str) -> str:
    path = write_mapping(tmp_path, text, "broken.yaml")
    with pytest.raises(SourceError) as caught:
        load_csv_mapping(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_shipped_mappings_load() -> None:
    baltimore = load_csv_mapping(BALTIMORE_MAPPING)
    stlouis = load_csv_mapping(STLOUIS_MAPPING)
    assert (baltimore.name, baltimore.timezone, baltimore.id_prefix) == (
        "baltimore-311",
        "America/New_York",
        "bal-",
    )
    assert (stlouis.name, stlouis.timezone, stlouis.id_prefix) == (
        "stlouis-csb",
        "America/Chicago",
        "stl-",
    )
    assert stlouis.columns.cancelled_at == "DATECANCELLED"
    assert "DESCRIPTION" not in stlouis.columns.used().values()
    assert "EXPLANATION" not in stlouis.columns.used().values()


def test_minimal_mapping_defaults(tmp_path: Path) -> None:
    mapping = load_csv_mapping(write_mapping(tmp_path, MINIMAL_MAPPING))
    assert mapping.unit_map == {}
    assert mapping.missing_values == [""]
    assert mapping.encoding == "utf-8-sig"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (MINIMAL_MAPPING.replace("  unit: dept\n", ""), "columns.unit: Field required"),
        (MINIMAL_MAPPING.replace("America/Chicago", "America/Gotham"), "timezone: Value error"),
        (
            MINIMAL_MAPPING.replace('["%Y-%m-%d %H:%M:%S"]', "[]"),
            "timestamp_formats: List should have at least 1 item",
        ),
        (MINIMAL_MAPPING + "unit_map:\n  Solid Waste: Solid Waste\n", "unit_map.Solid Waste:"),
        (MINIMAL_MAPPING + "category_map:\n  x: ''\n", "category_map.x:"),
        (MINIMAL_MAPPING + "chanel_map: {}\n", "chanel_map: Extra inputs are not permitted"),
        (
            MINIMAL_MAPPING.replace("  channel: via\n", "  channel: via\n  description: notes\n"),
            "columns.description: Extra inputs",
        ),
        (MINIMAL_MAPPING.replace('id_prefix: "t-"\n', ""), "id_prefix: Field required"),
        (MINIMAL_MAPPING + "encoding: klingon\n", "encoding: Value error, unknown text encoding"),
    ],
)
def test_mapping_errors_name_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    assert field in mapping_error(tmp_path, text)


def test_mapping_that_is_not_a_yaml_mapping(tmp_path: Path) -> None:
    assert "not valid YAML" in mapping_error(tmp_path, "name: [unclosed\n")
    assert "must be a YAML mapping" in mapping_error(tmp_path, "- just\n- a list\n")


def test_mapped_column_missing_from_the_header(tmp_path: Path) -> None:
    mapping = load_csv_mapping(write_mapping(tmp_path, MINIMAL_MAPPING))
    path = tmp_path / "export.csv"
    path.write_text("id,created,closed,dept,kind\n")
    with pytest.raises(SourceError) as caught:
        read_csv_events(path, mapping, SourceReport())
    message = str(caught.value)
    assert "export.csv" in message
    assert "columns.cancelled_at = 'cancelled'" in message
    assert "columns.channel = 'via'" in message


# --------------------------------------------------------------------------------------
# CSV row rules (small files written by the tests)
# --------------------------------------------------------------------------------------

HEADER = ["id", "created", "closed", "cancelled", "dept", "kind", "via", "notes"]


def write_csv(tmp_path: Path, rows: list[list[str]], name: str = "export.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def read_rows(
    tmp_path: Path, rows: list[list[str]], extra_mapping: str = ""
) -> tuple[list[ComplaintEvent], SourceReport]:
    mapping = load_csv_mapping(write_mapping(tmp_path, MINIMAL_MAPPING + extra_mapping))
    report = SourceReport()
    events = list(read_csv_events(write_csv(tmp_path, rows), mapping, report))
    assert_accounted(report, events)
    return events, report


def test_created_and_resolved(tmp_path: Path) -> None:
    events, report = read_rows(
        tmp_path,
        [
            ["1", "2012-01-10 09:00:00", "2012-01-11 10:30:00", "", "FORESTRY,", "Tree", "WEB", ""],
            ["2", "2012-07-10 09:00:00", "", "", "Street Dept", "", "", "call me"],
        ],
    )
    assert [(event.event_id, event.type) for event in events] == [
        ("t-1-created", "created"),
        ("t-1-resolved", "resolved"),
        ("t-2-created", "created"),
    ]
    created, resolved, second = events
    assert created.complaint_id == resolved.complaint_id == "t-1"
    assert created.occurred_at == datetime(2012, 1, 10, 9, tzinfo=CST)
    assert resolved.occurred_at == datetime(2012, 1, 11, 10, 30, tzinfo=CST)
    assert (created.unit, created.category, created.channel) == ("forestry", "Tree", "WEB")
    assert resolved.unit is None
    assert second.occurred_at.isoformat() == "2012-07-10T09:00:00-05:00"
    assert (second.unit, second.category, second.channel) == ("street-dept", None, None)
    assert (report.rows, report.events, report.problems) == (2, 3, [])


def test_cancelled_row_gets_closed_and_no_resolved(tmp_path: Path) -> None:
    events, report = read_rows(
        tmp_path,
        [
            # Cancelled and closed: the cancellation wins, the close is not read.
            [
                "1",
                "2012-01-10 09:00:00",
                "2013-05-06 00:00:00",
                "2012-01-12 08:00:00",
                "a",
                "",
                "",
                "",
            ],
            # Cancelled with an unparsable close: still fine, the close is not read.
            ["2", "2012-01-10 09:00:00", "garbage", "2012-01-10 09:00:00", "a", "", "", ""],
        ],
    )
    assert [(event.event_id, event.type) for event in events] == [
        ("t-1-created", "created"),
        ("t-1-closed", "closed"),
        ("t-2-created", "created"),
        ("t-2-closed", "closed"),
    ]
    assert events[1].occurred_at == datetime(2012, 1, 12, 8, tzinfo=CST)
    assert report.problems == []


def test_bad_rows_are_reported_and_yield_nothing(tmp_path: Path) -> None:
    ok = "2012-01-10 09:00:00"
    rows = [
        ["1", ok, "", "", "a", "", "", ""],  # line 2: fine
        ["", ok, "", "", "a", "", "", ""],  # 3
        ["x" * 120, ok, "", "", "a", "", "", ""],  # 4: too long with prefix and suffix
        ["3", "", "", "", "a", "", "", ""],  # 5
        ["4", "10/01/2012", "", "", "a", "", "", ""],  # 6
        ["5", ok, "", "", "", "", "", ""],  # 7
        ["6", ok, "", "", " ### ", "", "", ""],  # 8
        ["7", ok, "", "yesterday", "a", "", "", ""],  # 9
        ["8", ok, "", "2012-01-10 08:59:59", "a", "", "", ""],  # 10
        ["9", ok, "2012-13-40 00:00:00", "", "a", "", "", ""],  # 11
        ["10", ok, "2012-01-10 08:59:59", "", "a", "", "", ""],  # 12
        ["1", ok, "", "", "b", "", "", ""],  # 13: repeats line 2's id
        ["11", ok, ""],  # 14: short row
        ["12", "2012-01-10 09:00:00", "2012-01-10 09:00:00", "", "a", "", "", ""],  # 15: ok
    ]
    events, report = read_rows(tmp_path, rows)
    assert [event.event_id for event in events] == [
        "t-1-created",
        "t-12-created",
        "t-12-resolved",  # a close at the creation instant is fine
    ]
    assert events[0].unit == "a"  # the earlier of the duplicates is kept
    assert report.problems == [
        SourceProblem("export.csv:3", "missing_id"),
        SourceProblem("export.csv:4", "invalid_id"),
        SourceProblem("export.csv:5", "missing_created"),
        SourceProblem("export.csv:6", "bad_created"),
        SourceProblem("export.csv:7", "missing_unit"),
        SourceProblem("export.csv:8", "invalid_unit"),
        SourceProblem("export.csv:9", "bad_cancelled"),
        SourceProblem("export.csv:10", "cancelled_before_created"),
        SourceProblem("export.csv:11", "bad_closed"),
        SourceProblem("export.csv:12", "closed_before_created"),
        SourceProblem("export.csv:13", "duplicate_id"),
        SourceProblem("export.csv:14", "malformed_row"),
    ]
    assert report.rows == len(rows)
    assert set(report.reasons()) <= CSV_REASONS


def test_duplicate_of_a_rejected_row_is_not_a_duplicate(tmp_path: Path) -> None:
    events, report = read_rows(
        tmp_path,
        [
            ["1", "not a time", "", "", "a", "", "", ""],
            ["1", "2012-01-10 09:00:00", "", "", "a", "", "", ""],
        ],
    )
    assert [event.event_id for event in events] == ["t-1-created"]
    assert report.problems == [SourceProblem("export.csv:2", "bad_created")]


def test_line_numbers_follow_multiline_fields_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "id,created,closed,cancelled,dept,kind,via,notes\n"  # 1
        '1,2012-01-10 09:00:00,,,a,,,"first line\n'  # 2
        'second line"\n'  # 3
        "\n"  # 4: blank
        "2,,,,a,,,\n",  # 5
        encoding="utf-8",
    )
    mapping = load_csv_mapping(write_mapping(tmp_path, MINIMAL_MAPPING))
    report = SourceReport()
    events = list(read_csv_events(path, mapping, report))
    assert [event.event_id for event in events] == ["t-1-created"]
    assert report.rows == 2
    assert report.problems == [SourceProblem("export.csv:5", "missing_created")]


def test_maps_missing_values_and_label_limits(tmp_path: Path) -> None:
    extra = (
        'missing_values: ["", "NA"]\n'
        "unit_map:\n  Solid Waste: dpw-sw\n"
        "category_map:\n  Pothole: jalan-berlubang\n"
        "channel_map:\n  Phone: phone\n"
    )
    long_kind = "K" * 70
    events, report = read_rows(
        tmp_path,
        [
            ["1", "2012-01-10 09:00:00", "NA", "NA", "Solid Waste", "Pothole", "Phone", ""],
            ["2", "2012-01-10 09:00:00", "", "", "Dept of Pólice & Fire, 511", long_kind, "NA", ""],
        ],
        extra,
    )
    first, second = events
    assert (first.unit, first.category, first.channel) == ("dpw-sw", "jalan-berlubang", "phone")
    assert second.unit == "dept-of-police-fire-511"
    assert second.category == "K" * 64
    assert second.channel is None
    assert report.problems == []


def test_timestamp_formats_are_tried_in_order_and_offsets_are_kept(tmp_path: Path) -> None:
    extra_formats = MINIMAL_MAPPING.replace(
        '["%Y-%m-%d %H:%M:%S"]', '["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y"]'
    )
    mapping = load_csv_mapping(write_mapping(tmp_path, extra_formats))
    path = write_csv(
        tmp_path,
        [
            ["1", "2012-01-10T09:00:00+07:00", "", "", "a", "", "", ""],
            ["2", "2012-01-10 09:00:00", "", "", "a", "", "", ""],
            ["3", "10.01.2012", "", "", "a", "", "", ""],
        ],
    )
    events = list(read_csv_events(path, mapping, SourceReport()))
    assert [event.occurred_at.isoformat() for event in events] == [
        "2012-01-10T09:00:00+07:00",
        "2012-01-10T09:00:00-06:00",
        "2012-01-10T00:00:00-06:00",
    ]


def test_dst_edges_use_fold_0_and_fixed_offsets(tmp_path: Path) -> None:
    events, report = read_rows(
        tmp_path,
        [
            # 01:30 happens twice on 2012-11-04 in Chicago: the first (CDT) is taken.
            ["1", "2012-11-04 01:30:00", "2012-11-04 01:45:00", "", "a", "", "", ""],
            # 02:30 does not exist on 2012-03-11: the offset before the gap (CST) is taken,
            # so it is 03:30 CDT and a close at 03:10 CDT would come before it.
            ["2", "2012-03-11 02:30:00", "2012-03-11 03:40:00", "", "a", "", "", ""],
            ["4", "2012-03-11 02:30:00", "2012-03-11 03:10:00", "", "a", "", "", ""],
            # A close across the autumn change: 10 real hours, 9 on the wall clock.
            ["3", "2012-11-03 20:00:00", "2012-11-04 05:00:00", "", "a", "", "", ""],
        ],
    )
    times = {event.event_id: event.occurred_at for event in events}
    assert times["t-1-created"].isoformat() == "2012-11-04T01:30:00-05:00"
    assert times["t-2-created"].isoformat() == "2012-03-11T02:30:00-06:00"
    assert times["t-2-resolved"].isoformat() == "2012-03-11T03:40:00-05:00"
    assert times["t-2-resolved"] - times["t-2-created"] == timedelta(minutes=10)
    assert report.problems == [SourceProblem("export.csv:4", "closed_before_created")]
    assert times["t-3-resolved"] - times["t-3-created"] == timedelta(hours=10)
    # Fixed offsets, not the zone: same-tzinfo subtraction would be wall-clock arithmetic.
    assert all(type(moment.tzinfo) is timezone for moment in times.values())


@pytest.mark.parametrize(
    ("source", "unit"),
    [
        ("COMM SANITATION,", "comm-sanitation"),
        ("TRAFFIC DIVISION, 511", "traffic-division-511"),
        ("Recreation & Parks", "recreation-parks"),
        ("  Dinas Lingkungan Hidup  ", "dinas-lingkungan-hidup"),
        ("Café_Ünit", "cafe-unit"),
        ("---", ""),
        ("市政", ""),
        ("a" * 63 + " b" * 5, "a" * 63),
    ],
)
def test_slugify_unit(source: str, unit: str) -> None:
    assert slugify_unit(source) == unit


@given(st.text(max_size=200))
def test_slugify_unit_gives_a_unit_code_or_nothing(source: str) -> None:
    unit = slugify_unit(source)
    assert unit == "" or re.fullmatch(UNIT_PATTERN, unit)


CELL = st.one_of(
    st.sampled_from(
        ["", "NA", "2012-01-10 09:00:00", "2012-01-09 09:00:00", "2013-01-01 00:00:00"]
    ),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELL, min_size=7, max_size=9), max_size=12))
def test_every_row_is_accounted_for(rows: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp_path = Path(folder)
        mapping = load_csv_mapping(write_mapping(tmp_path, MINIMAL_MAPPING))
        path = write_csv(tmp_path, rows)
        report = SourceReport()
        events = list(read_csv_events(path, mapping, report))
    assert_accounted(report, events)
    assert set(report.reasons()) <= CSV_REASONS
    for event in events:
        assert event.complaint_id.startswith("t-")


# --------------------------------------------------------------------------------------
# The real data sets, checked against an independent reading with csv + zoneinfo
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    rows: int
    created: set[str]  # complaint ids (with prefix)
    resolved: dict[str, datetime]
    closed: dict[str, datetime]


def localise(text: str, fmt: str, zone: ZoneInfo) -> datetime | None:
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=zone)
    except ValueError:
        return None


def expected_from(
    path: Path,
    *,
    prefix: str,
    id_column: str,
    created_column: str,
    closed_column: str,
    cancelled_column: str | None,
    unit_column: str,
    fmt: str,
    zone: ZoneInfo,
) -> Expected:
    created: set[str] = set()
    resolved: dict[str, datetime] = {}
    closed: dict[str, datetime] = {}
    rows = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows += 1
            complaint_id = prefix + row[id_column].strip()
            start = localise(row[created_column], fmt, zone)
            if not row[id_column].strip() or start is None or not row[unit_column].strip():
                continue
            if complaint_id in created:
                continue
            cancelled = row[cancelled_column] if cancelled_column else ""
            if cancelled:
                end = localise(cancelled, fmt, zone)
                if end is None or end < start:
                    continue
                closed[complaint_id] = end
            elif row[closed_column]:
                end = localise(row[closed_column], fmt, zone)
                if end is None or end < start:
                    continue
                resolved[complaint_id] = end
            created.add(complaint_id)
    return Expected(rows, created, resolved, closed)


def check_against(expected: Expected, events: list[ComplaintEvent], report: SourceReport) -> None:
    table = by_type(events)
    assert set(table) <= {"created", "resolved", "closed"}
    assert report.rows == expected.rows
    assert set(table["created"]) == expected.created
    assert {cid: event.occurred_at for cid, event in table.get("resolved", {}).items()} == (
        expected.resolved
    )
    assert {cid: event.occurred_at for cid, event in table.get("closed", {}).items()} == (
        expected.closed
    )
    assert report.rows == len(expected.created) + len(report.problems)
    assert_accounted(report, events)
    assert set(report.reasons()) <= CSV_REASONS


def test_missing_data_fails_rather_than_skips() -> None:
    missing = re.escape("no-such-export.csv is missing: the tests need the shared/ folder")
    with pytest.raises(pytest.fail.Exception, match=missing):
        data_file("no-such-export.csv")


@pytest.fixture(scope="module")
def baltimore() -> tuple[list[ComplaintEvent], SourceReport]:
    return collect(data_file(BALTIMORE_CSV), BALTIMORE_MAPPING)


@pytest.fixture(scope="module")
def stlouis() -> tuple[list[ComplaintEvent], SourceReport]:
    return collect(data_file(STLOUIS_CSV), STLOUIS_MAPPING)


def test_baltimore_counts(baltimore: tuple[list[ComplaintEvent], SourceReport]) -> None:
    events, report = baltimore
    expected = expected_from(
        data_file(BALTIMORE_CSV),
        prefix="bal-",
        id_column="ServiceRequestNum",
        created_column="CreatedDate",
        closed_column="CloseDate",
        cancelled_column=None,
        unit_column="Agency",
        fmt="%m/%d/%Y %I:%M:%S %p",
        zone=ZoneInfo("America/New_York"),
    )
    assert expected.rows == 3000  # SOURCE.md
    check_against(expected, events, report)
    # Every CloseDate in this export is usable: 46.8 % of rows are closed.
    with data_file(BALTIMORE_CSV).open(newline="", encoding="utf-8") as handle:
        filled = sum(1 for row in csv.DictReader(handle) if row["CloseDate"])
    assert len(expected.resolved) == filled == 1404
    assert report.problems == []


def test_baltimore_rows_by_hand(baltimore: tuple[list[ComplaintEvent], SourceReport]) -> None:
    events, _ = baltimore
    table = by_type(events)
    first = table["created"]["bal-19-00711545"]
    assert first.event_id == "bal-19-00711545-created"
    assert first.occurred_at.isoformat() == "2019-10-21T11:49:49-04:00"
    # TRM-Street and Crosswalk Markings, mapped onto the registry's taxonomy.
    assert (first.unit, first.category, first.channel) == (
        "transportation",
        "roads_bridges",
        "phone",
    )
    assert "bal-19-00711545" not in table["resolved"]
    # Line 7: created 10/21/2019 11:48:43 AM, closed 11:49:18 AM, Call Center.
    assert table["created"]["bal-19-00711540"].occurred_at == datetime(
        2019, 10, 21, 11, 48, 43, tzinfo=EDT
    )
    assert table["created"]["bal-19-00711540"].unit == "call-center"
    closed = table["resolved"]["bal-19-00711540"]
    assert closed.event_id == "bal-19-00711540-resolved"
    assert closed.occurred_at == datetime(2019, 10, 21, 11, 49, 18, tzinfo=EDT)
    # October 2019 is summer time throughout: every event is at -04:00.
    assert {event.occurred_at.utcoffset() for event in events} == {timedelta(hours=-4)}


def test_baltimore_labels_fit_the_contract(
    baltimore: tuple[list[ComplaintEvent], SourceReport],
) -> None:
    events, _ = baltimore
    mapping = load_csv_mapping(BALTIMORE_MAPPING)
    created = [event for event in events if event.type == "created"]
    assert {event.unit for event in created} == set(mapping.unit_map.values())
    assert {event.channel for event in created} == set(mapping.channel_map.values())
    # SRType is mapped onto the registry's taxonomy where it sensibly belongs, else kept.
    with data_file(BALTIMORE_CSV).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        source = {f"bal-{row['ServiceRequestNum']}": row["SRType"] for row in reader}
    assert len(set(source.values())) == 147  # SOURCE.md
    for event in created:
        raw = source[event.complaint_id]
        assert event.category == mapping.category_map.get(raw, raw)
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    assert set(mapping.category_map.values()) <= set(registry.category_specs)
    in_taxonomy = Counter(event.category in registry.category_specs for event in created)
    assert in_taxonomy[True] == 2502  # of 3000: the rest are information requests etc.
    categories = Counter(event.category for event in created)
    assert categories["animals"] == 110
    assert categories["ECC-Information Request"] == 122  # not a complaint category: kept


def test_stlouis_counts(stlouis: tuple[list[ComplaintEvent], SourceReport]) -> None:
    events, report = stlouis
    source = data_file(STLOUIS_CSV)
    expected = expected_from(
        source,
        prefix="stl-",
        id_column="REQUESTID",
        created_column="DATETIMEINIT",
        closed_column="DATETIMECLOSED",
        cancelled_column="DATECANCELLED",
        unit_column="SUBMITTO",
        fmt="%Y-%m-%d %H:%M:%S.%f",
        zone=ZoneInfo("America/Chicago"),
    )
    assert expected.rows == 7920  # SOURCE.md
    check_against(expected, events, report)

    # Every problem in this export is a close stamped before the creation.
    zone = ZoneInfo("America/Chicago")
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    before: list[int] = []
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            start = localise(row["DATETIMEINIT"], fmt, zone)
            end = localise(row["DATETIMECLOSED"], fmt, zone) if row["DATETIMECLOSED"] else None
            if not row["DATECANCELLED"] and start and end and end < start:
                before.append(reader.line_num)  # no multi-line records in this file
    assert report.reasons() == Counter({"closed_before_created": len(before)})
    assert [problem.location for problem in report.problems] == [
        f"{STLOUIS_CSV}:{line}" for line in before
    ]


def test_stlouis_rows_by_hand(stlouis: tuple[list[ComplaintEvent], SourceReport]) -> None:
    events, report = stlouis
    table = by_type(events)
    # Line 2: created 2009-01-02 08:26:34.0, closed 2014-12-03 11:16:34.96 (a bulk closure).
    first = table["created"]["stl-9155"]
    assert first.occurred_at.isoformat() == "2009-01-02T08:26:34-06:00"
    # "No Heat, Int" (group Prpty Insp Interior), mapped onto the registry's taxonomy.
    assert (first.unit, first.category, first.channel) == (
        "comm-sanitation",
        "buildings_housing",
        None,
    )
    assert table["resolved"]["stl-9155"].occurred_at == datetime(
        2014, 12, 3, 11, 16, 34, 960000, tzinfo=CST
    )
    # Line 1363: July, by phone, to Forestry, closed the same day.
    july = table["created"]["stl-165462"]
    assert july.occurred_at.isoformat() == "2010-07-01T07:07:17-05:00"
    assert (july.unit, july.category, july.channel) == ("forestry", "parks_trees", "phone")
    assert table["resolved"]["stl-165462"].occurred_at == datetime(
        2010, 7, 1, 11, 13, 6, tzinfo=CDT
    )
    # Line 309: cancelled 2009-06-23 and closed in 2013: `closed` at the cancellation only.
    assert table["closed"]["stl-54200"].occurred_at == datetime(2009, 6, 23, 15, 44, 54, tzinfo=CDT)
    assert table["closed"]["stl-54200"].event_id == "stl-54200-closed"
    assert "stl-54200" not in table["resolved"]
    # Line 497: closed 14:48:37, one second before its creation: reported, no events.
    assert SourceProblem(f"{STLOUIS_CSV}:497", "closed_before_created") in report.problems
    assert all(event.complaint_id != "stl-76123" for event in events)


def test_stlouis_offsets_follow_dst(stlouis: tuple[list[ComplaintEvent], SourceReport]) -> None:
    events, _ = stlouis
    offsets: dict[int, set[timedelta | None]] = {}
    for event in events:
        offsets.setdefault(event.occurred_at.month, set()).add(event.occurred_at.utcoffset())
    assert offsets[1] == {timedelta(hours=-6)}
    assert offsets[7] == {timedelta(hours=-5)}


def free_text(path: Path) -> Iterator[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for column in ("DESCRIPTION", "EXPLANATION"):
                yield row[column].strip()


def test_stlouis_free_text_reaches_no_event(
    stlouis: tuple[list[ComplaintEvent], SourceReport],
) -> None:
    events, report = stlouis
    mapping = load_csv_mapping(STLOUIS_MAPPING)
    created = by_type(events)["created"]
    # Each label comes from its own column, whatever DESCRIPTION and EXPLANATION hold.
    with data_file(STLOUIS_CSV).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            event = created.get(f"stl-{row['REQUESTID']}")
            if event is None:
                continue
            assert event.unit == mapping.unit_map[row["SUBMITTO"]]
            code = row["PROBLEMCODE"]
            assert event.category == mapping.category_map.get(code, code)
            assert event.channel == (
                mapping.channel_map[row["CALLERTYPE"]] or None if row["CALLERTYPE"] else None
            )
    # The mapped codes all land in the registry's taxonomy (176 of the 206 codes).
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    assert set(mapping.category_map.values()) <= set(registry.category_specs)
    assert len(mapping.category_map) == 176
    # And no free text anywhere in the serialized events. A DESCRIPTION is often the
    # problem code itself: only text that differs from every event value can show a leak.
    serialized = b"\n".join(orjson.dumps(event.model_dump(mode="json")) for event in events)
    values = {
        value
        for event in events
        for value in event.model_dump(mode="json").values()
        if isinstance(value, str)
    }
    texts = {text for text in free_text(data_file(STLOUIS_CSV)) if text and text not in values}
    # This extract holds few distinct texts (mostly boilerplate): check every long one.
    long_texts = [text for text in texts if len(text) >= 20]
    assert len(long_texts) >= 50
    leaked = [text for text in long_texts if text.encode() in serialized]
    assert leaked == []
    assert "Requires caller name and number" not in serialized.decode()  # line 2
    assert set(report.reasons()) <= CSV_REASONS
