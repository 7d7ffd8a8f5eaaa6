"""Which watermark each recomputed score is taken at (sigap.verify module docstring)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from schemas.events import parse_event
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.core.unit_view import UnitView
from sigap.verify import recompute_scores

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "deploy" / "registry.yaml")
GRACE = 600.0
MONDAY = date(2026, 11, 2)
TUESDAY = date(2026, 11, 3)


def at(text: str) -> float:
    return datetime.fromisoformat(f"2026-11-{text}+07:00").timestamp()


def open_complaint() -> list[UnitView]:
    """Received by dlh on Monday 09:00 and never answered: the 24 h response deadline is
    Tuesday 09:00, Tuesday's only activity."""
    event = parse_event(
        b'{"event_id": "e1", "type": "created", "complaint_id": "c1", '
        b'"occurred_at": "2026-11-02T09:00:00+07:00", "unit": "dlh"}'
    )
    return accept_event(ComplaintState(), event, REGISTRY).views


def missed(
    start: date, stored: dict[tuple[str, str], float], writer_watermark: float
) -> dict[tuple[str, str], tuple[int, int]]:
    scores = recompute_scores(
        open_complaint(),
        REGISTRY,
        "day",
        start,
        stored_watermarks=stored,
        writer_watermark=writer_watermark,
        grace_seconds=GRACE,
    )
    return {(s.unit, s.category): (s.received, s.response_missed) for s in scores}


def test_a_stored_score_is_recomputed_at_its_own_watermark() -> None:
    before_deadline, after_deadline = at("03T08:00:00"), at("03T09:00:00")
    assert missed(TUESDAY, {("dlh", "*"): before_deadline}, after_deadline)[("dlh", "*")] == (0, 0)
    assert missed(TUESDAY, {("dlh", "*"): after_deadline}, before_deadline)[("dlh", "*")] == (0, 1)


def test_a_score_of_the_log_only_is_expected_when_the_writer_must_have_stored_it() -> None:
    # Tuesday still open (its end plus the grace period not reached): the deadline passed
    # after the writer last touched Tuesday, nothing has rewritten it yet.
    assert missed(TUESDAY, {}, at("03T12:00:00")) == {}
    assert missed(TUESDAY, {}, at("04T00:09:59")) == {}
    # Final: the writer's finalisation must have counted the miss.
    final = missed(TUESDAY, {}, at("04T00:10:00"))
    assert final[("dlh", "*")] == (0, 1)
    # Activity that does not depend on the watermark is expected at any watermark.
    assert missed(MONDAY, {}, at("02T09:30:00"))[("dlh", "*")] == (1, 0)
    # Before the deadline there is nothing to expect on Tuesday, final or not.
    assert missed(TUESDAY, {}, at("03T08:59:59")) == {}
