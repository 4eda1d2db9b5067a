"""Tickets in a customer's export, and their erasure.

Erasure pseudonymises rather than deletes: what the customer wrote (subject, description, CSAT
comment) goes, while the status, channel, store, dates and the CSAT score stay under the
profile's tombstone id so service KPIs (CSAT, resolution times) remain true."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.events.model import to_jsonable
from omnicanal.service_desk.tables import TicketRow
from omnicanal.storage.uow import UnitOfWork

REDACTED = "[erased]"
_EXPORTED = (
    "id",
    "channel",
    "source_channel",
    "store_id",
    "order_id",
    "subject",
    "description",
    "status",
    "priority",
    "opened_at",
    "resolved_at",
    "closed_at",
    "reopen_count",
    "csat_score",
    "csat_comment",
    "csat_at",
)


def export_tickets(session: Session, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(TicketRow)
        .where(TicketRow.profile_id.in_(ids), TicketRow.erased_at.is_(None))
        .order_by(TicketRow.id)
    )
    return [{n: to_jsonable(getattr(r, n)) for n in _EXPORTED} for r in rows]


def erase_tickets(uow: UnitOfWork, ids: Sequence[str]) -> int:
    rows = uow.session.scalars(
        select(TicketRow).where(TicketRow.profile_id.in_(ids), TicketRow.erased_at.is_(None))
    ).all()
    for row in rows:
        row.subject = REDACTED
        row.description = None
        row.csat_comment = None
        row.erased_at = uow.now()
        row.priority_review_at = None
    return len(rows)
