"""Alembic migrations of the score database (run by storage.scores.migrate)."""
