"""`sigap report` end to end, on SQLite and on a real PostgreSQL: the database is filled
through the real scoring path (tests/reports/dataset.py), the report is produced by the CLI
in each format, and its figures are compared with the hand-computed ones. The HTML report is
rendered by a real headless Chromium."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from sigap.cli import main
from tests.reports import dataset as ds

H = ds.H


@pytest.fixture
def report_db(database_url: str) -> str:
    ds.build_database(database_url)
    return database_url


def run_report(database_url: str, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["report", *args],
        env={"DATABASE_URL": database_url, "SIGAP_REGISTRY": str(ds.REGISTRY_PATH)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def pick(rows: list[dict[str, str]], **where: str) -> list[dict[str, str]]:
    return [row for row in rows if all(row[k] == v for k, v in where.items())]


def one(rows: list[dict[str, str]], **where: str) -> dict[str, str]:
    (found,) = pick(rows, **where)
    return found


def test_unit_report_as_csv(report_db: str) -> None:
    rows = csv_rows(
        run_report(report_db, "--unit", "dlh", "--period", "2026-11", "--format", "csv")
    )
    assert list(rows[0]) == [
        "report_period",
        "unit",
        "section",
        "period",
        "subject",
        "metric",
        "value",
        "target",
        "achievement_percent",
        "achieved",
        "revision",
        "final",
    ]
    # KPIs: November is still open under the watermark (27 Nov): revision 0, provisional.
    for name, (realisation, target, percent, achieved) in ds.DLH_NOVEMBER_INDICATORS.items():
        row = one(rows, section="kpi", metric=name)
        assert float(row["value"]) == pytest.approx(realisation), name
        assert float(row["target"]) == pytest.approx(target), name
        assert float(row["achievement_percent"]) == pytest.approx(percent), name
        assert row["achieved"] == ("true" if achieved else "false"), name
        assert (row["revision"], row["final"], row["subject"]) == ("0", "false", "*")
    for key, value in ds.DLH_NOVEMBER.items():
        assert one(rows, section="count", metric=key)["value"] == str(value), key
    # Trend: May to October, final (revision 1), the response share of each month.
    trend = pick(rows, section="trend", metric="response_within_target")
    assert [row["period"] for row in trend] == [f"2026-{m:02d}" for m in range(5, 11)]
    for row in trend:
        month = int(row["period"][-2:])
        assert float(row["value"]) == pytest.approx(ds.dlh_response_share(month))
        assert (row["revision"], row["final"]) == ("1", "true")
    # By category: i = 0 is the only `complex` one, answered late.
    complex_rows = pick(rows, section="category", subject="complex")
    assert one(complex_rows, metric="received")["value"] == "1"
    assert float(one(complex_rows, metric="response_within_target")["value"]) == 0.0
    assert one(pick(rows, section="category", subject="other"), metric="received")["value"] == "4"
    # By channel, computed from the stored views.
    for channel, expected in ds.DLH_NOVEMBER_CHANNELS.items():
        found = pick(rows, section="channel", subject=channel)
        counts = tuple(
            int(one(found, metric=m)["value"])
            for m in ("response_met", "response_missed", "resolution_met", "resolution_missed")
        )
        assert counts == expected, channel
    # Where the time went.
    for subject, expected_lost in (
        ("missed", ds.DLH_TIME_LOST_MISSED),
        ("all", ds.DLH_TIME_LOST_ALL),
    ):
        found = {
            row["metric"]: float(row["value"])
            for row in pick(rows, section="time_lost", subject=subject)
        }
        assert found == pytest.approx(expected_lost), subject
    # Misses: dlh-open (still open), and dlh-11-0 answered 30 h after receipt (6 h late).
    missed = [
        (row["subject"], row["metric"], float(row["value"])) for row in pick(rows, section="missed")
    ]
    assert missed == [*ds.DLH_OVERDUE, ("dlh-11-0", "response", 6 * H)]
    overdue = [
        (row["subject"], row["metric"], float(row["value"]))
        for row in pick(rows, section="overdue")
    ]
    assert overdue == ds.DLH_OVERDUE


@pytest.mark.parametrize(
    ("period", "received", "response", "resolution"),
    [
        # Quarter: October (4 + x in time, one late) and November.
        ("2026-Q4", 4 + 5, (4 + 4, 1 + 2), (5 + 5, 0 + 1)),
        # ISO week 45 (2 to 8 Nov): dlh-open's resolution deadline (10 Nov) is in week 46.
        ("2026-W45", 5, (4, 2), (5, 0)),
        # Tue 3 Nov: the four and dlh-open received; x answered the next day.
        ("2026-11-03", 5, (3, 0), (3, 0)),
    ],
)
def test_every_period_form(
    report_db: str,
    period: str,
    received: int,
    response: tuple[int, int],
    resolution: tuple[int, int],
) -> None:
    rows = csv_rows(run_report(report_db, "--unit", "dlh", "--period", period, "--format", "csv"))
    counts = {row["metric"]: int(row["value"]) for row in pick(rows, section="count")}
    assert counts["received"] == received
    assert (counts["response_met"], counts["response_missed"]) == response
    assert (counts["resolution_met"], counts["resolution_missed"]) == resolution


def test_unit_report_as_markdown(report_db: str) -> None:
    text = run_report(report_db, "--unit", "dlh", "--period", "2026-11", "--format", "md")
    assert text.startswith("# SIGAP report: Dinas Lingkungan Hidup (dlh), 2026-11\n")
    assert "revision 0, provisional" in text
    # The KPI table line of the response share: 4 of 6 = 66.67 %, 70.2 % of the 95 % target.
    assert "| First response within target | 66.67% | 95.00% | 70.2% | no |" in text
    assert "| Mean citizen rating | 4.00 of 5 | 4.00 of 5 | 100.0% | yes |" in text
    assert f"Overall achievement: {ds.DLH_NOVEMBER_OVERALL:.1f}%" in text
    # The trend lists May to November, with October's revision.
    assert "| 2026-10 | 1 | 4 | 5 |" in text
    assert "| 2026-11 | 0 (provisional) | 5 | 5 |" in text
    assert "| dlh-open | first response | 2026-11-04 10:00 WIB | 553.0 h |" in text
    assert "| dlh-open | resolution | 2026-11-10 16:00 WIB | 403.0 h |" in text
    # No personal data: only ids; and no HTML in the Markdown.
    assert "<" not in text


def test_league_table(report_db: str) -> None:
    rows = csv_rows(run_report(report_db, "--all-units", "--period", "2026-10", "--format", "csv"))
    overall = pick(rows, section="league", metric="overall_achievement_percent")
    ranked = [(row["subject"], row["unit"]) for row in overall if row["subject"]]
    assert ranked == [("1", "dsda"), ("2", "dlh"), ("3", "dishub")]
    for row in overall:
        if row["unit"] in ds.LEAGUE_OCTOBER:
            assert float(row["value"]) == pytest.approx(ds.LEAGUE_OCTOBER[row["unit"]])
            assert (row["revision"], row["final"]) == ("1", "true")
        else:  # registry units without complaints: listed, unranked, no score
            assert (row["subject"], row["value"], row["revision"]) == ("", "", "")
    assert {row["unit"] for row in overall} == set(ds.REGISTRY.units)
    dishub = pick(rows, section="league", unit="dishub", metric="rating_mean")
    assert float(one(dishub)["achievement_percent"]) == pytest.approx(75.0)
    text = run_report(report_db, "--all-units", "--period", "2026-10", "--format", "md")
    assert (
        f"| 1 | dsda | Dinas Sumber Daya Air dan Bina Marga | {ds.LEAGUE_OCTOBER['dsda']:.1f}%"
        in text
    )


def test_a_unit_without_data(report_db: str) -> None:
    text = run_report(report_db, "--unit", "satpol-pp", "--period", "2026-11", "--format", "md")
    assert "No score is persisted for this unit and period." in text
    assert "No complaint views are stored for this unit and period." in text
    rows = csv_rows(
        run_report(report_db, "--unit", "satpol-pp", "--period", "2026-11", "--format", "csv")
    )
    assert rows == []


def test_usage_errors(report_db: str) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": report_db, "SIGAP_REGISTRY": str(ds.REGISTRY_PATH)}
    bad = runner.invoke(main, ["report", "--unit", "dlh", "--period", "2026/11"], env=env)
    assert bad.exit_code == 2
    assert "2026/11" in bad.output and "YYYY-Www" in bad.output
    both = runner.invoke(
        main, ["report", "--unit", "dlh", "--all-units", "--period", "2026-11"], env=env
    )
    assert both.exit_code == 2 and "either --unit" in both.output
    typo = runner.invoke(main, ["report", "--unit", "dhl", "--period", "2026-11"], env=env)
    assert typo.exit_code == 2 and "'dhl' is not a unit of the registry" in typo.output


# ---- HTML, in a real browser ----------------------------------------------------------------


class Dom(HTMLParser):
    """Tags, attributes and text of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("head", "svg"):  # the visible text of the page, not titles and styles
            self.skipping.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.text.append(data)

    def visible_text(self) -> str:
        return " ".join("".join(self.text).split())


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (Debian package `chromium`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def render_in_chromium(html_file: Path, tmp_path: Path) -> tuple[str, Path]:
    """The DOM after Chromium loaded the file, and a screenshot of it."""
    browser = chromium()
    common = [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]
    url = html_file.resolve().as_uri()
    dumped = subprocess.run(
        [*common, "--dump-dom", url], capture_output=True, text=True, timeout=180, check=True
    )
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [*common, f"--screenshot={screenshot}", "--window-size=1200,2000", url],
        capture_output=True,
        timeout=180,
        check=True,
    )
    return dumped.stdout, screenshot


def test_html_report_in_chromium(report_db: str, tmp_path: Path) -> None:
    html_file = tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        ["report", "--unit", "dlh", "--period", "2026-11", "--output", str(html_file)],
        env={"DATABASE_URL": report_db, "SIGAP_REGISTRY": str(ds.REGISTRY_PATH)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    source = html_file.read_text(encoding="utf-8")
    # Self-contained: nothing is loaded from anywhere (no URL at all, no src attribute).
    assert not re.search(r"https?://", source)
    assert not re.search(r"\ssrc\s*=", source, re.IGNORECASE)
    # Links only within the page (the findings point at the tables behind them).
    assert not re.search(r"\shref\s*=\s*\"(?!#)", source, re.IGNORECASE)
    assert "<script" not in source.lower()

    dom_text, screenshot = render_in_chromium(html_file, tmp_path)
    dom = Dom()
    dom.feed(dom_text)
    text = dom.visible_text()
    assert "SIGAP report: Dinas Lingkungan Hidup (dlh), 2026-11" in text
    assert "revision 0, provisional" in text
    assert f"Overall achievement: {ds.DLH_NOVEMBER_OVERALL:.1f}%" in text
    # The KPI table: each indicator's realisation, target and achievement.
    rows = re.findall(r'<tr data-indicator="([a-z0-9_]+)">(.*?)</tr>', dom_text, re.S)
    cells = {
        name: [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for name, row in rows
    }
    assert cells["response_within_target"] == [
        "First response within target",
        "66.67%",
        "95.00%",
        "70.2%",
        "no",
    ]
    assert cells["resolution_p90_working_hours"][1:] == ["14.50 h", "40.00 h", "120.0%", "yes"]
    # The charts are inline SVG the browser parsed: trend, volume, time lost.
    svgs = [attrs for tag, attrs in dom.tags if tag == "svg"]
    assert len(svgs) == 3
    assert {attrs["aria-label"] for attrs in svgs} == {
        "Achievement per indicator (%)",
        "Complaints per period",
        "Where the time went (hours)",
    }
    assert sum(1 for tag, _ in dom.tags if tag == "polyline") >= 4  # one line per indicator
    assert sum(1 for tag, attrs in dom.tags if tag == "rect" and attrs.get("class") == "bar") > 0
    assert "dlh-open" in text
    assert not any(
        str(attrs.get(name, "")).startswith(("http:", "https:"))
        for _, attrs in dom.tags
        for name in ("src", "href")
    )
    assert screenshot.stat().st_size > 10_000  # a real rendering, not an empty page


def test_html_league_in_chromium(report_db: str, tmp_path: Path) -> None:
    html_file = tmp_path / "league.html"
    html_file.write_text(
        run_report(report_db, "--all-units", "--period", "2026-10"), encoding="utf-8"
    )
    assert not re.search(r"https?://", html_file.read_text(encoding="utf-8"))
    dom_text, _ = render_in_chromium(html_file, tmp_path)
    order = re.findall(r'<tr data-unit="([a-z0-9_-]+)">', dom_text)
    assert order[:3] == ["dsda", "dlh", "dishub"]
    assert "<svg" in dom_text and 'aria-label="Overall IKU achievement (%)"' in dom_text


def test_html_escapes_what_comes_from_events(tmp_path: Path) -> None:
    from datetime import date

    from sqlalchemy.orm import Session

    from storage.scores import make_engine, upsert_views

    url = f"sqlite:///{tmp_path / 'escape.db'}"
    tuesday = date(2026, 11, 3)
    views = ds.views_of(
        "c<1>",
        [
            ("created", ds.at(tuesday, "09:00"), {"unit": "dlh", "channel": "<b>app</b>"}),
            ("responded", ds.at(tuesday, "10:00"), {}),
        ],
    )
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        upsert_views(
            session,
            views,
            ds.at(tuesday, "10:00").timestamp(),
            ds.GRACE_SECONDS,
            registry=ds.REGISTRY,
        )
    engine.dispose()
    html = run_report(url, "--unit", "dlh", "--period", "2026-11", "--format", "html")
    assert "<b>app</b>" not in html and "&lt;b&gt;app&lt;/b&gt;" in html
