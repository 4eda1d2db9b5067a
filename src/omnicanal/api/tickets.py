"""/v1/tickets: customer service tickets linked to the customer profile."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.customers.model import (
    Identifier,
    IdentifierKind,
    normalise_email,
    normalise_phone,
)
from omnicanal.service_desk import service, views
from omnicanal.service_desk.model import Priority, TicketChannel, TicketStatus
from omnicanal.service_desk.tables import TicketRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(prefix="/tickets", tags=["tickets"])

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: TicketChannel = Field(description="How the customer reached us.")
    subject: str = Field(min_length=1, max_length=200, examples=["Parcel never arrived"])
    description: str | None = Field(default=None, max_length=5000)
    customer_id: str | None = Field(default=None, max_length=40)
    email: str | None = Field(
        default=None,
        max_length=254,
        description="Instead of customer_id: the profile it identifies (created if unknown).",
    )
    phone: str | None = Field(default=None, max_length=40)
    phone_region: str = Field(default="FR", pattern=r"^[A-Z]{2}$")
    store_id: str | None = Field(
        default=None, max_length=40, description="Required for a ticket taken in store."
    )
    order_id: str | None = Field(default=None, max_length=40)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TicketStatus = Field(
        description="open → pending → resolved → closed; pending → open; resolved or closed → "
        "open reopens."
    )
    note: str | None = Field(default=None, max_length=1000)


class CsatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5, description="1 very unhappy … 5 very happy.")
    comment: str | None = Field(default=None, max_length=1000)


class CsatOut(BaseModel):
    score: int
    comment: str | None
    at: datetime
    resolution: int = Field(description="Which resolution was rated (1 = the first).")


class TicketPublic(BaseModel):
    id: str
    customer_id: str
    channel: TicketChannel
    source_channel: str
    store_id: str | None
    order_id: str | None
    subject: str
    description: str | None
    status: TicketStatus
    priority: Priority
    priority_points: int = Field(
        description="Customer value points (0-7) + age points (0-3); see docs/service-desk.md."
    )
    opened_at: datetime
    reopened_at: datetime | None
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution_count: int
    reopen_count: int
    csat: CsatOut | None


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _public(row: TicketRow) -> TicketPublic:
    csat = None
    if row.csat_score is not None and row.csat_at is not None:
        csat = CsatOut(
            score=row.csat_score,
            comment=row.csat_comment,
            at=row.csat_at,
            resolution=row.csat_resolution or 1,
        )
    return TicketPublic(
        id=row.id,
        customer_id=row.profile_id,
        channel=TicketChannel(row.channel),
        source_channel=row.source_channel,
        store_id=row.store_id,
        order_id=row.order_id,
        subject=row.subject,
        description=row.description,
        status=TicketStatus(row.status),
        priority=Priority(row.priority),
        priority_points=row.priority_points,
        opened_at=row.opened_at,
        reopened_at=row.cycle_opened_at if row.reopen_count else None,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        resolution_count=row.resolution_count,
        reopen_count=row.reopen_count,
        csat=csat,
    )


def _contacts(email: str | None, phone: str | None, region: str = "FR") -> list[Identifier]:
    out: list[Identifier] = []
    if email is not None:
        out.append(Identifier(IdentifierKind.EMAIL.value, normalise_email(email)))
    if phone is not None:
        out.append(Identifier(IdentifierKind.PHONE.value, normalise_phone(phone, region=region)))
    return out


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=TicketPublic)
def open_ticket(
    body: TicketCreate, write: Annotated[Write, Depends(writer("tickets:write"))]
) -> object:
    """Open a ticket for a customer known by id, or by email/phone: an unknown address creates a
    profile, a known one links to it. Its priority comes from the customer's value (RFM)."""
    identifiers = _contacts(body.email, body.phone, body.phone_region)
    store_id = body.store_id or (
        write.principal.store_id if body.channel is TicketChannel.STORE else None
    )
    if store_id is not None:
        check_store(write.principal, store_id)

    def use_case(uow: UnitOfWork) -> TicketPublic:
        row = service.open_ticket(
            uow,
            subject=body.subject,
            channel=body.channel,
            source_channel=write.principal.channel.value,
            customer_id=body.customer_id,
            identifiers=identifiers,
            description=body.description,
            store_id=store_id,
            order_id=body.order_id,
        )
        return _public(row)

    return write.run(use_case, status_code=201)


@router.get("", response_model=Page[TicketPublic])
def list_tickets(
    db: DbDep,
    _: Annotated[Principal, Depends(require("tickets:read"))],
    customer_id: str | None = None,
    email: Annotated[str | None, Query(description="The customer this email identifies.")] = None,
    phone: Annotated[str | None, Query(description="The customer this phone identifies.")] = None,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    channel: TicketChannel | None = None,
    store_id: str | None = None,
    order_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    """The queue, oldest first, filtered (``?status=open&priority=urgent``), or a customer's
    tickets (by id, email or phone; those of profiles merged into theirs included)."""
    contacts = _contacts(email, phone)
    with db.read() as session:
        if contacts:
            if customer_id is not None:
                raise InvalidInput("Give customer_id or email/phone, not both.", field="email")
            customer_id = views.owner_of(session, contacts)
            if customer_id is None:
                return Page[TicketPublic](data=[], next_cursor=None)
        filters = views.TicketFilter(
            customer_id=customer_id,
            status=status or (),
            channel=channel,
            priority=priority or (),
            store_id=store_id,
            order_id=order_id,
        )
        rows, next_cursor = views.list_tickets(session, filters, cursor=cursor, limit=limit)
        return Page[TicketPublic](data=[_public(r) for r in rows], next_cursor=next_cursor)


@router.get("/{ticket_id}", response_model=TicketPublic)
def get_ticket(
    ticket_id: str,
    db: DbDep,
    _: Annotated[Principal, Depends(require("tickets:read"))],
    email: Annotated[
        str | None,
        Query(description="With phone or alone: answer only if it is the ticket's customer's."),
    ] = None,
    phone: str | None = None,
) -> object:
    """One ticket. With ``email`` or ``phone`` (a customer quoting their ticket id), it is
    returned only when that contact belongs to the ticket's customer, else 404."""
    contacts = _contacts(email, phone)
    with db.read() as session:
        if contacts:
            return _public(views.find_by_contact(session, ticket_id, contacts))
        return _public(views.get_ticket(session, ticket_id))


@router.post("/{ticket_id}/status", response_model=TicketPublic)
def change_status(
    ticket_id: str,
    body: StatusChange,
    write: Annotated[Write, Depends(writer("tickets:write"))],
) -> object:
    def use_case(uow: UnitOfWork) -> TicketPublic:
        row = service.change_status(
            uow,
            ticket_id,
            status=body.status,
            source_channel=write.principal.channel.value,
            note=body.note,
        )
        return _public(row)

    return write.run(use_case)


@router.post("/{ticket_id}/csat", response_model=TicketPublic)
def record_csat(
    ticket_id: str,
    body: CsatIn,
    write: Annotated[Write, Depends(writer("tickets:write"))],
) -> object:
    """The customer's satisfaction (1-5) once the ticket is resolved, once per resolution."""

    def use_case(uow: UnitOfWork) -> TicketPublic:
        row = service.record_csat(
            uow,
            ticket_id,
            score=body.score,
            comment=body.comment,
            source_channel=write.principal.channel.value,
        )
        return _public(row)

    return write.run(use_case)
