"""Alembic migrations on SQLite and on a real PostgreSQL: from an empty database, from the
previous revision with data in it, from a database made by create_all before Alembic; and
the head revision is exactly the models (no autogenerate difference)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import orjson
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, inspect, text
from sqlalchemy.orm import Session

from sigap.storage.database import alembic_config, current_revision, head_revision, migrate
from sigap.storage.models import Base
from sigap.storage.score_queries import score_rows, stored_views
from sigap.storage.scores import finalize_due, upsert_views
from tests.storage import legacy_models
from tests.storage.test_scores import REGISTRY, views_of

FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


def schema_differences(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, metadata)
    # alembic's own version table is not in the models
    differences = [d for d in differences if "alembic_version" not in repr(d)]
    # Autogenerate does not compare primary keys: compare them here.
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        if inspector.has_table(table.name):
            stored = inspector.get_pk_constraint(table.name)["constrained_columns"]
            modelled = [column.name for column in table.primary_key.columns]
            if stored != modelled:
                differences.append(("primary_key", table.name, stored, modelled))
    return differences


def upgrade_to(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def test_head_is_one_linear_history_ending_at_the_models() -> None:
    assert head_revision() == "0004"


def test_upgrade_from_empty_gives_exactly_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    assert current_revision(engine) is None
    migrate(engine)
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine, Base.metadata) == []
    migrate(engine)  # idempotent
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_baseline_revision_is_the_schema_that_shipped(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to(engine, "0001")
    assert schema_differences(engine, legacy_models.Base.metadata) == []
    engine.dispose()


def legacy_rows(engine: Engine) -> list[dict[str, Any]]:
    """Views and final scores written as the pre-Alembic code wrote them."""
    created = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
    views = views_of("a", "dlh", created, 3600) + views_of("b", "dlh", created, 7200)
    latest = {(v.unit, v.complaint_id): v for v in views}
    with Session(engine) as session, session.begin():
        for view in latest.values():
            session.add(
                legacy_models.UnitComplaintRow(
                    unit=view.unit,
                    complaint_id=view.complaint_id,
                    as_of_epoch=view.as_of,
                    category=view.category,
                    created_at_epoch=view.created_at,
                    resolved_at_epoch=view.resolved_at,
                    resolution_seconds=view.resolution_seconds,
                    last_instant_epoch=view.as_of,
                    deleted=False,
                    view_json=orjson.dumps(view.to_json()).decode(),
                )
            )
        session.add(
            legacy_models.UnitScore(
                unit="dlh",
                period="day",
                period_start=date(2026, 11, 2),
                revision=1,
                final=True,
                watermark_epoch=FAR_FUTURE,
                received=2,
                resolved=2,
                resolution_p50_seconds=3600.0,
                resolution_p90_seconds=7200.0,
                response_met=2,
                response_missed=0,
                resolution_met=1,
                resolution_missed=1,  # not what the views say: history is kept as stored
            )
        )
    return [v.to_json() for v in latest.values()]


def check_legacy_rows_survive(engine: Engine, views_json: list[dict[str, Any]]) -> None:
    assert current_revision(engine) == head_revision()
    (row,) = score_rows(engine)
    assert row["category"] == "*"
    assert (row["revision"], row["final"], row["received"], row["resolved"]) == (1, True, 2, 2)
    assert (row["resolution_p50_wall_seconds"], row["resolution_p90_wall_seconds"]) == (
        3600.0,
        7200.0,
    )
    assert (row["resolution_met"], row["resolution_missed"]) == (1, 1)
    # Shares follow from the stored counts; columns not measured then are NULL.
    assert row["response_within_target_share"] == 1.0
    assert row["resolution_within_target_share"] == 0.5
    assert row["responded"] is None and row["open_at_end"] is None and row["indicators"] == []
    assert sorted(v.to_json()["id"] for v in stored_views(engine)) == ["a", "b"]
    assert [v.to_json() for v in stored_views(engine)] == sorted(views_json, key=lambda v: v["id"])
    # The stored views still score: a new complaint that day restates it as revision 2,
    # now with every column.
    created = datetime.fromisoformat("2026-11-02T10:00:00+07:00")
    with Session(engine) as session, session.begin():
        upsert_views(session, views_of("c", "dlh", created, 60), FAR_FUTURE, 0.0, registry=REGISTRY)
    revisions = score_rows(engine, all_revisions=True)
    assert [(r["revision"], r["received"], r["responded"]) for r in revisions] == [
        (1, 2, None),
        (2, 3, 3),
    ]
    assert len(revisions[1]["indicators"]) == 5


def test_upgrade_from_the_previous_revision_keeps_the_rows(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to(engine, "0001")
    views_json = legacy_rows(engine)
    migrate(engine)
    check_legacy_rows_survive(engine, views_json)
    assert schema_differences(engine, Base.metadata) == []
    engine.dispose()


def test_a_database_made_before_alembic_is_stamped_then_upgraded(database_url: str) -> None:
    engine = create_engine(database_url)
    legacy_models.Base.metadata.create_all(engine)
    views_json = legacy_rows(engine)
    assert "alembic_version" not in inspect(engine).get_table_names()
    migrate(engine)
    check_legacy_rows_survive(engine, views_json)
    engine.dispose()


def test_tables_made_from_the_current_models_are_stamped_head(database_url: str) -> None:
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    migrate(engine)
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine, Base.metadata) == []
    engine.dispose()


def test_downgrade_to_the_baseline_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate(engine)
    created = datetime.fromisoformat("2026-11-02T09:00:00+07:00")
    with Session(engine) as session, session.begin():
        upsert_views(
            session, views_of("a", "dlh", created, 3600), -math.inf, 0.0, registry=REGISTRY
        )
        finalize_due(session, FAR_FUTURE, 0.0, registry=REGISTRY)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    assert schema_differences(engine, legacy_models.Base.metadata) == []
    with engine.connect() as connection:
        kept = connection.execute(
            text("SELECT period, resolved, resolution_p90_seconds FROM unit_scores")
        ).fetchall()
    assert sorted(tuple(row) for row in kept) == [
        ("day", 1, 3600.0),
        ("month", 1, 3600.0),
        ("quarter", 1, 3600.0),
        ("week", 1, 3600.0),
    ]
    migrate(engine)
    assert schema_differences(engine, Base.metadata) == []
    assert [r["resolved"] for r in score_rows(engine)] == [1]
    engine.dispose()


def test_upgrade_from_a_url(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    engine = create_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
