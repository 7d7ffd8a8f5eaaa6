"""FROZEN copy of sigap/storage/models.py as it shipped before Alembic (created by create_all):
the schema migration 0001 must reproduce exactly. Do not change it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


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
    # The latest instant at which the view can count in a period (decisions, deadlines).
    last_instant_epoch: Mapped[float] = mapped_column(Float)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    view_json: Mapped[str] = mapped_column(Text)  # the full view, for audits and reports


class UnitScore(Base):
    """A unit's score for one period and revision.

    Revision 0 is provisional (the period is still open) and is updated in place. Once the
    period is final (watermark past its end plus the grace period) its score is revision 1,
    and any later change adds a new revision: rows of revision 1 and up are never updated.
    """

    __tablename__ = "unit_scores"

    unit: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    final: Mapped[bool] = mapped_column(Boolean)
    watermark_epoch: Mapped[float] = mapped_column(Float)
    received: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    resolution_p50_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_p90_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_met: Mapped[int] = mapped_column(Integer)
    response_missed: Mapped[int] = mapped_column(Integer)
    resolution_met: Mapped[int] = mapped_column(Integer)
    resolution_missed: Mapped[int] = mapped_column(Integer)
