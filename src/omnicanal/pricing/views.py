"""Read side of pricing: overrides, and a SKU's price history.

The history is the event stream itself: every base price change is a ``catalog.price.changed``
event and every override change a ``pricing.override.*`` event, all with the SKU as subject,
written in the transaction of the change (transactional outbox) and never deleted. Reading them
back needs no second copy that could drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.events.tables import OutboxEventRow
from omnicanal.pricing.service import in_force
from omnicanal.pricing.tables import PriceOverrideRow
from omnicanal.shared.pagination import encode_cursor
from omnicanal.storage.paging import keyset_page

HISTORY_TYPES = (
    "catalog.price.changed",
    "pricing.override.created",
    "pricing.override.changed",
)


def list_overrides(
    session: Session,
    *,
    sku: str | None = None,
    currency: str | None = None,
    channel: str | None = None,
    store_id: str | None = None,
    territory: str | None = None,
    in_force_at: datetime | None = None,
    justified: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[PriceOverrideRow], str | None]:
    stmt = select(PriceOverrideRow)
    for column, value in (
        (PriceOverrideRow.sku, sku),
        (PriceOverrideRow.currency, currency),
        (PriceOverrideRow.channel, channel),
        (PriceOverrideRow.store_id, store_id),
        (PriceOverrideRow.territory, territory),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if in_force_at is not None:
        stmt = stmt.where(in_force(in_force_at))
    if justified is True:
        stmt = stmt.where(PriceOverrideRow.reason.is_not(None))
    elif justified is False:
        stmt = stmt.where(PriceOverrideRow.reason.is_(None))
    return keyset_page(session, stmt, order_by=[PriceOverrideRow.id], cursor=cursor, limit=limit)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    event_id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


def price_history(
    session: Session,
    sku: str,
    *,
    currency: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[HistoryEntry], str | None]:
    """Every change of the SKU's base prices and overrides, oldest first."""
    stmt = select(OutboxEventRow).where(
        OutboxEventRow.subject == sku, OutboxEventRow.type.in_(HISTORY_TYPES)
    )
    rows: list[OutboxEventRow] = []
    next_cursor = cursor
    # the currency lives in the payload (portable JSON filtering differs per database): filter
    # here, reading on until the page is full
    while True:
        page, next_cursor = keyset_page(
            session, stmt, order_by=[OutboxEventRow.seq], cursor=next_cursor, limit=limit
        )
        rows += [r for r in page if currency is None or r.data.get("currency") == currency]
        if len(rows) >= limit or next_cursor is None:
            break
    entries = [
        HistoryEntry(event_id=r.id, type=r.type, occurred_at=r.occurred_at, data=r.data)
        for r in rows[:limit]
    ]
    if len(rows) > limit:
        next_cursor = encode_cursor([rows[limit - 1].seq])
    return entries, next_cursor
