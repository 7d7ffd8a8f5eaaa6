"""The schema that shipped before Alembic (created then by metadata.create_all): the views
and the per-unit day/week/month scores with revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unit_complaint_views",
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("complaint_id", sa.String(128), primary_key=True),
        sa.Column("as_of_epoch", sa.Float(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("created_at_epoch", sa.Float(), nullable=False),
        sa.Column("resolved_at_epoch", sa.Float(), nullable=True),
        sa.Column("resolution_seconds", sa.Float(), nullable=True),
        sa.Column("last_instant_epoch", sa.Float(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("view_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_views_unit_created", "unit_complaint_views", ["unit", "created_at_epoch"])
    op.create_table(
        "unit_scores",
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("period_start", sa.Date(), primary_key=True),
        sa.Column("revision", sa.Integer(), primary_key=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("watermark_epoch", sa.Float(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("resolution_p50_seconds", sa.Float(), nullable=True),
        sa.Column("resolution_p90_seconds", sa.Float(), nullable=True),
        sa.Column("response_met", sa.Integer(), nullable=False),
        sa.Column("response_missed", sa.Integer(), nullable=False),
        sa.Column("resolution_met", sa.Integer(), nullable=False),
        sa.Column("resolution_missed", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("unit_scores")
    op.drop_index("ix_views_unit_created", table_name="unit_complaint_views")
    op.drop_table("unit_complaint_views")
