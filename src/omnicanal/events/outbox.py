"""Writing events to the outbox, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from omnicanal.events.model import Event, StoredEvent
from omnicanal.events.tables import OutboxEventRow
from omnicanal.shared.ids import new_id


def write_to_outbox(session: Session, event: Event, *, now: datetime) -> str:
    event_id = new_id("evt")
    session.add(
        OutboxEventRow(
            id=event_id,
            type=event.type,
            subject=event.subject,
            data=event.payload(),
            occurred_at=now,
        )
    )
    return event_id


def write_many_to_outbox(session: Session, events: Sequence[Event], *, now: datetime) -> None:
    session.execute(
        insert(OutboxEventRow),
        [
            {
                "id": new_id("evt"),
                "type": e.type,
                "subject": e.subject,
                "data": e.payload(),
                "occurred_at": now,
            }
            for e in events
        ],
    )


def stored(row: OutboxEventRow) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        type=row.type,
        subject=row.subject,
        data=row.data,
        occurred_at=row.occurred_at,
        position=row.position,
    )
