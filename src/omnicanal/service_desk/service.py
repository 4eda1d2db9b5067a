"""Service desk use cases: open a ticket for a customer known by id, email or phone; move it
through its statuses; record satisfaction; keep its priority in line with the customer's value
and the ticket's age. Functions take the caller's ``UnitOfWork`` and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omnicanal.customers.attributes import scores_of
from omnicanal.customers.model import Identifier
from omnicanal.customers.service import identify, resolve_live
from omnicanal.service_desk import events as ev
from omnicanal.service_desk.model import (
    ACTIVE,
    MAX_COMMENT,
    MAX_DESCRIPTION,
    MAX_SUBJECT,
    CustomerValue,
    Priority,
    TicketChannel,
    TicketStatus,
    check_csat,
    check_text,
    check_transition,
    is_reopening,
    priority_of,
)
from omnicanal.service_desk.tables import TicketRow
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.storage.uow import UnitOfWork


def _not_found(ticket_id: str) -> NotFound:
    return NotFound(
        f"No ticket {ticket_id}; list a customer's tickets with GET /v1/tickets?customer_id=.",
        code="ticket-not-found",
        field="ticket_id",
        ticket_id=ticket_id,
    )


def load(session: Session, ticket_id: str, *, lock: bool = False) -> TicketRow:
    stmt = select(TicketRow).where(TicketRow.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(stmt).first()
    if row is None or row.erased_at is not None:
        raise _not_found(ticket_id)
    return row


def customer_value(session: Session, profile_id: str, *, now: datetime) -> CustomerValue:
    scores = scores_of(session, profile_id, now=now)
    return CustomerValue(scores.recency, scores.frequency, scores.monetary)


def _apply_priority(row: TicketRow, value: CustomerValue, *, now: datetime) -> bool:
    decision = priority_of(
        value, opened_at=row.cycle_opened_at, now=now, status=TicketStatus(row.status)
    )
    changed = row.priority != decision.priority.value
    row.priority = decision.priority.value
    row.priority_points = decision.points
    row.value_points = decision.value_points
    row.priority_review_at = decision.review_at
    return changed


def open_ticket(
    uow: UnitOfWork,
    *,
    subject: str,
    channel: TicketChannel,
    source_channel: str,
    customer_id: str | None = None,
    identifiers: Sequence[Identifier] = (),
    description: str | None = None,
    store_id: str | None = None,
    order_id: str | None = None,
) -> TicketRow:
    """A ticket for the customer ``customer_id`` names, or the one the email/phone identifies:
    an unknown address creates a profile, a known one links to it (``customers.identify``)."""
    subject = check_text(subject, field="subject", limit=MAX_SUBJECT)
    if description is not None:
        description = check_text(
            description, field="description", limit=MAX_DESCRIPTION, required=False
        )
    if customer_id and identifiers:
        raise InvalidInput(
            "Give customer_id or the customer's email/phone, not both; add a new identifier "
            "with POST /v1/customers/identify.",
            field="customer_id",
        )
    if channel is TicketChannel.STORE and store_id is None:
        raise InvalidInput("A ticket taken in store names its store_id.", field="store_id")
    ticket_id = new_id("tkt")
    if customer_id:
        profile_id = resolve_live(uow.session, customer_id).id
    elif identifiers:
        found = identify(
            uow, identifiers=identifiers, channel=source_channel, source_ref=f"ticket:{ticket_id}"
        )
        profile_id = found.profile_id
    else:
        raise InvalidInput(
            "Say who the ticket is for: customer_id, or the customer's email or phone.",
            field="customer_id",
        )
    now = uow.now()
    row = TicketRow(
        id=ticket_id,
        profile_id=profile_id,
        channel=channel.value,
        source_channel=source_channel,
        store_id=store_id,
        order_id=order_id,
        subject=subject,
        description=description or None,
        status=TicketStatus.OPEN.value,
        priority=Priority.LOW.value,
        priority_points=0,
        value_points=0,
        opened_at=now,
        cycle_opened_at=now,
        updated_at=now,
        resolution_count=0,
        reopen_count=0,
    )
    _apply_priority(row, customer_value(uow.session, profile_id, now=now), now=now)
    uow.session.add(row)
    uow.session.flush()
    uow.emit(
        ev.TicketOpened(
            ticket_id=row.id,
            profile_id=row.profile_id,
            channel=row.channel,
            source_channel=row.source_channel,
            store_id=row.store_id,
            status=row.status,
            priority=row.priority,
            order_id=row.order_id,
            personal={"subject": row.subject},
        )
    )
    return row


def change_status(
    uow: UnitOfWork,
    ticket_id: str,
    *,
    status: TicketStatus,
    source_channel: str,
    note: str | None = None,
) -> TicketRow:
    """open → pending → resolved → closed; pending → open when the customer answers; resolved
    or closed → open reopens the ticket (its age, and so its priority, counts afresh)."""
    row = load(uow.session, ticket_id, lock=True)
    current = TicketStatus(row.status)
    check_transition(current, status)
    if note is not None:
        note = check_text(note, field="note", limit=MAX_COMMENT, required=False) or None
    now = uow.now()
    reopened = is_reopening(current, status)
    row.status = status.value
    row.updated_at = now
    if status is TicketStatus.RESOLVED:
        row.resolved_at = now
        row.resolution_count += 1
    elif status is TicketStatus.CLOSED:
        row.closed_at = now
    elif reopened:
        row.reopen_count += 1
        row.cycle_opened_at = now
        row.resolved_at = None
        row.closed_at = None
    _apply_priority(row, customer_value(uow.session, row.profile_id, now=now), now=now)
    uow.session.flush()
    uow.emit(
        ev.TicketStatusChanged(
            ticket_id=row.id,
            profile_id=row.profile_id,
            channel=row.channel,
            source_channel=row.source_channel,
            store_id=row.store_id,
            from_status=current.value,
            status=row.status,
            priority=row.priority,
            reopened=reopened,
            personal={"note": note} if note else None,
        )
    )
    return row


def record_csat(
    uow: UnitOfWork,
    ticket_id: str,
    *,
    score: int,
    source_channel: str,
    comment: str | None = None,
) -> TicketRow:
    row = load(uow.session, ticket_id, lock=True)
    check_csat(
        score,
        status=TicketStatus(row.status),
        resolutions=row.resolution_count,
        rated_resolution=row.csat_resolution,
    )
    if comment is not None:
        comment = check_text(comment, field="comment", limit=MAX_COMMENT, required=False) or None
    row.csat_score = score
    row.csat_comment = comment
    row.csat_at = uow.now()
    row.csat_resolution = row.resolution_count
    row.updated_at = uow.now()
    uow.session.flush()
    uow.emit(
        ev.CsatRecorded(
            ticket_id=row.id,
            profile_id=row.profile_id,
            channel=row.channel,
            source_channel=source_channel,
            store_id=row.store_id,
            score=score,
            resolution=row.resolution_count,
            personal={"comment": comment} if comment else None,
        )
    )
    return row


def reprioritise(uow: UnitOfWork, row: TicketRow, *, cause: str) -> bool:
    """Recomputes one ticket's priority now; emits ``tickets.ticket.reprioritised`` if it moved."""
    before = row.priority
    now = uow.now()
    if not _apply_priority(row, customer_value(uow.session, row.profile_id, now=now), now=now):
        return False
    row.updated_at = now
    uow.emit(
        ev.TicketReprioritised(
            ticket_id=row.id,
            profile_id=row.profile_id,
            channel=row.channel,
            source_channel=row.source_channel,
            store_id=row.store_id,
            from_priority=before,
            priority=row.priority,
            points=row.priority_points,
            cause=cause,
        )
    )
    return True


def reprioritise_due(uow: UnitOfWork, *, batch: int = 200) -> int:
    """Tickets whose age reached the next step. Run periodically until it returns 0."""
    rows = uow.session.scalars(
        select(TicketRow)
        .where(TicketRow.priority_review_at <= uow.now())
        .order_by(TicketRow.priority_review_at, TicketRow.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        reprioritise(uow, row, cause="age")
    return len(rows)


def reprioritise_customer(uow: UnitOfWork, profile_id: str) -> int:
    """The customer's value changed: their open and pending tickets follow."""
    rows = uow.session.scalars(
        select(TicketRow)
        .where(
            TicketRow.profile_id == profile_id,
            TicketRow.status.in_([s.value for s in ACTIVE]),
        )
        .order_by(TicketRow.id)
        .with_for_update()
    ).all()
    return sum(1 for row in rows if reprioritise(uow, row, cause="customer-value"))


def follow_merge(uow: UnitOfWork, survivor_id: str, absorbed_ids: Sequence[str]) -> int:
    result = uow.session.execute(
        update(TicketRow)
        .where(TicketRow.profile_id.in_(list(absorbed_ids)))
        .values(profile_id=survivor_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)
