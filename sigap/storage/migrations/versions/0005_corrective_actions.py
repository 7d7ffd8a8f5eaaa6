"""Corrective actions register with its history (docs/causes.md).

- corrective_actions: one row per action (unit, cause, owner officer code, due date,
  status, decided and closed instants);
- corrective_action_history: every change of an action, in order.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "corrective_actions",
        sa.Column("action_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("cause", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_at_epoch", sa.Float(), nullable=False),
        sa.Column("closed_at_epoch", sa.Float(), nullable=True),
    )
    op.create_index("ix_corrective_actions_unit", "corrective_actions", ["unit"])
    op.create_table(
        "corrective_action_history",
        sa.Column("change_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("at_epoch", sa.Float(), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["corrective_actions.action_id"],
            name="fk_corrective_action_history_action",
        ),
    )
    op.create_index(
        "ix_corrective_action_history_action_id", "corrective_action_history", ["action_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_corrective_action_history_action_id", "corrective_action_history")
    op.drop_table("corrective_action_history")
    op.drop_index("ix_corrective_actions_unit", "corrective_actions")
    op.drop_table("corrective_actions")
