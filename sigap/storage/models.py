"""SQLAlchemy 2.0 models of the persisted scores (the schema at the Alembic head revision,
sigap/storage/migrations; a test checks that the migrations produce exactly these tables).

Only unit codes, complaint ids, categories, channels and times are stored: no personal data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sigap.core.scoring import VALUE_COLUMNS


class Base(DeclarativeBase):
    pass


class MeasuredValues:
    """The value columns (core.scoring.VALUE_COLUMNS) that every score table (unit_scores,
    official_scores, officer_scores) stores the same way, declared once. The other five,
    the counts that migration 0002 added, are in MeasuredCounts: nullable in unit_scores
    only, whose rows from before that migration did not measure them."""

    received: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    response_p50_wall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_p90_wall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_p50_working_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_p90_working_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_p50_wall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_p90_wall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_p50_working_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_p90_working_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_met: Mapped[int] = mapped_column(Integer)
    response_missed: Mapped[int] = mapped_column(Integer)
    resolution_met: Mapped[int] = mapped_column(Integer)
    resolution_missed: Mapped[int] = mapped_column(Integer)
    response_within_target_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_within_target_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    reopen_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    rating_mean: Mapped[float | None] = mapped_column(Float, nullable=True)

    def measured(self) -> dict[str, Any]:
        """The row's value columns (core.scoring.VALUE_COLUMNS), as core.scoring has them."""
        return {column: getattr(self, column) for column in VALUE_COLUMNS}


class MeasuredCounts:
    """The five value columns added by migration 0002, where every row has them."""

    responded: Mapped[int] = mapped_column(Integer)
    open_at_end: Mapped[int] = mapped_column(Integer)
    transfers_away: Mapped[int] = mapped_column(Integer)
    reopened: Mapped[int] = mapped_column(Integer)
    rating_count: Mapped[int] = mapped_column(Integer)


class LegacyMeasuredCounts:
    """MeasuredCounts as unit_scores has them: NULL in rows written before migration 0002."""

    responded: Mapped[int | None] = mapped_column(Integer, nullable=True)
    open_at_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    transfers_away: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reopened: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating_count: Mapped[int | None] = mapped_column(Integer, nullable=True)


class UnitComplaintRow(Base):
    """The latest view of one (unit, complaint): the exact input of every score."""

    __tablename__ = "unit_complaint_views"
    __table_args__ = (Index("ix_views_unit_created", "unit", "created_at_epoch"),)

    unit: Mapped[str] = mapped_column(String(64), primary_key=True)
    complaint_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    as_of_epoch: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(64))
    created_at_epoch: Mapped[float] = mapped_column(Float)
    resolved_at_epoch: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The latest instant at which the view can count in an activity column of a period.
    last_instant_epoch: Mapped[float] = mapped_column(Float)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    view_json: Mapped[str] = mapped_column(Text)  # the full view, for audits and reports
    # The view counts in open_at_end of a period ending at E only if open_from < E and
    # (open_until is NULL or E <= open_until) (core.scoring.ScoreInput.open_span; NULL
    # open_from: at no E). Migration 0002 fills a wider span for older rows.
    open_from_epoch: Mapped[float | None] = mapped_column(Float, nullable=True)
    open_until_epoch: Mapped[float | None] = mapped_column(Float, nullable=True)


class UnitScore(MeasuredValues, LegacyMeasuredCounts, Base):
    """A unit's score for one category ("*": all), period and revision.

    Revision 0 is provisional (the period is still open) and is updated in place. Once the
    period is final (watermark past its end plus the grace period) its score is revision 1,
    and any later change adds a new revision: rows of revision 1 and up are never updated.
    The value columns are core.scoring.VALUE_COLUMNS. Rows written before migration 0002
    have category "*" and NULL in the columns it added (not measured then).
    """

    __tablename__ = "unit_scores"
    __table_args__ = (
        PrimaryKeyConstraint(
            "unit", "category", "period", "period_start", "revision", name="pk_unit_scores"
        ),
    )

    unit: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    final: Mapped[bool] = mapped_column(Boolean)
    watermark_epoch: Mapped[float] = mapped_column(Float)
    computed_at_epoch: Mapped[float | None] = mapped_column(Float, nullable=True)


class UnitScoreIndicator(Base):
    """One IKU indicator of a score row (core.iku.IndicatorScore), kept with its revision."""

    __tablename__ = "unit_score_indicators"
    __table_args__ = (
        PrimaryKeyConstraint(
            "unit",
            "category",
            "period",
            "period_start",
            "revision",
            "indicator",
            name="pk_unit_score_indicators",
        ),
        ForeignKeyConstraint(
            ["unit", "category", "period", "period_start", "revision"],
            [
                "unit_scores.unit",
                "unit_scores.category",
                "unit_scores.period",
                "unit_scores.period_start",
                "unit_scores.revision",
            ],
            name="fk_unit_score_indicators_score",
        ),
    )

    unit: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    unit_of_measure: Mapped[str] = mapped_column(String(16))
    realisation: Mapped[float | None] = mapped_column(Float, nullable=True)
    target: Mapped[float] = mapped_column(Float)
    achievement_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    achieved: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class CorrectiveActionRow(Base):
    """A corrective action decided by a unit about a cause of its misses (core.actions).

    The owner is a pseudonymous officer code; no free text is stored."""

    __tablename__ = "corrective_actions"

    action_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit: Mapped[str] = mapped_column(String(64), index=True)
    cause: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    decided_at_epoch: Mapped[float] = mapped_column(Float)
    closed_at_epoch: Mapped[float | None] = mapped_column(Float, nullable=True)


class CorrectiveActionHistoryRow(Base):
    """Every change of a corrective action, in order (the register's history)."""

    __tablename__ = "corrective_action_history"
    __table_args__ = (
        ForeignKeyConstraint(
            ["action_id"],
            ["corrective_actions.action_id"],
            name="fk_corrective_action_history_action",
        ),
    )

    change_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(Integer, index=True)
    at_epoch: Mapped[float] = mapped_column(Float)
    change: Mapped[str] = mapped_column(String(16))  # added | closed
    status: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[date] = mapped_column(Date)


class PeriodCloseRow(Base):
    """The official close of one period (every unit and category): insert-only, one row per
    (period, period_start) (core.period_close). Its official scores are the OfficialScore
    rows with restatement false; a second closer racing for the same period loses on the
    primary key and finds the same figures stored (they are a pure function of the log)."""

    __tablename__ = "period_closes"
    __table_args__ = (PrimaryKeyConstraint("period", "period_start", name="pk_period_closes"),)

    period: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    close_instant_epoch: Mapped[float] = mapped_column(Float)  # events appended up to it
    closed_at_epoch: Mapped[float] = mapped_column(Float)  # when the closer wrote it
    source: Mapped[str] = mapped_column(String(300))  # "topic:<name>" or "file:<name>"
    working_days: Mapped[int] = mapped_column(Integer)
    registry_version: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)


class OfficialScore(MeasuredValues, MeasuredCounts, Base):
    """An official score (restatement false: the revision at the close) or a restatement of
    it (true: a later change, with the columns that changed and why). Insert-only: never
    updated or deleted (database triggers refuse it). `revision` counts per (unit,
    category, period): 1 is the official one, or the first restatement of a row that had no
    activity at the close. The values are core.scoring.VALUE_COLUMNS; the indicators are
    kept as JSON (core.iku.IndicatorScore.as_json)."""

    __tablename__ = "official_scores"
    __table_args__ = (
        PrimaryKeyConstraint(
            "unit", "category", "period", "period_start", "revision", name="pk_official_scores"
        ),
        Index("ix_official_period", "period", "period_start"),
    )

    unit: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    restatement: Mapped[bool] = mapped_column(Boolean)
    cut_epoch: Mapped[float] = mapped_column(Float)  # events appended up to this instant
    watermark_epoch: Mapped[float] = mapped_column(Float)  # the close instant
    computed_at_epoch: Mapped[float] = mapped_column(Float)
    registry_version: Mapped[str] = mapped_column(String(64))
    changed_json: Mapped[str] = mapped_column(Text)  # the changed columns (a restatement)
    reason_json: Mapped[str] = mapped_column(Text)  # why: events appended after, registry
    indicators_json: Mapped[str] = mapped_column(Text)


class OfficerScore(MeasuredValues, MeasuredCounts, Base):
    """An officer's score for one unit, category ("*": all) and period (core.officer_scores).

    The same value columns as `unit_scores` (core.scoring.VALUE_COLUMNS) and its IKU
    indicators as JSON (a list of core.iku.IndicatorScore.as_json()). No revisions: the row
    holds the latest computation (`final` once the period is final); the unit score keeps
    the revision history. `officer` is a pseudonymous code, never a name.
    """

    __tablename__ = "officer_scores"
    __table_args__ = (
        PrimaryKeyConstraint(
            "unit", "officer", "category", "period", "period_start", name="pk_officer_scores"
        ),
    )

    unit: Mapped[str] = mapped_column(String(64))
    officer: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    final: Mapped[bool] = mapped_column(Boolean)
    watermark_epoch: Mapped[float] = mapped_column(Float)
    computed_at_epoch: Mapped[float] = mapped_column(Float)
    indicators_json: Mapped[str] = mapped_column(Text)
