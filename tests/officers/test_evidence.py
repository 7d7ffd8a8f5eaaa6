"""The quarterly evidence pack: written from an event file, verified byte for byte, a changed
byte detected, figures backed by the listed complaints, no personal data."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from click.testing import CliRunner

from sigap.cli import main
from tests.officers.helpers import random_history

START = datetime(2026, 10, 1, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
SECRET = "Budi Santoso 081234567890"


def event_file(tmp_path: Path) -> Path:
    rng = random.Random(5)
    path = tmp_path / "events.jsonl"
    lines = []
    for n in range(150):
        for event in random_history(rng, f"c{n}", START):
            body = event.model_dump(mode="json", exclude_none=True)
            body["reporter_name"] = SECRET  # dropped at parsing: never in the pack
            lines.append(orjson.dumps(body).decode())
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evidence_pack_round_trip_and_a_changed_byte_is_detected(tmp_path: Path) -> None:
    source = event_file(tmp_path)
    pack = tmp_path / "pack"
    runner = CliRunner()
    made = runner.invoke(
        main,
        [
            "evidence",
            "--unit",
            "dlh",
            "--period",
            "2026-Q4",
            "--source",
            str(source),
            "--output",
            str(pack),
        ],
    )
    assert made.exit_code == 0, made.output
    names = sorted(p.name for p in pack.iterdir())
    assert names == ["complaints.csv", "complaints.html", "form.csv", "form.html", "manifest.json"]
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["log"]["sha256"] and manifest["registry_version"]
    assert manifest["period"] == "2026-Q4" and manifest["unit"] == "dlh"
    for name in names:
        assert SECRET not in (pack / name).read_text()
    verify = ["verify", "--evidence", str(pack), "--source", str(source)]
    ok = runner.invoke(main, verify)
    assert ok.exit_code == 0, ok.output
    assert "verified" in ok.output

    original = (pack / "form.csv").read_bytes()
    changed = bytearray(original)
    index = original.index(b"dlh")
    changed[index] = ord("x")
    (pack / "form.csv").write_bytes(bytes(changed))
    broken = runner.invoke(main, verify)
    assert broken.exit_code == 1
    assert "form.csv: SHA-256 differs from the manifest" in broken.output
    assert "form.csv: differs from the recomputation" in broken.output

    (pack / "form.csv").write_bytes(original)
    other_log = tmp_path / "other.jsonl"
    other_log.write_bytes(source.read_bytes() + b"\n")
    wrong = runner.invoke(main, ["verify", "--evidence", str(pack), "--source", str(other_log)])
    assert wrong.exit_code == 1 and "not the log" in wrong.output


def test_each_subjects_within_target_share_is_backed_by_the_listed_complaints(
    tmp_path: Path,
) -> None:
    source = event_file(tmp_path)
    pack = tmp_path / "pack"
    result = CliRunner().invoke(
        main,
        [
            "evidence",
            "--unit",
            "dsda",
            "--period",
            "2026-Q4",
            "--source",
            str(source),
            "--output",
            str(pack),
        ],
    )
    assert result.exit_code == 0, result.output
    complaints = list(csv.DictReader(io.StringIO((pack / "complaints.csv").read_text())))
    outcomes: Counter[tuple[str, str, str]] = Counter(
        (row["subject"], row["timer"], row["outcome"]) for row in complaints
    )
    form = list(csv.DictReader(io.StringIO((pack / "form.csv").read_text())))
    subjects = {row["subject"] for row in form}
    assert "unit dsda" in subjects and any(s.startswith("officer ") for s in subjects)
    checked = 0
    for row in form:
        for timer in ("response", "resolution"):
            if not row["indicator"].startswith(f"{timer}_within_target "):
                continue
            met = outcomes[(row["subject"], timer, "met")]
            missed = outcomes[(row["subject"], timer, "missed")]
            if met + missed == 0:
                assert row["realisation_based_on_evidence"] == ""
                continue
            assert float(row["realisation_based_on_evidence"]) == round(
                100 * met / (met + missed), 4
            )
            checked += 1
    assert checked >= 4
    # The officers' listed timers are the unit's, each charged to exactly one officer.
    unit_rows = Counter(
        (r["complaint_id"], r["timer"], r["outcome"])
        for r in complaints
        if r["subject"] == "unit dsda"
    )
    officer_rows = Counter(
        (r["complaint_id"], r["timer"], r["outcome"])
        for r in complaints
        if r["subject"].startswith("officer ")
    )
    assert unit_rows == officer_rows


def test_the_pack_says_who_the_data_is_about(tmp_path: Path) -> None:
    source = event_file(tmp_path)
    pack = tmp_path / "pack"
    made = CliRunner().invoke(
        main,
        [
            *("evidence", "--unit", "dlh", "--period", "2026-Q4"),
            *("--source", str(source), "--output", str(pack)),
        ],
    )
    assert made.exit_code == 0, made.output
    manifest = json.loads((pack / "manifest.json").read_text())
    about = manifest["about"]
    for words in ("work unit dlh", "pseudonymous codes only", "city's HR system", "2026-Q4"):
        assert words in about, words
    for page in ("form.html", "complaints.html"):
        text = (pack / page).read_text().replace("&#x27;", "'").replace("&#39;", "'")
        assert about in text, page
