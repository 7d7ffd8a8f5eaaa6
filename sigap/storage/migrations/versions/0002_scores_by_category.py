"""Scores per unit, category and period (quarter too), with the issue-5 columns and the
IKU indicators; views gain the span in which they may count as open at a period's end.

- unit_scores: `category` joins the primary key (existing rows: "*", every category);
  resolution_p50/p90_seconds become resolution_p50/p90_wall_seconds; the new columns are
  NULL in existing rows (not measured when they were written), except the two
  within-target shares, which follow from the stored met/missed counts.
- unit_score_indicators: new.
- unit_complaint_views: open_from_epoch / open_until_epoch. Existing rows get a span that
  contains the exact one (creation to the view's as_of, or unbounded while the unit holds
  the complaint open): the score query only needs a superset, and the writer stores the
  exact span on the view's next update.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_SCORE_COLUMNS: tuple[tuple[str, type[sa.types.TypeEngine[Any]]], ...] = (
    ("computed_at_epoch", sa.Float),
    ("responded", sa.Integer),
    ("open_at_end", sa.Integer),
    ("response_p50_wall_seconds", sa.Float),
    ("response_p90_wall_seconds", sa.Float),
    ("response_p50_working_seconds", sa.Float),
    ("response_p90_working_seconds", sa.Float),
    ("resolution_p50_working_seconds", sa.Float),
    ("resolution_p90_working_seconds", sa.Float),
    ("response_within_target_share", sa.Float),
    ("resolution_within_target_share", sa.Float),
    ("transfers_away", sa.Integer),
    ("reopened", sa.Integer),
    ("reopen_rate", sa.Float),
    ("rating_count", sa.Integer),
    ("rating_mean", sa.Float),
)
RENAMED = (
    ("resolution_p50_seconds", "resolution_p50_wall_seconds"),
    ("resolution_p90_seconds", "resolution_p90_wall_seconds"),
)
OLD_KEY = ["unit", "period", "period_start", "revision"]
NEW_KEY = ["unit", "category", "period", "period_start", "revision"]


def _primary_key_name(table: str) -> str | None:
    name = sa.inspect(op.get_bind()).get_pk_constraint(table).get("name")
    return str(name) if name else None


def upgrade() -> None:
    with op.batch_alter_table("unit_complaint_views") as batch:
        batch.add_column(sa.Column("open_from_epoch", sa.Float(), nullable=True))
        batch.add_column(sa.Column("open_until_epoch", sa.Float(), nullable=True))
    _fill_open_spans()

    old_key_name = _primary_key_name("unit_scores")
    with (
        warnings.catch_warnings(),
        op.batch_alter_table("unit_scores", recreate="always") as batch,
    ):
        # SQLite's reflected key columns still say primary_key=True while the new, wider
        # key is built; SQLAlchemy warns, then uses the new key, which is what we want.
        warnings.filterwarnings("ignore", "Table .* specifies columns", sa.exc.SAWarning)
        batch.add_column(sa.Column("category", sa.String(64), nullable=False, server_default="*"))
        if old_key_name is not None:
            batch.drop_constraint(old_key_name, type_="primary")
        batch.create_primary_key("pk_unit_scores", NEW_KEY)
        for old, new in RENAMED:
            batch.alter_column(old, new_column_name=new)
        for name, type_ in NEW_SCORE_COLUMNS:
            batch.add_column(sa.Column(name, type_(), nullable=True))
    # The default only filled the existing rows: new rows always name their category.
    with op.batch_alter_table("unit_scores") as batch:
        batch.alter_column("category", existing_type=sa.String(64), server_default=None)

    scores = sa.table(
        "unit_scores",
        *(
            sa.column(name, sa.Integer())
            for name in ("response_met", "response_missed", "resolution_met", "resolution_missed")
        ),
        sa.column("response_within_target_share", sa.Float()),
        sa.column("resolution_within_target_share", sa.Float()),
    )
    for timer in ("response", "resolution"):
        met, missed = scores.c[f"{timer}_met"], scores.c[f"{timer}_missed"]
        op.execute(
            scores.update()
            .where(met + missed > 0)
            .values({f"{timer}_within_target_share": sa.cast(met, sa.Float()) / (met + missed)})
        )

    op.create_table(
        "unit_score_indicators",
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("unit_of_measure", sa.String(16), nullable=False),
        sa.Column("realisation", sa.Float(), nullable=True),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("achievement_percent", sa.Float(), nullable=True),
        sa.Column("achieved", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint(*NEW_KEY, "indicator", name="pk_unit_score_indicators"),
        sa.ForeignKeyConstraint(
            NEW_KEY,
            [f"unit_scores.{column}" for column in NEW_KEY],
            name="fk_unit_score_indicators_score",
        ),
    )


def _fill_open_spans() -> None:
    """A superset of each stored view's open span, from its JSON (see the docstring)."""
    bind = op.get_bind()
    views = sa.table(
        "unit_complaint_views",
        sa.column("unit", sa.String()),
        sa.column("complaint_id", sa.String()),
        sa.column("view_json", sa.Text()),
        sa.column("open_from_epoch", sa.Float()),
        sa.column("open_until_epoch", sa.Float()),
    )
    update = (
        views.update()
        .where(views.c.unit == sa.bindparam("key_unit"))
        .where(views.c.complaint_id == sa.bindparam("key_complaint"))
        .values(
            open_from_epoch=sa.bindparam("span_from"), open_until_epoch=sa.bindparam("span_until")
        )
    )
    batch: list[dict[str, object]] = []
    rows = bind.execute(sa.select(views.c.unit, views.c.complaint_id, views.c.view_json))
    for unit, complaint_id, view_json in rows.fetchall():
        view = json.loads(view_json)
        if view.get("del"):
            span_from = span_until = None
        else:
            span_from = view["c"]
            span_until = None if view["h"] and view["o"] else view["at"]
        batch.append(
            {
                "key_unit": unit,
                "key_complaint": complaint_id,
                "span_from": span_from,
                "span_until": span_until,
            }
        )
        if len(batch) >= 1000:
            bind.execute(update, batch)
            batch = []
    if batch:
        bind.execute(update, batch)


def downgrade() -> None:
    op.drop_table("unit_score_indicators")
    op.execute(sa.text("DELETE FROM unit_scores WHERE category <> '*'"))
    new_key_name = _primary_key_name("unit_scores")
    with (
        warnings.catch_warnings(),
        op.batch_alter_table("unit_scores", recreate="always") as batch,
    ):
        warnings.filterwarnings("ignore", "Table .* specifies columns", sa.exc.SAWarning)
        if new_key_name is not None:
            batch.drop_constraint(new_key_name, type_="primary")
        batch.create_primary_key("unit_scores_pkey", OLD_KEY)
        for name, _ in NEW_SCORE_COLUMNS:
            batch.drop_column(name)
        for old, new in RENAMED:
            batch.alter_column(new, new_column_name=old)
        batch.drop_column("category")
    with op.batch_alter_table("unit_complaint_views") as batch:
        batch.drop_column("open_until_epoch")
        batch.drop_column("open_from_epoch")
