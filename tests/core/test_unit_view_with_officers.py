"""UnitView.with_officers passes every field on (it is dataclasses.replace spelled out, for
speed): a field added to UnitView and not to with_officers fails here."""

from __future__ import annotations

import dataclasses

from sigap.core.officer_view import OfficerView
from sigap.core.unit_view import TimerView, UnitView


def _distinct_values() -> dict[str, object]:
    """A value per field that no other field has, so a misplaced field shows."""
    timer = TimerView(1.0, 2.0, "wall", 3.0, 4.0, None, None, None, False, True, 5.0, 6.0)
    values: dict[str, object] = {}
    for number, field in enumerate(dataclasses.fields(UnitView)):
        values[field.name] = (f"value-{number}", number)
    values["timers"] = {"response": timer}
    values["officers"] = (OfficerView(officer="A"),)
    return values


def test_with_officers_is_replace() -> None:
    view = UnitView(**_distinct_values())  # type: ignore[arg-type]
    officers = (OfficerView(officer="B", received=True),)
    made = view.with_officers(officers)
    expected = dataclasses.replace(view, officers=officers)
    for field in dataclasses.fields(UnitView):
        assert getattr(made, field.name) is getattr(expected, field.name), field.name
    assert made == expected
    assert view.with_officers(None).officers is None
