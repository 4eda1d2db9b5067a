"""Small read queries the console needs and no context exposes as such (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.inventory.views import level_public, level_rows_for_sku
from omnicanal.locations.tables import LocationRow
from omnicanal.loyalty.tables import LoyaltyAccountRow
from omnicanal.loyalty.views import AccountSummary, summary
from omnicanal.orders.model import GroupStatus, Method, OrderStatus
from omnicanal.orders.tables import OrderRow
from omnicanal.orders.views import order_views
from omnicanal.orders.wording import describe

_GROUP_AS_ORDER = {
    GroupStatus.COLLECTED: OrderStatus.COMPLETED,
    GroupStatus.DELIVERED: OrderStatus.COMPLETED,
    GroupStatus.DECLINED: OrderStatus.CANCELLED,
}


def group_status_text(status: str, method: str, *, lang: str, place: str | None = None) -> str:
    """A fulfilment group's status in words, through the one wording of order statuses."""
    group = GroupStatus(status)
    as_order = _GROUP_AS_ORDER.get(group) or OrderStatus(group.value)
    return describe(as_order, locale=lang, methods=frozenset({Method(method)}), place=place).text


def customer_orders(
    session: Session, profile_ids: list[str], *, lang: str, limit: int = 20
) -> list[dict[str, Any]]:
    """The customer's latest orders from every channel, as the API shows them (status words
    from ``describe``)."""
    rows = list(
        session.scalars(
            select(OrderRow)
            .where(OrderRow.customer_id.in_(profile_ids))
            .order_by(OrderRow.created_at.desc(), OrderRow.id.desc())
            .limit(limit)
        )
    )
    return order_views(session, rows, locale=lang)


def loyalty_of(session: Session, customer_id: str, now: datetime) -> AccountSummary | None:
    row = session.scalars(
        select(LoyaltyAccountRow).where(
            LoyaltyAccountRow.customer_id == customer_id, LoyaltyAccountRow.status == "active"
        )
    ).first()
    return summary(session, row, now) if row is not None else None


@dataclass(frozen=True, slots=True)
class StockHere:
    location_id: str
    name: str
    code: str
    kind: str
    city: str
    on_hand: int
    available: int
    can_pickup: bool


def stock_everywhere(session: Session, sku: str) -> list[StockHere]:
    """Every store and warehouse holding the SKU, most available first."""
    found = []
    for level, location in level_rows_for_sku(session, sku):
        if location.kind not in ("store", "warehouse") or location.status != "active":
            continue
        figures = level_public(level)
        found.append(
            StockHere(
                location_id=location.id,
                name=location.name,
                code=location.code,
                kind=location.kind,
                city=location.city,
                on_hand=int(figures["on_hand"]),
                available=int(figures["available_to_promise"]),
                can_pickup="pickup" in (location.capabilities or []),
            )
        )
    return sorted(found, key=lambda s: (-s.available, s.kind, s.code))


def stores(session: Session) -> list[LocationRow]:
    return list(
        session.scalars(
            select(LocationRow)
            .where(LocationRow.kind == "store", LocationRow.status == "active")
            .order_by(LocationRow.name)
        )
    )


def location_names(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(select(LocationRow.id, LocationRow.name).where(LocationRow.id.in_(ids)))
    return {location_id: name for location_id, name in rows}
