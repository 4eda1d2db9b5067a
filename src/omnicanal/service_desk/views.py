"""Read side: one ticket, the queue with filters, a ticket found by its id and the customer's
email or phone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from omnicanal.customers.model import Identifier
from omnicanal.customers.service import resolve
from omnicanal.customers.tables import CustomerIdentifierRow
from omnicanal.customers.views import absorbed_ids
from omnicanal.service_desk.model import Priority, TicketChannel, TicketStatus
from omnicanal.service_desk.service import load
from omnicanal.service_desk.tables import TicketRow
from omnicanal.shared.errors import NotFound
from omnicanal.storage.paging import keyset_page


def get_ticket(session: Session, ticket_id: str) -> TicketRow:
    return load(session, ticket_id)


def _profile_and_absorbed(session: Session, profile_id: str) -> list[str]:
    profile = resolve(session, profile_id)
    return [profile.id, *absorbed_ids(session, profile.id)]


def owner_of(session: Session, identifiers: Sequence[Identifier]) -> str | None:
    """The (survivor) profile every identifier belongs to; None if unknown or not all one."""
    if not identifiers:
        return None
    cond = or_(
        *(
            and_(CustomerIdentifierRow.kind == i.kind, CustomerIdentifierRow.value == i.value)
            for i in identifiers
        )
    )
    rows = session.scalars(select(CustomerIdentifierRow).where(cond)).all()
    if len(rows) != len(set(identifiers)):
        return None
    owners = {resolve(session, r.profile_id).id for r in rows}
    return owners.pop() if len(owners) == 1 else None


def find_by_contact(
    session: Session, ticket_id: str, identifiers: Sequence[Identifier]
) -> TicketRow:
    """A customer quoting a ticket id with their email or phone: the ticket only if the contact
    belongs to its customer (otherwise the same 404 as an unknown ticket, so nothing leaks)."""
    row = load(session, ticket_id)
    owner = owner_of(session, identifiers)
    if owner is None or resolve(session, row.profile_id).id != owner:
        raise NotFound(
            f"No ticket {ticket_id} for this email or phone; check both, or open a new ticket.",
            code="ticket-not-found",
            field="ticket_id",
            ticket_id=ticket_id,
        )
    return row


@dataclass(frozen=True, slots=True)
class TicketFilter:
    customer_id: str | None = None
    status: Sequence[TicketStatus] = ()
    channel: TicketChannel | None = None
    priority: Sequence[Priority] = ()
    store_id: str | None = None
    order_id: str | None = None


def list_tickets(
    session: Session, filters: TicketFilter, *, cursor: str | None, limit: int
) -> tuple[list[TicketRow], str | None]:
    """Oldest first (the queue order); a customer's tickets include those of profiles merged
    into theirs."""
    stmt = select(TicketRow).where(TicketRow.erased_at.is_(None))
    if filters.customer_id is not None:
        stmt = stmt.where(
            TicketRow.profile_id.in_(_profile_and_absorbed(session, filters.customer_id))
        )
    if filters.status:
        stmt = stmt.where(TicketRow.status.in_([s.value for s in filters.status]))
    if filters.channel is not None:
        stmt = stmt.where(TicketRow.channel == filters.channel.value)
    if filters.priority:
        stmt = stmt.where(TicketRow.priority.in_([p.value for p in filters.priority]))
    if filters.store_id is not None:
        stmt = stmt.where(TicketRow.store_id == filters.store_id)
    if filters.order_id is not None:
        stmt = stmt.where(TicketRow.order_id == filters.order_id)
    return keyset_page(session, stmt, order_by=[TicketRow.id], cursor=cursor, limit=limit)
