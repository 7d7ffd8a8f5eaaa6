"""SQLAlchemy 2.0 models of the persisted scores (v1).

Only unit codes, complaint ids, event ids and times are stored: no personal data.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ResolutionRow(Base):
    """One measured complaint: the exact input of every daily score (quantiles are exact)."""

    __tablename__ = "resolutions"

    complaint_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    unit: Mapped[str] = mapped_column(String(64), index=True)
    resolved_day: Mapped[date] = mapped_column(Date, index=True)
    created_at_epoch: Mapped[float] = mapped_column(Float)
    resolved_at_epoch: Mapped[float] = mapped_column(Float)
    resolution_seconds: Mapped[float] = mapped_column(Float)
    resolved_event_id: Mapped[str] = mapped_column(String(128))


class UnitScore(Base):
    """A unit's score for one period (v1: calendar days in Asia/Jakarta time)."""

    __tablename__ = "unit_scores"

    unit: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    resolved: Mapped[int] = mapped_column(Integer)
    resolution_p50_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_p90_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
