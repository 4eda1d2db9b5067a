"""Read side of orders: the order as channels see it, pick lists, timelines, routing figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnicanal.events.outbox import stored
from omnicanal.events.tables import OutboxEventRow
from omnicanal.locations.tables import LocationRow
from omnicanal.orders.model import GroupStatus, Method, OrderStatus
from omnicanal.orders.tables import FulfilmentGroupRow, OrderLineRow, OrderPaymentRow, OrderRow
from omnicanal.orders.wording import describe
from omnicanal.shared.money import Money


def _ts(value: datetime | None) -> str | None:
    """UTC instants as the rest of the API writes them: ``2026-11-23T09:00:00Z``."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _money(minor: int, currency: str) -> dict[str, str]:
    return {"amount": str(Money(minor, currency).amount), "currency": currency}


def order_views(
    session: Session, orders: Sequence[OrderRow], *, locale: str = "en", with_codes: bool = False
) -> list[dict[str, Any]]:
    """Orders with their groups, lines and payments, in three queries whatever their number."""
    ids = [o.id for o in orders]
    if not ids:
        return []
    groups: dict[str, list[FulfilmentGroupRow]] = defaultdict(list)
    for g in session.scalars(
        select(FulfilmentGroupRow)
        .where(FulfilmentGroupRow.order_id.in_(ids))
        .order_by(FulfilmentGroupRow.id)
    ):
        groups[g.order_id].append(g)
    lines: dict[str, list[OrderLineRow]] = defaultdict(list)
    for line in session.scalars(
        select(OrderLineRow).where(OrderLineRow.order_id.in_(ids)).order_by(OrderLineRow.sku)
    ):
        lines[line.group_id].append(line)
    payments: dict[str, list[OrderPaymentRow]] = defaultdict(list)
    for p in session.scalars(
        select(OrderPaymentRow)
        .where(OrderPaymentRow.order_id.in_(ids))
        .order_by(OrderPaymentRow.created_at, OrderPaymentRow.id)
    ):
        payments[p.order_id].append(p)
    location_ids = {g.location_id for gs in groups.values() for g in gs if g.location_id}
    names = dict(
        session.execute(
            select(LocationRow.id, LocationRow.name).where(LocationRow.id.in_(location_ids))
        ).all()
    )
    return [
        _order_view(o, groups[o.id], lines, payments[o.id], names, locale, with_codes)
        for o in orders
    ]


def _order_view(
    order: OrderRow,
    groups: list[FulfilmentGroupRow],
    lines: dict[str, list[OrderLineRow]],
    payments: list[OrderPaymentRow],
    names: dict[str, str],
    locale: str,
    with_codes: bool,
) -> dict[str, Any]:
    ready = [g for g in groups if g.status == GroupStatus.READY_FOR_PICKUP.value]
    place = names.get(ready[0].location_id or "") if len(ready) == 1 else None
    text = describe(
        OrderStatus(order.status),
        locale=locale,
        methods=frozenset(Method(g.method) for g in groups),
        partial=order.status_partial,
        place=place,
    )
    return {
        "id": order.id,
        "channel": order.channel,
        "store_id": order.store_id,
        "customer_id": order.customer_id,
        "external_ref": order.external_ref,
        "cart_id": order.cart_id,
        "status": order.status,
        "status_partial": order.status_partial,
        "status_text": text.text,
        "locale": text.locale,
        "subtotal": _money(order.subtotal_minor, order.currency),
        "discount": _money(order.discount_minor, order.currency),
        "total": _money(order.total_minor, order.currency),
        "promotions": order.promotions,
        "bonus_points": order.bonus_points,
        "contact": order.contact,
        "shipping_address": order.shipping_address,
        "routing": order.routing,
        "created_at": _ts(order.created_at),
        "updated_at": _ts(order.updated_at),
        "groups": [
            {
                "id": g.id,
                "method": g.method,
                "status": g.status,
                "location_id": g.location_id,
                "location_name": names.get(g.location_id or ""),
                "relay_point_id": g.relay_point_id,
                "promised_by": _ts(g.promised_by),
                "ready_at": _ts(g.ready_at),
                "shipped_at": _ts(g.shipped_at),
                "done_at": _ts(g.done_at),
                "no_show_at": _ts(g.no_show_at),
                "carrier": g.carrier,
                "tracking_number": g.tracking_number,
                "cancel_reason": g.cancel_reason,
                "pickup_code": g.pickup_code if with_codes else None,
                "lines": [
                    {
                        "id": line.id,
                        "sku": line.sku,
                        "title": line.title,
                        "quantity": line.quantity,
                        "quantity_cancelled": line.quantity_cancelled,
                        "unit_price": _money(line.unit_price_minor, order.currency),
                        "discount": _money(line.discount_minor, order.currency),
                    }
                    for line in lines[g.id]
                ],
            }
            for g in groups
        ],
        "payments": [
            {
                "id": p.id,
                "kind": p.kind,
                "provider": p.provider,
                "reference": p.reference,
                "amount": _money(p.amount_minor, p.currency),
                "created_at": _ts(p.created_at),
            }
            for p in payments
        ],
    }


def timeline(session: Session, order_id: str) -> list[dict[str, Any]]:
    """The order's history: its events in feed order (published or not yet)."""
    rows = session.scalars(
        select(OutboxEventRow)
        .where(OutboxEventRow.subject == order_id)
        .order_by(OutboxEventRow.seq)
    ).all()
    return [stored(r).envelope() for r in rows]


def pick_list(session: Session, location_id: str) -> list[dict[str, Any]]:
    """What a store has to prepare: allocated and picking groups, oldest promise first."""
    groups = session.scalars(
        select(FulfilmentGroupRow)
        .where(
            FulfilmentGroupRow.location_id == location_id,
            FulfilmentGroupRow.status.in_([GroupStatus.ALLOCATED.value, GroupStatus.PICKING.value]),
        )
        .order_by(FulfilmentGroupRow.promised_by, FulfilmentGroupRow.id)
        .limit(500)
    ).all()
    return _with_lines(session, groups)


def pickup_queue(session: Session, location_id: str) -> list[dict[str, Any]]:
    """Orders waiting at the store's counter, oldest first, with their no-show deadline."""
    groups = session.scalars(
        select(FulfilmentGroupRow)
        .where(
            FulfilmentGroupRow.location_id == location_id,
            FulfilmentGroupRow.status == GroupStatus.READY_FOR_PICKUP.value,
        )
        .order_by(FulfilmentGroupRow.ready_at, FulfilmentGroupRow.id)
        .limit(500)
    ).all()
    return _with_lines(session, groups)


def _with_lines(session: Session, groups: Sequence[FulfilmentGroupRow]) -> list[dict[str, Any]]:
    lines: dict[str, list[OrderLineRow]] = defaultdict(list)
    ids = [g.id for g in groups]
    if ids:
        for line in session.scalars(
            select(OrderLineRow).where(OrderLineRow.group_id.in_(ids)).order_by(OrderLineRow.sku)
        ):
            lines[line.group_id].append(line)
    return [
        {
            "group_id": g.id,
            "order_id": g.order_id,
            "method": g.method,
            "status": g.status,
            "promised_by": _ts(g.promised_by),
            "ready_at": _ts(g.ready_at),
            "no_show_at": _ts(g.no_show_at),
            "lines": [
                {
                    "sku": line.sku,
                    "title": line.title,
                    "quantity": line.quantity - line.quantity_cancelled,
                }
                for line in lines[g.id]
                if line.quantity > line.quantity_cancelled
            ],
        }
        for g in groups
    ]


def routing_figures(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Brokered rate, split rate, first-rule success and SLA miss rate over a period."""
    stmt = select(OrderRow.routing)
    if since:
        stmt = stmt.where(OrderRow.created_at >= since)
    if until:
        stmt = stmt.where(OrderRow.created_at < until)
    figures = [r for r in session.scalars(stmt) if r]
    brokered = [f for f in figures if f.get("brokered")]
    late_stmt = select(func.count()).where(
        FulfilmentGroupRow.done_at.is_not(None),
        FulfilmentGroupRow.status.in_(["collected", "delivered"]),
    )
    done_stmt = late_stmt
    late_stmt = late_stmt.where(
        func.coalesce(FulfilmentGroupRow.ready_at, FulfilmentGroupRow.done_at)
        > FulfilmentGroupRow.promised_by
    )
    if since:
        late_stmt = late_stmt.where(FulfilmentGroupRow.created_at >= since)
        done_stmt = done_stmt.where(FulfilmentGroupRow.created_at >= since)
    if until:
        late_stmt = late_stmt.where(FulfilmentGroupRow.created_at < until)
        done_stmt = done_stmt.where(FulfilmentGroupRow.created_at < until)
    done = session.scalar(done_stmt) or 0
    late = session.scalar(late_stmt) or 0

    def rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "orders": len(figures),
        "brokered_rate": rate(len(brokered), len(figures)),
        "split_rate": rate(sum(1 for f in brokered if f.get("split")), len(brokered)),
        "first_rule_success_rate": rate(
            sum(1 for f in brokered if f.get("first_rule")), len(brokered)
        ),
        "fulfilled_groups": done,
        "sla_miss_rate": rate(late, done),
    }
