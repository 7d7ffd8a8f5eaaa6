"""Alembic environment: migrates the connection storage.database.migrate hands over, or, from
the `alembic` command line, the database of DATABASE_URL (default sqlite:///sigap.db)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from sigap.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot alter most of a table: batch mode copies it to a new one instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or os.environ.get(
        "DATABASE_URL", "sqlite:///sigap.db"
    )


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _configure(given)
    else:
        engine = create_engine(_url(), poolclass=pool.NullPool)
        with engine.connect() as connection:
            _configure(connection)
        engine.dispose()
