"""The traffic simulator: deterministic, valid per the event contract and the core's rules,
and realistic enough over a simulated month (loose bounds, so parameter tuning stays free).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from schemas.events import ComplaintEvent, EventRejected, parse_event
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.core.timeline import evaluate_complaint
from sigap.simulator import SURABAYA_UNITS, TrafficModel

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
JAKARTA = ZoneInfo("Asia/Jakarta")
# A Monday; the month holds ordinary weeks and a national holiday (Chinese New Year).
START = datetime(2026, 2, 2, tzinfo=JAKARTA).timestamp()
MONTH = 30 * 86400.0
ALWAYS_OPEN = {"damkar", "bpbd"}
CONTRACT_FIELDS = {
    "event_id",
    "type",
    "complaint_id",
    "occurred_at",
    "unit",
    "category",
    "channel",
    "priority",
    "reason",
    "rating",
    "officer",
}

Event = dict[str, Any]


def month_of_events(seed: int = 7) -> list[Event]:
    return TrafficModel(START, seed=seed).advance(START + MONTH)


@pytest.fixture(scope="module")
def month() -> list[Event]:
    return month_of_events()


@pytest.fixture(scope="module")
def parsed(month: list[Event]) -> dict[str, list[ComplaintEvent]]:
    """The month's events parsed through the contract, per complaint, in emitted order."""
    complaints: dict[str, list[ComplaintEvent]] = defaultdict(list)
    for event in month:
        complaints[event["complaint_id"]].append(parse_event(orjson.dumps(event)))
    return complaints


def at(event: Event) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


# -- determinism and the advance() contract ---------------------------------------------


def test_same_seed_same_events_however_time_is_stepped() -> None:
    whole = TrafficModel(START, seed=11).advance(START + 10 * 86400)
    stepped_model = TrafficModel(START, seed=11)
    stepped: list[Event] = []
    now = START
    step = 0
    while now < START + 10 * 86400:
        # Uneven steps, some shorter than the gap between events.
        to = min(now + (37.0, 1800.0, 5 * 3600.0 + 13)[step % 3], START + 10 * 86400)
        batch = stepped_model.advance(to)
        assert all(now <= at(event).timestamp() < to for event in batch)
        stepped.extend(batch)
        now, step = to, step + 1
    assert stepped == whole
    assert TrafficModel(START, seed=11).advance(START + 10 * 86400) == whole
    assert TrafficModel(START, seed=12).advance(START + 10 * 86400) != whole


def test_advance_returns_due_events_in_order_and_keeps_later_ones() -> None:
    model = TrafficModel(START, seed=3)
    to = START + 5 * 86400
    due = model.advance(to)
    times = [at(event).timestamp() for event in due]
    assert times == sorted(times)
    assert all(START <= moment < to for moment in times)
    assert model.now == to
    # Resolutions, closings, ratings of the first days are already scheduled, not lost.
    assert model.pending and all(pending[0] >= to for pending in model.pending)
    later = model.advance(to + 86400)
    assert later and all(to <= at(event).timestamp() < to + 86400 for event in later)


def test_rate_scale_scales_arrivals() -> None:
    def created(scale: float) -> int:
        events = TrafficModel(START, seed=5, rate_scale=scale).advance(START + 7 * 86400)
        return sum(event["type"] == "created" for event in events)

    assert 1.6 < created(2.0) / created(1.0) < 2.4
    assert created(0.0) == 0


# -- every event is valid --------------------------------------------------------------


def test_events_pass_the_contract_and_carry_nothing_else(month: list[Event]) -> None:
    assert len(month) > 10_000
    for event in month:
        parse_event(orjson.dumps(event))
        # No personal data: only the contract's fields (none of them free text).
        assert set(event) <= CONTRACT_FIELDS
    ids = [event["event_id"] for event in month]
    assert len(ids) == len(set(ids))


def test_per_complaint_lifecycle_order(parsed: dict[str, list[ComplaintEvent]]) -> None:
    for complaint_id, events in parsed.items():
        times = [event.occurred_at for event in events]
        assert times == sorted(times), complaint_id
        # Strictly increasing: no same-instant ties left to the core's tie order.
        assert len(set(times)) == len(times), complaint_id
        assert events[0].type == "created", complaint_id
        assert sum(event.type == "created" for event in events) == 1, complaint_id
        holder = events[0].unit
        resolved = paused = reopened = False
        resolutions = 0
        for event in events[1:]:
            kind = event.type
            if kind == "assigned":
                assert not resolved and event.unit != holder, complaint_id
                assert event.reason == "not_our_authority"
                holder = event.unit
            elif kind == "responded":
                assert not resolved and not paused, complaint_id
            elif kind == "paused":
                assert not paused and not resolved, complaint_id
                paused = True
            elif kind == "resumed":
                assert paused, complaint_id
                paused = False
            elif kind == "resolved":
                assert not resolved and not paused, complaint_id
                assert resolutions == 0 or reopened, complaint_id
                resolved, reopened = True, False
                resolutions += 1
            elif kind == "reopened":
                assert resolved, complaint_id
                resolved, reopened = False, True
            elif kind in ("rated", "closed"):
                assert resolved, complaint_id
            if kind == "rated":
                assert event.rating is not None and 1 <= event.rating <= 5
        assert sum(event.type == "closed" for event in events) <= 1
        assert sum(event.type == "rated" for event in events) <= 1


# -- the core accepts it all -------------------------------------------------------------


@pytest.mark.slow  # a month of traffic through the core
def test_replay_through_the_core_without_rejections_or_anomalies(
    parsed: dict[str, list[ComplaintEvent]],
) -> None:
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    as_of = datetime.fromtimestamp(START + MONTH, JAKARTA)
    anomalies: Counter[str] = Counter()
    resolution: Counter[str | None] = Counter()
    open_past_target = 0
    for complaint_id, events in parsed.items():
        state = ComplaintState()
        for event in events:
            try:
                accept_event(state, event, registry)
            except EventRejected as rejected:  # pragma: no cover - reported by the assert
                pytest.fail(f"{complaint_id}: {event.type} rejected: {rejected}")
        outcome = evaluate_complaint(events, registry, as_of=as_of)
        anomalies.update(outcome.anomalies)
        assert not outcome.unknown_unit
        for charge in outcome.charges:
            if charge.timer == "resolution":
                resolution[charge.outcome] += 1
                open_past_target += charge.outcome == "missed" and charge.stopped_at is None
    # The simulator writes consistent lifecycles: no anomaly at all is expected.
    assert not anomalies
    # SLA misses and complaints open past their target show up, but are not the rule.
    decided = resolution["met"] + resolution["missed"]
    assert 0.03 < resolution["missed"] / decided < 0.25
    assert open_past_target >= 50


# -- realism ---------------------------------------------------------------------------


def test_event_mix_over_a_month(parsed: dict[str, list[ComplaintEvent]]) -> None:
    complaints = len(parsed)
    having: Counter[str] = Counter()
    for events in parsed.values():
        having.update({event.type for event in events})
    share = {kind: having[kind] / complaints for kind in having}
    assert 4000 < complaints < 7500  # ~180 a day
    assert 0.75 < share["responded"] < 0.95
    assert 0.05 < share["assigned"] < 0.11
    assert 0.05 < share["paused"] < 0.15
    assert having["resumed"] <= having["paused"]
    assert having["resumed"] > 0.8 * having["paused"]
    assert 0.7 < share["resolved"] < 0.95
    assert 0.02 < having["reopened"] / having["resolved"] < 0.08
    # Closed ~3 days after resolution, so the last days of the month are not closed yet.
    assert 0.6 < having["closed"] / having["resolved"] < 0.92
    assert 0.45 < having["rated"] / having["resolved"] < 0.7
    # Categories come from the registry's taxonomy; complex ones (14 working days) are common
    # at dsda (roads, drainage), very complex ones (60) rare.
    tiers = Counter(
        REGISTRY.category_specs[c].tier if c in REGISTRY.category_specs else "not listed"
        for c in (events[0].category for events in parsed.values())
    )
    assert 0.1 < tiers["complex"] / complaints < 0.4
    assert 0 < tiers["very_complex"] / complaints < 0.02
    # Every unit of the registry gets traffic, the emergency units the least.
    units = Counter(events[0].unit for events in parsed.values())
    assert set(units) == {unit.code for unit in SURABAYA_UNITS}
    assert units["dlh"] > units["damkar"] > units["bpbd"] > 0


def test_some_complaints_get_no_response_before_resolution(
    parsed: dict[str, list[ComplaintEvent]],
) -> None:
    resolved = [events for events in parsed.values() if any(e.type == "resolved" for e in events)]
    unanswered = [events for events in resolved if not any(e.type == "responded" for e in events)]
    assert 0.03 < len(unanswered) / len(resolved) < 0.2
    answered = [events for events in resolved if events not in unanswered]
    delays = sorted(
        (next(e for e in events if e.type == "responded").occurred_at - events[0].occurred_at)
        for events in answered
    )
    # Usually within hours.
    assert delays[len(delays) // 2] < timedelta(hours=6)
    assert delays[int(len(delays) * 0.8)] < timedelta(hours=24)


def test_arrivals_heavier_in_jakarta_daytime_and_on_weekdays(month: list[Event]) -> None:
    created = [at(event).astimezone(JAKARTA) for event in month if event["type"] == "created"]
    by_hour = Counter(moment.hour for moment in created)
    day = sum(by_hour[hour] for hour in range(8, 17)) / 9
    night = sum(by_hour[hour] for hour in range(0, 5)) / 5
    assert day > 4 * night
    weekdays = Counter(moment.weekday() for moment in created)
    # The month has four of each weekday plus two extra (Monday, Tuesday): compare means.
    weekday_mean = sum(weekdays[d] for d in range(5)) / 22
    weekend_mean = sum(weekdays[d] for d in (5, 6)) / 8
    assert weekend_mean < 0.8 * weekday_mean


def test_office_units_resolve_in_office_hours_emergency_units_round_the_clock(
    parsed: dict[str, list[ComplaintEvent]],
) -> None:
    emergency_hours: set[int] = set()
    for events in parsed.values():
        holder = events[0].unit
        for event in events:
            if event.type == "assigned":
                holder = event.unit
            if event.type != "resolved":
                continue
            local = event.occurred_at.astimezone(JAKARTA)
            if holder in ALWAYS_OPEN:
                emergency_hours.add(local.hour)
                continue
            assert local.weekday() < 5, event
            # Rounding to whole seconds (and a minute between events) may pass 16:00 a bit.
            opening = local.replace(hour=8, minute=0, second=0)
            assert opening <= local <= local.replace(hour=16, minute=2, second=0), event
    assert len(emergency_hours) >= 20


def test_ratings_are_mostly_good_and_worse_when_slow(
    parsed: dict[str, list[ComplaintEvent]],
) -> None:
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    by_outcome: dict[str | None, list[int]] = defaultdict(list)
    for events in parsed.values():
        rating = next((e.rating for e in events if e.type == "rated"), None)
        if rating is None:
            continue
        outcome = evaluate_complaint(events, registry)
        holder_charge = next(
            charge
            for charge in outcome.charges
            if charge.timer == "resolution" and not charge.transferred_away
        )
        by_outcome[holder_charge.outcome].append(rating)
    ratings = by_outcome["met"] + by_outcome["missed"]
    assert sum(rating >= 4 for rating in ratings) / len(ratings) > 0.6

    def mean(values: list[int]) -> float:
        return sum(values) / len(values)

    assert len(by_outcome["missed"]) > 20
    assert mean(by_outcome["missed"]) < mean(by_outcome["met"]) - 0.5


def test_pauses_carry_a_reason_of_the_registry_vocabulary_citizens_first(
    parsed: dict[str, list[ComplaintEvent]],
) -> None:
    registry = load_registry(ROOT / "deploy" / "registry.yaml")
    reasons = Counter(
        event.reason for events in parsed.values() for event in events if event.type == "paused"
    )
    assert reasons and set(reasons) <= set(registry.causes.vocabulary)
    assert reasons.most_common(1)[0][0] == "citizen_unreachable"


def test_categories_come_from_the_registry_and_other_stays_under_five_percent(
    parsed: dict[str, list[ComplaintEvent]],
) -> None:
    # What the worker's parser does with a category the registry does not name: "other".
    labels = Counter(
        event.category if event.category in REGISTRY.categories else "other"
        for events in parsed.values()
        for event in events
        if event.type == "created"
    )
    complaints = sum(labels.values())
    assert labels["other"] / complaints < 0.05
    assert labels["other"] > 0  # the app's catch-all "lainnya" is still sent, rarely
    # Most of the taxonomy is in use, and each unit's complaints are mostly its own subjects.
    assert len(set(labels) - {"other"}) >= 20
    by_unit: dict[str, Counter[str]] = defaultdict(Counter)
    for events in parsed.values():
        by_unit[events[0].unit or ""][events[0].category or ""] += 1
    for unit, counts in by_unit.items():
        own = {c.code for c in REGISTRY.category_specs.values() if unit in c.units}
        if own:
            # Misrouted complaints carry the subject of the unit they end up with.
            assert sum(counts[c] for c in own) / sum(counts.values()) > 0.75, unit


def test_a_registry_without_taxonomy_gives_other(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load((ROOT / "deploy" / "registry.yaml").read_text(encoding="utf-8"))
    del data["categories"]
    data["holiday_overrides"] = str(ROOT / "deploy" / "holidays-override.yaml")
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    bare = load_registry(path)
    events = TrafficModel(START, seed=3, registry=bare).advance(START + 2 * 86400)
    created = [e for e in events if e["type"] == "created"]
    assert created and all(e["category"] == "lainnya" for e in created)


def test_officers_and_hand_overs_for_the_demo(parsed: dict[str, list[ComplaintEvent]]) -> None:
    complaints = len(parsed)
    handed = sum(any(e.type == "handed_over" for e in events) for events in parsed.values())
    without_code = sum(events[0].officer is None for events in parsed.values())
    assert 0.35 < handed / complaints < 0.6
    assert 0.05 < without_code / complaints < 0.15
    for events in parsed.values():
        unit = events[0].unit
        for event in events:
            if event.type == "assigned":
                unit = event.unit
            if event.officer is not None:
                # Pseudonymous codes of the holding unit, never names.
                assert event.officer.startswith(f"{unit}-o"), event
