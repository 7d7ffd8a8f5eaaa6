"""The score tables store the same value columns, declared once (storage.models)."""

from __future__ import annotations

from sigap.core.scoring import VALUE_COLUMNS
from sigap.storage.models import (
    LegacyMeasuredCounts,
    MeasuredCounts,
    MeasuredValues,
    OfficerScore,
    OfficialScore,
    UnitScore,
)


def declared(mixin: type) -> set[str]:
    return set(mixin.__annotations__)


def test_the_value_mixins_declare_exactly_the_core_value_columns() -> None:
    assert declared(MeasuredValues) | declared(MeasuredCounts) == set(VALUE_COLUMNS)
    assert not declared(MeasuredValues) & declared(MeasuredCounts)
    assert declared(LegacyMeasuredCounts) == declared(MeasuredCounts)


def test_every_score_table_stores_every_value_column() -> None:
    for model in (UnitScore, OfficialScore, OfficerScore):
        assert set(VALUE_COLUMNS) <= set(model.__table__.c.keys()), model.__tablename__


def test_only_unit_scores_allow_null_in_the_counts_added_by_migration_0002() -> None:
    for column in declared(MeasuredCounts):
        assert UnitScore.__table__.c[column].nullable, column
        assert not OfficialScore.__table__.c[column].nullable, column
        assert not OfficerScore.__table__.c[column].nullable, column
    for column in ("received", "resolved", "response_met"):
        for model in (UnitScore, OfficialScore, OfficerScore):
            assert not model.__table__.c[column].nullable, (model.__tablename__, column)
