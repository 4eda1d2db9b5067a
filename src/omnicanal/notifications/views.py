"""Read side: the delivery log (per customer, or head office's by status) and personal data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omnicanal.events.model import to_jsonable
from omnicanal.notifications.model import Status
from omnicanal.notifications.tables import BackInStockSubscriptionRow, NotificationMessageRow
from omnicanal.storage.paging import keyset_page
from omnicanal.storage.uow import UnitOfWork


def list_messages(
    session: Session,
    *,
    customer_ids: Sequence[str] | None = None,
    status: Status | None = None,
    order_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[NotificationMessageRow], str | None]:
    stmt = select(NotificationMessageRow)
    if customer_ids is not None:
        stmt = stmt.where(NotificationMessageRow.customer_id.in_(customer_ids))
    if status is not None:
        stmt = stmt.where(NotificationMessageRow.status == status.value)
    if order_id is not None:
        stmt = stmt.where(NotificationMessageRow.order_id == order_id)
    return keyset_page(
        session, stmt, order_by=[NotificationMessageRow.id], cursor=cursor, limit=limit
    )


_EXPORTED = (
    "id",
    "channel",
    "purpose",
    "template",
    "order_id",
    "status",
    "reason",
    "recipient",
    "title",
    "created_at",
    "sent_at",
)


def export_messages(session: Session, ids: Sequence[str]) -> dict[str, Any]:
    messages = session.scalars(
        select(NotificationMessageRow)
        .where(NotificationMessageRow.customer_id.in_(ids))
        .order_by(NotificationMessageRow.id)
    )
    subs = session.scalars(
        select(BackInStockSubscriptionRow)
        .where(BackInStockSubscriptionRow.customer_id.in_(ids))
        .order_by(BackInStockSubscriptionRow.id)
    )
    return {
        "messages": [{n: to_jsonable(getattr(m, n)) for n in _EXPORTED} for m in messages],
        "back_in_stock": [
            {"id": s.id, "sku": s.sku, "status": s.status, "radius_km": s.radius_km} for s in subs
        ],
    }


def erase_messages(uow: UnitOfWork, ids: Sequence[str]) -> int:
    """Waiting messages are suppressed (an erased person is never contacted); the log keeps
    what was sent, when and why, without the address, the title or the subscription's place."""
    now = uow.now()
    session = uow.session
    session.execute(
        update(NotificationMessageRow)
        .where(
            NotificationMessageRow.customer_id.in_(ids),
            NotificationMessageRow.status == Status.SCHEDULED.value,
        )
        .values(status=Status.SUPPRESSED.value, reason="profile-erased", updated_at=now)
    )
    result = session.execute(
        update(NotificationMessageRow)
        .where(
            NotificationMessageRow.customer_id.in_(ids),
            NotificationMessageRow.erased_at.is_(None),
        )
        .values(recipient=None, title=None, data={}, erased_at=now, updated_at=now)
    )
    session.execute(
        update(BackInStockSubscriptionRow)
        .where(BackInStockSubscriptionRow.customer_id.in_(ids))
        .values(latitude=0.0, longitude=0.0, status="erased")
    )
    return int(getattr(result, "rowcount", 0) or 0)
