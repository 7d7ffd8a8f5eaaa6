"""`sigap report --unit U --officers`: the officer section of the unit report, through the
CLI, on a database filled through the real scoring path with officer codes
(tests/officers/dataset.py). Its rows are compared with the stored officer scores, with the
hand-computed counts, and with the unit's figures they add up to; without the flag no
officer code is in any format; every format says who the officer data is about."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from sigap.cli import main
from sigap.core.periods import parse_period
from sigap.core.timeline import evaluate_complaint
from sigap.storage.database import make_engine
from sigap.storage.officer_scores import officer_score_rows
from tests.officers.dataset import BY_HAND, CODES, EARLIER_EVENTS, EVENTS, build_database
from tests.reports.dataset import REGISTRY, REGISTRY_PATH

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


# -- the officer trend and where the officers' time went ----------------------------------

HISTORY = [*EARLIER_EVENTS, *EVENTS]
A7K, B3M = CODES[0], CODES[1]
# The quarters the trend shows for a period: the quarter holding it and the three before.
TREND_QUARTERS = {
    "2026-11-02": ("2026-01-01", "2026-10-01"),
    "2026-Q4": ("2026-01-01", "2026-10-01"),
    "2026-Q3": ("2025-10-01", "2026-07-01"),
}
# Where dlh's officers' time went, by hand from the event times (tests/officers/dataset.py):
# the complaints with a dlh timer decided in the period, and each officer's seconds.
HELD_BY_HAND = {
    "2026-Q4": (
        {"k1", "k2"},  # k3 has no officer data: left out, counted apart
        {
            # k1: 09:00-09:30 before, 09:30-11:00 after; k2: 09:10-09:20 before.
            A7K: {"before_response": 2400.0, "after_response": 5400.0},
            # k2: 09:20-10:00 before, 10:00-12:00 after.
            B3M: {"before_response": 2400.0, "after_response": 7200.0},
        },
    ),
    "2026-Q3": (
        {"k5", "k6"},
        {
            # k5: 09:00-09:20 before, 09:20-10:00 after; k6 back at dlh: 13:00-13:30 before,
            # 13:30-16:00 after.
            A7K: {"before_response": 3000.0, "after_response": 11400.0},
            # k5: 10:00-15:00 after; k6: 09:00-11:00, then transferred to dsda.
            B3M: {"after_response": 18000.0, "before_transfer": 7200.0},
        },
    ),
}
PHASES = ("before_response", "after_response", "before_transfer")


@pytest.fixture(scope="module")
def history_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('officer-trend') / 'scores.db'}"
    build_database(url, HISTORY)
    return url


def officer_csv(url: str, period: str) -> list[dict[str, str]]:
    return csv_rows(
        run_report(url, "--unit", "dlh", "--period", period, "--format", "csv", "--officers")
    )


@pytest.mark.parametrize("period", sorted(TREND_QUARTERS))
def test_the_officer_trend_rows_are_the_stored_quarter_scores(
    history_url: str, period: str
) -> None:
    rows = [row for row in officer_csv(history_url, period) if row["section"] == "officer_trend"]
    served: dict[tuple[str, str], dict[str, dict[str, str]]] = defaultdict(dict)
    for row in rows:
        served[(row["subject"], row["period"])][row["metric"]] = row
    first, last = (date.fromisoformat(d) for d in TREND_QUARTERS[period])
    engine = make_engine(history_url, create_schema=False)
    stored = officer_score_rows(engine, ["dlh"], "quarter", date_from=first, date_to=last)
    engine.dispose()
    quarter = {"2026-01-01": "2026-Q1", "2026-04-01": "2026-Q2", "2026-07-01": "2026-Q3"}
    quarter |= {"2026-10-01": "2026-Q4", "2025-10-01": "2025-Q4"}
    expected = {(row["officer"], quarter[str(row["period_start"])]): row for row in stored}
    assert set(served) == set(expected)
    for key, row in expected.items():
        mine = served[key]
        for column in ("received", "resolved", "response_missed", "resolution_missed"):
            assert int(mine[column]["value"]) == row[column], (key, column)
        achievements = []
        for indicator in row["indicators"]:
            got = mine[indicator["name"]]["achievement_percent"]
            want = indicator["achievement_percent"]
            assert (got == "") if want is None else float(got) == pytest.approx(want), key
            if want is not None:
                achievements.append(want)
        overall = mine["overall_achievement_percent"]["value"]
        assert float(overall) == pytest.approx(math.fsum(achievements) / len(achievements))
    # By hand: dlh-a7k's quarters (k7 in Q2, answered eight days late; k5 in Q3; k1, k2 in Q4).
    received = {k[1]: int(v["received"]["value"]) for k, v in served.items() if k[0] == A7K}
    wanted = {"2026-Q2": 1, "2026-Q3": 1, "2026-Q4": 2}
    assert received == {q: n for q, n in wanted.items() if q in received} and len(received) >= 2
    if (A7K, "2026-Q2") in served:
        assert served[(A7K, "2026-Q2")]["response_missed"]["value"] == "1"


def resolution_clock(complaint_ids: set[str]) -> float:
    """dlh's resolution clock on the complaints, wall seconds, straight from the events
    (core.timeline's charges): what the officers' held time must add up to."""
    total = 0.0
    for cid in complaint_ids:
        events = [event for event in HISTORY if event.complaint_id == cid]
        outcome = evaluate_complaint(events, REGISTRY)
        total += sum(
            charge.elapsed_wall_seconds
            for charge in outcome.charges
            if charge.unit == "dlh" and charge.timer == "resolution"
        )
    return total


@pytest.mark.parametrize("period", sorted(HELD_BY_HAND))
def test_where_the_officers_time_went_adds_up_to_their_held_time_and_the_units(
    history_url: str, period: str
) -> None:
    rows = [row for row in officer_csv(history_url, period) if row["section"] == "officer_time"]
    served: dict[str, dict[str, float]] = defaultdict(dict)
    for row in rows:
        served[row["subject"]][row["metric"]] = float(row["value"])
    unit = served.pop("*")
    complaints, by_hand = HELD_BY_HAND[period]
    assert {
        officer: {phase: s for phase, s in values.items() if s and phase != "held"}
        for officer, values in served.items()
    } == by_hand
    for officer, values in served.items():
        assert sum(values[phase] for phase in PHASES) == pytest.approx(values["held"]), officer
    for phase in (*PHASES, "held"):
        assert sum(values[phase] for values in served.values()) == pytest.approx(unit[phase])
    assert unit["held"] == pytest.approx(resolution_clock(complaints))
    assert unit["complaints"] == len(complaints)
    assert unit["complaints_without_officer_data"] == (1 if period == "2026-Q4" else 0)


def test_the_html_and_markdown_show_the_officer_trend_and_time(history_url: str) -> None:
    html = run_report(
        history_url, "--unit", "dlh", "--period", "2026-Q3", "--format", "html", "--officers"
    )
    trend = html[html.index('<table id="officer-trend">') :]
    trend = trend[: trend.index("</table>")]
    assert re.findall(r'data-officer="([^"]+)" data-period="([^"]+)"', trend) == [
        (officer, q) for officer in (A7K, B3M) for q in ("2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3")
    ]
    time = html[html.index('<table id="officer-time">') :]
    time = time[: time.index("</table>")]
    assert re.findall(r'data-officer="([^"]+)"', time) == [A7K, B3M, "*"]
    # 4.0 h and 7.0 h held (HELD_BY_HAND), 11.0 h for the unit.
    held = re.findall(r'data-phase="held">([^<]+)<', time)
    assert held == ["4.0 h", "7.0 h", "11.0 h"]
    text = run_report(
        history_url, "--unit", "dlh", "--period", "2026-Q3", "--format", "md", "--officers"
    )
    assert "### Officer trend, last quarters" in text
    assert (
        "| all officers (the unit) | 0.8 h (7.6%) | 8.2 h (74.2%) | 2.0 h (18.2%) | 11.0 h |"
        in text
    )
