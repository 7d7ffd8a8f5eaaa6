"""The metrics contract (metrics/names.py) follows the naming conventions, and
docs/metrics.md documents every name and the rename from the unprefixed names."""

from __future__ import annotations

import re
from pathlib import Path

import metrics.names as names

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def families() -> dict[str, str]:
    return {
        key: value
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and key != "PREFIX" and "_" in value
        if value not in (names.UNKNOWN_UNIT, names.OTHER_REASON)
    }


def test_every_metric_name_has_the_one_application_prefix() -> None:
    found = families()
    assert len(found) >= 20
    assert {key: value for key, value in found.items() if not value.startswith("sigap_")} == {}


def test_a_metric_in_seconds_says_its_clock_or_has_a_clock_label() -> None:
    # Histograms carry the clock in the name; window/period gauges get a `clock` label (the
    # collector test checks the label); the watermark is a timestamp, not a duration.
    for key, value in families().items():
        if value.endswith("_seconds") and "timestamp" not in value:
            has_clock = value.endswith(("_wall_seconds", "_working_seconds"))
            labelled = key in ("WINDOW_SECONDS", "CATEGORY_WINDOW_SECONDS", "PERIOD_SECONDS")
            assert has_clock or labelled, value


def test_the_docs_list_every_metric() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(sigap_[a-z_]+)`", text))
    for value in families().values():
        assert value in documented or f"{value}_total" in documented, value


def test_the_docs_rename_table_is_the_mapping_in_names() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Renamed metrics", 1)[1]
    rows = re.findall(r"^\| `([a-z_]+)`(?: \(summary\))? \| `([a-z_]+)`", section, re.MULTILINE)
    assert {old: new for old, new in rows} == {
        old: new.split(" ", 1)[0] for old, new in names.RENAMED.items()
    }
    # No old name is still a current name.
    current = set(families().values())
    assert not {old.removesuffix("_total") for old in names.RENAMED} & current
