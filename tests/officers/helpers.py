"""Helpers for the officer tests: officer codes and hand-overs added to a complaint history."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from schemas.events import ComplaintEvent


def with_officers(events: list[ComplaintEvent], rng: random.Random) -> list[ComplaintEvent]:
    """The same complaint as an app that sends officer codes would publish it: codes on the
    acting types and hand-overs between officers at random instants."""
    result = []
    for event in events:
        body = event.model_dump()
        if event.type in ("created", "assigned", "responded", "resolved") and rng.random() < 0.8:
            body["officer"] = f"o{rng.randrange(6)}"
        result.append(ComplaintEvent.model_validate(body))
        if rng.random() < 0.5:
            result.append(
                ComplaintEvent.model_validate(
                    {
                        "event_id": f"{event.event_id}-h",
                        "type": "handed_over",
                        "complaint_id": event.complaint_id,
                        "occurred_at": event.occurred_at + timedelta(hours=rng.randrange(0, 72)),
                        "officer": f"o{rng.randrange(6)}",
                    }
                )
            )
    return result


UNITS = ("dlh", "dsda", "dishub", "damkar")
LATER = ("assigned", "handed_over", "responded", "paused", "resumed", "resolved", "reopened")


def random_history(
    rng: random.Random, complaint_id: str, start: datetime, *, max_events: int = 8
) -> list[ComplaintEvent]:
    """A random complaint lifecycle with officer codes on some events and hand-overs."""
    at = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
    bodies: list[dict[str, Any]] = [
        {
            "type": "created",
            "unit": rng.choice(UNITS),
            "category": rng.choice([None, "complex", "sampah"]),
            "occurred_at": at,
        }
    ]
    if rng.random() < 0.8:
        bodies[0]["officer"] = f"o{rng.randrange(5)}"
    for _ in range(rng.randrange(0, max_events)):
        at += timedelta(minutes=rng.randrange(0, 60 * 24 * 3))
        kind = rng.choice(LATER)
        body: dict[str, Any] = {"type": kind, "occurred_at": at}
        if kind == "assigned":
            body["unit"] = rng.choice(UNITS)
        if kind == "handed_over" or (
            kind in ("assigned", "responded", "resolved") and rng.random() < 0.5
        ):
            body["officer"] = f"o{rng.randrange(5)}"
        bodies.append(body)
    return [
        ComplaintEvent.model_validate(
            {
                "event_id": f"{complaint_id}-{number}",
                "complaint_id": complaint_id,
                **{key: value for key, value in body.items() if value is not None},
            }
        )
        for number, body in enumerate(bodies)
    ]
