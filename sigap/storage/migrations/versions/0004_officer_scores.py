"""Officer scores: per (unit, officer, category, period), the unit scores' value columns and
IKU indicators (as JSON); see storage.models.OfficerScore.

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INT_COLUMNS = (
    "received",
    "responded",
    "resolved",
    "open_at_end",
)
SECONDS_COLUMNS = tuple(
    f"{timer}_{q}_{clock}_seconds"
    for timer in ("response", "resolution")
    for q in ("p50", "p90")
    for clock in ("wall", "working")
)


def upgrade() -> None:
    op.create_table(
        "officer_scores",
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("officer", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("watermark_epoch", sa.Float(), nullable=False),
        sa.Column("computed_at_epoch", sa.Float(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in INT_COLUMNS),
        *(sa.Column(name, sa.Float(), nullable=True) for name in SECONDS_COLUMNS),
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
        sa.Column("indicators_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "unit", "officer", "category", "period", "period_start", name="pk_officer_scores"
        ),
    )


def downgrade() -> None:
    op.drop_table("officer_scores")
