"""Triggers: events that schedule messages. Each reads its payload defensively (the returns
events come from another context and may grow), and schedules; nothing is sent here."""

from __future__ import annotations

from datetime import timedelta

from omnicanal.events.consumers import Consumer
from omnicanal.events.model import StoredEvent
from omnicanal.notifications import service
from omnicanal.settings import get_settings
from omnicanal.storage.uow import UnitOfWork


def _str(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def on_order_placed(uow: UnitOfWork, event: StoredEvent) -> None:
    order_id = _str(event.data.get("order_id"))
    if order_id:
        service.order_placed(
            uow,
            order_id=order_id,
            customer_id=_str(event.data.get("customer_id")),
            trigger=event.type,
        )


def on_group_changed(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    order_id, group_id = _str(data.get("order_id")), _str(data.get("group_id"))
    if not order_id or not group_id:
        return
    service.group_changed(
        uow,
        order_id=order_id,
        group_id=group_id,
        status=str(data.get("status") or event.type.rsplit(".", 1)[-1]),
        customer_id=_str(data.get("customer_id")),
        at=event.occurred_at,
        review_delay=timedelta(days=get_settings().notifications_review_delay_days),
        trigger=event.type,
    )


def on_return_received(uow: UnitOfWork, event: StoredEvent) -> None:
    service.return_received(uow, event.data, trigger=event.type)


def on_refund_issued(uow: UnitOfWork, event: StoredEvent) -> None:
    service.refund_issued(uow, event.data, trigger=event.type)


def on_back_in_stock(uow: UnitOfWork, event: StoredEvent) -> None:
    sku, location_id = _str(event.data.get("sku")), _str(event.data.get("location_id"))
    if sku and location_id:
        service.back_in_stock(uow, sku=sku, location_id=location_id, trigger=event.type)


def on_promotion_created(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    store_id, promotion_id = _str(data.get("store_id")), _str(data.get("promotion_id"))
    if store_id and promotion_id and data.get("status", "active") == "active":
        service.local_promotion(
            uow,
            promotion_id=promotion_id,
            store_id=store_id,
            name=str(data.get("name") or ""),
            trigger=event.type,
        )


CONSUMERS = [
    Consumer("notifications.order-placed", ("orders.order.placed",), on_order_placed),
    Consumer(
        "notifications.order-groups",
        tuple(f"orders.group.{s}" for s in service.GROUP_TEMPLATES),
        on_group_changed,
    ),
    Consumer("notifications.returns", ("returns.return.received",), on_return_received),
    Consumer("notifications.refunds", ("returns.refund.issued",), on_refund_issued),
    Consumer("notifications.back-in-stock", ("inventory.stock.back_in_stock",), on_back_in_stock),
    Consumer(
        "notifications.local-promotions", ("promotions.promotion.created",), on_promotion_created
    ),
]
