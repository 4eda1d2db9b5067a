"""In-process event consumers: each published event applied once per consumer, recorded.

A context declares its consumers in its own ``consumers.py``::

    CONSUMERS = [Consumer("carts.follow-merges", ("customers.profile.merged",), on_merge)]

and ``omnicanal.consumers.all_consumers()`` gathers them. ``handle(uow, event)`` runs inside a
unit of work that also locks the consumer's cursor, records the event as processed and moves
the cursor: the effect, the record and the cursor commit together, so a crash or a second server
process never applies an event twice. A handler that raises is retried with backoff and parked
after ``max_attempts`` (listed at ``GET /v1/events/consumers``) so one poison event never stops
the others.
"""

from __future__ import annotations

import time
import traceback
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.events.model import StoredEvent
from omnicanal.events.outbox import stored
from omnicanal.events.tables import (
    ConsumerCursorRow,
    ConsumerFailureRow,
    OutboxEventRow,
    ProcessedEventRow,
)
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

Handler = Callable[[UnitOfWork, StoredEvent], None]


def type_matches(patterns: Sequence[str], event_type: str) -> bool:
    """``*`` matches everything, ``orders.*`` every type under ``orders.``, else exact."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


@dataclass(frozen=True)
class Consumer:
    name: str  # stable: the cursor and the processed records are keyed by it
    handles: tuple[str, ...]  # event types or ``prefix.*`` patterns
    handle: Handler

    def wants(self, event_type: str) -> bool:
        return type_matches(self.handles, event_type)


@dataclass(frozen=True)
class ConsumerPolicy:
    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=2)
    batch_size: int = 200
    batch_seconds: float = 0.05  # longest write transaction applying a batch of events


def _lock_cursor(uow: UnitOfWork, name: str) -> ConsumerCursorRow:
    found = _lock_cursor_unless_busy(uow, name, wait=True)
    assert found is not None
    return found


def _lock_cursor_unless_busy(uow: UnitOfWork, name: str, *, wait: bool) -> ConsumerCursorRow | None:
    """The consumer's cursor, locked; ``None`` (PostgreSQL, ``wait=False``) when another
    process holds it: that process is applying this consumer's events right now."""
    session = uow.session
    stmt = select(ConsumerCursorRow).where(ConsumerCursorRow.consumer == name)
    if session.get_bind().dialect.name == "postgresql":
        # populate_existing: the position read under the lock, not the one read just before
        stmt = stmt.with_for_update(skip_locked=not wait).execution_options(populate_existing=True)
        if not wait and session.get(ConsumerCursorRow, name) is not None:
            return session.scalars(stmt).one_or_none()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        row = ConsumerCursorRow(consumer=name, position=0, updated_at=uow.now())
        session.add(row)
        session.flush()
    return row


def ensure_cursor(db: Database, name: str) -> None:
    """Create the cursor row once (two processes racing both end with one row)."""
    try:
        with db.uow() as uow:
            _lock_cursor(uow, name)
    except IntegrityError:
        pass


def cursor_position(session: Session, name: str) -> int:
    found = session.get(ConsumerCursorRow, name)
    return found.position if found else 0


def _failure(session: Session, name: str, event_id: str) -> ConsumerFailureRow | None:
    return session.get(ConsumerFailureRow, (name, event_id))


def run_consumer(db: Database, consumer: Consumer, policy: ConsumerPolicy) -> int:
    """Apply the next batch of published events to ``consumer``; returns how many it applied or
    skipped (0 when it is up to date, busy in another process, or waiting to retry)."""
    _ensure_cursor_once(db, consumer.name)
    with db.read() as session:
        after = cursor_position(session, consumer.name)
        rows = session.scalars(
            select(OutboxEventRow)
            .where(OutboxEventRow.position > after)
            .order_by(OutboxEventRow.position)
            .limit(policy.batch_size)
        ).all()
        events = [stored(row) for row in rows]
    done = 0
    while events:
        applied, events, failed = _apply_batch(db, consumer, events, policy)
        done += applied
        if failed is not None:
            event, exc = failed
            _record_failure(db, consumer, event, exc, policy)
            break
        if not applied:
            break  # busy in another process, or waiting for a retry that is not due
    return done


def _apply_batch(
    db: Database, consumer: Consumer, events: Sequence[StoredEvent], policy: ConsumerPolicy
) -> tuple[int, list[StoredEvent], tuple[StoredEvent, Exception] | None]:
    """Apply events in order in **one** transaction, each in its own savepoint, for at most
    ``policy.batch_seconds`` (a write transaction must stay short: on SQLite it holds the
    database's write lock). Each applied event gets its processed record; the cursor moves past
    the events applied and the unwanted ones between them, all committed together. A handler
    that raises rolls back its savepoint only: the events before it commit, and the failure is
    returned for the caller to record (retry with backoff, then park).

    Returns (events applied or skipped, events left for the next transaction, failure)."""
    count = 0
    failed: tuple[StoredEvent, Exception] | None = None
    rest: list[StoredEvent] = []
    deadline = time.monotonic() + policy.batch_seconds
    with db.uow() as uow:
        cursor = _lock_cursor_unless_busy(uow, consumer.name, wait=False)
        if cursor is None:
            return 0, [], None  # another server process is applying this consumer's events
        session = uow.session
        wanted = [e for e in events if e.position is not None and e.position > cursor.position]
        failures = _pending_failures(session, consumer.name, wanted)
        moved_to = cursor.position
        now = uow.now()
        for index, event in enumerate(wanted):
            assert event.position is not None
            if count and time.monotonic() > deadline:
                rest = wanted[index:]
                break
            if not consumer.wants(event.type):
                moved_to = event.position
                count += 1
                continue
            failure = failures.get(event.id)
            if failure is not None and failure.next_attempt_at > now:
                break  # retrying, not due yet: the events after it wait (order is kept)
            try:
                with session.begin_nested():
                    consumer.handle(uow, event)
            except Exception as exc:  # the handler's failure is recorded, never lost
                failed = (event, exc)
                break
            session.add(
                ProcessedEventRow(
                    consumer=consumer.name,
                    event_id=event.id,
                    position=event.position,
                    processed_at=uow.now(),
                )
            )
            if failure is not None:
                failure.status = "resolved"
                failure.updated_at = uow.now()
            moved_to = event.position
            count += 1
        if moved_to > cursor.position:
            cursor.position = moved_to
            cursor.updated_at = uow.now()
    return count, rest, failed


def _pending_failures(
    session: Session, name: str, events: Sequence[StoredEvent]
) -> dict[str, ConsumerFailureRow]:
    """The events of this batch that failed before and are being retried."""
    if not events:
        return {}
    rows = session.scalars(
        select(ConsumerFailureRow).where(
            ConsumerFailureRow.consumer == name,
            ConsumerFailureRow.status == "retrying",
            ConsumerFailureRow.event_id.in_([e.id for e in events]),
        )
    )
    return {row.event_id: row for row in rows}


_ENSURED: weakref.WeakKeyDictionary[Database, set[str]] = weakref.WeakKeyDictionary()


def _ensure_cursor_once(db: Database, name: str) -> None:
    """``ensure_cursor`` once per process and database (not a write transaction per round; a
    cursor row removed since is created again by the locked read that needs it)."""
    seen = _ENSURED.setdefault(db, set())
    if name not in seen:
        ensure_cursor(db, name)
        seen.add(name)


def _record_failure(
    db: Database, consumer: Consumer, event: StoredEvent, exc: Exception, policy: ConsumerPolicy
) -> str:
    assert event.position is not None
    message = "".join(traceback.format_exception_only(exc)).strip()[:2000]
    with db.uow() as uow:
        now = uow.now()
        failure = _failure(uow.session, consumer.name, event.id)
        if failure is None:
            failure = ConsumerFailureRow(
                consumer=consumer.name,
                event_id=event.id,
                position=event.position,
                attempts=0,
                status="retrying",
                last_error=message,
                next_attempt_at=now,
                updated_at=now,
            )
            uow.session.add(failure)
        failure.attempts += 1
        failure.last_error = message
        failure.updated_at = now
        if failure.attempts >= policy.max_attempts:
            # Parked: the consumer moves on; an operator replays it once the cause is fixed.
            failure.status = "parked"
            cursor = _lock_cursor(uow, consumer.name)
            if cursor.position < event.position:
                cursor.position = event.position
                cursor.updated_at = now
            return "parked"
        failure.status = "retrying"
        failure.next_attempt_at = now + backoff(policy.backoff_base, failure.attempts)
    return "wait"


def backoff(base: timedelta, attempts: int) -> timedelta:
    """Exponential: base, 2 base, 4 base, ... capped at one hour."""
    delay: timedelta = base * (2 ** max(attempts - 1, 0))
    return min(delay, timedelta(hours=1))


def replay_parked(db: Database, consumer: Consumer, event_id: str) -> bool:
    """Apply a parked event again (after its cause was fixed). True if it applied now."""
    with db.read() as session:
        failure = _failure(session, consumer.name, event_id)
        row = session.scalars(select(OutboxEventRow).where(OutboxEventRow.id == event_id)).one()
        event = stored(row)
    if failure is None or failure.status != "parked":
        return False
    with db.read() as session:
        if session.get(ProcessedEventRow, (consumer.name, event_id)) is not None:
            return False
    try:
        with db.uow() as uow:
            consumer.handle(uow, event)
            assert event.position is not None
            uow.session.add(
                ProcessedEventRow(
                    consumer=consumer.name,
                    event_id=event.id,
                    position=event.position,
                    processed_at=uow.now(),
                )
            )
            found = _failure(uow.session, consumer.name, event_id)
            assert found is not None
            found.status = "resolved"
            found.updated_at = uow.now()
    except Exception as exc:
        with db.uow() as uow:
            found = _failure(uow.session, consumer.name, event_id)
            assert found is not None
            found.attempts += 1
            found.last_error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
            found.updated_at = uow.now()
        return False
    return True


@dataclass(frozen=True)
class ConsumerStatus:
    name: str
    handles: tuple[str, ...]
    position: int
    lag: int
    retrying: int
    parked: int
    updated_at: datetime | None


def consumer_statuses(db: Database, consumers: Sequence[Consumer]) -> list[ConsumerStatus]:
    from sqlalchemy import func

    with db.read() as session:
        head = session.scalar(select(func.max(OutboxEventRow.position))) or 0
        cursors = {row.consumer: row for row in session.scalars(select(ConsumerCursorRow))}
        counts = dict(
            (((row[0], row[1]), row[2]))
            for row in session.execute(
                select(
                    ConsumerFailureRow.consumer,
                    ConsumerFailureRow.status,
                    func.count(),
                ).group_by(ConsumerFailureRow.consumer, ConsumerFailureRow.status)
            )
        )
    result = []
    for consumer in consumers:
        cursor = cursors.get(consumer.name)
        position = cursor.position if cursor else 0
        result.append(
            ConsumerStatus(
                name=consumer.name,
                handles=consumer.handles,
                position=position,
                lag=max(head - position, 0),
                retrying=counts.get((consumer.name, "retrying"), 0),
                parked=counts.get((consumer.name, "parked"), 0),
                updated_at=cursor.updated_at if cursor else None,
            )
        )
    return result
