"""Applying an event delivered by a transport that may deliver it again (NATS JetStream).

The in-process dispatcher reads the outbox in position order and its cursor says what was
applied. A broker redelivers a message whose acknowledgement it did not get (a crash after the
commit, a lost connection), so here the **processed record** decides: the handler's effect, the
record and the cursor commit in one transaction under the consumer's cursor lock, and an event
whose record exists is acknowledged again without running the handler. Failures are recorded
and retried with the same backoff and parking as the in-process bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select, update

from omnicanal.events.consumers import (
    Consumer,
    ConsumerPolicy,
    _failure,
    _lock_cursor,
    _record_failure,
)
from omnicanal.events.model import StoredEvent
from omnicanal.events.outbox import stored
from omnicanal.events.tables import ConsumerFailureRow, OutboxEventRow, ProcessedEventRow
from omnicanal.storage.database import Database

Outcome = Literal["applied", "duplicate", "skipped", "parked", "wait"]


@dataclass(frozen=True)
class Delivery:
    """What became of one delivered event: acknowledge it, or ask for it again after ``delay``."""

    outcome: Outcome
    delay: timedelta = timedelta(0)

    @property
    def acknowledge(self) -> bool:
        return self.outcome != "wait"


def _load(db: Database, consumer: Consumer, event_id: str) -> StoredEvent | Delivery:
    with db.read() as session:
        if session.get(ProcessedEventRow, (consumer.name, event_id)) is not None:
            return Delivery("duplicate")
        row = session.scalars(select(OutboxEventRow).where(OutboxEventRow.id == event_id)).first()
        if row is None or row.position is None or not consumer.wants(row.type):
            return Delivery("skipped")  # not ours (or not in this database): nothing to apply
        failure = _failure(session, consumer.name, event_id)
        if failure is not None and failure.status == "parked":
            return Delivery("parked")  # replayed by an operator, not by the broker
        if failure is not None and failure.status == "retrying":
            due = failure.next_attempt_at - db.clock.now()
            if due > timedelta(0):
                return Delivery("wait", due)
        return stored(row)


def apply_delivered(
    db: Database, consumer: Consumer, event_id: str, policy: ConsumerPolicy
) -> Delivery:
    """Apply the event ``event_id`` (read from the outbox, so an erasure since it was published
    is respected) to ``consumer`` at most once, whatever the number of deliveries."""
    loaded = _load(db, consumer, event_id)
    if isinstance(loaded, Delivery):
        return loaded
    event = loaded
    assert event.position is not None
    try:
        with db.uow() as uow:
            cursor = _lock_cursor(uow, consumer.name)  # one handler transaction at a time
            if uow.session.get(ProcessedEventRow, (consumer.name, event.id)) is not None:
                return Delivery("duplicate")  # another process applied it meanwhile
            consumer.handle(uow, event)
            uow.session.add(
                ProcessedEventRow(
                    consumer=consumer.name,
                    event_id=event.id,
                    position=event.position,
                    processed_at=uow.now(),
                )
            )
            if cursor.position < event.position:
                cursor.position = event.position
                cursor.updated_at = uow.now()
            uow.session.execute(
                update(ConsumerFailureRow)
                .where(
                    ConsumerFailureRow.consumer == consumer.name,
                    ConsumerFailureRow.event_id == event.id,
                )
                .values(status="resolved", updated_at=uow.now())
            )
    except Exception as exc:  # the handler's failure is recorded, never lost
        if _record_failure(db, consumer, event, exc, policy) == "parked":
            return Delivery("parked")
        with db.read() as session:
            failure = _failure(session, consumer.name, event.id)
            assert failure is not None
            return Delivery("wait", max(failure.next_attempt_at - db.clock.now(), timedelta(0)))
    return Delivery("applied")
