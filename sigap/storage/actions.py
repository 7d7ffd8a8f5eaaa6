"""The corrective actions register in the score database, with its history.

`add_action` and `close_action` change the register and append to its history in one
transaction; `list_actions` and `action_history` read it. "Now" is passed in (epoch
seconds), so callers and tests decide the instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sigap.core.actions import ACTION_STATUSES, CorrectiveAction, Status
from sigap.storage.models import CorrectiveActionHistoryRow, CorrectiveActionRow

__all__ = ["ActionError", "action_history", "add_action", "close_action", "list_actions"]

MAX_LISTED = 1000  # bounded reads


class ActionError(ValueError):
    """A change the register refuses (unknown action, already closed, bad status)."""


def _action(row: CorrectiveActionRow) -> CorrectiveAction:
    return CorrectiveAction(
        action_id=row.action_id,
        unit=row.unit,
        cause=row.cause,
        owner=row.owner,
        due_on=row.due_on,
        status=cast(Status, row.status),
        decided_at=row.decided_at_epoch,
        closed_at=row.closed_at_epoch,
    )


def _history(session: Session, row: CorrectiveActionRow, change: str, now: float) -> None:
    session.add(
        CorrectiveActionHistoryRow(
            action_id=row.action_id,
            at_epoch=now,
            change=change,
            status=row.status,
            cause=row.cause,
            owner=row.owner,
            due_on=row.due_on,
        )
    )


def add_action(
    engine: Engine, *, unit: str, cause: str, owner: str, due_on: date, now: float
) -> CorrectiveAction:
    with Session(engine) as session, session.begin():
        row = CorrectiveActionRow(
            unit=unit,
            cause=cause,
            owner=owner,
            due_on=due_on,
            status="open",
            decided_at_epoch=now,
            closed_at_epoch=None,
        )
        session.add(row)
        session.flush()
        _history(session, row, "added", now)
        return _action(row)


def close_action(engine: Engine, action_id: int, *, status: str, now: float) -> CorrectiveAction:
    if status not in ACTION_STATUSES or status == "open":
        raise ActionError(f"a closed action's status is done or dropped, not {status!r}")
    with Session(engine) as session, session.begin():
        row = session.get(CorrectiveActionRow, action_id)
        if row is None:
            raise ActionError(f"no corrective action #{action_id}")
        if row.status != "open":
            raise ActionError(f"corrective action #{action_id} is already {row.status}")
        row.status = status
        row.closed_at_epoch = now
        _history(session, row, "closed", now)
        return _action(row)


def list_actions(
    engine: Engine, *, unit: str | None = None, status: str | None = None
) -> list[CorrectiveAction]:
    with Session(engine) as session:
        query = select(CorrectiveActionRow).order_by(CorrectiveActionRow.action_id)
        if unit is not None:
            query = query.where(CorrectiveActionRow.unit == unit)
        if status is not None:
            query = query.where(CorrectiveActionRow.status == status)
        return [_action(row) for row in session.scalars(query.limit(MAX_LISTED))]


def action_history(engine: Engine, action_id: int) -> Sequence[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(CorrectiveActionHistoryRow)
            .where(CorrectiveActionHistoryRow.action_id == action_id)
            .order_by(CorrectiveActionHistoryRow.change_id)
        )
        return [
            {
                "at_epoch": row.at_epoch,
                "change": row.change,
                "status": row.status,
                "cause": row.cause,
                "owner": row.owner,
                "due_on": row.due_on.isoformat(),
            }
            for row in rows
        ]
