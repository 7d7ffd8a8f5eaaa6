"""Official period closes and official scores with their restatements (core.period_close):
two insert-only tables; triggers refuse any UPDATE or DELETE of them (SQLite and
PostgreSQL), so an official figure, once written, is frozen.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN_TABLES = ("period_closes", "official_scores")
INT_COLUMNS = (
    "received",
    "responded",
    "resolved",
    "open_at_end",
)
FLOAT_COLUMNS = (
    "response_p50_wall_seconds",
    "response_p90_wall_seconds",
    "response_p50_working_seconds",
    "response_p90_working_seconds",
    "resolution_p50_wall_seconds",
    "resolution_p90_wall_seconds",
    "resolution_p50_working_seconds",
    "resolution_p90_working_seconds",
)


def upgrade() -> None:
    op.create_table(
        "period_closes",
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("close_instant_epoch", sa.Float(), nullable=False),
        sa.Column("closed_at_epoch", sa.Float(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("registry_version", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("period", "period_start", name="pk_period_closes"),
    )
    op.create_table(
        "official_scores",
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("restatement", sa.Boolean(), nullable=False),
        sa.Column("cut_epoch", sa.Float(), nullable=False),
        sa.Column("watermark_epoch", sa.Float(), nullable=False),
        sa.Column("computed_at_epoch", sa.Float(), nullable=False),
        sa.Column("registry_version", sa.String(64), nullable=False),
        sa.Column("changed_json", sa.Text(), nullable=False),
        sa.Column("reason_json", sa.Text(), nullable=False),
        sa.Column("indicators_json", sa.Text(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in INT_COLUMNS),
        *(sa.Column(name, sa.Float(), nullable=True) for name in FLOAT_COLUMNS),
        sa.Column("response_met", sa.Integer(), nullable=False),
        sa.Column("response_missed", sa.Integer(), nullable=False),
        sa.Column("resolution_met", sa.Integer(), nullable=False),
        sa.Column("resolution_missed", sa.Integer(), nullable=False),
        sa.Column("response_within_target_share", sa.Float(), nullable=True),
        sa.Column("resolution_within_target_share", sa.Float(), nullable=True),
        sa.Column("transfers_away", sa.Integer(), nullable=False),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("reopen_rate", sa.Float(), nullable=True),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating_mean", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "unit", "category", "period", "period_start", "revision", name="pk_official_scores"
        ),
    )
    op.create_index("ix_official_period", "official_scores", ["period", "period_start"])
    dialect = op.get_bind().dialect.name
    for table in FROZEN_TABLES:
        if dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is insert-only'); END"
                )
        elif dialect == "postgresql":
            op.execute(
                f"CREATE FUNCTION {table}_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN RAISE EXCEPTION '{table} is insert-only'; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_frozen()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in FROZEN_TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_frozen()")
    op.drop_index("ix_official_period", table_name="official_scores")
    op.drop_table("official_scores")
    op.drop_table("period_closes")
