"""A stored view never goes back to an older one (replays, redeliveries, zombie writers),
and a restarted writer's watermark starts from the lowest partition, on SQLite and on a
real PostgreSQL."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.events import ComplaintEvent
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.unit_view import UnitView
from sigap.storage.database import make_engine
from sigap.storage.models import UnitComplaintRow
from sigap.storage.score_queries import score_rows
from sigap.storage.scores import restored_partition_watermarks, store_view_row, upsert_views
from tests.storage.test_scores import REGISTRY

CREATED = datetime.fromisoformat("2026-11-02T09:00:00+07:00")


def _versions(complaint_id: str, unit: str = "dlh") -> tuple[UnitView, UnitView]:
    """The complaint's view after `created` (open), and after `resolved` an hour later."""
    state = ComplaintState()
    found = []
    for event_id, type_, at in (("c", "created", CREATED), ("r", "resolved", CREATED)):
        event = ComplaintEvent.model_validate(
            {
                "event_id": f"{complaint_id}-{event_id}",
                "type": type_,
                "complaint_id": complaint_id,
                "occurred_at": at + timedelta(hours=1 if type_ == "resolved" else 0),
                "unit": unit,
            }
        )
        (view,) = accept_event(state, event, REGISTRY).views
        found.append(view)
    return found[0], found[1]


def _day_resolved(engine_url: str) -> int:
    engine = make_engine(engine_url)
    rows = score_rows(engine, period="day", category="*", start=date(2026, 11, 2))
    engine.dispose()
    return sum(row["resolved"] for row in rows if row["unit"] == "dlh")


def _stored_as_of(session: Session, complaint_id: str) -> float:
    text = session.scalar(
        select(UnitComplaintRow.view_json).where(UnitComplaintRow.complaint_id == complaint_id)
    )
    assert text is not None
    return float(UnitView.from_json(orjson.loads(text)).as_of)


def test_an_older_view_written_after_a_newer_one_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    opened, resolved = _versions("c1")
    assert opened.as_of < resolved.as_of
    with Session(engine) as session, session.begin():
        upsert_views(session, [resolved], -math.inf, 0.0, registry=REGISTRY)
    assert _day_resolved(database_url) == 1
    # A zombie writer (or a replay) lands the older batch afterwards: resolved stays 1.
    with Session(engine) as session, session.begin():
        upsert_views(session, [opened], -math.inf, 0.0, registry=REGISTRY)
    assert _day_resolved(database_url) == 1
    # Within one batch, out of order: the newest wins too.
    _, other_resolved = _versions("c2")
    other_opened, _ = _versions("c2")
    with Session(engine) as session, session.begin():
        upsert_views(session, [other_resolved, other_opened], -math.inf, 0.0, registry=REGISTRY)
    assert _day_resolved(database_url) == 2
    engine.dispose()


def test_the_database_itself_refuses_an_older_view(database_url: str) -> None:
    """The fence against a concurrent writer: the row write is conditional in SQL, whatever
    the writer read before (here it read nothing)."""
    engine = make_engine(database_url)
    opened, resolved = _versions("c1")
    with Session(engine) as session, session.begin():
        store_view_row(session, resolved)
    with Session(engine) as session, session.begin():
        store_view_row(session, opened)
    with Session(engine) as session:
        assert _stored_as_of(session, "c1") == resolved.as_of
    # A view of the same as_of still replaces it (a redelivery, the same latest event).
    with Session(engine) as session, session.begin():
        store_view_row(session, resolved)
        assert _stored_as_of(session, "c1") == resolved.as_of
    engine.dispose()


def test_a_restarted_writer_resumes_from_each_partitions_latest_view(database_url: str) -> None:
    engine = make_engine(database_url)
    _, ahead = _versions("a", unit="dlh")
    behind, _ = _versions("b", unit="dsda")
    with Session(engine) as session, session.begin():
        upsert_views(session, [ahead, behind], -math.inf, 0.0, registry=REGISTRY)
    partition = {"dlh": 0, "dsda": 1}
    with Session(engine) as session:
        marks = restored_partition_watermarks(session, partition.__getitem__)
    assert marks == {0: ahead.as_of, 1: behind.as_of}
    # The writer takes the lowest, as it does live: not the latest view of all.
    assert min(marks.values()) == behind.as_of < ahead.as_of
    engine.dispose()
