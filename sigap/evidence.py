"""Quarterly evidence pack ("bukti dukung") of a unit and its officers, and its verification.

`build_pack(views, registry, unit, start, log_range)` returns the pack's files as bytes,
deterministically (no generation time inside): for the unit and for each of its officers,
the realisation of each IKU indicator against its target, laid out like the columns of the
quarterly evaluation form of PermenPANRB 6/2022 (no, result plan, indicator, target,
realisation based on supporting evidence, achievement, supporting evidence, continuous
feedback), as CSV and HTML, and the complaints behind it (ids, times, outcomes; no personal
data: the views hold none). `manifest.json` lists every file with its SHA-256, the registry
version and the exact log range (the source file's SHA-256, or the topic's offsets).

`verify_pack(directory, ...)` recomputes every file from the same log and compares it byte
for byte with the pack, and each file with the manifest's hash.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sigap.core.iku import INDICATORS
from sigap.core.officer_scores import OfficerScore, officer_inputs, officer_period_scores
from sigap.core.periods import PeriodKind, format_period, period_end, period_start_epoch
from sigap.core.registry import Registry
from sigap.core.scoring import PeriodScore, ScoreInput, all_period_scores
from sigap.core.unit_view import UnitView

QUARTER: PeriodKind = "quarter"
MANIFEST = "manifest.json"
FORM_COLUMNS = (
    "no",
    "subject",
    "result_plan",
    "indicator",
    "target",
    "realisation_based_on_evidence",
    "achievement_percent",
    "achieved",
    "supporting_evidence",
    "continuous_feedback",
)
COMPLAINT_COLUMNS = (
    "subject",
    "complaint_id",
    "timer",
    "received_at",
    "decided_at",
    "outcome",
)
RESULT_PLAN = "Complaints answered and resolved within the unit's service targets"
ABOUT = (
    "This pack is about work unit {unit} and its officers, identified by pseudonymous codes "
    "only (the mapping to people stays in the city's HR system), for {period}. It holds no "
    "personal data of citizens."
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def _complaints(
    subject: str,
    inputs: Iterable[tuple[str, ScoreInput]],
    begin: float,
    end: float,
    watermark: float,
) -> list[tuple[str, ...]]:
    """The timers decided in the quarter behind a subject's met/missed counts."""
    rows: list[tuple[str, ...]] = []
    for complaint_id, entry in inputs:
        received = entry.received_at if entry.received_at is not None else entry.created_at
        for timer, facts in sorted(entry.timers.items()):
            if facts.outcome is not None and facts.decided_at is not None:
                at, outcome = facts.decided_at, facts.outcome
            elif facts.open_deadline is not None and facts.open_deadline <= watermark:
                at, outcome = facts.open_deadline, "missed"
            else:
                continue
            if begin <= at < end:
                rows.append((subject, complaint_id, timer, _iso(received), _iso(at), outcome))
    return sorted(rows)


def _form_rows(subject: str, score: PeriodScore | None, evidence: int) -> list[tuple[str, ...]]:
    indicators = {item.name: item for item in score.indicators} if score is not None else {}
    rows: list[tuple[str, ...]] = []
    for number, indicator in enumerate(INDICATORS, start=1):
        found = indicators.get(indicator.name)
        rows.append(
            (
                str(number),
                subject,
                RESULT_PLAN,
                f"{indicator.name} ({indicator.unit_of_measure}, {indicator.direction} is better)",
                _number(found.target) if found is not None else "",
                _number(found.realisation) if found is not None else "",
                _number(found.achievement_percent) if found is not None else "",
                "" if found is None or found.achieved is None else str(found.achieved).lower(),
                f"{evidence} decided timers listed in complaints.csv",
                "",
            )
        )
    return rows


def _csv(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _html(title: str, about: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>\n"
        for row in rows
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(about)}</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n"
        "</body></html>\n"
    ).encode()


@dataclass(frozen=True)
class Pack:
    files: dict[str, bytes]  # every file but the manifest
    manifest: dict[str, Any]

    def all_files(self) -> dict[str, bytes]:
        text = json.dumps(self.manifest, indent=2, sort_keys=True) + "\n"
        return {**self.files, MANIFEST: text.encode()}


def build_pack(
    views: Sequence[UnitView],
    registry: Registry,
    unit: str,
    start: date,
    log_range: Mapping[str, Any],
    watermark: float,
) -> Pack:
    """The evidence pack of `unit` for the quarter beginning on `start`."""
    period = format_period(QUARTER, start)
    begin, end = period_start_epoch(QUARTER, start), period_end(QUARTER, start)
    mine = [view for view in views if view.unit == unit and not view.deleted]
    unit_scores = [
        score
        for score in all_period_scores(
            (ScoreInput.from_view(v) for v in mine), watermark, (QUARTER,), registry
        )
        if score.category == "*" and score.period_start == start
    ]
    unit_score = unit_scores[0] if unit_scores else None
    officers: list[OfficerScore] = [
        item
        for item in officer_period_scores(
            mine,
            watermark,
            (QUARTER,),
            registry,
            unit_keys=[(unit, "*", QUARTER, start)] if unit_score is not None else [],
        )
        if item.score.category == "*" and item.score.period_start == start
    ]
    unit_inputs = ((view.complaint_id, ScoreInput.from_view(view)) for view in mine)
    unit_complaints = _complaints(f"unit {unit}", unit_inputs, begin, end, watermark)
    by_officer: dict[str, list[tuple[str, ScoreInput]]] = {}
    for view in mine:
        for officer, entry in officer_inputs(view):
            by_officer.setdefault(officer, []).append((view.complaint_id, entry))
    form = _form_rows(f"unit {unit}", unit_score, len(unit_complaints))
    complaints = list(unit_complaints)
    for item in officers:
        subject = f"officer {item.officer}"
        rows = _complaints(subject, by_officer.get(item.officer, []), begin, end, watermark)
        form += _form_rows(subject, item.score, len(rows))
        complaints += rows
    about = ABOUT.format(unit=unit, period=period)
    title = f"Quarterly evaluation evidence: {unit}, {period}"
    files = {
        "form.csv": _csv(FORM_COLUMNS, form),
        "form.html": _html(title, about, FORM_COLUMNS, form),
        "complaints.csv": _csv(COMPLAINT_COLUMNS, complaints),
        "complaints.html": _html(
            f"Complaints behind the figures: {unit}, {period}", about, COMPLAINT_COLUMNS, complaints
        ),
    }
    manifest = {
        "about": about,
        "unit": unit,
        "period": period,
        "registry_version": registry.version,
        "log": dict(log_range),
        "watermark": _iso(watermark),
        "files": {name: sha256_hex(data) for name, data in sorted(files.items())},
    }
    return Pack(files, manifest)


def write_pack(pack: Pack, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in pack.all_files().items():
        (directory / name).write_bytes(data)


def file_log_range(path: Path) -> dict[str, Any]:
    return {"source": "file", "path": path.name, "sha256": sha256_hex(path.read_bytes())}


def topic_log_range(topic: str, offsets: Mapping[int, tuple[int, int]]) -> dict[str, Any]:
    """The events topic's offsets read, per partition: [start, end) (start: the first offset
    still on the broker; end: the partition's end when the reading began)."""
    return {
        "source": "topic",
        "topic": topic,
        "partitions": {
            str(partition): {"start": start, "end": end}
            for partition, (start, end) in sorted(offsets.items())
        },
    }


def topic_offsets(log_range: Mapping[str, Any]) -> dict[int, tuple[int, int]]:
    """The offsets of a topic log range (topic_log_range); ValueError when it is not one."""
    if log_range.get("source") != "topic":
        raise ValueError("the pack was not made from the events topic")
    try:
        return {
            int(partition): (int(span["start"]), int(span["end"]))
            for partition, span in log_range["partitions"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"malformed topic log range ({error})") from None


def check_pack(directory: Path, recomputed: Pack) -> list[str]:
    """Differences between the pack on disk and the recomputed one (empty: identical)."""
    problems = []
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        return [f"{MANIFEST}: unreadable ({type(error).__name__})"]
    expected = recomputed.all_files()
    for name, data in sorted(expected.items()):
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
            continue
        found = path.read_bytes()
        if name != MANIFEST and manifest.get("files", {}).get(name) != sha256_hex(found):
            problems.append(f"{name}: SHA-256 differs from the manifest")
        if found != data:
            problems.append(f"{name}: differs from the recomputation")
    extra = sorted(p.name for p in directory.iterdir() if p.name not in expected)
    problems += [f"{name}: not part of the pack" for name in extra]
    return problems
