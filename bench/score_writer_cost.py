"""The score writer's own cost on a real public data set: the views a worker sends for the
St. Louis and Baltimore exports (shared/data, through their mappings in deploy/csv-mappings),
in event order, written with `storage.scores.upsert_views` (the score writer's path) in
batches, into a fresh SQLite database. No broker: the time is the writer's code and SQL.

    .venv/bin/python bench/score_writer_cost.py [--batch 500] [--complaints N] [--digest]

Prints the seconds and views per second of writing, and with `--digest` a digest of every
unit and officer score row written (the columns that do not depend on the wall clock), to
compare two versions of the code on the same input.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sigap.core.complaint_state import ComplaintState, accept_event  # noqa: E402
from sigap.core.registry_file import load_registry  # noqa: E402
from sigap.core.unit_view import UnitView  # noqa: E402
from sigap.replay_sources import open_source  # noqa: E402
from sigap.storage.database import make_engine  # noqa: E402
from sigap.storage.models import OfficerScore, UnitScore  # noqa: E402
from sigap.storage.scores import upsert_views  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SOURCES = (
    ("stlouis_csb_service_requests_2009_2012.csv", "stlouis-csb.yaml"),
    ("baltimore_311_customer_service_requests_2019-10.csv", "baltimore-311.yaml"),
)
# Columns that depend on when the writer ran, not on the data.
WALL_CLOCK_COLUMNS = {"id", "computed_at_epoch", "watermark_epoch"}


def sent_views(limit: int | None) -> list[tuple[float, list[UnitView]]]:
    """(event time, the views the complaint stage sends after that event), in event order."""
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    events = []
    for csv, mapping in SOURCES:
        found, _ = open_source(DATA / csv, ROOT / "deploy" / "csv-mappings" / mapping)
        events += list(found)
    events.sort(key=lambda event: (event.occurred_at, event.event_id))
    states: dict[str, ComplaintState] = {}
    out = []
    for event in events:
        if event.complaint_id not in states and limit is not None and len(states) >= limit:
            continue
        state = states.setdefault(event.complaint_id, ComplaintState())
        try:
            accepted = accept_event(state, event, registry)
        except ValueError:
            continue  # rejected: the worker dead-letters it, the writer never sees it
        if accepted.views:
            out.append((event.occurred_at.timestamp(), accepted.views))
    return out


def rows_digest(session: Session) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    for model in (UnitScore, OfficerScore):
        columns = [c.name for c in model.__table__.columns if c.name not in WALL_CLOCK_COLUMNS]
        rows = sorted(
            orjson.dumps([getattr(row, name) for name in columns], default=str)
            for row in session.scalars(select(model))
        )
        count += len(rows)
        for row in rows:
            digest.update(row)
    return count, digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=500, help="views per upsert_views call")
    parser.add_argument("--complaints", type=int, default=None, help="only the first N")
    parser.add_argument("--digest", action="store_true", help="print a digest of the rows")
    args = parser.parse_args()
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    sent = sent_views(args.complaints)
    views_total = sum(len(views) for _, views in sent)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scores.db")
        spent = 0.0
        batch: list[UnitView] = []
        watermark = 0.0
        for index, (at, views) in enumerate(sent):
            batch += views
            watermark = max(watermark, at)
            if len(batch) >= args.batch or index == len(sent) - 1:
                started = time.perf_counter()
                with Session(engine) as session, session.begin():
                    upsert_views(
                        session, batch, watermark, 600.0, registry=registry, wall_clock=time.time
                    )
                spent += time.perf_counter() - started
                batch = []
        print(
            f"{views_total:,} views in {len(sent):,} sends: written in {spent:.1f} s "
            f"({views_total / spent:,.0f} views/s, batches of {args.batch})"
        )
        if args.digest:
            with Session(engine) as session:
                count, digest = rows_digest(session)
            print(f"score rows: {count:,}, digest {digest}")
        engine.dispose()


if __name__ == "__main__":
    main()
