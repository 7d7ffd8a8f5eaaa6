"""SQLAlchemy 2.0 models of the persisted scores.

Only unit codes, complaint ids, categories and times are stored: no personal data.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class UnitComplaintRow(Base):
    """The latest view of one (unit, complaint): the exact input of every score."""

    __tablename__ = "unit_complaint_views"

    unit: Mapped[str] = mapped_column(String(64), primary_key=True)
    complaint_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    as_of_epoch: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(64))
    created_at_epoch: Mapped[float] = mapped_column(Float)
    resolved_at_epoch: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_day: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    resolution_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    view_json: Mapped[str] = mapped_column(Text)  # the full view, for audits and reports


class UnitScore(Base):
    """A unit's score for one period (v1: calendar days in Asia/Jakarta time)."""

    __tablename__ = "unit_scores"

    unit: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    resolved: Mapped[int] = mapped_column(Integer)
    resolution_p50_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_p90_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
