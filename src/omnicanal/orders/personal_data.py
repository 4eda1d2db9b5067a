"""Orders in a customer's export, and their erasure: the orders stay (accounting needs them)
but lose the contact details and the shipping address, in the erasure's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omnicanal.orders.tables import OrderRow
from omnicanal.orders.views import order_views
from omnicanal.storage.uow import UnitOfWork


def export_orders(session: Session, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(OrderRow).where(OrderRow.customer_id.in_(ids)).order_by(OrderRow.id)
    ).all()
    return order_views(session, rows)


def personal_values(session: Session, ids: Sequence[str]) -> set[str]:
    """Contact details and addresses the customer gave on their orders."""
    values: set[str] = set()
    for contact, address in session.execute(
        select(OrderRow.contact, OrderRow.shipping_address).where(OrderRow.customer_id.in_(ids))
    ):
        for part in (contact or {}, address or {}):
            values |= {
                str(v)
                for k, v in part.items()
                if isinstance(v, str) and k not in {"country", "postcode", "city"}
            }
    return values


def erase_orders(uow: UnitOfWork, ids: Sequence[str]) -> int:
    result = uow.session.execute(
        update(OrderRow)
        .where(OrderRow.customer_id.in_(ids))
        .values(contact={}, shipping_address=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
