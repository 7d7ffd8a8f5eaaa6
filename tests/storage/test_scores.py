"""Score storage on SQLite and on a real PostgreSQL: idempotent upserts, exact quantiles."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from schemas.events import ComplaintEvent
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.core.scoring import VALUE_COLUMNS, all_period_scores, is_empty
from sigap.core.unit_view import UnitView
from sigap.storage.database import make_engine
from sigap.storage.score_queries import score_rows, stored_views
from sigap.storage.scores import finalize_due, upsert_views

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")


def views_of(complaint_id: str, unit: str, created: datetime, seconds: float) -> list[UnitView]:
    state = ComplaintState()
    views = []
    for event_id, type_, at in (
        (f"{complaint_id}-c", "created", created),
        (f"{complaint_id}-r", "resolved", created + timedelta(seconds=seconds)),
    ):
        event = ComplaintEvent.model_validate(
            {
                "event_id": event_id,
                "type": type_,
                "complaint_id": complaint_id,
                "occurred_at": at,
                "unit": unit,
            }
        )
        views.extend(accept_event(state, event, REGISTRY).views)
    return views


V1_KEYS = [
    "unit",
    "period",
    "period_start",
    "resolved",
    "resolution_p50_wall_seconds",
    "resolution_p90_wall_seconds",
]
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return next(v for v in ordered if sum(x <= v for x in ordered) >= q * len(ordered))


def test_upserts_are_idempotent_and_quantiles_exact(database_url: str) -> None:
    engine = make_engine(database_url)
    rng = random.Random(11)
    noon = datetime.fromisoformat("2026-11-02T12:00:00+07:00")
    expected: dict[tuple[str, str], list[float]] = {}
    views: list[UnitView] = []
    for i in range(150):
        unit = rng.choice(["dlh", "dsda"])
        seconds = float(rng.randrange(60, 10 * 3600))
        views += views_of(f"c{i}", unit, noon - timedelta(seconds=seconds), seconds)
        expected.setdefault(("2026-11-02", unit), []).append(seconds)
    # Resolved at 01:30 UTC on 2 Nov... and one at 18:30 UTC, already 3 Nov in Jakarta.
    views += views_of("late", "dlh", datetime.fromisoformat("2026-11-02T18:00:00+00:00"), 1800)
    expected[("2026-11-03", "dlh")] = [1800.0]
    for _ in range(2):  # a redelivered stream rewrites the same rows
        start = 0
        while start < len(views):  # batches of any size; per-complaint order is kept
            size = rng.randrange(1, 80)
            with Session(engine) as session, session.begin():
                upsert_views(
                    session, views[start : start + size], -math.inf, 0.0, registry=REGISTRY
                )
            start += size
    with Session(engine) as session, session.begin():
        finalize_due(
            session, FAR_FUTURE, 0.0, registry=REGISTRY
        )  # all delivered: every period is final
    rows = [{k: row[k] for k in V1_KEYS} for row in score_rows(engine)]
    assert rows == [
        {
            "unit": unit,
            "period": "day",
            "period_start": day,
            "resolved": len(values),
            "resolution_p50_wall_seconds": nearest_rank(values, 0.5),
            "resolution_p90_wall_seconds": nearest_rank(values, 0.9),
        }
        for (day, unit), values in sorted(expected.items())
    ]
    dsda = [{k: row[k] for k in V1_KEYS} for row in score_rows(engine, ["dsda"])]
    assert dsda == [r for r in rows if r["unit"] == "dsda"]
    # Every period is final (the watermark is far ahead): revision 1, stored once.
    assert {(row["revision"], row["final"]) for row in score_rows(engine)} == {(1, True)}
    engine.dispose()


def test_a_final_period_is_kept_and_a_late_change_adds_a_revision(database_url: str) -> None:
    engine = make_engine(database_url)
    created = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
    end_of_day = datetime.fromisoformat("2026-11-03T00:00:00+07:00").timestamp()
    first = views_of("a", "dlh", created, 3600)
    with Session(engine) as session, session.begin():
        upsert_views(
            session, first, end_of_day - 1, 600.0, registry=REGISTRY
        )  # the day is still open
    (provisional,) = score_rows(engine)
    assert (provisional["revision"], provisional["final"], provisional["resolved"]) == (0, False, 1)
    with Session(engine) as session, session.begin():
        assert finalize_due(session, end_of_day + 600, 600.0, registry=REGISTRY) >= 1
    (final,) = score_rows(engine)
    assert (final["revision"], final["final"], final["resolved"]) == (1, True, 1)
    # A late event: another complaint resolved on that day arrives after it was final.
    with Session(engine) as session, session.begin():
        upsert_views(
            session,
            views_of("b", "dlh", created, 7200),
            end_of_day + 3600,
            600.0,
            registry=REGISTRY,
        )
    revisions = score_rows(engine, all_revisions=True)
    assert [
        (r["revision"], r["resolved"], r["resolution_p90_wall_seconds"]) for r in revisions
    ] == [
        (1, 1, 3600.0),
        (2, 2, 7200.0),
    ]
    assert score_rows(engine)[0]["revision"] == 2  # the latest by default
    # Redelivering the same views changes nothing: no third revision.
    with Session(engine) as session, session.begin():
        upsert_views(session, first, end_of_day + 7200, 600.0, registry=REGISTRY)
    assert len(score_rows(engine, all_revisions=True)) == 2
    weeks = score_rows(engine, period="week")
    assert [(w["period_start"], w["resolved"]) for w in weeks] == [("2026-11-02", 2)]
    engine.dispose()


# -- the stored scores equal a recomputation from the final views -----------------------------

STREAM_START = datetime.fromisoformat("2026-03-25T08:00:00+07:00")
STREAM_UNITS = ["dlh", "dsda", "damkar"]
LATER = ["assigned", "responded", "paused", "resumed", "resolved", "reopened", "rated"]


def random_history(rng: random.Random, complaints: int) -> list[ComplaintEvent]:
    events = []
    for number in range(complaints):
        complaint_id = f"r{number}"
        at = STREAM_START + timedelta(minutes=rng.randrange(60 * 24 * 12))
        body: dict[str, object] = {
            "event_id": f"{complaint_id}-0",
            "type": "created",
            "complaint_id": complaint_id,
            "occurred_at": at,
            "unit": rng.choice(STREAM_UNITS),
        }
        if rng.random() < 0.6:
            body["category"] = rng.choice(["complex", "sampah"])
        events.append(ComplaintEvent.model_validate(body))
        for index in range(1, rng.randrange(9)):
            at += timedelta(minutes=rng.randrange(60 * 24 * 3))
            kind = rng.choice(LATER)
            body = {
                "event_id": f"{complaint_id}-{index}",
                "type": kind,
                "complaint_id": complaint_id,
                "occurred_at": at,
            }
            if kind == "assigned":
                body["unit"] = rng.choice(STREAM_UNITS)
            if kind == "rated":
                body["rating"] = rng.randrange(1, 6)
            events.append(ComplaintEvent.model_validate(body))
    return events


@pytest.mark.slow  # four rounds of shuffled histories in small batches
def test_stored_scores_equal_a_recomputation_whatever_the_batches(database_url: str) -> None:
    """Views stream in (events in a shuffled order, so views are restated), in random
    batches, while the watermark moves and periods become final. In the end the latest
    revision of every stored (unit, category, period) equals core.scoring's computation
    from the final views, and every computed score is stored."""
    engine = make_engine(database_url)
    rng = random.Random(5)
    for _round in range(4):
        with engine.begin() as connection:
            for table in ("unit_score_indicators", "unit_scores", "unit_complaint_views"):
                connection.exec_driver_sql(f"DELETE FROM {table}")
        events = random_history(rng, 14)
        rng.shuffle(events)  # late events restate earlier views and final periods
        state: dict[str, ComplaintState] = {}
        stream: list[UnitView] = []
        latest: dict[tuple[str, str], UnitView] = {}
        for event in events:
            try:
                accepted = accept_event(
                    state.setdefault(event.complaint_id, ComplaintState()), event, REGISTRY
                )
            except Exception:  # an event before its created: held, as in the stream
                continue
            stream += accepted.views
            for view in accepted.views:
                latest[(view.unit, view.complaint_id)] = view
        watermark = STREAM_START.timestamp()
        start = 0
        while start < len(stream):
            size = rng.randrange(1, 12)
            watermark += rng.randrange(0, 3 * 86400)
            with Session(engine) as session, session.begin():
                upsert_views(
                    session, stream[start : start + size], watermark, 600.0, registry=REGISTRY
                )
                finalize_due(session, watermark, 600.0, registry=REGISTRY)
            start += size
        with Session(engine) as session, session.begin():
            finalize_due(session, FAR_FUTURE, 600.0, registry=REGISTRY)
        expected = {
            (s.unit, s.category, s.period, s.period_start.isoformat()): {
                **s.values(),
                "indicators": [i.as_json() for i in s.indicators],
            }
            for s in all_period_scores(latest.values(), FAR_FUTURE, registry=REGISTRY)
        }
        stored = {}
        for kind in ("day", "week", "month", "quarter"):
            for row in score_rows(engine, period=kind, category=None):
                key = (row["unit"], row["category"], row["period"], row["period_start"])
                values = {k: row[k] for k in (*VALUE_COLUMNS, "indicators")}
                if is_empty(values) and key not in expected:
                    continue  # activity moved away by a restatement: the record of it
                stored[key] = values
        assert stored == expected
    engine.dispose()


def test_revisions_keep_every_column_and_queries_select_them(database_url: str) -> None:
    engine = make_engine(database_url)
    created = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
    end_of_day = datetime.fromisoformat("2026-11-03T00:00:00+07:00").timestamp()
    first = views_of("a", "dlh", created, 3600)
    with Session(engine) as session, session.begin():
        upsert_views(session, first, end_of_day + 600, 600.0, registry=REGISTRY)
    (final,) = score_rows(engine)
    assert (final["revision"], final["final"], final["responded"], final["resolved"]) == (
        1,
        True,
        1,
        1,
    )
    # Office hours 08:00-16:00: created 09:00, resolved 10:00 = one working hour.
    assert final["resolution_p90_working_seconds"] == 3600.0
    assert final["response_p90_working_seconds"] == 3600.0
    indicators = {i["name"]: i for i in final["indicators"]}
    assert indicators["resolution_p90_working_hours"]["realisation"] == 1.0
    assert indicators["resolution_p90_working_hours"]["achievement_percent"] == 120.0
    assert indicators["resolution_within_target"]["achieved"] is True
    # A late complaint that day: revision 2 (of "*" and of the category "other", both
    # complaints having no registry category); revision 1 is kept as it was, indicators too.
    late = views_of("b", "dlh", created, 7200)
    with Session(engine) as session, session.begin():
        upsert_views(session, late, end_of_day + 3600, 600.0, registry=REGISTRY)
    history = score_rows(engine, all_revisions=True)
    assert [(r["revision"], r["resolved"], r["resolution_p90_wall_seconds"]) for r in history] == [
        (1, 1, 3600.0),
        (2, 2, 7200.0),
    ]
    assert history[0]["indicators"] == final["indicators"]
    assert score_rows(engine, revision=1) == [final]
    assert score_rows(engine, revision=2) == [history[1]]
    assert score_rows(engine, revision=3) == []
    every = score_rows(engine, category=None)
    assert [(r["category"], r["revision"], r["resolved"]) for r in every] == [
        ("*", 2, 2),
        ("other", 2, 2),
    ]
    # Periods by start and range; weeks, months and quarters are kept too.
    day = date(2026, 11, 2)
    assert [r["period_start"] for r in score_rows(engine, start=day)] == ["2026-11-02"]
    assert score_rows(engine, date_from=day + timedelta(days=1)) == []
    assert score_rows(engine, date_to=day - timedelta(days=1)) == []
    assert len(score_rows(engine, date_from=day, date_to=day)) == 1
    for kind, start in (("week", "2026-11-02"), ("month", "2026-11-01"), ("quarter", "2026-10-01")):
        (row,) = score_rows(engine, period=kind)
        assert (row["period_start"], row["resolved"], row["final"]) == (start, 2, False)
    engine.dispose()


def test_stored_views_round_trip(database_url: str) -> None:
    engine = make_engine(database_url)
    created = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
    views = views_of("a", "dlh", created, 3600)[-1:] + views_of("b", "dsda", created, 60)[-1:]
    with Session(engine) as session, session.begin():
        upsert_views(session, views, -math.inf, 0.0, registry=REGISTRY)
    assert stored_views(engine) == sorted(views, key=lambda v: (v.unit, v.complaint_id))
    assert stored_views(engine, unit="dsda") == views[1:]
    assert stored_views(engine, created_before=created.timestamp()) == []
    assert len(stored_views(engine, active_from=created.timestamp() + 600)) == 1  # dlh's
    engine.dispose()
