"""/v1/events: the cursor feed of everything that happened, event types, consumer status."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, or_, select

from omnicanal.api.deps import DbDep, require
from omnicanal.auth.model import Principal
from omnicanal.events.consumers import consumer_statuses, replay_parked
from omnicanal.events.model import EVENT_TYPES
from omnicanal.events.outbox import stored
from omnicanal.events.tables import ConsumerFailureRow, OutboxEventRow
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.pagination import MAX_LIMIT
from omnicanal.storage.database import Database

router = APIRouter(tags=["events"])

MAX_WAIT_SECONDS = 30.0


class EventOut(BaseModel):
    id: str = Field(examples=["evt_01JD3V9W3Q4S8K2M7N6P5R4T3B"])
    type: str = Field(examples=["inventory.stock.reserved"])
    subject: str | None = Field(description="The id of what the event is about, if any.")
    occurred_at: datetime
    position: int = Field(description="The feed position; pass the last one as ?after=.")
    data: dict[str, Any]


class EventFeed(BaseModel):
    data: list[EventOut]
    next_after: int = Field(description="Pass as ?after= for the next page (the last position).")
    head: int = Field(description="The latest published position when this page was read.")


def _type_filter(patterns: list[str]) -> ColumnElement[bool] | None:
    conditions: list[ColumnElement[bool]] = []
    for pattern in patterns:
        if pattern == "*":
            return None
        if pattern.endswith(".*"):
            conditions.append(OutboxEventRow.type.startswith(pattern[:-1], autoescape=True))
        else:
            conditions.append(OutboxEventRow.type == pattern)
    return or_(*conditions) if conditions else None


def _read_page(
    db: Database, after: int, limit: int, types: list[str], subject: str | None
) -> EventFeed:
    with db.read() as session:
        # The head first: everything up to it is scanned, so a filtered reader may skip to it.
        head = session.scalar(select(func.max(OutboxEventRow.position))) or 0
        stmt = select(OutboxEventRow).where(
            OutboxEventRow.position > after, OutboxEventRow.position <= head
        )
        condition = _type_filter(types)
        if condition is not None:
            stmt = stmt.where(condition)
        if subject:
            stmt = stmt.where(OutboxEventRow.subject == subject)
        rows = session.scalars(stmt.order_by(OutboxEventRow.position).limit(limit)).all()
        events = [stored(row).envelope() for row in rows]
    next_after = events[-1]["position"] if len(events) == limit else max(after, head)
    return EventFeed(data=[EventOut(**e) for e in events], next_after=next_after, head=head)


@router.get("/events", response_model=EventFeed, summary="The event feed, in order")
async def feed(
    db: DbDep,
    _: Annotated[Principal, Depends(require("events:read"))],
    after: Annotated[
        int, Query(ge=0, description="Events after this position (0: from the start).")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    type: Annotated[
        list[str] | None,
        Query(description="Event types or 'prefix.*' patterns; repeat for several."),
    ] = None,
    subject: Annotated[str | None, Query(description="Only events about this id.")] = None,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Long poll: wait up to this many seconds "
            "for an event when none is there yet.",
        ),
    ] = 0,
) -> EventFeed:
    """Every event in publication order. Positions are contiguous and never reused: a reader
    that stores the last position it handled and asks ``?after=`` it never misses one."""
    types = type or []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        page = await run_in_threadpool(_read_page, db, after, limit, types, subject)
        if page.data or loop.time() >= deadline:
            return page
        await asyncio.sleep(min(0.25, max(deadline - loop.time(), 0)))


class EventTypeOut(BaseModel):
    type: str
    context: str
    description: str
    fields: list[str]


@router.get("/events/types", response_model=list[EventTypeOut])
def event_types(_: Annotated[Principal, Depends(require("events:read"))]) -> object:
    """Every event type omnicanal emits, with its payload fields (for webhooks and the feed)."""
    result = []
    for name, cls in sorted(EVENT_TYPES.items()):
        doc = (cls.__doc__ or "").strip()
        result.append(
            EventTypeOut(
                type=name,
                context=name.split(".", 1)[0],
                description=" ".join(doc.split()) if not doc.startswith(cls.__name__ + "(") else "",
                fields=[f.name for f in dataclasses.fields(cls)],
            )
        )
    return result


class ConsumerOut(BaseModel):
    name: str
    handles: list[str]
    position: int
    lag: int = Field(description="Published events this consumer has not reached yet.")
    retrying: int
    parked: int
    updated_at: datetime | None


class FailureOut(BaseModel):
    consumer: str
    event_id: str
    position: int
    attempts: int
    status: str
    last_error: str
    next_attempt_at: datetime
    updated_at: datetime


def _consumers() -> list[Any]:
    from omnicanal.consumers import all_consumers

    return all_consumers()


@router.get("/events/consumers", response_model=list[ConsumerOut])
def list_consumers(db: DbDep, _: Annotated[Principal, Depends(require("events:read"))]) -> object:
    """Each in-process consumer: how far it has read, its lag, failures retrying and parked."""
    return [
        ConsumerOut(**{**dataclasses.asdict(s), "handles": list(s.handles)})
        for s in consumer_statuses(db, _consumers())
    ]


@router.get("/events/consumers/{name}/failures", response_model=list[FailureOut])
def consumer_failures(
    name: str,
    db: DbDep,
    _: Annotated[Principal, Depends(require("events:read"))],
    status: Annotated[str | None, Query(pattern="^(retrying|parked|resolved)$")] = None,
) -> object:
    stmt = select(ConsumerFailureRow).where(ConsumerFailureRow.consumer == name)
    if status:
        stmt = stmt.where(ConsumerFailureRow.status == status)
    with db.read() as session:
        rows = session.scalars(stmt.order_by(ConsumerFailureRow.position).limit(MAX_LIMIT)).all()
        return [
            FailureOut(
                consumer=r.consumer,
                event_id=r.event_id,
                position=r.position,
                attempts=r.attempts,
                status=r.status,
                last_error=r.last_error,
                next_attempt_at=r.next_attempt_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ]


class ReplayOut(BaseModel):
    consumer: str
    event_id: str
    applied: bool


@router.post("/events/consumers/{name}/failures/{event_id}/replay", response_model=ReplayOut)
def replay(
    name: str,
    event_id: str,
    db: DbDep,
    _: Annotated[Principal, Depends(require("events:manage"))],
) -> object:
    """Apply a parked event again once its cause is fixed (a replay never applies it twice)."""
    consumer = next((c for c in _consumers() if c.name == name), None)
    if consumer is None:
        raise NotFound(f"No consumer {name}; GET /v1/events/consumers lists them.", consumer=name)
    with db.read() as session:
        failure = session.get(ConsumerFailureRow, (name, event_id))
    if failure is None or failure.status != "parked":
        raise InvalidInput(
            f"Event {event_id} is not parked for {name}; only parked events can be replayed.",
            field="event_id",
        )
    return ReplayOut(
        consumer=name, event_id=event_id, applied=replay_parked(db, consumer, event_id)
    )


@router.get("/events/{event_id}", response_model=EventOut)
def get_event(
    event_id: str, db: DbDep, _: Annotated[Principal, Depends(require("events:read"))]
) -> object:
    with db.read() as session:
        row = session.scalars(select(OutboxEventRow).where(OutboxEventRow.id == event_id)).first()
        if row is None or row.position is None:
            raise NotFound(f"No published event {event_id}.", event_id=event_id)
        return EventOut(**stored(row).envelope())
