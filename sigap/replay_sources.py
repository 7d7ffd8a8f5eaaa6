"""Sources for `sigap replay FILE`: contract events from a JSONL file, or from a CSV export of
a 311 system read through a column mapping (deploy/csv-mappings/*.yaml).

Every input row is accounted for: it either becomes events or is reported once in
`SourceReport.problems` with a short, bounded reason code. Reports name a location
("file.csv:123", the physical line where the record starts) and a reason, never a value:
export files carry complaint text and addresses that must not reach logs.

The readers are generators: a `SourceReport` is complete only once its iterator is exhausted.
Configuration errors (bad mapping, missing column, unknown file kind) raise `SourceError`
when the reader is created, before any event is yielded.

CSV row rules
-------------
A row yields a `created` event (event_id "<id_prefix><id>-created") at `created_at`, and:
- when `cancelled_at` is filled: a `closed` event ("...-closed") at the cancellation time
  and no `resolved`; `closed_at` is not read for such a row (a cancelled request was not
  answered, whatever its close stamp says);
- otherwise, when `closed_at` is filled: a `resolved` event ("...-resolved") at that time.
A row with any problem yields nothing at all (one problem per row, the first found), so
rows == rows yielding `created` + problems. Reasons, in the order they are checked:
  malformed_row             field count differs from the header
  missing_id, invalid_id    empty id; id_prefix + id longer than 128 characters
  duplicate_id              the id was already yielded by an earlier row (the earlier wins)
  missing_created           empty creation time
  bad_created               creation time matches none of `timestamp_formats`
  missing_unit, invalid_unit  empty unit; a unit that slugifies to nothing
  bad_cancelled, cancelled_before_created
  bad_closed, closed_before_created   (only for rows that are not cancelled)
  invalid_event             the event failed contract validation (should not happen)
Values listed in `missing_values` (default: only "") count as empty; values are stripped.
Blank lines are not rows. Only the mapped columns of a record are ever looked at.

Units: a source value found in `unit_map` takes the mapped code (validated against the unit
pattern when the mapping loads). Any other value is slugified: ASCII-folded, lowercased,
each run of characters outside [a-z0-9] becomes "-", leading and trailing "-" are trimmed,
and the result is cut to 64 characters ("TRAFFIC DIVISION, 511" -> "traffic-division-511").
Category and channel: the mapped label if listed in their map, else the stripped source
value; a label over 64 characters is cut to 64 (map it to a shorter name to avoid that).

Timestamps: naive values are local times in the mapping's IANA `timezone`. A local time that
occurs twice (the autumn change) or not at all (the spring gap) is resolved with fold=0, as
datetime.replace(tzinfo=zone) does: the repeated hour takes the earlier (summer) offset,
and a time in the gap takes the offset in force before the gap (02:30 on the spring-forward
night in Chicago becomes 02:30-06:00, i.e. 03:30-05:00). A format with %z gives an aware
value whose own offset is kept. Events carry a fixed UTC offset (datetime.timezone), not the
zone: Python subtracts two datetimes sharing a tzinfo by wall clock, which is wrong across a
DST change.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from schemas.events import UNIT_PATTERN, ComplaintEvent, EventRejected, parse_event
from sigap.publisher import read_jsonl

__all__ = [
    "CsvColumns",
    "CsvMapping",
    "SourceError",
    "SourceProblem",
    "SourceReport",
    "load_csv_mapping",
    "open_source",
    "read_csv_events",
    "read_jsonl_events",
    "slugify_unit",
]

MAX_ID_LENGTH = 128
MAX_LABEL_LENGTH = 64
MAX_UNIT_LENGTH = 64
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
CSV_SUFFIXES = frozenset({".csv"})


class SourceError(ValueError):
    """A replay source that cannot be read at all: bad mapping, missing column, wrong kind."""


@dataclass(frozen=True)
class SourceProblem:
    """A row or line that could not become events: counted, never silently dropped."""

    location: str  # "file.csv:123": file name and the line where the record starts
    reason: str  # short, bounded code (see the module docstring, or EventRejected.reason)


@dataclass
class SourceReport:
    events: int = 0
    problems: list[SourceProblem] = field(default_factory=list)
    rows: int = 0  # data rows (CSV, header excluded) or non-blank lines (JSONL)

    def reasons(self) -> Counter[str]:
        return Counter(problem.reason for problem in self.problems)


# --------------------------------------------------------------------------------------
# JSONL
# --------------------------------------------------------------------------------------


def read_jsonl_events(path: Path, report: SourceReport) -> Iterator[ComplaintEvent]:
    """Contract events, one JSON object per non-blank line, each checked by `parse_event`.

    An invalid line is reported with its EventRejected reason. Event times are not checked
    against a reference here (`check_event_time` is the replay's job).
    """
    _require_file(path)
    return _jsonl_events(path, report)


def _jsonl_events(path: Path, report: SourceReport) -> Iterator[ComplaintEvent]:
    for line_number, raw in read_jsonl(path):
        report.rows += 1
        try:
            event = parse_event(raw)
        except EventRejected as rejected:
            report.problems.append(SourceProblem(f"{path.name}:{line_number}", rejected.reason))
            continue
        report.events += 1
        yield event


# --------------------------------------------------------------------------------------
# CSV mapping
# --------------------------------------------------------------------------------------

ColumnName = Annotated[str, StringConstraints(min_length=1)]
UnitCode = Annotated[str, StringConstraints(pattern=UNIT_PATTERN)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LABEL_LENGTH)]


class CsvColumns(BaseModel):
    """Which CSV header names hold each part of a complaint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    complaint_id: ColumnName
    created_at: ColumnName
    closed_at: ColumnName | None = None
    cancelled_at: ColumnName | None = None
    unit: ColumnName
    category: ColumnName | None = None
    channel: ColumnName | None = None

    def used(self) -> dict[str, str]:
        """Mapping field -> CSV column, for the columns that are set."""
        return {name: column for name, column in self.model_dump().items() if column is not None}


class CsvMapping(BaseModel):
    """How one 311 export becomes contract events; loaded from YAML by `load_csv_mapping`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(min_length=1)]
    timezone: str = Field(description="IANA zone of naive timestamps, e.g. America/New_York")
    timestamp_formats: Annotated[
        list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)
    ]
    columns: CsvColumns
    id_prefix: Annotated[str, StringConstraints(max_length=32)]
    unit_map: dict[str, UnitCode] = Field(default_factory=dict)
    category_map: dict[str, Label] = Field(default_factory=dict)
    channel_map: dict[str, Label] = Field(default_factory=dict)
    missing_values: list[str] = Field(default_factory=lambda: [""])
    encoding: str = "utf-8-sig"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_csv_mapping(path: Path) -> CsvMapping:
    """Read and validate a mapping file; every error names the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SourceError(f"{path}: cannot read the CSV mapping ({error.strerror})") from None
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SourceError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise SourceError(f"{path}: a CSV mapping must be a YAML mapping of fields")
    try:
        return CsvMapping.model_validate(raw)
    except ValidationError as error:
        lines = [
            f"{path}: {'.'.join(str(part) for part in item['loc']) or 'mapping'}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        ]
        raise SourceError("\n".join(lines)) from None


# --------------------------------------------------------------------------------------
# CSV rows
# --------------------------------------------------------------------------------------


def slugify_unit(value: str) -> str:
    """A unit code from a free-text department name; "" when nothing usable is left."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    slug = "".join(char if char.isascii() and char.isalnum() else "-" for char in folded)
    slug = "-".join(part for part in slug.split("-") if part)
    return slug[:MAX_UNIT_LENGTH].strip("-")


@lru_cache(maxsize=64)
def _fixed_offset(offset: timedelta) -> timezone:
    return timezone(offset)


class _Skip(Exception):
    """Control flow inside one row: never escapes the CSV reader."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


@dataclass(frozen=True)
class _Row:
    complaint_id: str
    created_at: datetime
    unit: str
    category: str | None
    channel: str | None
    closed_at: datetime | None
    cancelled_at: datetime | None


class _RowReader:
    """Turns one CSV record (a list of fields) into a _Row, or raises _Skip(reason)."""

    def __init__(self, mapping: CsvMapping, header: list[str]) -> None:
        self.mapping = mapping
        self.zone = mapping.zone
        self.missing = frozenset(mapping.missing_values)
        self.width = len(header)
        self.yielded_ids: set[str] = set()  # ids whose row became events
        position = {name: index for index, name in enumerate(header)}
        # Indexes of the mapped columns only: free-text columns are never touched.
        self.index = {name: position[column] for name, column in mapping.columns.used().items()}

    def value(self, record: list[str], name: str) -> str | None:
        index = self.index.get(name)
        if index is None:
            return None
        text = record[index].strip()
        return None if text in self.missing else text

    def timestamp(self, text: str, bad: str) -> datetime:
        for pattern in self.mapping.timestamp_formats:
            try:
                moment = datetime.strptime(text, pattern)
            except ValueError:
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.zone)  # fold=0: see the module docstring
            offset = moment.utcoffset()
            assert offset is not None  # aware by construction
            return moment.replace(tzinfo=_fixed_offset(offset), fold=0)
        raise _Skip(bad)

    def label(self, record: list[str], name: str, table: dict[str, str]) -> str | None:
        text = self.value(record, name)
        if text is None:
            return None
        return table.get(text, text)[:MAX_LABEL_LENGTH]

    def read(self, record: list[str]) -> _Row:
        if len(record) != self.width:
            raise _Skip("malformed_row")
        source_id = self.value(record, "complaint_id")
        if source_id is None:
            raise _Skip("missing_id")
        complaint_id = f"{self.mapping.id_prefix}{source_id}"
        # The longest event_id suffix is "-resolved": keep every event_id within 128 too.
        if len(complaint_id) + len("-resolved") > MAX_ID_LENGTH:
            raise _Skip("invalid_id")
        if complaint_id in self.yielded_ids:
            raise _Skip("duplicate_id")
        created_text = self.value(record, "created_at")
        if created_text is None:
            raise _Skip("missing_created")
        created_at = self.timestamp(created_text, "bad_created")
        unit_text = self.value(record, "unit")
        if unit_text is None:
            raise _Skip("missing_unit")
        unit = self.mapping.unit_map.get(unit_text) or slugify_unit(unit_text)
        if not unit:
            raise _Skip("invalid_unit")
        closed_at = cancelled_at = None
        cancelled_text = self.value(record, "cancelled_at")
        if cancelled_text is not None:
            cancelled_at = self.timestamp(cancelled_text, "bad_cancelled")
            if cancelled_at < created_at:
                raise _Skip("cancelled_before_created")
        else:
            closed_text = self.value(record, "closed_at")
            if closed_text is not None:
                closed_at = self.timestamp(closed_text, "bad_closed")
                if closed_at < created_at:
                    raise _Skip("closed_before_created")
        return _Row(
            complaint_id=complaint_id,
            created_at=created_at,
            unit=unit,
            category=self.label(record, "category", self.mapping.category_map),
            channel=self.label(record, "channel", self.mapping.channel_map),
            closed_at=closed_at,
            cancelled_at=cancelled_at,
        )


def _events_of(row: _Row) -> list[ComplaintEvent]:
    created: dict[str, Any] = {
        "event_id": f"{row.complaint_id}-created",
        "type": "created",
        "complaint_id": row.complaint_id,
        "occurred_at": row.created_at,
        "unit": row.unit,
    }
    if row.category is not None:
        created["category"] = row.category
    if row.channel is not None:
        created["channel"] = row.channel
    events = [ComplaintEvent.model_validate(created)]
    for kind, moment in (("closed", row.cancelled_at), ("resolved", row.closed_at)):
        if moment is not None:  # at most one of the two is set (cancelled wins)
            ending = {
                "event_id": f"{row.complaint_id}-{kind}",
                "type": kind,
                "complaint_id": row.complaint_id,
                "occurred_at": moment,
            }
            events.append(ComplaintEvent.model_validate(ending))
    return events


def read_csv_events(
    path: Path, mapping: CsvMapping, report: SourceReport
) -> Iterator[ComplaintEvent]:
    """Events of a 311 CSV export, row by row, under `mapping` (rules: module docstring).

    The header is checked now: a mapped column missing from it raises SourceError.
    """
    header = _csv_header(path, mapping)
    return _csv_events(path, mapping, _RowReader(mapping, header), report)


def _csv_header(path: Path, mapping: CsvMapping) -> list[str]:
    _require_file(path)
    with path.open(newline="", encoding=mapping.encoding) as handle:
        try:
            header = next(csv.reader(handle), None)
        except (csv.Error, UnicodeDecodeError) as error:
            raise SourceError(f"{path}: unreadable CSV header ({type(error).__name__})") from None
    if not header:
        raise SourceError(f"{path}: empty file, expected a CSV header")
    header = [name.strip() for name in header]
    absent = [
        f"columns.{name} = {column!r}"
        for name, column in mapping.columns.used().items()
        if column not in header
    ]
    if absent:
        raise SourceError(
            f"{path}: mapping {mapping.name!r}: not in the CSV header: {', '.join(absent)}"
        )
    return header


def _csv_events(
    path: Path, mapping: CsvMapping, reader: _RowReader, report: SourceReport
) -> Iterator[ComplaintEvent]:
    with path.open(newline="", encoding=mapping.encoding) as handle:
        records = csv.reader(handle)
        end_line = 0
        try:
            next(records)  # the header, checked by _csv_header
            end_line = records.line_num
            for record in records:
                # A quoted field may span lines: report the line where the record starts.
                start_line, end_line = end_line + 1, records.line_num
                if not record:
                    continue  # a blank line is not a row
                report.rows += 1
                try:
                    row = reader.read(record)
                    events = _events_of(row)
                except _Skip as skip:
                    reason = skip.reason
                except ValidationError:
                    reason = "invalid_event"
                else:
                    reader.yielded_ids.add(row.complaint_id)
                    report.events += len(events)
                    yield from events
                    continue
                report.problems.append(SourceProblem(f"{path.name}:{start_line}", reason))
        except (csv.Error, UnicodeDecodeError) as error:
            # Unrecoverable for the rest of the file: stop loudly, naming only the place.
            raise SourceError(
                f"{path}: unreadable after line {end_line} ({type(error).__name__})"
            ) from None


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def open_source(
    path: Path, mapping_path: Path | None
) -> tuple[Iterator[ComplaintEvent], SourceReport]:
    """The events of a replay file and the report they fill as they are read.

    `.jsonl` (or `.ndjson`): contract events, no mapping. `.csv`: a 311 export, read with
    the mapping at `mapping_path` (required).
    """
    report = SourceReport()
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        if mapping_path is not None:
            raise SourceError(f"{path}: a CSV mapping applies to .csv files only, not JSONL")
        return read_jsonl_events(path, report), report
    if suffix in CSV_SUFFIXES:
        if mapping_path is None:
            raise SourceError(
                f"{path}: a CSV file needs a column mapping "
                "(a YAML file such as deploy/csv-mappings/baltimore-311.yaml)"
            )
        mapping = load_csv_mapping(mapping_path)
        return read_csv_events(path, mapping, report), report
    raise SourceError(
        f"{path}: unknown replay file kind {suffix or '(none)'!r}: use .jsonl or .csv"
    )


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
