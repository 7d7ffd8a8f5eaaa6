"""`sigap report --unit U --officers`: the officer section of the unit report, through the
CLI, on a database filled through the real scoring path with officer codes
(tests/officers/dataset.py). Its rows are compared with the stored officer scores, with the
hand-computed counts, and with the unit's figures they add up to; without the flag no
officer code is in any format; every format says who the officer data is about."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sigap.cli import main
from sigap.core.periods import parse_period
from sigap.storage.officer_scores import officer_score_rows
from sigap.storage.scores import make_engine
from tests.officers.dataset import BY_HAND, CODES, build_database
from tests.reports.dataset import REGISTRY_PATH

FORMATS = ("md", "html", "csv")
# Who the data is about, in the words every format must carry.
ABOUT = ("pseudonymous codes only", "held by the city's HR system")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('officer-report') / 'scores.db'}"
    build_database(url)
    return url


def run_report(database_url: str, *args: str, exit_code: int = 0) -> str:
    result = CliRunner().invoke(
        main,
        ["report", *args],
        env={"DATABASE_URL": database_url, "SIGAP_REGISTRY": str(REGISTRY_PATH)},
        catch_exceptions=False,
    )
    assert result.exit_code == exit_code, result.output
    return result.stdout if exit_code == 0 else result.output


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("output_format", FORMATS)
def test_without_the_flag_the_report_holds_no_officer_data(
    database_url: str, output_format: str
) -> None:
    text = run_report(
        database_url, "--unit", "dlh", "--period", "2026-11-02", "--format", output_format
    )
    assert "dlh" in text
    leaked = [code for code in (*CODES, "unassigned") if code in text]
    assert not leaked
    assert "Officers" not in text and ",officer," not in text


@pytest.mark.parametrize("period", ["2026-11-02", "2026-W45", "2026-11", "2026-Q4"])
def test_the_officer_rows_are_the_stored_officer_scores_and_add_up_to_the_unit(
    database_url: str, period: str
) -> None:
    rows = csv_rows(
        run_report(
            database_url, "--unit", "dlh", "--period", period, "--format", "csv", "--officers"
        )
    )
    officers = [row for row in rows if row["section"] == "officer" and row["metric"] != "about"]
    served: dict[str, dict[str, str]] = {}
    for row in officers:
        served.setdefault(row["subject"], {})[row["metric"]] = row["value"]
    # Hand-computed: every dlh officer of the day, `unassigned` included.
    assert {officer: (int(v["received"]), int(v["resolved"])) for officer, v in served.items()} == {
        officer: counts for (unit, officer), counts in BY_HAND.items() if unit == "dlh"
    }
    # The stored rows (storage.officer_scores), every count and indicator.
    kind, start = parse_period(period)
    engine = make_engine(database_url, create_schema=False)
    stored = officer_score_rows(engine, ["dlh"], kind, date_from=start, date_to=start)
    engine.dispose()
    assert {row["officer"] for row in stored} == set(served)
    for row in stored:
        mine = served[row["officer"]]
        for key in ("received", "responded", "resolved", "response_missed", "open_at_end"):
            assert int(mine[key]) == row[key], (row["officer"], key)
        for indicator in row["indicators"]:
            value = mine[indicator["name"]]
            expected = indicator["realisation"]
            assert (value == "") if expected is None else float(value) == pytest.approx(expected)
    # Conservation: the officers' counts are the unit's.
    unit = {row["metric"]: row["value"] for row in rows if row["section"] == "count"}
    for key in ("received", "responded", "resolved", "response_met", "resolution_met"):
        assert sum(int(v[key]) for v in served.values()) == int(unit[key]), key
    # Each officer row is of the reported period, never another unit's.
    assert {row["unit"] for row in officers} == {"dlh"}
    assert all(row["period"] == period for row in officers)
    assert "dsda-c9p" not in {row["subject"] for row in rows}


@pytest.mark.parametrize("output_format", FORMATS)
def test_the_report_says_who_the_officer_data_is_about(
    database_url: str, output_format: str
) -> None:
    text = run_report(
        database_url,
        "--unit",
        "dlh",
        "--period",
        "2026-11-02",
        "--format",
        output_format,
        "--officers",
    )
    flat = re.sub(r"\s+", " ", text.replace("&#39;", "'"))
    for words in ABOUT:
        assert words in flat, (output_format, words)
    for code in ("dlh-a7k", "dlh-b3m", "unassigned"):
        assert code in text


def test_the_html_officer_table_lists_every_officer_with_the_unit_columns(
    database_url: str, tmp_path: Path
) -> None:
    html = run_report(
        database_url, "--unit", "dlh", "--period", "2026-11-02", "--format", "html", "--officers"
    )
    table = html[html.index('<table id="officers">') :]
    table = table[: table.index("</table>")]
    assert re.findall(r'data-officer="([^"]+)"', table) == ["dlh-a7k", "dlh-b3m", "unassigned"]
    # The same IKU columns as the unit's KPI table.
    kpis = html[html.index('<table id="kpis">') :]
    kpis = kpis[: kpis.index("</table>")]
    unit_indicators = re.findall(r'data-indicator="([^"]+)"', kpis)
    officer_indicators = re.findall(r'data-indicator="([^"]+)"', table)
    assert unit_indicators and officer_indicators == unit_indicators * 3


def test_officers_is_refused_for_the_league_table(database_url: str) -> None:
    output = run_report(
        database_url, "--all-units", "--period", "2026-11", "--officers", exit_code=2
    )
    assert "--officers" in output


def test_an_empty_officer_section_says_so(database_url: str) -> None:
    text = run_report(
        database_url, "--unit", "dishub", "--period", "2026-11-02", "--format", "md", "--officers"
    )
    assert "## Officers" in text
    assert "No officer score is stored for this unit and period." in text
