"""Alembic migrations of the score database (run by storage.database.migrate)."""
