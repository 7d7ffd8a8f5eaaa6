"""`sigap report` end to end, on SQLite and on a real PostgreSQL: the database is filled
through the real scoring path (tests/reports/dataset.py), the report is produced by the CLI
in each format, and its figures are compared with the hand-computed ones. The HTML report is
rendered by a real headless Chromium."""

from __future__ import annotations

import csv
import io
import itertools
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
        "status",
        "changed",
        "reason",
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
    assert f"{ds.DLH_NOVEMBER_SUMMARY}." in text
    # The trend lists May to November, with each revision; the status is said once, above.
    assert "| 2026-10 | 1 | 4 | 5 |" in text
    assert "| 2026-11 | 0 | 5 | 5 |" in text
    assert "Scores final, except provisional (may still change): 2026-11." in text
    assert "(provisional)" not in text
    assert "| dlh-open | first response | 2026-11-04 10:00 WIB | 553.0 h |" in text
    assert "| dlh-open | resolution | 2026-11-10 16:00 WIB | 403.0 h |" in text
    # No personal data: only ids; and no HTML in the Markdown.
    assert "<" not in text


def test_league_table_ranks_by_indicators_achieved(report_db: str) -> None:
    rows = csv_rows(run_report(report_db, "--all-units", "--period", "2026-Q4", "--format", "csv"))
    league = pick(rows, section="league")

    def figure(unit: str, metric: str) -> str:
        return one(league, unit=unit, metric=metric)["value"]

    ranked = [
        (row["subject"], row["unit"])
        for row in pick(league, metric="ranking_status", value="ranked")
    ]
    # dsda met all five; dlh and dishub two each, dlh's worst (57.1%) above dishub's (52.6%).
    assert ranked == [("1", "dsda"), ("2", "dlh"), ("3", "dishub")]
    for unit, (achieved, worst, geometric, decided, met) in ds.LEAGUE_Q4.items():
        assert int(figure(unit, "indicators_achieved")) == achieved, unit
        assert float(figure(unit, "worst_achievement_percent")) == pytest.approx(worst), unit
        assert float(figure(unit, "geometric_mean_achievement_percent")) == pytest.approx(
            geometric
        ), unit
        assert int(figure(unit, "decided_timers")) == decided, unit
        assert float(figure(unit, "within_target_share")) == pytest.approx(met / decided), unit
        # The 95% Wilson band, from its definition: the p where (p - phat)^2 = z^2 p(1-p)/n.
        low = float(figure(unit, "within_target_band_low"))
        high = float(figure(unit, "within_target_band_high"))
        for bound in (low, high):
            if bound not in (0.0, 1.0):
                assert (bound - met / decided) ** 2 == pytest.approx(
                    1.959964**2 * bound * (1 - bound) / decided, rel=1e-4
                )
        assert low <= met / decided <= high
        for row in pick(league, unit=unit):
            assert (row["revision"], row["final"]) == ("0", "false")
    # Their bands all overlap (dsda 18/18 from 82.4%, dishub 12/16 up to 89.8%).
    assert figure("dsda", "not_distinguishable_from_ranks") == "2 3"
    assert float(figure("dsda", "within_target_band_low")) < float(
        figure("dishub", "within_target_band_high")
    )
    # Registry units without complaints: listed, unranked, no score.
    for unit in set(ds.REGISTRY.units) - set(ds.LEAGUE_Q4):
        assert (figure(unit, "ranking_status"), one(league, unit=unit)["subject"]) == (
            "no_score",
            "",
        )
    text = run_report(report_db, "--all-units", "--period", "2026-Q4", "--format", "md")
    assert "| 1 | dsda | Dinas Sumber Daya Air dan Bina Marga | 5/5 | 105.3% |" in text
    assert "| 3 | dishub | Dinas Perhubungan | 2/5 | 52.6% |" in text
    assert "not distinguishable from rank 1, 2" in text
    # The status is said once, not on each row.
    assert text.count("provisional") == 1


def test_league_table_lists_small_units_without_a_rank(report_db: str) -> None:
    rows = csv_rows(run_report(report_db, "--all-units", "--period", "2026-10", "--format", "csv"))
    league = pick(rows, section="league")
    for unit, decided in ds.OCTOBER_DECIDED.items():
        assert int(one(league, unit=unit, metric="decided_timers")["value"]) == decided
    status = {
        row["unit"]: (row["subject"], row["value"]) for row in pick(league, metric="ranking_status")
    }
    # dsda met every target, but on 8 decided timers: below the minimum, so not ranked.
    assert status["dlh"] == ("1", "ranked")
    assert status["dsda"] == ("", "too_few_timers")
    assert status["dishub"] == ("", "too_few_timers")
    text = run_report(report_db, "--all-units", "--period", "2026-10", "--format", "md")
    assert "not ranked: 8 decided timer(s), fewer than 10" in text
    assert "Every score in this table is final." in text


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
    assert ds.DLH_NOVEMBER_SUMMARY in text
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
        run_report(report_db, "--all-units", "--period", "2026-Q4"), encoding="utf-8"
    )
    assert not re.search(r"https?://", html_file.read_text(encoding="utf-8"))
    dom_text, _ = render_in_chromium(html_file, tmp_path)
    order = re.findall(r'<tr data-unit="([a-z0-9_-]+)" data-status="ranked">', dom_text)
    assert order == ["dsda", "dlh", "dishub"]
    label = "Decided timers within target (%), with the 95% band"
    assert "<svg" in dom_text and f'aria-label="{label}"' in dom_text
    # One band (interval) per ranked unit in the chart.
    assert dom_text.count('<g class="band">') == 3
    dom = Dom()
    dom.feed(dom_text)
    text = dom.visible_text()
    assert "Every score in this table is provisional" in text
    assert text.count("provisional") == 1


def test_html_escapes_what_comes_from_events(tmp_path: Path) -> None:
    from datetime import date

    from sqlalchemy.orm import Session

    from sigap.storage.database import make_engine
    from sigap.storage.scores import upsert_views

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


# ---- Layout: lists cut short, empty trend periods, capped indicators, status once -----------


def backlog_database(tmp_path: Path, complaints: int) -> str:
    """dlh receives `complaints` on Tue 3 Nov 2026 (09:00 + i minutes) and answers none: each
    misses both timers by 27 Nov. Nothing persisted before November."""
    from datetime import date, timedelta

    from sqlalchemy.orm import Session

    from sigap.storage.database import make_engine
    from sigap.storage.scores import upsert_views

    url = f"sqlite:///{tmp_path / 'backlog.db'}"
    tuesday = date(2026, 11, 3)
    views = []
    for i in range(complaints):
        created = ds.at(tuesday, "09:00") + timedelta(minutes=i)
        views += ds.views_of(f"late-{i:02d}", [("created", created, {"unit": "dlh"})])
    # A later complaint elsewhere brings the data up to 27 Nov (the deadlines have passed).
    friday = date(2026, 11, 27)
    views += ds.views_of(
        "dsda-last",
        [
            ("created", ds.at(friday, "09:00"), {"unit": "dsda"}),
            ("resolved", ds.at(friday, "11:00"), {}),
        ],
    )
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        upsert_views(session, views, ds.WATERMARK, ds.GRACE_SECONDS, registry=ds.REGISTRY)
    engine.dispose()
    return url


def test_a_list_cut_short_says_so_and_the_csv_has_them_all(tmp_path: Path) -> None:
    url = backlog_database(tmp_path, 27)
    text = run_report(url, "--unit", "dlh", "--period", "2026-11", "--format", "md")
    # 27 complaints, two timers each: 54 misses and 54 overdue timers; 20 of each listed.
    assert text.count("*20 of 54 shown; all in the CSV.*") == 2
    missed_section = text.split("### Missed targets, most overdue first")[1]
    assert missed_section.split("### Longest-overdue")[0].count("| late-") == 20
    rows = csv_rows(run_report(url, "--unit", "dlh", "--period", "2026-11", "--format", "csv"))
    assert len(pick(rows, section="missed")) == 54
    assert len(pick(rows, section="overdue")) == 54
    assert {row["subject"] for row in pick(rows, section="overdue")} == {
        f"late-{i:02d}" for i in range(27)
    }
    # A complete list says nothing.
    (tmp_path / "small").mkdir()
    small = backlog_database(tmp_path / "small", 1)
    assert "shown; all in the CSV" not in run_report(
        small, "--unit", "dlh", "--period", "2026-11", "--format", "md"
    )


def test_empty_trend_periods_take_one_row(tmp_path: Path) -> None:
    url = backlog_database(tmp_path, 2)
    text = run_report(url, "--unit", "dlh", "--period", "2026-11", "--format", "md")
    trend = text.split("## Trend")[1].split("## Breakdown")[0]
    table = [line for line in trend.splitlines() if line.startswith("| 20")]
    # May to October have no score: one row for the six of them, then November.
    assert [line.split(" | ")[0] for line in table] == ["| 2026-05 to 2026-10", "| 2026-11"]
    assert "nothing persisted" in table[0]
    html = run_report(url, "--unit", "dlh", "--period", "2026-11", "--format", "html")
    assert re.findall(r'<tr data-period="([^"]+)">', html) == ["2026-05 to 2026-10", "2026-11"]
    # The charts start at the first period with a score: one x label, not seven.
    trend_chart = html.split('aria-label="Achievement per indicator (%)"')[1].split("</svg>")[0]
    assert "2026-11" in trend_chart and "2026-10" not in trend_chart


def test_indicators_capped_at_the_same_value_stay_readable(report_db: str, tmp_path: Path) -> None:
    # dsda's response p90, resolution p90 and rating are capped at 120% in every month: their
    # lines used to be drawn on top of each other, leaving one visible line of three.
    html_file = tmp_path / "dsda.html"
    html_file.write_text(
        run_report(report_db, "--unit", "dsda", "--period", "2026-11"), encoding="utf-8"
    )
    dom_text, _ = render_in_chromium(html_file, tmp_path)
    chart = dom_text.split('aria-label="Achievement per indicator (%)"')[1].split("</svg>")[0]
    lines = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="([^"]+)"', chart)
    assert len(lines) == 5
    heights = {
        colour: {float(point.split(",")[1]) for point in points.split()} for points, colour in lines
    }
    flat = sorted(ys.pop() for ys in heights.values() if len(ys) == 1)
    # The three capped lines (and the two within-target shares, both 105.3% every month) are
    # flat, each at its own height, at least 2 px apart.
    assert len(flat) == 5
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(flat))
    # Each point still tells its exact value.
    assert chart.count(": 120</title>") == 3 * 7


def test_the_category_breakdown_names_the_taxonomy_largest_first(tmp_path: Path) -> None:
    from datetime import date, timedelta

    from sqlalchemy.orm import Session

    from sigap.storage.database import make_engine
    from sigap.storage.scores import upsert_views

    url = f"sqlite:///{tmp_path / 'categories.db'}"
    tuesday = date(2026, 11, 3)
    views = []
    # dlh: 1 parks_trees, 3 waste, 2 with the app's catch-all (not in the taxonomy).
    for i, category in enumerate(["parks_trees", "waste", "lainnya", "waste", "waste", "lainnya"]):
        created = ds.at(tuesday, "09:00") + timedelta(minutes=i)
        views += ds.views_of(
            f"c-{i}",
            [
                ("created", created, {"unit": "dlh", "category": category}),
                ("resolved", created + timedelta(hours=1), {}),
            ],
        )
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        upsert_views(session, views, ds.WATERMARK, ds.GRACE_SECONDS, registry=ds.REGISTRY)
    engine.dispose()
    text = run_report(url, "--unit", "dlh", "--period", "2026-11", "--format", "md")
    table = text.split("### By category")[1].split("### By channel")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "received" not in line]
    subjects = [line.split(" | ")[0].removeprefix("| ") for line in rows]
    assert subjects == [
        "waste: Sampah dan kebersihan (ordinary)",
        "parks_trees: Taman dan pohon (ordinary)",
        "other: not in the registry's taxonomy, or none",
    ]
    assert "| waste: Sampah dan kebersihan (ordinary) | 3 | 3 |" in table
    assert "| other: not in the registry's taxonomy, or none | 2 | 2 |" in table
