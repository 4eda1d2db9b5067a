"""A customer's till sales in their export; at erasure the sales stay for the accounts and the
KPIs (``identified`` kept) but no longer name the profile. Shaped as a
``customers.personal_data.Holder`` (export, erase) so the erasure completes in its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.events.model import to_jsonable
from omnicanal.storage.uow import UnitOfWork
from omnicanal.tills import service
from omnicanal.tills.tables import TillSaleRow


def export_sales(session: Session, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(TillSaleRow)
        .where(TillSaleRow.customer_id.in_(list(ids)))
        .order_by(TillSaleRow.sold_at, TillSaleRow.id)
    )
    return [
        {
            "id": row.id,
            "store_id": row.store_id,
            "till_id": row.till_id,
            "sale_id": row.sale_id,
            "sold_at": to_jsonable(row.sold_at),
            "currency": row.currency,
            "total_minor": row.total_minor,
            "lines": row.lines,
            "points_earned": row.points_earned,
        }
        for row in rows
    ]


def erase_sales(uow: UnitOfWork, ids: Sequence[str]) -> int:
    return service.forget_customers(uow, ids)
