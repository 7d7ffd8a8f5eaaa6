"""The traffic simulator: deterministic, valid per the event contract and the core's rules,
and realistic enough over a simulated month (loose bounds, so parameter tuning stays free).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner

from schemas.events import ComplaintEvent, EventRejected, parse_event
from sigap.cli import main
from sigap.core.causes import cause_analysis
from sigap.core.complaint_state import ComplaintState, accept_event
from sigap.core.registry_file import load_registry
from sigap.core.timeline import evaluate_complaint
from sigap.replay import replay
from sigap.simulator import SURABAYA_UNITS, TrafficModel

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = load_registry(ROOT / "deploy" / "registry.yaml")
JAKARTA = ZoneInfo("Asia/Jakarta")
# A Monday; the month holds ordinary weeks and a national holiday (Chinese New Year).
START = datetime(2026, 2, 2, tzinfo=JAKARTA).timestamp()
START_DATE = date(2026, 2, 2)
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
    "timer",
    "working_days",
    "cause",
    "decision",
    "level",
}
# The lifecycle types the simulator sent before causes, fairness controls and escalations.
LIFECYCLE_TYPES = frozenset(
    {
        "created",
        "assigned",
        "handed_over",
        "responded",
        "paused",
        "resumed",
        "resolved",
        "reopened",
        "rated",
        "closed",
    }
)
FAIRNESS_TYPES = (
    "extension_granted",
    "miss_explained",
    "objection_filed",
    "objection_decided",
    "escalated",
)

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


# -- causes, fairness controls and escalations ------------------------------------------


def digest(events: list[Event]) -> str:
    return hashlib.sha256(
        b"".join(orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b"\n" for event in events)
    ).hexdigest()


# The month of seed 7 (the `month` fixture) as the simulator sent it before it sent the
# fairness events (main at db461c8): 25,659 lifecycle events. Change it only with a change of
# the lifecycle model itself.
LIFECYCLE_MONTH_DIGEST = "7f8d0064cb7741427a316057b851148b890c37d9f72cc77d5d5d0c5bff5f3e0b"


def test_the_fairness_events_leave_the_lifecycle_events_of_a_seed_unchanged(
    month: list[Event],
) -> None:
    lifecycle = [event for event in month if event["type"] in LIFECYCLE_TYPES]
    assert len(lifecycle) == 25_659
    assert digest(lifecycle) == LIFECYCLE_MONTH_DIGEST
    # The rest are the additions, and nothing else.
    assert {event["type"] for event in month} - LIFECYCLE_TYPES == set(FAIRNESS_TYPES)


def test_a_replayed_fortnight_accepts_every_fairness_event_and_has_causes(
    tmp_path: Path,
) -> None:
    """`sigap replay` of the demo's default history (`sigap simulate --days-back 14`):
    no dead letter, every new type present, the escalations and the misses by cause in the
    figures."""
    days = 14
    model = TrafficModel(START, seed=7)
    raw = model.advance(START + days * 86400)
    kinds = Counter(event["type"] for event in raw)
    assert all(kinds[kind] > 0 for kind in FAIRNESS_TYPES), kinds
    assert model.withdrawn == 0  # the simulator's own check never had to leave one out
    file = tmp_path / "events.jsonl"
    file.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in raw))
    cli = CliRunner().invoke(main, ["replay", str(file), "--format", "json"])
    assert cli.exit_code == 0, cli.output
    summary = json.loads(cli.output)
    assert (summary["events"], summary["accepted"], summary["rejected"]) == (len(raw), len(raw), {})

    result = replay([parse_event(orjson.dumps(event)) for event in raw], REGISTRY)
    assert not result.rejected and result.watermark is not None
    escalated = Counter[str]()
    for snapshot in result.units.values():
        escalated.update(snapshot.counters.escalated)
    assert escalated["walikota"] == kinds["escalated"]
    begin, end = START, START + days * 86400
    analyses = [
        cause_analysis(result.views, unit, begin, end, result.watermark) for unit in result.units
    ]
    causes = Counter[str]()
    for analysis in analyses:
        causes.update({item.cause: item.total for item in analysis.misses})
    explained = sum(analysis.explained for analysis in analyses)
    assert explained > 0 and sum(analysis.unexplained for analysis in analyses) > 0
    assert len(set(causes) - {"unexplained"}) >= 4, causes
    assert set(causes) <= {*REGISTRY.causes.vocabulary, "unexplained"}
    assert sum(analysis.excused for analysis in analyses) > 0  # upheld objections
    assert sum(analysis.extensions for analysis in analyses) > 0


def test_a_simulated_week_is_accepted_whole() -> None:
    """A week from a standing start: no dead letter either (few objections yet: they come
    after a miss, its explanation and a decision)."""
    raw = TrafficModel(START, seed=7).advance(START + 7 * 86400)
    kinds = Counter(event["type"] for event in raw)
    assert kinds["escalated"] and kinds["miss_explained"] and kinds["extension_granted"]
    result = replay([parse_event(orjson.dumps(event)) for event in raw], REGISTRY)
    assert (result.accepted, dict(result.rejected)) == (len(raw), {})


def _before(events: list[ComplaintEvent], event: ComplaintEvent) -> list[ComplaintEvent]:
    return [other for other in events if other.occurred_at < event.occurred_at]


def test_fairness_events_keep_the_contract_rules(
    parsed: dict[str, list[ComplaintEvent]],
) -> None:
    """Each rule checked from the complaint's events before the event (what the worker knows
    when it arrives), independently of the core's own rejection. Extensions a little more
    strictly than the contract: the simulator grants them while the holder's clock runs."""
    vocabulary = set(REGISTRY.causes.vocabulary)
    after_hours = {level.code: level.after_hours for level in REGISTRY.escalation.levels}
    limit = REGISTRY.causes.extension_limit("*", START_DATE)
    for complaint_id, events in parsed.items():
        created_at = events[0].occurred_at
        explained: set[tuple[str | None, str | None]] = set()
        filed: set[tuple[str | None, str | None]] = set()
        assert sum(e.type == "extension_granted" for e in events) <= limit.max_extensions
        for event in events:
            if event.type == "escalated":
                hours = after_hours[event.level or ""]
                assert hours is not None and event.occurred_at >= created_at + timedelta(
                    hours=hours
                ), complaint_id
                assert not any(
                    e.type in ("responded", "resolved") for e in _before(events, event)
                ), complaint_id
            elif event.type == "extension_granted":
                assert event.reason in vocabulary
                assert event.working_days is not None
                assert 1 <= event.working_days <= limit.max_working_days
                outcome = evaluate_complaint(
                    _before(events, event), REGISTRY, as_of=event.occurred_at
                )
                charge = next(
                    c
                    for c in outcome.charges
                    if c.unit == outcome.holder and c.timer == event.timer
                )
                assert charge.running and charge.deadline > event.occurred_at, complaint_id
            elif event.type == "miss_explained":
                assert event.cause in vocabulary
                outcome = evaluate_complaint(
                    _before(events, event), REGISTRY, as_of=event.occurred_at
                )
                charge = next(
                    c for c in outcome.charges if (c.unit, c.timer) == (event.unit, event.timer)
                )
                assert charge.outcome == "missed", complaint_id
                assert charge.decided_at is not None
                assert charge.decided_at < event.occurred_at
                explained.add((event.unit, event.timer))
            elif event.type == "objection_filed":
                assert (event.unit, event.timer) in explained - filed, complaint_id
                filed.add((event.unit, event.timer))
            elif event.type == "objection_decided":
                assert (event.unit, event.timer) in filed, complaint_id
                assert event.decision in ("upheld", "rejected")


def test_fairness_event_mix_over_a_month(parsed: dict[str, list[ComplaintEvent]]) -> None:
    complaints = len(parsed)
    as_of = datetime.fromtimestamp(START + MONTH, JAKARTA)
    kinds: Counter[str] = Counter()
    misses = 0
    for events in parsed.values():
        kinds.update(event.type for event in events)
        outcome = evaluate_complaint(events, REGISTRY, as_of=as_of)
        misses += sum(charge.outcome == "missed" for charge in outcome.charges)
    # WargaKu sends a complaint with no answer within 24 hours to the mayor: about one in ten.
    assert 0.05 < kinds["escalated"] / complaints < 0.2
    # A good share of the misses explained (the last days' ones not yet), a few objections.
    assert 0.3 < kinds["miss_explained"] / misses < 0.7
    assert 0.05 < kinds["objection_filed"] / kinds["miss_explained"] < 0.25
    assert 0 < kinds["objection_decided"] <= kinds["objection_filed"]
    decisions = Counter(
        event.decision
        for events in parsed.values()
        for event in events
        if event.type == "objection_decided"
    )
    assert decisions["upheld"] and decisions["rejected"]
    # Extensions: a small share of the long jobs, mostly on the resolution timer.
    extensions = [
        event for events in parsed.values() for event in events if event.type == "extension_granted"
    ]
    assert 0.002 < len(extensions) / complaints < 0.03
    timers = Counter(event.timer for event in extensions)
    assert timers["resolution"] > timers["response"]
    assert len({event.working_days for event in extensions}) >= 4


def test_fairness_events_follow_the_registry_vocabulary_and_ladder(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load((ROOT / "deploy" / "registry.yaml").read_text(encoding="utf-8"))
    data["causes"]["vocabulary"] = ["citizen_unreachable", "flooding", "other"]
    data["escalation"]["levels"] = [
        {"code": "camat", "name": "Camat", "after_hours": 12},
        {"code": "sekda", "name": "Sekretaris Daerah"},
        {"code": "mayor", "name": "Mayor", "after_hours": 36},
    ]
    data["causes"]["extension_limits"] = [
        {"effective_from": "2019-01-01", "unit": "*", "max_extensions": 1, "max_working_days": 3}
    ]
    data["holiday_overrides"] = str(ROOT / "deploy" / "holidays-override.yaml")
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    registry = load_registry(path)
    model = TrafficModel(START, seed=7, registry=registry)
    raw = model.advance(START + 14 * 86400)
    codes = Counter(
        event.get("reason") or event.get("cause")
        for event in raw
        if event["type"] in ("extension_granted", "miss_explained")
    )
    assert set(codes) <= {"citizen_unreachable", "flooding", "other"} and codes["flooding"]
    levels = Counter(event["level"] for event in raw if event["type"] == "escalated")
    assert set(levels) == {"camat", "mayor"} and levels["camat"] > levels["mayor"]
    days = {event["working_days"] for event in raw if event["type"] == "extension_granted"}
    assert days and days <= {1, 2, 3}
    result = replay([parse_event(orjson.dumps(event)) for event in raw], registry)
    assert (result.accepted, dict(result.rejected), model.withdrawn) == (len(raw), {}, 0)
