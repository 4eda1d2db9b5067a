"""Writing events to the outbox, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from omnicanal.events.model import Event, StoredEvent
from omnicanal.events.tables import OutboxEventRow
from omnicanal.shared.ids import new_id


def _row(event: Event, now: datetime) -> dict[str, object]:
    return {
        "id": new_id("evt"),
        "type": event.type,
        "subject": event.subject,
        "data": event.payload(),
        "occurred_at": now,
    }


def write_to_outbox(session: Session, event: Event, *, now: datetime) -> str:
    row = OutboxEventRow(**_row(event, now))
    session.add(row)
    return row.id


_INSERT_MANY = insert(cast(Table, OutboxEventRow.__table__))


def write_many_to_outbox(session: Session, events: Sequence[Event], *, now: datetime) -> None:
    """Several events in one executemany INSERT (hot paths), in the order given, on the
    session's connection (a Core statement built once: no ORM flush, no per-call compile)."""
    session.flush()  # keep the ORM's order: rows added before the events are written first
    session.connection().execute(_INSERT_MANY, [_row(e, now) for e in events])


def stored(row: OutboxEventRow) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        type=row.type,
        subject=row.subject,
        data=row.data,
        occurred_at=row.occurred_at,
        position=row.position,
    )
