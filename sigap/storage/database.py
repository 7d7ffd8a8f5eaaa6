"""The score database: engines and the schema, kept by Alembic (sigap/storage/migrations).

`migrate` upgrades a database to the head revision; a database created before Alembic
(tables, no version table) is stamped with the revision it has first. `make_engine` opens
one (and migrates it unless told not to).
"""

from __future__ import annotations

import logging
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sigap.storage.models import Base

log = logging.getLogger(__name__)

# The revision of the schema that shipped before Alembic, and the tables it had.
BASELINE_REVISION = "0001"
_BASELINE_TABLES = {"unit_complaint_views", "unit_scores"}


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(files("sigap.storage") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(database: str | Engine) -> None:
    """Upgrade the database (a URL or an engine) to the head revision (`alembic upgrade
    head`). Tables made by `create_all` before Alembic was used, without a version table,
    are stamped first: with the baseline (0001) when they have its shape, with the head
    when they already have the head's (made from the current models)."""
    engine = create_engine(database) if isinstance(database, str) else database
    try:
        with engine.begin() as connection:
            _stamp_unversioned(connection)
            command.upgrade(alembic_config(connection), "head")
    except Exception:
        # Another process (the score writer, `sigap scores`) may have migrated meanwhile.
        if current_revision(engine) != head_revision():
            raise
    finally:
        if isinstance(database, str):
            engine.dispose()


def _stamp_unversioned(connection: Connection) -> None:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables or not tables >= _BASELINE_TABLES:
        return
    columns = {column["name"] for column in inspector.get_columns("unit_scores")}
    revision = head_revision() if "category" in columns else BASELINE_REVISION
    log.warning("score database without a schema version: stamping revision %s", revision)
    command.stamp(alembic_config(connection), revision)


def make_engine(database_url: str, *, create_schema: bool = True) -> Engine:
    engine = create_engine(database_url, pool_pre_ping=True)
    if create_schema:
        migrate(engine)
    return engine


def dialect_insert(session: Session, model: type[Base]) -> Any:
    """The dialect's INSERT (for ON CONFLICT clauses): SQLite or PostgreSQL only."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
